/**
 * PCT (probabilistic concurrency testing, Burckhardt et al. 2010) with bug depth d.
 *
 * Each execution gives every task a random priority above d, picks d - 1 change points among the
 * decision points (their number estimated from the longest execution so far), always runs the
 * highest-priority enabled task, and at the j-th change point drops the running task's priority
 * to j. A bug of depth d is found with probability at least 1/(n k^(d-1)) per execution.
 */
import { Prng, type Decider, type ExecutionResult, type TaskId } from '../../sim/index.ts';
import type { Coverage, Strategy } from '../strategy.ts';

export class PctStrategy implements Strategy {
  readonly name = 'pct';
  readonly exhaustible = false;
  readonly decider: Decider;
  private readonly prng: Prng;
  private readonly depth: number;
  private readonly priority = new Map<TaskId, number>();
  private changePoints = new Map<number, number>();
  private decisionIndex = 0;
  private decisionsMax = 16;

  constructor(seed: number, depth: number) {
    this.prng = new Prng(seed);
    this.depth = Math.max(1, depth);
    this.decider = {
      pickTask: (enabled) => this.pick(enabled),
      pickChoice: (n) => this.prng.below(n),
    };
  }

  private priorityOf(t: TaskId): number {
    let p = this.priority.get(t);
    if (p === undefined) {
      p = this.depth + 1 + this.prng.below(1 << 30);
      this.priority.set(t, p);
    }
    return p;
  }

  private highest(enabled: readonly TaskId[]): TaskId {
    let best = enabled[0] as TaskId;
    for (const t of enabled) if (this.priorityOf(t) > this.priorityOf(best)) best = t;
    return best;
  }

  private pick(enabled: readonly TaskId[]): TaskId {
    this.decisionIndex++;
    const change = this.changePoints.get(this.decisionIndex);
    if (change !== undefined) this.priority.set(this.highest(enabled), change);
    return this.highest(enabled);
  }

  next(): boolean {
    this.priority.clear();
    this.decisionIndex = 0;
    this.changePoints = new Map();
    for (let j = 1; j < this.depth; j++) {
      const at = 1 + this.prng.below(this.decisionsMax);
      if (!this.changePoints.has(at)) this.changePoints.set(at, j);
    }
    return true;
  }

  finish(result: ExecutionResult): void {
    this.decisionsMax = Math.max(this.decisionsMax, result.decisions.length);
  }

  coverage(): Coverage {
    return { kind: 'sampled' };
  }
}
