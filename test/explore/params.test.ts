/**
 * Scenario parameters (explore/scenario.ts): a number parameter takes whole numbers only, within
 * its declared min..max; a string parameter with choices takes one of them; a boolean takes
 * true/false/1/0. Typed values (from a replay token) are held to the same rules as strings from
 * the command line, and every refusal is an InputError naming the parameter.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defineScenario, resolveArgs, scenarioShapeProblem } from '../../src/explore/scenario.ts';
import { InputError } from '../../src/sim/index.ts';

const scenario = defineScenario({
  name: 'p',
  description: 'parameters',
  params: {
    n: { default: 2, min: 1, max: 8, description: 'bounded count' },
    free: { default: 0, description: 'unbounded number' },
    mode: { default: 'a', choices: ['a', 'b'], description: 'one of a, b' },
    text: { default: 'x', description: 'any string' },
    flag: { default: false, description: 'a switch' },
  },
  setup: () => ({}),
  tasks: () => [],
});

test('values within the spec are taken, from text or typed', () => {
  const { params } = resolveArgs(scenario, { n: '8', free: '-5', mode: 'b', text: 'y', flag: '1' });
  assert.deepEqual(params, { n: 8, free: -5, mode: 'b', text: 'y', flag: true });
  assert.deepEqual(resolveArgs(scenario, { n: 1, flag: false }).params.n, 1);
});

test('values outside the spec are input errors naming the parameter', () => {
  const refused: [Record<string, string | number | boolean>, RegExp][] = [
    [{ n: '0' }, /parameter n must be a whole number in 1\.\.8, got 0/],
    [{ n: '9' }, /parameter n must be a whole number in 1\.\.8, got 9/],
    [{ n: 9 }, /parameter n must be a whole number in 1\.\.8, got 9/],
    [{ n: 1.5 }, /parameter n must be a whole number in 1\.\.8, got 1\.5/],
    [{ n: '1.5' }, /parameter n must be a whole number, got "1\.5"/],
    [{ n: '0x4' }, /parameter n must be a whole number, got "0x4"/],
    [{ n: '1e3' }, /parameter n must be a whole number, got "1e3"/],
    [{ n: '' }, /parameter n must be a whole number, got ""/],
    [
      { free: '99999999999999999999' },
      /parameter free must be a whole number, got 100000000000000000000/,
    ],
    [{ mode: 'c' }, /parameter mode must be one of a, b, got "c"/],
    [{ flag: 'yes' }, /parameter flag must be true or false, got "yes"/],
    [{ nope: '1' }, /scenario p has no parameter "nope" \(known: n, free, mode, text, flag\)/],
  ];
  for (const [overrides, message] of refused)
    assert.throws(
      () => resolveArgs(scenario, overrides),
      (e: unknown) => e instanceof InputError && message.test(e.message),
      JSON.stringify(overrides),
    );
});

test('a hand-built scenario missing what defineScenario fills in has a shape problem', () => {
  assert.equal(scenarioShapeProblem(scenario), null);
  const broken = { ...scenario, params: { n: { description: 'no default' } } } as never;
  assert.equal(
    scenarioShapeProblem(broken),
    'parameter n has no default number, string or boolean',
  );
  assert.equal(
    scenarioShapeProblem({ ...scenario, properties: null } as never),
    'properties is not an array',
  );
  assert.equal(
    scenarioShapeProblem({ ...scenario, invariants: [{ name: 'i' }] } as never),
    'invariants holds an entry without a name and a check function',
  );
});
