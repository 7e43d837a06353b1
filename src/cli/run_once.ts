/**
 * Running a scenario straight through once, as `selftest` and `run` do: every scheduling point
 * keeps the running task (the engine's default), every choose answers 0. For the selftest
 * ports, which are one task, that is their only schedule.
 *
 * Also the hooks `run` needs on a live-update program: a scenario whose state is a TestSystem
 * can report the machine at its kexec point, stop there, or start at stage 2 from a machine.
 */
import { runScenarioOnce, type JudgedExecution } from '../explore/run.ts';
import { resolveArgs, type Scenario, type ScenarioArgs } from '../explore/scenario.ts';
import type { Decider, ParamValue } from '../sim/index.ts';
import { TestSystem } from '../user/two_stage.ts';

export const DEFAULT_STEPS = 10_000;

function straightThrough(): Decider {
  return { pickTask: (_enabled, _current, dflt) => dflt, pickChoice: () => 0 };
}

export interface RunOnceOptions {
  readonly params?: Readonly<Record<string, ParamValue>>;
  readonly variant?: string;
  readonly steps?: number;
  readonly trace?: boolean;
  /** Called with the scenario's state right after its setup. */
  readonly onSetup?: (state: unknown) => void;
}

export interface RunOnceResult<S> {
  readonly args: ScenarioArgs;
  readonly judged: JudgedExecution;
  readonly state: S;
  readonly seconds: number;
}

export function runOnce<S>(scenario: Scenario<S>, o: RunOnceOptions = {}): RunOnceResult<S> {
  const args = resolveArgs(scenario, o.params, o.variant);
  const states: S[] = [];
  const observed: Scenario<S> = {
    ...scenario,
    setup: (sim, a) => {
      const s = scenario.setup(sim, a);
      states.push(s);
      o.onSetup?.(s);
      return s;
    },
  };
  const start = performance.now();
  const judged = runScenarioOnce(observed, args, straightThrough(), {
    stepsMax: o.steps ?? scenario.defaults?.steps ?? DEFAULT_STEPS,
    trace: o.trace ?? false,
  });
  const state = states[0] as S;
  return { args, judged, state, seconds: (performance.now() - start) / 1000 };
}

/** The state as a live-update program's, or null for any other scenario. */
export function asTestSystem(state: unknown): TestSystem | null {
  return state instanceof TestSystem ? state : null;
}

/** One line saying how a run ended: PASS, FAIL with the first reason, or INCONCLUSIVE. */
export function runVerdict(r: RunOnceResult<unknown>): {
  ok: boolean;
  /** The execution stopped at the step limit: it proves nothing either way. */
  limited: boolean;
  text: string;
} {
  const v = r.judged.violation;
  if (v !== null) return { ok: false, limited: false, text: `FAIL ${v.property}: ${v.message}` };
  if (r.judged.stepLimited)
    return {
      ok: false,
      limited: true,
      text: `INCONCLUSIVE stopped at the step limit (${r.judged.result.steps} steps; raise it with --steps)`,
    };
  return { ok: true, limited: false, text: 'PASS' };
}
