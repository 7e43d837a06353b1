/**
 * Voluntary scheduling points.
 *
 * Models:     include/linux/sched.h — cond_resched() (v7.2-era mainline).
 * Abstracted: it is a pure preemption point with an empty footprint: it touches no object, so
 *             it lets another task run but depends on nothing.
 */
import { op, type Sched } from '../sim/index.ts';

export function* cond_resched(): Sched {
  yield op('cond_resched()');
}
