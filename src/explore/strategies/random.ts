/** Uniformly random scheduling and choices, seeded. Never ends by itself; it samples. */
import { Prng, type Decider, type TaskId } from '../../sim/index.ts';
import type { Coverage, Strategy } from '../strategy.ts';

export class RandomStrategy implements Strategy {
  readonly name = 'random';
  readonly exhaustible = false;
  readonly decider: Decider;

  constructor(seed: number) {
    const prng = new Prng(seed);
    this.decider = {
      pickTask: (enabled: readonly TaskId[]) => enabled[prng.below(enabled.length)] as TaskId,
      pickChoice: (n: number) => prng.below(n),
    };
  }

  next(): boolean {
    return true;
  }

  finish(): void {
    /* nothing to learn */
  }

  coverage(): Coverage {
    return { kind: 'sampled' };
  }
}
