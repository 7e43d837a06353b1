/**
 * The seeded PRNG of the engine: xoroshiro128+ from pure-rand. The only source of randomness
 * allowed under src/. Each strategy owns one instance derived from the user's seed.
 */
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';

export class Prng {
  private readonly rng;

  constructor(seed: number) {
    this.rng = xoroshiro128plus(seed | 0);
  }

  /** Uniform integer in [0, n). */
  below(n: number): number {
    return n <= 1 ? 0 : uniformInt(this.rng, 0, n - 1);
  }

  /** Uniform integer in [from, to]. */
  between(from: number, to: number): number {
    return uniformInt(this.rng, from, to);
  }
}
