/**
 * Per-task context checks shared by the primitives: which spinlocks a task holds (sleeping
 * while holding one is a bug, "sleeping function called from invalid context").
 *
 * Models:     the might_sleep() debugging check of include/linux/kernel.h (v7.2-era mainline).
 * Abstracted: preemption counts and interrupt context; only spinlock nesting is tracked.
 */
import type { Sim, TaskId } from '../sim/index.ts';

const SPIN_HELD = Symbol('spinlocks held per task');

export function spinlocksHeld(sim: Sim): Map<TaskId, number> {
  return sim.local(SPIN_HELD, () => new Map<TaskId, number>());
}

/** Asserts that the running task may sleep. */
export function might_sleep(sim: Sim, what: string): void {
  const me = sim.current;
  if (me === null) return;
  const held = spinlocksHeld(sim).get(me) ?? 0;
  if (held > 0)
    sim.fail(`BUG: sleeping function called from invalid context: ${what} under a spinlock`);
}
