/** Small helpers for engine tests: build a scenario from tasks and explore it with DFS. */
import { check, type CheckResult } from '../../src/explore/check.ts';
import { defineScenario, type ScenarioTask } from '../../src/explore/scenario.ts';
import type { Sim } from '../../src/sim/index.ts';

export interface Spec<S> {
  setup: (sim: Sim) => S;
  tasks: (s: NoInfer<S>) => readonly ScenarioTask[];
  properties?: readonly { name: string; check: (s: NoInfer<S>) => true | string }[];
}

export function explore<S>(
  spec: Spec<S>,
  opts: {
    preemptions?: number | null;
    strategy?: 'dfs' | 'dpor' | 'random' | 'pct';
    executions?: number;
  } = {},
): CheckResult {
  const scenario = defineScenario({
    name: 'test',
    description: 'test scenario',
    setup: (sim) => spec.setup(sim),
    tasks: (s) => spec.tasks(s),
    properties: (spec.properties ?? []).map((p) => ({ ...p, description: p.name })),
  });
  return check(scenario, {
    scenarioRef: 'test',
    strategy: opts.strategy ?? 'dfs',
    seed: 7,
    limits: {
      preemptionsMax: opts.preemptions ?? null,
      executionsMax: opts.executions ?? 100_000,
    },
  });
}
