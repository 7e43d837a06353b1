/**
 * Runs one execution of a scenario under a decider and judges it: the engine's outcome, then the
 * invariants (after every step) and the properties (at the end of a complete execution).
 */
import { Execution, type Decider, type ExecutionResult, type Outcome } from '../sim/index.ts';
import type { Scenario, ScenarioArgs } from './scenario.ts';

export interface Violation {
  /** The property that failed; built-in ones are no-deadlock, no-model-assertion, model-runs. */
  readonly property: string;
  readonly message: string;
}

export interface JudgedExecution {
  readonly result: ExecutionResult;
  /** The first violation: the outcome's, else the first failing property. */
  readonly violation: Violation | null;
  /** Every violation of this execution (each failing property at the end). */
  readonly violations: readonly Violation[];
  /** True when the execution hit the step limit: it proves nothing either way. */
  readonly stepLimited: boolean;
  /** The scenario's `observe` of the end state, prefixed by how the execution ended. */
  readonly terminal: string | null;
}

function outcomeViolation(outcome: Outcome): Violation | null {
  switch (outcome.kind) {
    case 'complete':
    case 'step-limit':
    case 'pruned':
      return null;
    case 'deadlock': {
      const who = outcome.blocked.map((b) => `${b.task} waits for ${b.waitsFor}`).join('; ');
      return { property: 'no-deadlock', message: `every task is blocked: ${who}` };
    }
    case 'assertion':
      return { property: 'no-model-assertion', message: `${outcome.task}: ${outcome.message}` };
    case 'crash':
      return { property: 'model-runs', message: `${outcome.task} threw: ${outcome.message}` };
    case 'monitor': {
      const [property, ...rest] = outcome.message.split('\u0000');
      return { property: property ?? 'invariant', message: rest.join('') };
    }
  }
}

export function runScenarioOnce<S>(
  scenario: Scenario<S>,
  args: ScenarioArgs,
  decider: Decider,
  options: { stepsMax: number; trace: boolean },
): JudgedExecution {
  let state: S | undefined = undefined;
  const invariants = scenario.invariants;
  const monitor =
    invariants.length === 0
      ? undefined
      : () => {
          for (const inv of invariants) {
            const r = inv.check(state as S);
            if (r !== true) return `${inv.name}\u0000${r}`;
          }
          return null;
        };
  const ex = new Execution(decider, { stepsMax: options.stepsMax, trace: options.trace, monitor });
  state = scenario.setup(ex, args);
  for (const t of scenario.tasks(state, args)) ex.spawn(t.name, t.body);
  const result = ex.run();
  const violations: Violation[] = [];
  const fromOutcome = outcomeViolation(result.outcome);
  if (fromOutcome) violations.push(fromOutcome);
  if (result.outcome.kind === 'complete')
    for (const p of scenario.properties) {
      const r = p.check(state);
      if (r !== true) violations.push({ property: p.name, message: r });
    }
  const violation = violations[0] ?? null;
  const kind = result.outcome.kind;
  const terminal =
    kind === 'pruned' || kind === 'step-limit'
      ? null
      : `${kind}:${scenario.observe ? scenario.observe(state) : ''}`;
  return { result, violation, violations, stepLimited: kind === 'step-limit', terminal };
}
