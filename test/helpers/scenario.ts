/** Small helpers for engine tests: build a scenario from tasks and explore it with DFS. */
import { check, type CheckResult } from '../../src/explore/check.ts';
import { defineScenario, type Property, type ScenarioTask } from '../../src/explore/scenario.ts';
import type { Sim } from '../../src/sim/index.ts';

export interface Spec<S> {
  setup: (sim: Sim) => S;
  tasks: (s: S) => readonly ScenarioTask[];
  properties?: readonly Property<S>[];
}

export function explore<S>(
  spec: Spec<S>,
  opts: { preemptions?: number | null; strategy?: 'dfs' | 'random' | 'pct'; executions?: number } = {},
): CheckResult {
  const scenario = defineScenario({
    name: 'test',
    description: 'test scenario',
    setup: (sim) => spec.setup(sim),
    tasks: (s) => spec.tasks(s),
    properties: spec.properties ?? [],
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

/** The property helper: `holds(name, predicate, message)`. */
export function prop<S>(name: string, ok: (s: S) => boolean, why: (s: S) => string): Property<S> {
  return { name, description: name, check: (s) => ok(s) || why(s) };
}
