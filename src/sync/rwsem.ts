/**
 * struct rw_semaphore: many readers or one writer.
 *
 * Models:     kernel/locking/rwsem.c — down_read, up_read, down_write, up_write,
 *             down_read_trylock, down_write_trylock (v7.2-era mainline).
 * Writers:    down_write takes a free lock in one step (the fast path). On a held lock the
 *             writer queues (a visible step that sets the waiters flag, counted in
 *             `waitingWriters`) and then waits for the lock to be free.
 * Readers:    a reader enters unless a writer holds the lock, or a writer waits while readers
 *             hold it (the kernel's slow path queues a reader behind a waiting writer when other
 *             readers own the lock, rcnt > 1). So a task that takes the read lock twice while a
 *             writer queued in between deadlocks, as in the kernel. With the lock free and a
 *             writer waiting (just woken), a reader may still enter (the kernel's reader lock
 *             stealing, which the handoff bit can forbid: the model allows it).
 * Trylocks:   fail while a writer holds or waits (the waiters flag is in the kernel's read-fail
 *             mask, and a write trylock needs the count to be zero).
 * Abstracted: handoff, optimistic spinning, and queue order among waiters (any waiter whose
 *             guard holds may be scheduled).
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
  /** Writers queued in down_write (the waiters flag is set while this is not zero). */
  waitingWriters = 0;

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
    () => s.writer === null && !(s.waitingWriters > 0 && s.readers.size > 0),
    () => (s.writer === null ? `${heldBy(s)}, a writer waiting` : heldBy(s)),
  );
  s.readers.set(me, (s.readers.get(me) ?? 0) + 1);
}

export function* down_read_trylock(s: RwSemaphore): Sched<boolean> {
  const me = yield op(`down_read_trylock(${s.name})`, [{ object: s.id, kind: 'acquire' }]);
  if (s.writer !== null || s.waitingWriters > 0) return false;
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
  const me = yield op(`down_write(${s.name})`, [{ object: s.id, kind: 'acquire' }]);
  if (s.writer === null && s.readers.size === 0) {
    s.writer = me;
    return;
  }
  s.waitingWriters++;
  yield guardedOp(
    `down_write(${s.name}) wakes`,
    [{ object: s.id, kind: 'acquire' }],
    () => s.writer === null && s.readers.size === 0,
    () => heldBy(s),
  );
  s.waitingWriters--;
  s.writer = me;
}

export function* down_write_trylock(s: RwSemaphore): Sched<boolean> {
  const me = yield op(`down_write_trylock(${s.name})`, [{ object: s.id, kind: 'acquire' }]);
  if (s.writer !== null || s.readers.size > 0 || s.waitingWriters > 0) return false;
  s.writer = me;
  return true;
}

export function* up_write(s: RwSemaphore): Sched {
  if (s.writer === null || s.writer !== s.sim.current)
    s.sim.fail(`up_write(${s.name}) by a task that does not hold it for write`);
  yield op(`up_write(${s.name})`, [{ object: s.id, kind: 'release' }]);
  s.writer = null;
}
