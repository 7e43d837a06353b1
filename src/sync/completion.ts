/**
 * struct completion: wait until an event has happened.
 *
 * Models:     kernel/sched/completion.c — init_completion, wait_for_completion, complete,
 *             complete_all, try_wait_for_completion, completion_done (v7.2-era mainline).
 * Abstracted: timeouts and killable/interruptible waits.
 */
import { guardedOp, op, type ObjectId, type Sched, type Sim } from '../sim/index.ts';
import { might_sleep } from './context.ts';

export class Completion {
  readonly sim: Sim;
  readonly id: ObjectId;
  readonly name: string;
  /** Completions not yet consumed; Infinity after complete_all. */
  done = 0;

  constructor(sim: Sim, name: string) {
    this.sim = sim;
    this.name = name;
    this.id = sim.newObject(name);
  }
}

export function* wait_for_completion(c: Completion): Sched {
  might_sleep(c.sim, `wait_for_completion(${c.name})`);
  yield guardedOp(
    `wait_for_completion(${c.name})`,
    [{ object: c.id, kind: 'wait' }],
    () => c.done > 0,
    () => `completion ${c.name} (not completed)`,
  );
  if (c.done !== Infinity) c.done--;
}

export function* try_wait_for_completion(c: Completion): Sched<boolean> {
  yield op(`try_wait_for_completion(${c.name})`, [{ object: c.id, kind: 'wait' }]);
  if (c.done === 0) return false;
  if (c.done !== Infinity) c.done--;
  return true;
}

export function* complete(c: Completion): Sched {
  yield op(`complete(${c.name})`, [{ object: c.id, kind: 'wake' }]);
  if (c.done !== Infinity) c.done++;
}

export function* complete_all(c: Completion): Sched {
  yield op(`complete_all(${c.name})`, [{ object: c.id, kind: 'wake' }]);
  c.done = Infinity;
}

/**
 * completion_done, read without a visible operation: for properties and invariants, which run
 * between steps. Task code that branched on it would hide its dependence on complete() from DPOR.
 */
export function completion_done(c: Completion): boolean {
  return c.done > 0;
}

/**
 * Re-arms a completion that was completed (reinit_completion): a visible write, so that DPOR
 * orders it against a complete() of another task (the re-arm may lose that completion).
 */
export function* reinit_completion(c: Completion): Sched {
  yield op(`reinit_completion(${c.name})`, [{ object: c.id, kind: 'write' }]);
  c.done = 0;
}
