/**
 * Executions started from a snapshot of a scenario's prologue are the executions that run the
 * prologue again: on every built-in scenario with a prologue, DPOR reaches the same verdict,
 * the same number of executions and steps, and the same set of terminal states either way; the
 * snapshot itself never changes while executions run from copies of it (a closure that kept
 * the original kernel would change it); a state that cannot be copied makes the search run the
 * prologue every time, with the same results, and says why; a closure that keeps prologue state
 * (which no copy can see) stops the search with an error instead of a wrong verdict.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { check } from '../../src/explore/check.ts';
import {
  runScenarioOnce,
  snapshotFingerprint,
  snapshotScenario,
  type JudgedExecution,
} from '../../src/explore/run.ts';
import { defineScenario, resolveArgs, type Scenario } from '../../src/explore/scenario.ts';
import { DporStrategy } from '../../src/explore/strategies/dpor.ts';
import { BUILTIN_SCENARIOS } from '../../src/scenarios/registry.ts';
import { InputError, op, type ParamValue } from '../../src/sim/index.ts';

/** Smaller parameters where the full search would take seconds in each mode. */
const PARAMS: Readonly<Record<string, Readonly<Record<string, ParamValue>>>> = {
  'gmem-freeze-race': { punch: false },
  'luo-finish-vs-retrieve': { vm: false },
};

async function withPrologue(): Promise<Array<{ name: string; scenario: Scenario }>> {
  const out: Array<{ name: string; scenario: Scenario }> = [];
  for (const b of BUILTIN_SCENARIOS) {
    const scenario = await b.load();
    if (scenario.prologue !== undefined) out.push({ name: b.name, scenario });
  }
  return out;
}

test('built-in scenarios with a prologue: snapshot and re-run reach the same results', async () => {
  const scenarios = await withPrologue();
  assert.ok(scenarios.length >= 2, 'the freeze race and finish-vs-retrieve use a prologue');
  for (const { name, scenario } of scenarios) {
    const run = (snapshot: boolean) =>
      check(scenario, {
        scenarioRef: name,
        strategy: 'dpor',
        seed: 1,
        params: PARAMS[name] ?? {},
        snapshot,
        exploreAll: true,
        shrink: false,
      });
    const fresh = run(false);
    const copied = run(true);
    assert.equal(copied.snapshotRefused, null, `${name}: ${copied.snapshotRefused}`);
    assert.equal(copied.verdict, fresh.verdict, name);
    assert.equal(copied.coverage.kind, 'exhaustive', name);
    assert.equal(copied.executions, fresh.executions, name);
    assert.equal(copied.steps, fresh.steps, name);
    assert.deepEqual(copied.terminalStates, fresh.terminalStates, name);
    assert.ok((fresh.terminalStates ?? []).length > 1, `${name}: the race has several outcomes`);
  }
});

test('the snapshot does not change while executions run from copies of it', async () => {
  for (const { name, scenario } of await withPrologue()) {
    const args = resolveArgs(scenario, PARAMS[name] ?? {});
    const snap = snapshotScenario(scenario, args, 10_000);
    assert.ok(snap !== null, name);
    const before = snapshotFingerprint(snap);
    const dpor = new DporStrategy();
    for (let n = 0; n < 50 && dpor.next(); n++) {
      const judged: JudgedExecution = runScenarioOnce(
        scenario,
        args,
        dpor.decider,
        { stepsMax: 10_000, trace: false },
        snap,
      );
      dpor.finish();
      assert.equal(judged.violation, null, `${name}: ${judged.violation?.message}`);
    }
    assert.equal(snapshotFingerprint(snap), before, name);
  }
});

test('a state that cannot be copied: every execution runs the prologue, same results', () => {
  interface S {
    gen: Generator<number> | null;
    x: number;
    seen: number[];
  }
  const scenario = defineScenario<S>({
    name: 'uncopyable',
    description: 'a prologue that leaves a suspended generator in the state',
    setup: () => ({ gen: null, x: 0, seen: [] }),
    *prologue(s) {
      yield op('setup-step');
      s.gen = (function* () {
        yield 1;
      })();
      s.gen.next();
    },
    tasks: (s) => [
      {
        name: 'a',
        *body() {
          yield op('a', [{ object: 0, kind: 'write' }]);
          s.x = 1;
        },
      },
      {
        name: 'b',
        *body() {
          yield op('b', [{ object: 0, kind: 'write' }]);
          s.seen.push(s.x);
        },
      },
    ],
    observe: (s) => s.seen.join(','),
  });
  const r = check(scenario, {
    scenarioRef: 'uncopyable',
    strategy: 'dpor',
    seed: 1,
    exploreAll: true,
  });
  assert.match(r.snapshotRefused ?? '', /cannot snapshot a generator at state\.gen/);
  assert.equal(r.verdict, 'holds');
  assert.deepEqual(r.terminalStates, ['complete:0', 'complete:1']);
});

test('a closure that keeps prologue state makes the search stop with a clear error', () => {
  interface S {
    counter: { n: number };
    bump: (() => void) | null;
    seen: number[];
  }
  const scenario = defineScenario<S>({
    name: 'leaky',
    description: 'the prologue leaves a closure over one of its objects in the state',
    setup: () => ({ counter: { n: 0 }, bump: null, seen: [] }),
    *prologue(s) {
      yield op('setup-step');
      const c = s.counter;
      s.bump = () => {
        c.n++;
      };
    },
    tasks: (s) => [
      {
        name: 'a',
        *body() {
          yield op('a', [{ object: 0, kind: 'write' }]);
          s.bump?.();
          s.seen.push(s.counter.n);
        },
      },
    ],
    observe: (s) => s.seen.join(','),
  });
  assert.throws(
    () => check(scenario, { scenarioRef: 'leaky', strategy: 'dpor', seed: 1 }),
    (e: unknown) =>
      e instanceof InputError &&
      /prologue cannot be snapshotted faithfully: execution 1 ended "complete:0 in \d+ steps" from the snapshot but "complete:1/.test(
        e.message,
      ) &&
      /--no-snapshot/.test(e.message),
  );
  const plain = check(scenario, {
    scenarioRef: 'leaky',
    strategy: 'dpor',
    seed: 1,
    snapshot: false,
  });
  assert.equal(plain.verdict, 'holds');
});
