/**
 * The strategies and the check driver: DFS enumerates exactly the interleavings (two tasks of
 * k steps each give C(2k+2, k+1) schedules counting the start steps), a preemption bound prunes
 * and is reported as the bound of an exhaustive search; random and PCT find the lost update from
 * a seed, deterministically; each limit stops the search with the flag that raises it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { check, replayToken } from '../../src/explore/check.ts';
import { defineScenario } from '../../src/explore/scenario.ts';
import { op } from '../../src/sim/index.ts';
import { READ_ONCE, Shared, WRITE_ONCE } from '../../src/sync/index.ts';
import { explore } from '../helpers/scenario.ts';

function binomial(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
}

const independent = (k: number) => ({
  setup: () => ({}),
  tasks: () =>
    ['a', 'b'].map((name) => ({
      name,
      *body() {
        for (let i = 0; i < k; i++) yield op(`${name}${i}`);
      },
    })),
});

test('unbounded DFS runs every interleaving exactly once', () => {
  for (const k of [1, 2, 3]) {
    const r = explore(independent(k));
    assert.equal(r.verdict, 'holds');
    assert.equal(r.executions, binomial(2 * (k + 1), k + 1), `k=${k}`);
    assert.deepEqual(r.coverage, { kind: 'exhaustive', bound: null });
  }
});

test('a preemption bound prunes and says so', () => {
  const r = explore(independent(3), { preemptions: 0 });
  assert.equal(r.verdict, 'holds');
  assert.ok(r.executions < binomial(8, 4));
  assert.deepEqual(r.coverage, { kind: 'exhaustive', bound: 'preemption bound 0' });
  const r1 = explore(independent(3), { preemptions: 1 });
  assert.ok(r1.executions > r.executions);
});

const lostUpdate = defineScenario({
  name: 'lost',
  description: 'lost update',
  setup: (sim) => ({ c: new Shared(sim, 'c', 0) }),
  tasks: (s) =>
    ['a', 'b', 'c'].map((name) => ({
      name,
      *body() {
        for (let i = 0; i < 2; i++) {
          const v = yield* READ_ONCE(s.c);
          yield* WRITE_ONCE(s.c, v + 1);
        }
      },
    })),
  properties: [{ name: 'six', description: '', check: (s) => s.c.value === 6 || `${s.c.value}` }],
});

for (const strategy of ['random', 'pct'] as const) {
  test(`${strategy} finds the lost update, and the same seed finds the same counterexample`, () => {
    const run = () =>
      check(lostUpdate, {
        scenarioRef: 'lost',
        strategy,
        seed: 42,
        limits: { executionsMax: 2000 },
      });
    const a = run();
    const b = run();
    assert.equal(a.verdict, 'violated');
    assert.equal(a.counterexample?.token, b.counterexample?.token);
    assert.equal(a.executions, b.executions);
  });
}

test('sampled strategies report sampled coverage when nothing is found', () => {
  const r = check(lostUpdate, {
    scenarioRef: 'lost',
    strategy: 'random',
    seed: 1,
    limits: { executionsMax: 1 },
    params: {},
  });
  // One random execution may or may not hit the bug; when it holds it is only a sample.
  if (r.verdict === 'holds') assert.deepEqual(r.coverage, { kind: 'sampled' });
  else assert.equal(r.verdict, 'violated');
});

test('the executions limit stops DFS and names --executions', () => {
  const r = explore(independent(4), { executions: 5 });
  assert.equal(r.verdict, 'limit');
  assert.deepEqual(r.limit, { limit: 'executions', flag: '--executions', value: 5 });
  assert.equal(r.executions, 5);
});

test('the step limit stops the search and names --steps', () => {
  const spin = defineScenario({
    name: 'spin',
    description: 'never ends',
    setup: () => ({}),
    tasks: () => [
      {
        name: 'spin',
        *body() {
          for (;;) yield op('spin');
        },
      },
    ],
  });
  const r = check(spin, {
    scenarioRef: 'spin',
    strategy: 'dfs',
    seed: 1,
    limits: { stepsMax: 100 },
  });
  assert.equal(r.verdict, 'limit');
  assert.deepEqual(r.limit, { limit: 'steps', flag: '--steps', value: 100 });
});

test('the seconds limit stops the search and names --seconds', () => {
  let now = 0;
  const scenario = defineScenario({ name: 'ind', description: '', ...independent(3) });
  const r = check(scenario, {
    scenarioRef: 'ind',
    strategy: 'dfs',
    seed: 1,
    limits: { secondsMax: 1 },
    clock: () => (now += 400),
  });
  // The clock advances 0.4 s per reading: one at the start, then one before each execution,
  // so the third reading is past 1 s and two executions have run.
  assert.equal(r.verdict, 'limit');
  assert.deepEqual(r.limit, { limit: 'seconds', flag: '--seconds', value: 1 });
  assert.equal(r.executions, 2);
});

test('unknown parameters and variants are input errors', () => {
  assert.throws(
    () => check(lostUpdate, { scenarioRef: 'x', strategy: 'dfs', seed: 1, params: { nope: 1 } }),
    /has no parameter "nope"/,
  );
  assert.throws(
    () => check(lostUpdate, { scenarioRef: 'x', strategy: 'dfs', seed: 1, variant: 'zzz' }),
    /has no variant "zzz"/,
  );
});

test('counterexamples are shrunk to the fewest preemptions and replay strictly', () => {
  // Three tasks, two increments each: random search finds long, switch-heavy schedules.
  for (const strategy of ['random', 'pct'] as const) {
    const r = check(lostUpdate, { scenarioRef: 'lost', strategy, seed: 3 });
    assert.equal(r.verdict, 'violated');
    const cx = r.counterexample;
    assert.ok(cx);
    // One preemption suffices to lose an update; shrinking must find that.
    assert.equal(cx.execution.preemptions, 1);
    assert.ok(cx.execution.steps <= cx.foundSteps);
    const replayed = replayToken(lostUpdate, cx.token);
    assert.equal(replayed.violation?.property, 'six');
    assert.equal(replayed.result.steps, cx.execution.steps);
  }
});

test('shrinking can be turned off', () => {
  const r = check(lostUpdate, { scenarioRef: 'lost', strategy: 'random', seed: 3, shrink: false });
  assert.equal(r.counterexample?.shrinkAttempts, 0);
  assert.equal(r.counterexample.execution.steps, r.counterexample.foundSteps);
});
