/**
 * luosim's public API: what a scenario file imports (`import { defineScenario } from 'luosim'`)
 * and what tools built on luosim use to run checks.
 */
export * from './sim/index.ts';
export * from './sync/index.ts';
export { defineScenario, isScenario, resolveArgs } from './explore/scenario.ts';
export type {
  ParamSpec,
  Property,
  Scenario,
  ScenarioArgs,
  ScenarioDefaults,
  ScenarioSpec,
  ScenarioTask,
} from './explore/scenario.ts';
export { check, replayToken, DEFAULT_LIMITS, STRATEGIES } from './explore/check.ts';
export type {
  CheckOptions,
  CheckResult,
  Counterexample,
  Limits,
  LimitHit,
  StrategyName,
} from './explore/check.ts';
export { renderTimeline, describeOutcome } from './report/timeline.ts';
