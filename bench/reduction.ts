/**
 * DPOR against plain DFS: executions each needs to explore a scenario exhaustively, and the
 * time it takes. Both must reach the same verdict.
 */
import { check } from '../src/explore/check.ts';
import type { Scenario } from '../src/explore/scenario.ts';
import type { ParamValue } from '../src/sim/index.ts';

export interface Reduction {
  name: string;
  dfs: { executions: number; seconds: number };
  dpor: { executions: number; seconds: number };
}

export function compareReduction<S>(
  name: string,
  scenario: Scenario<S>,
  params: Record<string, ParamValue> = {},
): Reduction {
  const run = (strategy: 'dfs' | 'dpor') =>
    check(scenario, {
      scenarioRef: scenario.name,
      strategy,
      seed: 1,
      params,
      limits: { executionsMax: 5_000_000 },
      clock: () => performance.now(),
    });
  const dfs = run('dfs');
  const dpor = run('dpor');
  if (dfs.verdict !== dpor.verdict)
    throw new Error(`${name}: dfs says ${dfs.verdict}, dpor says ${dpor.verdict}`);
  return {
    name,
    dfs: { executions: dfs.executions, seconds: dfs.seconds ?? 0 },
    dpor: { executions: dpor.executions, seconds: dpor.seconds ?? 0 },
  };
}

export interface BoundedComparison {
  name: string;
  dpor: { executions: number; seconds: number; terminalStates: number };
  /** DFS bounded to one preemption: exhaustive within the bound. */
  dfs1: { executions: number; seconds: number; terminalStates: number };
}

/**
 * A race scenario on which unbounded DFS does not finish: DPOR against DFS bounded to one
 * preemption. Every terminal state the bounded search reaches must be one DPOR reaches, and the
 * verdicts must agree.
 */
export function compareBounded<S>(name: string, scenario: Scenario<S>): BoundedComparison {
  const run = (strategy: 'dfs' | 'dpor') =>
    check(scenario, {
      scenarioRef: name,
      strategy,
      seed: 1,
      exploreAll: true,
      limits: { executionsMax: 5_000_000, preemptionsMax: strategy === 'dfs' ? 1 : null },
      clock: () => performance.now(),
    });
  const dpor = run('dpor');
  const dfs1 = run('dfs');
  if (dfs1.verdict !== dpor.verdict)
    throw new Error(`${name}: bounded dfs says ${dfs1.verdict}, dpor says ${dpor.verdict}`);
  const reached = new Set(dpor.terminalStates);
  const missed = (dfs1.terminalStates ?? []).filter((t) => !reached.has(t));
  if (missed.length > 0) throw new Error(`${name}: DPOR misses ${missed.join(' | ')}`);
  const figures = (r: typeof dpor) => ({
    executions: r.executions,
    seconds: r.seconds ?? 0,
    terminalStates: r.terminalStates?.length ?? 0,
  });
  return { name, dpor: figures(dpor), dfs1: figures(dfs1) };
}
