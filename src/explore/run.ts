/**
 * Runs one execution of a scenario under a decider and judges it: the engine's outcome, then the
 * invariants (after every step) and the properties (at the end of a complete execution).
 */
import {
  CloneError,
  Execution,
  GraphTemplate,
  graphFingerprint,
  type Decider,
  type ExecutionResult,
  type Outcome,
} from '../sim/index.ts';
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

/** A scenario's state after its setup and prologue, from which executions start (copied). */
export interface ScenarioSnapshot<S> {
  readonly ex: Execution;
  readonly state: S;
  /** The state and the execution's stored values, to copy (the execution itself substituted). */
  readonly template: GraphTemplate;
}

const PROLOGUE_TASK = 'setup';

function monitorOf<S>(scenario: Scenario<S>, state: () => S): (() => string | null) | undefined {
  const invariants = scenario.invariants;
  if (invariants.length === 0) return undefined;
  return () => {
    for (const inv of invariants) {
      const r = inv.check(state());
      if (r !== true) return `${inv.name}\u0000${r}`;
    }
    return null;
  };
}

/**
 * Runs a scenario's setup and prologue once, and checks that their end state can be copied.
 * Null when the scenario has no prologue, when the prologue did not complete (every execution
 * then runs it again and ends the same way), or when the state cannot be copied (`refused` then
 * says why; executions run setup and prologue again, with the same results, only slower).
 */
export function snapshotScenario<S>(
  scenario: Scenario<S>,
  args: ScenarioArgs,
  stepsMax: number,
  refused: (reason: string) => void = () => {},
): ScenarioSnapshot<S> | null {
  const prologue = scenario.prologue;
  if (prologue === undefined) return null;
  let state: S | undefined = undefined;
  const decider: Decider = { pickTask: (_e, _c, d) => d, pickChoice: () => 0 };
  const monitor = monitorOf(scenario, () => state as S);
  const ex = new Execution(decider, { stepsMax, trace: false, monitor });
  state = scenario.setup(ex, args);
  const s = state;
  if (ex.prologue(PROLOGUE_TASK, () => prologue(s, args)) !== null) return null;
  let template: GraphTemplate;
  try {
    template = new GraphTemplate([state, ...ex.storedValues()], [ex]);
  } catch (e) {
    if (!(e instanceof CloneError)) throw e;
    refused(e.message.replace(/at root\[0\]/, 'at state').replace(/at root\[\d+\]/, 'at stored'));
    return null;
  }
  return { ex, state, template };
}

/** Everything the snapshot holds, as text: it must not change while executions run from it. */
export function snapshotFingerprint<S>(snapshot: ScenarioSnapshot<S>): string {
  return graphFingerprint([snapshot.state, ...snapshot.ex.storedValues()]);
}

/** Makes `ex` a copy of the snapshot's execution and returns the copy of its state. */
function startFrom<S>(snapshot: ScenarioSnapshot<S>, ex: Execution): S {
  const copies = snapshot.template.instantiate([ex]);
  ex.adopt(snapshot.ex, copies.slice(1));
  return copies[0] as S;
}

/**
 * Runs one execution and judges it. With a snapshot (and untraced), the execution starts from a
 * copy of it instead of running setup and prologue again; the result is the same.
 */
export function runScenarioOnce<S>(
  scenario: Scenario<S>,
  args: ScenarioArgs,
  decider: Decider,
  options: { stepsMax: number; trace: boolean },
  snapshot: ScenarioSnapshot<S> | null = null,
): JudgedExecution {
  let state: S | undefined = undefined;
  let stopped = false;
  const monitor = monitorOf(scenario, () => state as S);
  const ex = new Execution(decider, { stepsMax: options.stepsMax, trace: options.trace, monitor });
  if (snapshot !== null && !options.trace) {
    state = startFrom(snapshot, ex);
  } else {
    state = scenario.setup(ex, args);
    const prologue = scenario.prologue;
    const s = state;
    if (prologue !== undefined && ex.prologue(PROLOGUE_TASK, () => prologue(s, args)) !== null)
      stopped = true;
  }
  if (!stopped) for (const t of scenario.tasks(state, args)) ex.spawn(t.name, t.body);
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
