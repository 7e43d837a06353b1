/**
 * The strategy contract: a strategy is an oracle that starts executions and answers their
 * decisions. The check driver asks `next()` before each execution (false = the search is over),
 * runs the execution with `decider`, and reports the result with `finish()`.
 */
import type { Decider, ExecutionResult } from '../sim/index.ts';

export type Coverage =
  /** Every behaviour was run, or every behaviour within the stated bound. */
  | { readonly kind: 'exhaustive'; readonly bound: string | null }
  /** A sample of behaviours. */
  | { readonly kind: 'sampled' }
  /** The search stopped before it was complete. */
  | { readonly kind: 'partial' };

export interface Strategy {
  readonly name: string;
  /** True for strategies that can finish a search (DFS, DPOR, replay). */
  readonly exhaustible: boolean;
  readonly decider: Decider;
  next(): boolean;
  finish(result: ExecutionResult): void;
  /** Coverage once the search has ended by itself. */
  coverage(): Coverage;
}
