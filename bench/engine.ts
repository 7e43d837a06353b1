/**
 * Engine throughput on a small two-task scenario: visible operations per second when one
 * execution runs straight through, and executions per second when DFS explores every
 * interleaving of two tasks that each lock, read, write and unlock a counter three times.
 */
import lostUpdateFixed from '../examples/lost-update-fixed.ts';
import { check } from '../src/explore/check.ts';
import { defineScenario } from '../src/explore/scenario.ts';
import { Execution } from '../src/sim/index.ts';
import {
  Mutex,
  READ_ONCE,
  Shared,
  WRITE_ONCE,
  mutex_lock,
  mutex_unlock,
} from '../src/sync/index.ts';

export interface EngineFigures {
  opsPerSecond: number;
  executionsPerSecond: number;
  dfsExecutions: number;
  stepsPerSecond: number;
}

const twoTasks = (rounds: number) =>
  defineScenario({
    name: 'bench-two-tasks',
    description: 'two tasks increment a counter under a mutex',
    setup: (sim) => ({ m: new Mutex(sim, 'm'), c: new Shared(sim, 'c', 0) }),
    tasks: (s) =>
      ['a', 'b'].map((name) => ({
        name,
        *body() {
          for (let i = 0; i < rounds; i++) {
            yield* mutex_lock(s.m);
            const v = yield* READ_ONCE(s.c);
            yield* WRITE_ONCE(s.c, v + 1);
            yield* mutex_unlock(s.m);
          }
        },
      })),
    properties: [
      { name: 'sum', description: '', check: (s) => s.c.value === 2 * rounds || 'lost' },
    ],
  });

function straightThroughOps(seconds: number): number {
  const scenario = twoTasks(10_000);
  const start = performance.now();
  let ops = 0;
  while (performance.now() - start < seconds * 1000) {
    const ex = new Execution(
      { pickTask: (_e, _c, d) => d, pickChoice: () => 0 },
      { stepsMax: 1e9, trace: false },
    );
    const state = scenario.setup(ex, { params: {}, variant: 'default' });
    for (const t of scenario.tasks(state, { params: {}, variant: 'default' }))
      ex.spawn(t.name, t.body);
    ops += ex.run().steps;
  }
  return ops / ((performance.now() - start) / 1000);
}

export function benchEngine(): EngineFigures {
  const opsPerSecond = straightThroughOps(2);
  const scenario = twoTasks(3);
  // Repeat the exhaustive search for two seconds so the figure is not a JIT warm-up.
  let executions = 0;
  let steps = 0;
  let seconds = 0;
  let dfsExecutions = 0;
  while (seconds < 2) {
    const r = check(scenario, {
      scenarioRef: 'bench',
      strategy: 'dfs',
      seed: 1,
      clock: () => performance.now(),
    });
    if (r.verdict !== 'holds') throw new Error(`bench scenario did not hold: ${r.verdict}`);
    executions += r.executions;
    steps += r.steps;
    seconds += r.seconds ?? 1;
    dfsExecutions = r.executions;
  }
  return {
    opsPerSecond,
    executionsPerSecond: executions / seconds,
    dfsExecutions,
    stepsPerSecond: steps / seconds,
  };
}

/**
 * The explorer on a four-task scenario without kernel code (examples/lost-update-fixed.ts,
 * 4 tasks x 2 increments under a mutex), DPOR exhaustive, repeated for `seconds`: what the
 * engine and DPOR cost per execution when the steps themselves are cheap.
 */
export function benchFourTasks(seconds: number): { executionsPerSecond: number; steps: number } {
  const start = performance.now();
  let executions = 0;
  let steps = 0;
  while (performance.now() - start < seconds * 1000) {
    const r = check(lostUpdateFixed, {
      scenarioRef: 'lost-update-fixed',
      strategy: 'dpor',
      seed: 1,
      params: { tasks: 4, increments: 2 },
    });
    if (r.verdict !== 'holds') throw new Error(`lost-update-fixed: ${r.verdict}`);
    executions += r.executions;
    steps += r.steps;
  }
  const elapsed = (performance.now() - start) / 1000;
  return { executionsPerSecond: executions / elapsed, steps: steps / executions };
}
