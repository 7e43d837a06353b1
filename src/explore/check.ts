/**
 * The check driver: runs a scenario under a strategy within limits and returns a verdict.
 *
 * Verdicts: "violated" (with a counterexample: the property, a replay token and the traced
 * execution), "holds" (no violation; the coverage says whether the search was exhaustive, up to
 * which bound, or sampled), or "limit" (a limit stopped the search before it could conclude; the
 * result names the flag that raises it). The counterexample is re-run traced from its token, so
 * the search itself records nothing.
 */
import {
  InputError,
  ReplayDiverged,
  encodeToken,
  deviationsOf,
  decodeToken,
  type ExecutionResult,
  type ParamValue,
  type TokenHeader,
} from '../sim/index.ts';
import {
  runScenarioOnce,
  snapshotFingerprint,
  snapshotScenario,
  type JudgedExecution,
  type ScenarioSnapshot,
  type Violation,
} from './run.ts';
import { fewestPreemptions, shrinkSchedule } from './shrink.ts';
import { resolveArgs, type Scenario, type ScenarioArgs } from './scenario.ts';
import type { Coverage, Strategy } from './strategy.ts';
import { DfsStrategy } from './strategies/dfs.ts';
import { DporStrategy } from './strategies/dpor.ts';
import { PctStrategy } from './strategies/pct.ts';
import { RandomStrategy } from './strategies/random.ts';
import { ReplayStrategy } from './strategies/replay.ts';

export const STRATEGIES = ['random', 'pct', 'dfs', 'dpor'] as const;
export type StrategyName = (typeof STRATEGIES)[number];

export interface Limits {
  readonly executionsMax: number;
  readonly stepsMax: number;
  /** DFS: the preemption bound (null = unbounded). */
  readonly preemptionsMax: number | null;
  readonly secondsMax: number | null;
}

export const DEFAULT_LIMITS: Limits = {
  executionsMax: 100_000,
  stepsMax: 10_000,
  preemptionsMax: null,
  secondsMax: null,
};

export interface CheckOptions {
  /** How the scenario is named in tokens: a built-in name or the file path given. */
  readonly scenarioRef: string;
  readonly strategy: StrategyName;
  readonly seed: number;
  readonly params?: Readonly<Record<string, ParamValue>>;
  readonly variant?: string;
  readonly limits?: Partial<Limits>;
  /** PCT bug depth. */
  readonly pctDepth?: number;
  /** Wall clock in milliseconds, for the seconds limit and rates; none = no timing. */
  readonly clock?: () => number;
  /** Called every `progressEvery` executions. */
  readonly onProgress?: (p: { executions: number; steps: number }) => void;
  readonly progressEvery?: number;
  /**
   * Keep searching after a violation and collect every terminal state (for validating one
   * strategy against another). The first violation is still the counterexample.
   */
  readonly exploreAll?: boolean;
  /** Shrink a counterexample to a minimal schedule (default true). */
  readonly shrink?: boolean;
  /**
   * Start executions from a snapshot taken after the scenario's prologue (default true; false
   * runs setup and prologue in every execution, for validating the snapshot).
   */
  readonly snapshot?: boolean;
}

export interface LimitHit {
  readonly limit: 'executions' | 'seconds' | 'steps';
  readonly flag: '--executions' | '--seconds' | '--steps';
  readonly value: number;
}

export interface Counterexample extends Violation {
  readonly token: string;
  readonly execution: ExecutionResult;
  /** Steps of the execution the search found, before shrinking. */
  readonly foundSteps: number;
  /** Replays tried while shrinking (0 when shrinking is off). */
  readonly shrinkAttempts: number;
}

export interface CheckResult {
  readonly scenario: string;
  readonly variant: string;
  readonly params: Readonly<Record<string, ParamValue>>;
  readonly strategy: string;
  readonly seed: number;
  readonly verdict: 'holds' | 'violated' | 'limit';
  readonly coverage: Coverage;
  readonly limit: LimitHit | null;
  readonly executions: number;
  readonly steps: number;
  readonly seconds: number | null;
  readonly counterexample: Counterexample | null;
  readonly limits: Limits;
  /** Executions a reducing strategy abandoned as equivalent to ones already run. */
  readonly pruned: number;
  /** With `exploreAll`: the distinct terminal states reached, sorted. */
  readonly terminalStates: readonly string[] | null;
  /** Why executions could not start from a snapshot of the prologue (null: they did, or none). */
  readonly snapshotRefused: string | null;
  /** Steps of the prologue every execution started from a snapshot of (null: none was used). */
  readonly snapshotSteps: number | null;
}

export function makeStrategy(
  o: Pick<CheckOptions, 'strategy' | 'seed' | 'pctDepth'>,
  limits: Limits,
): Strategy {
  switch (o.strategy) {
    case 'random':
      return new RandomStrategy(o.seed);
    case 'pct':
      return new PctStrategy(o.seed, o.pctDepth ?? 3);
    case 'dfs':
      return new DfsStrategy(limits.preemptionsMax);
    case 'dpor':
      return new DporStrategy();
  }
}

export function makeCounterexample<S>(
  scenario: Scenario<S>,
  args: ScenarioArgs,
  header: TokenHeader,
  violation: Violation,
  found: ExecutionResult,
  o: Pick<CheckOptions, 'shrink'>,
  snapshot: ScenarioSnapshot<S> | null = null,
): Counterexample {
  let schedule = deviationsOf(found.decisions);
  let shrinkAttempts = 0;
  if (o.shrink ?? true) {
    const limits = { stepsMax: header.stepsMax };
    const fewest = fewestPreemptions(scenario, args, violation.property, found, limits, snapshot);
    const shrunk = shrinkSchedule(scenario, args, violation.property, fewest, limits, snapshot);
    schedule = [...shrunk.schedule];
    shrinkAttempts = shrunk.attempts;
  }
  const token = encodeToken({ header, schedule });
  const traced = replayToken(scenario, token, args);
  const final = traced.violations.find((v) => v.property === violation.property) ?? violation;
  return { ...final, token, execution: traced.result, foundSteps: found.steps, shrinkAttempts };
}

/** How often a search re-runs an execution started from the snapshot without it. */
const AUDIT_EVERY = 1000;

/**
 * The executions of one search: each starts from the scenario's prologue snapshot when it has
 * one (and `snapshot` is not false), and the snapshot is guarded against not being faithful
 * (state kept alive by a closure the copy cannot see, docs/engine.md): the first completed
 * execution and every AUDIT_EVERY-th are run again with the prologue and must end the same way,
 * and at the end the snapshot must be as it was taken. A failure is the scenario's error
 * (InputError, exit 2), not a verdict.
 */
export class SearchExecutions<S> {
  readonly snapshot: ScenarioSnapshot<S> | null;
  /** Why the snapshot could not be taken (null: it was, or there is no prologue). */
  refused: string | null = null;
  private readonly scenario: Scenario<S>;
  private readonly args: ScenarioArgs;
  private readonly stepsMax: number;
  private readonly before: string | null;
  private count = 0;
  private audited = 0;

  constructor(scenario: Scenario<S>, args: ScenarioArgs, stepsMax: number, snapshot = true) {
    this.scenario = scenario;
    this.args = args;
    this.stepsMax = stepsMax;
    this.snapshot = snapshot
      ? snapshotScenario(scenario, args, stepsMax, (why) => (this.refused = why))
      : null;
    this.before = this.snapshot === null ? null : snapshotFingerprint(this.snapshot);
  }

  /** Runs the strategy's next execution (after its `next()`), reports it to it, and audits. */
  run(strategy: Strategy): JudgedExecution {
    const judged = runScenarioOnce(
      this.scenario,
      this.args,
      strategy.decider,
      { stepsMax: this.stepsMax, trace: false },
      this.snapshot,
    );
    strategy.finish(judged.result);
    if (this.snapshot !== null) this.audit(judged, this.count);
    this.count++;
    return judged;
  }

  /** At the end of the search: the snapshot must be unchanged. */
  end(): void {
    if (this.snapshot !== null && snapshotFingerprint(this.snapshot) !== this.before)
      this.fail('the snapshot itself was modified while executions ran from copies of it');
  }

  private audit(judged: JudgedExecution, index: number): void {
    if (judged.terminal === null || (this.audited > 0 && index % AUDIT_EVERY !== 0)) return;
    this.audited++;
    const replay = new ReplayStrategy(deviationsOf(judged.result.decisions));
    replay.next();
    const again = runScenarioOnce(this.scenario, this.args, replay.decider, {
      stepsMax: this.stepsMax,
      trace: false,
    });
    const was = `${judged.terminal} in ${judged.result.steps} steps`;
    const now = `${again.terminal ?? again.result.outcome.kind} in ${again.result.steps} steps`;
    if (was !== now || judged.violation?.property !== again.violation?.property)
      this.fail(`execution ${index + 1} ended "${was}" from the snapshot but "${now}" without it`);
  }

  private fail(what: string): never {
    throw new InputError(
      `scenario ${this.scenario.name}: its prologue cannot be snapshotted faithfully: ${what}; ` +
        'something reachable from the state is probably kept by a closure (docs/engine.md, ' +
        '"Setup runs once"); run with --no-snapshot',
    );
  }
}

export function check<S>(scenario: Scenario<S>, o: CheckOptions): CheckResult {
  const limits: Limits = { ...DEFAULT_LIMITS, ...o.limits };
  const args = resolveArgs(scenario, o.params, o.variant);
  const strategy = makeStrategy(o, limits);
  const header: TokenHeader = {
    scenario: o.scenarioRef,
    variant: args.variant,
    params: args.params,
    seed: o.seed,
    stepsMax: limits.stepsMax,
  };
  const clock = o.clock;
  const start = clock ? clock() : 0;
  const every = o.progressEvery ?? 1000;
  let executions = 0;
  let steps = 0;
  let limit: LimitHit | null = null;
  let counterexample: Counterexample | null = null;
  let pruned = 0;
  const terminals = o.exploreAll ? new Set<string>() : null;
  const search = new SearchExecutions(scenario, args, limits.stepsMax, o.snapshot ?? true);
  const snapshot = search.snapshot;

  for (;;) {
    if (executions >= limits.executionsMax) {
      if (strategy.exhaustible)
        limit = { limit: 'executions', flag: '--executions', value: limits.executionsMax };
      break;
    }
    if (limits.secondsMax !== null && clock && (clock() - start) / 1000 >= limits.secondsMax) {
      limit = { limit: 'seconds', flag: '--seconds', value: limits.secondsMax };
      break;
    }
    if (!strategy.next()) break;
    const judged = search.run(strategy);
    executions++;
    steps += judged.result.steps;
    if (judged.result.outcome.kind === 'pruned') pruned++;
    if (terminals && judged.terminal !== null) terminals.add(judged.terminal);
    if (o.onProgress && executions % every === 0) o.onProgress({ executions, steps });
    if (judged.violation !== null && counterexample === null) {
      counterexample = makeCounterexample(
        scenario,
        args,
        header,
        judged.violation,
        judged.result,
        o,
        snapshot,
      );
      if (!o.exploreAll) break;
    }
    if (judged.stepLimited) {
      limit = { limit: 'steps', flag: '--steps', value: limits.stepsMax };
      break;
    }
  }
  search.end();
  const seconds = clock ? (clock() - start) / 1000 : null;
  const verdict = counterexample ? 'violated' : limit ? 'limit' : 'holds';
  const coverage: Coverage =
    verdict === 'holds' || (o.exploreAll && limit === null)
      ? strategy.exhaustible
        ? strategy.coverage()
        : { kind: 'sampled' }
      : { kind: 'partial' };
  return {
    scenario: o.scenarioRef,
    variant: args.variant,
    params: args.params,
    strategy: strategy.name,
    seed: o.seed,
    verdict,
    coverage,
    limit,
    executions,
    steps,
    seconds,
    counterexample,
    limits,
    pruned,
    terminalStates: terminals ? [...terminals].sort() : null,
    snapshotRefused: search.refused,
    snapshotSteps: snapshot === null ? null : snapshot.ex.stepCount,
  };
}

export interface ReplayResult {
  readonly header: TokenHeader;
  readonly result: ExecutionResult;
  readonly violation: Violation | null;
  readonly violations: readonly Violation[];
}

/** Re-runs one execution from a token, traced. `args` defaults to the token's own. */
export function replayToken<S>(
  scenario: Scenario<S>,
  token: string,
  args?: ScenarioArgs,
): ReplayResult {
  const decoded = decodeToken(token);
  const header = decoded.header;
  const resolved = args ?? resolveArgs(scenario, header.params, header.variant);
  if (header.stepsMax < 1) throw new InputError('replay token has an invalid step limit');
  const replay = new ReplayStrategy(decoded.schedule);
  replay.next();
  const judged = runScenarioOnce(scenario, resolved, replay.decider, {
    stepsMax: header.stepsMax,
    trace: true,
  });
  // A token made from this execution deviates only at decisions it took.
  const taken = judged.result.decisions.length;
  const unused = decoded.schedule.find((d) => d.index >= taken);
  if (unused !== undefined)
    throw new ReplayDiverged(
      `replay diverged: the execution ended after ${taken} decisions, but the token deviates ` +
        `at decision ${unused.index}`,
    );
  return {
    header,
    result: judged.result,
    violation: judged.violation,
    violations: judged.violations,
  };
}
