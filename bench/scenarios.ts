/**
 * Scenario-level figures: the guest_memfd_preservation_test port end to end (both stages and
 * the kexec, one straight-through execution), and the explorer on the freeze race scenario
 * (DPOR exhaustive, the median of three searches, and plain DFS for comparison within a budget).
 */
import { DEFAULT_LIMITS, check } from '../src/explore/check.ts';
import { runScenarioOnce, snapshotScenario } from '../src/explore/run.ts';
import { resolveArgs } from '../src/explore/scenario.ts';
import freezeRace from '../src/scenarios/races/gmem_freeze.ts';
import gmemTest from '../src/scenarios/selftests/guest_memfd_preservation.ts';

const straight = {
  pickTask: (_e: readonly number[], _c: number | null, d: number) => d,
  pickChoice: () => 0,
};

/** Milliseconds per run of the guest_memfd_preservation_test port: the median of `runs`. */
export function benchGmemSelftest(runs: number): { medianMs: number; minMs: number } {
  const args = resolveArgs(gmemTest, {}, 'default');
  const times: number[] = [];
  for (let i = 0; i < runs + 3; i++) {
    const t = performance.now();
    const r = runScenarioOnce(gmemTest, args, straight, { stepsMax: 1e7, trace: false });
    if (r.violation) throw new Error(r.violation.message);
    if (i >= 3) times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { medianMs: times[Math.floor(times.length / 2)] ?? 0, minMs: times[0] ?? 0 };
}

export interface RaceFigures {
  dporExecutions: number;
  /** The median of the DPOR searches' times (single runs vary by about 10 % on a shared machine). */
  dporSeconds: number;
  /** Every DPOR search's time, fastest first. */
  dporRuns: number[];
  /** Steps per second counting every step of an execution, the prologue's included. */
  dporStepsPerSecond: number;
  /** Steps per second counting only the steps run after the snapshot (the racing part). */
  dporRacingStepsPerSecond: number;
  prologueSteps: number;
  /** The same search with every execution running setup and prologue again. */
  noSnapshotSeconds: number;
  dfsExecutions: number;
  dfsFinished: boolean;
  dfsSeconds: number;
}

export function benchFreezeRace(dfsBudget: number): RaceFigures {
  const run = (strategy: 'dpor' | 'dfs', executionsMax: number, snapshot = true) =>
    check(freezeRace, {
      scenarioRef: 'gmem-freeze-race',
      strategy,
      seed: 1,
      limits: { executionsMax },
      clock: () => performance.now(),
      snapshot,
    });
  const searches = [1, 2, 3].map(() => run('dpor', 1_000_000));
  for (const r of searches) if (r.verdict !== 'holds') throw new Error(`freeze race: ${r.verdict}`);
  searches.sort((a, b) => (a.seconds ?? 0) - (b.seconds ?? 0));
  const dpor = searches[1] as (typeof searches)[number];
  const fresh = run('dpor', 1_000_000, false);
  if (fresh.executions !== dpor.executions || fresh.steps !== dpor.steps)
    throw new Error('the snapshot changed the search');
  const snap = snapshotScenario(freezeRace, resolveArgs(freezeRace), DEFAULT_LIMITS.stepsMax);
  const prologueSteps = snap === null ? 0 : snap.ex.stepCount;
  const dfs = run('dfs', dfsBudget);
  const seconds = dpor.seconds ?? 1;
  return {
    dporExecutions: dpor.executions,
    dporSeconds: seconds,
    dporRuns: searches.map((r) => r.seconds ?? 0),
    dporStepsPerSecond: dpor.steps / seconds,
    dporRacingStepsPerSecond: (dpor.steps - prologueSteps * dpor.executions) / seconds,
    prologueSteps,
    noSnapshotSeconds: fresh.seconds ?? 0,
    dfsExecutions: dfs.executions,
    dfsFinished: dfs.verdict === 'holds',
    dfsSeconds: dfs.seconds ?? 0,
  };
}
