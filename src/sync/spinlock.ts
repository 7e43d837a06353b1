/**
 * spinlock_t: a non-sleeping lock with a single owner.
 *
 * Models:     include/linux/spinlock.h — spin_lock, spin_unlock, lockdep_assert_held on a
 *             spinlock (v7.2-era mainline).
 * Abstracted: irq variants behave like plain spin_lock; a waiter is blocked rather than spinning,
 *             which is equivalent for interleavings because spinning makes no progress.
 * Assertions: unlock by a non-owner; any might_sleep() call while a spinlock is held.
 */
import { guardedOp, op, type ObjectId, type Sched, type Sim, type TaskId } from '../sim/index.ts';
import { spinlocksHeld } from './context.ts';

export class Spinlock {
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

export function* spin_lock(s: Spinlock): Sched {
  const me = yield guardedOp(
    `spin_lock(${s.name})`,
    [{ object: s.id, kind: 'acquire' }],
    () => s.owner === null,
    () => `spinlock ${s.name} held by ${s.sim.taskName(s.owner ?? -1)}`,
  );
  s.owner = me;
  const held = spinlocksHeld(s.sim);
  held.set(me, (held.get(me) ?? 0) + 1);
}

export function* spin_unlock(s: Spinlock): Sched {
  const me = s.sim.current;
  if (me === null || s.owner !== me)
    s.sim.fail(`spin_unlock(${s.name}) by a task that does not hold it`);
  yield op(`spin_unlock(${s.name})`, [{ object: s.id, kind: 'release' }]);
  s.owner = null;
  const held = spinlocksHeld(s.sim);
  held.set(me, (held.get(me) ?? 1) - 1);
}

export function lockdep_assert_held_spin(s: Spinlock): void {
  if (s.owner === null || s.owner !== s.sim.current)
    s.sim.fail(`lockdep_assert_held(${s.name}) failed: spinlock not held by this task`);
}
