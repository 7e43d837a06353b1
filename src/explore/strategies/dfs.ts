/**
 * Depth-first search over the decision tree, stateless (each execution re-runs from the start),
 * with an optional preemption bound (Musuvathi & Qadeer's iterative context bounding).
 *
 * At a decision point the options are tried default first (keep running the current task), then
 * the other enabled tasks in id order; a choose tries 0..n-1. Switching away from a task that
 * could continue is a preemption; options that would exceed the bound are not tried, and the
 * search remembers that it pruned something, so it can say whether it was exhaustive outright
 * or only up to the bound.
 */
import type { Decider } from '../../sim/index.ts';
import type { Coverage, Strategy } from '../strategy.ts';

interface Node {
  readonly options: readonly number[];
  /** Preemption cost of each option (0 or 1). */
  readonly cost: readonly number[];
  readonly preemptionsBefore: number;
  taken: number;
}

export class DfsStrategy implements Strategy {
  readonly name = 'dfs';
  readonly exhaustible = true;
  readonly decider: Decider;
  private readonly bound: number | null;
  private readonly stack: Node[] = [];
  private depth = 0;
  private preemptions = 0;
  private pruned = false;
  private started = false;
  private done = false;

  constructor(preemptionBound: number | null) {
    this.bound = preemptionBound;
    this.decider = {
      pickTask: (enabled, current, dflt) => {
        const canContinue = current !== null && enabled.includes(current);
        return this.decide(() => {
          const options = [dflt, ...enabled.filter((t) => t !== dflt)];
          return { options, cost: options.map((t) => (canContinue && t !== current ? 1 : 0)) };
        });
      },
      pickChoice: (n) =>
        this.decide(() => {
          const options = Array.from({ length: n }, (_, i) => i);
          return { options, cost: options.map(() => 0) };
        }),
    };
  }

  private allowed(node: Node, i: number): boolean {
    return this.bound === null || node.preemptionsBefore + (node.cost[i] ?? 0) <= this.bound;
  }

  private decide(make: () => { options: number[]; cost: number[] }): number {
    let node = this.stack[this.depth];
    if (node === undefined) {
      const { options, cost } = make();
      node = { options, cost, preemptionsBefore: this.preemptions, taken: 0 };
      for (let i = 1; i < options.length; i++) if (!this.allowed(node, i)) this.pruned = true;
      this.stack.push(node);
    } else if (node.options.length !== make().options.length) {
      throw new Error('the model is not deterministic: a replayed prefix offered other options');
    }
    this.depth++;
    this.preemptions += node.cost[node.taken] ?? 0;
    return node.options[node.taken] as number;
  }

  next(): boolean {
    if (!this.started) {
      this.started = true;
      return true;
    }
    // Backtrack to the deepest node with an untried, allowed option.
    while (this.stack.length > 0) {
      const top = this.stack[this.stack.length - 1] as Node;
      let i = top.taken + 1;
      while (i < top.options.length && !this.allowed(top, i)) i++;
      if (i < top.options.length) {
        top.taken = i;
        this.depth = 0;
        this.preemptions = 0;
        return true;
      }
      this.stack.pop();
    }
    this.done = true;
    return false;
  }

  finish(): void {
    // Nodes past the end of this execution cannot exist; the stack is exactly its path.
    this.stack.length = this.depth;
  }

  coverage(): Coverage {
    if (!this.done) return { kind: 'partial' };
    if (this.pruned && this.bound !== null)
      return { kind: 'exhaustive', bound: `preemption bound ${this.bound}` };
    return { kind: 'exhaustive', bound: null };
  }
}
