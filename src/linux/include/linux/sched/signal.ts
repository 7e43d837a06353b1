/**
 * Pending signals, as long kernel loops observe them.
 *
 * **Models:** signal_pending() of include/linux/sched/signal.h (v7.2-era mainline), as checked by
 * interruptible loops such as guest_memfd's fallocate, and the act of a signal becoming pending
 * on a task (kill(2) from another task, a timer): `signal_wake_up`.
 * **Abstracted:** no handlers, no delivery: a signal stays pending for the rest of the execution
 * once raised, which is all a loop that bails out with -EINTR needs. Kept per execution.
 */
import { op, type Sched, type Sim, type TaskId } from '../../../../sim/index.ts';

const PENDING = Symbol('tasks with a pending signal');

interface SignalState {
  readonly id: number;
  readonly tasks: Set<TaskId>;
}

function state(sim: Sim): SignalState {
  return sim.local(PENDING, () => ({ id: sim.newObject('signals'), tasks: new Set<TaskId>() }));
}

/** signal_pending(current): one visible read of the signal state. */
export function* signal_pending(sim: Sim): Sched<boolean> {
  const s = state(sim);
  const me = yield op('signal_pending(current)', [{ object: s.id, kind: 'read' }]);
  return s.tasks.has(me);
}

/** Makes a signal pending on `task` (a kill from the running task). */
export function* signal_wake_up(sim: Sim, task: TaskId): Sched {
  const s = state(sim);
  yield op(`signal_wake_up(${sim.taskName(task)})`, [{ object: s.id, kind: 'write' }]);
  s.tasks.add(task);
}

/** Setup-time form: `task` starts with a signal pending. */
export function signal_set_pending(sim: Sim, task: TaskId): void {
  state(sim).tasks.add(task);
}
