/**
 * Replay: runs exactly one execution, following a schedule of deviations from the default
 * decisions (see sim/schedule.ts). A deviation the execution cannot take is a ReplayDiverged
 * error: the token does not belong to this scenario, variant or model version.
 */
import { ReplayDiverged, type Decider, type Deviation } from '../../sim/index.ts';
import type { Coverage, Strategy } from '../strategy.ts';

export class ReplayStrategy implements Strategy {
  readonly name = 'replay';
  readonly exhaustible = true;
  readonly decider: Decider;
  private started = false;
  private index = 0;

  /**
   * @param lenient take the default where a deviation cannot be taken (used by shrinking, whose
   *   candidate schedules are edits of a real one), instead of reporting a divergence.
   */
  constructor(schedule: readonly Deviation[], lenient = false) {
    const byIndex = new Map(schedule.map((d) => [d.index, d.value]));
    this.decider = {
      pickTask: (enabled, _current, dflt) => {
        const v = byIndex.get(this.index++);
        if (v === undefined) return dflt;
        if (!enabled.includes(v)) {
          if (lenient) return dflt;
          throw new ReplayDiverged(
            `replay diverged at decision ${this.index - 1}: task ${v} is not runnable`,
          );
        }
        return v;
      },
      pickChoice: (n) => {
        const v = byIndex.get(this.index++) ?? 0;
        if (v >= n && lenient) return 0;
        if (v >= n)
          throw new ReplayDiverged(
            `replay diverged at decision ${this.index - 1}: choice ${v} of ${n}`,
          );
        return v;
      },
    };
  }

  next(): boolean {
    if (this.started) return false;
    this.started = true;
    return true;
  }

  finish(): void {
    /* one execution only */
  }

  coverage(): Coverage {
    return { kind: 'exhaustive', bound: 'one schedule' };
  }
}
