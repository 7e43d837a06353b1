/**
 * Shrinking a counterexample to a minimal schedule.
 *
 * First, the fewest preemptions: bounded DFS with preemption bounds 0, 1, ... below the found
 * execution's count looks for the same violation (iterative context bounding), within a budget
 * of executions per bound. The first bound whose search the budget cuts short is the last one
 * tried: every higher bound's tree contains it, and a DFS cut short explores the same early
 * corner of a bigger tree (on the freeze race, bound 1 takes about 3,500 executions and bound 2
 * more than 40,000; searching 5,000 executions of each bound up to a sampled execution's 40 or
 * so preemptions took a minute and found nothing). When that happens and the found execution has
 * more preemptions than the bound reached, a DPOR search within the same budget looks for the
 * violation too: it starts from the default order and adds preemptions only where operations
 * race, so its first violating execution usually has few (2 or 3 on the freeze race, where a
 * random execution has 40). Then the schedule itself:
 * A schedule is a list of deviations from the default order (see sim/schedule.ts); fewer
 * deviations means fewer preemptions and context switches for a person to follow. Shrinking
 * repeatedly tries to drop one deviation, or to lower its value (an earlier task, a smaller
 * choice), replaying the candidate leniently; a candidate is kept when it still violates the
 * same property and is smaller: fewer deviations, then fewer steps. The result is re-encoded
 * from the decisions its run actually took, so it replays strictly.
 */
import { deviationsOf, type Decider, type Deviation, type ExecutionResult } from '../sim/index.ts';
import { runScenarioOnce, type JudgedExecution, type ScenarioSnapshot } from './run.ts';
import type { Scenario, ScenarioArgs } from './scenario.ts';
import type { Strategy } from './strategy.ts';
import { DfsStrategy } from './strategies/dfs.ts';
import { DporStrategy } from './strategies/dpor.ts';
import { ReplayStrategy } from './strategies/replay.ts';

/** One execution of a search for a smaller counterexample: untraced, from the snapshot. */
function runUntraced<S>(
  scenario: Scenario<S>,
  args: ScenarioArgs,
  decider: Decider,
  stepsMax: number,
  snapshot: ScenarioSnapshot<S> | null,
): JudgedExecution {
  return runScenarioOnce(scenario, args, decider, { stepsMax, trace: false }, snapshot);
}

const violated = (judged: JudgedExecution, property: string): boolean =>
  judged.violations.some((v) => v.property === property);

/**
 * The execution with the fewest preemptions that violates `property`: bounded DFS below
 * `start.preemptions` up to the first bound the budget cuts short, then DPOR within the budget;
 * `start` itself when neither finds one with fewer preemptions.
 */
export function fewestPreemptions<S>(
  scenario: Scenario<S>,
  args: ScenarioArgs,
  property: string,
  start: ExecutionResult,
  options: { stepsMax: number; executionsPerBound?: number },
  snapshot: ScenarioSnapshot<S> | null = null,
): ExecutionResult {
  const budget = options.executionsPerBound ?? 5000;
  const violates = (strategy: Strategy): ExecutionResult | null => {
    const judged = runUntraced(scenario, args, strategy.decider, options.stepsMax, snapshot);
    strategy.finish(judged.result);
    return violated(judged, property) ? judged.result : null;
  };
  let bound = 0;
  for (; bound < start.preemptions; bound++) {
    const dfs = new DfsStrategy(bound);
    let n = 0;
    for (; n < budget && dfs.next(); n++) {
      const found = violates(dfs);
      if (found) return found;
    }
    if (n === budget && dfs.next()) break;
  }
  if (bound >= start.preemptions) return start;
  const dpor = new DporStrategy();
  for (let n = 0; n < budget && dpor.next(); n++) {
    const found = violates(dpor);
    if (found) return found.preemptions < start.preemptions ? found : start;
  }
  return start;
}

export interface Shrunk {
  readonly schedule: readonly Deviation[];
  readonly result: ExecutionResult;
  /** Candidate replays tried. */
  readonly attempts: number;
}

interface Candidate {
  readonly schedule: Deviation[];
  readonly steps: number;
  readonly result: ExecutionResult;
}

function smaller(a: Candidate, b: Candidate): boolean {
  if (a.schedule.length !== b.schedule.length) return a.schedule.length < b.schedule.length;
  return a.steps < b.steps;
}

export function shrinkSchedule<S>(
  scenario: Scenario<S>,
  args: ScenarioArgs,
  property: string,
  start: ExecutionResult,
  options: { stepsMax: number; attemptsMax?: number },
  snapshot: ScenarioSnapshot<S> | null = null,
): Shrunk {
  const attemptsMax = options.attemptsMax ?? 2000;
  let attempts = 0;
  let best: Candidate = {
    schedule: deviationsOf(start.decisions),
    steps: start.steps,
    result: start,
  };

  const attempt = (schedule: readonly Deviation[]): Candidate | null => {
    attempts++;
    const replay = new ReplayStrategy(schedule, true);
    replay.next();
    const judged = runUntraced(scenario, args, replay.decider, options.stepsMax, snapshot);
    if (!violated(judged, property)) return null;
    const actual = deviationsOf(judged.result.decisions);
    return { schedule: actual, steps: judged.result.steps, result: judged.result };
  };

  let improved = true;
  while (improved && attempts < attemptsMax) {
    improved = false;
    for (let i = 0; i < best.schedule.length && attempts < attemptsMax; i++) {
      const without = best.schedule.filter((_, k) => k !== i);
      const c = attempt(without);
      if (c && smaller(c, best)) {
        best = c;
        improved = true;
        break;
      }
      const d = best.schedule[i] as Deviation;
      for (let v = 0; v < d.value && attempts < attemptsMax; v++) {
        const lowered = best.schedule.map((x, k) => (k === i ? { index: x.index, value: v } : x));
        const e = attempt(lowered);
        if (e && smaller(e, best)) {
          best = e;
          improved = true;
          break;
        }
      }
      if (improved) break;
    }
  }
  return { schedule: best.schedule, result: best.result, attempts };
}
