/**
 * struct mutex: a sleeping lock with a single owner.
 *
 * Models:     kernel/locking/mutex.c — mutex_lock, mutex_trylock, mutex_unlock, and the
 *             lockdep_assert_held() check (v7.2-era mainline).
 * Abstracted: no optimistic spinning, handoff or fairness; any waiter may win once the lock is
 *             free. A mutex is not recursive: locking it twice deadlocks, as in the kernel.
 * Assertions: unlock by a task that does not hold it; lockdep_assert_held when not held.
 * Yield points: one per lock, trylock and unlock.
 */
import { guardedOp, op, type ObjectId, type Sched, type Sim, type TaskId } from '../sim/index.ts';
import { might_sleep } from './context.ts';

export class Mutex {
  readonly sim: Sim;
  readonly id: ObjectId;
  readonly name: string;
  owner: TaskId | null = null;

  constructor(sim: Sim, name: string) {
    this.sim = sim;
    this.name = name;
    this.id = sim.newObject(name);
  }
}

export function* mutex_lock(m: Mutex): Sched {
  might_sleep(m.sim, `mutex_lock(${m.name})`);
  const waiter = m.sim.current;
  const me = yield guardedOp(
    `mutex_lock(${m.name})`,
    [{ object: m.id, kind: 'acquire' }],
    () => m.owner === null,
    () =>
      m.owner === waiter
        ? `mutex ${m.name}, which it already holds (recursive locking)`
        : `mutex ${m.name} held by ${m.sim.taskName(m.owner ?? -1)}`,
  );
  m.owner = me;
}

/** Returns true when the lock was taken. */
export function* mutex_trylock(m: Mutex): Sched<boolean> {
  const me = yield op(`mutex_trylock(${m.name})`, [{ object: m.id, kind: 'acquire' }]);
  if (m.owner !== null) {
    m.sim.annotate('= 0');
    return false;
  }
  m.owner = me;
  m.sim.annotate('= 1');
  return true;
}

export function* mutex_unlock(m: Mutex): Sched {
  if (m.owner !== m.sim.current)
    m.sim.fail(`mutex_unlock(${m.name}) by a task that does not hold it`);
  yield op(`mutex_unlock(${m.name})`, [{ object: m.id, kind: 'release' }]);
  m.owner = null;
}

/**
 * mutex_is_locked, read without a visible operation: for properties, invariants and checks of
 * the caller's own hold (lockdep-style). Task code that branched on another task's hold would
 * hide that dependence from DPOR.
 */
export function mutex_is_locked(m: Mutex): boolean {
  return m.owner !== null;
}

export function lockdep_assert_held(m: Mutex): void {
  if (m.owner === null || m.owner !== m.sim.current)
    m.sim.fail(`lockdep_assert_held(${m.name}) failed: lock not held by this task`);
}

/** Runs `body` with the mutex held (the scoped guard(mutex) of linux/cleanup.h). */
export function* with_mutex<T>(m: Mutex, body: () => Sched<T>): Sched<T> {
  yield* mutex_lock(m);
  const r = yield* body();
  yield* mutex_unlock(m);
  return r;
}
