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
