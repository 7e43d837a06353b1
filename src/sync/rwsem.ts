/**
 * struct rw_semaphore: many readers or one writer.
 *
 * Models:     kernel/locking/rwsem.c — down_read, up_read, down_write, up_write,
 *             down_read_trylock, down_write_trylock (v7.2-era mainline).
 * Abstracted: no writer preference or handoff: a waiting writer is not state, so a reader may
 *             enter whenever no writer holds the lock. The kernel makes a new reader queue behind
 *             a waiting writer when readers hold the lock, so a deadlock that needs this (a task
 *             taking the read lock twice while a writer waits) is not found; and
 *             down_read_trylock succeeds where the kernel's fails (any waiter queued), so a
 *             caller's failure path is not explored in that state. Modelling both needs the
 *             writer's queueing as a visible operation of its own. Nothing in the kernel model
 *             takes a read lock twice or uses down_read_trylock.
 * Assertions: up_read without a read hold; up_write by a non-owner.
 */
import { guardedOp, op, type ObjectId, type Sched, type Sim, type TaskId } from '../sim/index.ts';
import { might_sleep } from './context.ts';

export class RwSemaphore {
  readonly sim: Sim;
  readonly id: ObjectId;
  readonly name: string;
  writer: TaskId | null = null;
  /** Read holds per task (a task may hold several). */
  readonly readers = new Map<TaskId, number>();

  constructor(sim: Sim, name: string) {
    this.sim = sim;
    this.name = name;
    this.id = sim.newObject(name);
  }
}

function heldBy(s: RwSemaphore): string {
  if (s.writer !== null) return `${s.name} held for write by ${s.sim.taskName(s.writer)}`;
  const names = [...s.readers.keys()].map((t) => s.sim.taskName(t));
  return `${s.name} held for read by ${names.join(', ')}`;
}

export function* down_read(s: RwSemaphore): Sched {
  might_sleep(s.sim, `down_read(${s.name})`);
  const me = yield guardedOp(
    `down_read(${s.name})`,
    [{ object: s.id, kind: 'acquire' }],
    () => s.writer === null,
    () => heldBy(s),
  );
  s.readers.set(me, (s.readers.get(me) ?? 0) + 1);
}

export function* down_read_trylock(s: RwSemaphore): Sched<boolean> {
  const me = yield op(`down_read_trylock(${s.name})`, [{ object: s.id, kind: 'acquire' }]);
  if (s.writer !== null) return false;
  s.readers.set(me, (s.readers.get(me) ?? 0) + 1);
  return true;
}

export function* up_read(s: RwSemaphore): Sched {
  const me = s.sim.current ?? -1;
  const n = s.readers.get(me) ?? 0;
  if (n === 0) s.sim.fail(`up_read(${s.name}) by a task that does not hold it for read`);
  yield op(`up_read(${s.name})`, [{ object: s.id, kind: 'release' }]);
  if (n === 1) s.readers.delete(me);
  else s.readers.set(me, n - 1);
}

export function* down_write(s: RwSemaphore): Sched {
  might_sleep(s.sim, `down_write(${s.name})`);
  const me = yield guardedOp(
    `down_write(${s.name})`,
    [{ object: s.id, kind: 'acquire' }],
    () => s.writer === null && s.readers.size === 0,
    () => heldBy(s),
  );
  s.writer = me;
}

export function* down_write_trylock(s: RwSemaphore): Sched<boolean> {
  const me = yield op(`down_write_trylock(${s.name})`, [{ object: s.id, kind: 'acquire' }]);
  if (s.writer !== null || s.readers.size > 0) return false;
  s.writer = me;
  return true;
}

export function* up_write(s: RwSemaphore): Sched {
  if (s.writer === null || s.writer !== s.sim.current)
    s.sim.fail(`up_write(${s.name}) by a task that does not hold it for write`);
  yield op(`up_write(${s.name})`, [{ object: s.id, kind: 'release' }]);
  s.writer = null;
}
