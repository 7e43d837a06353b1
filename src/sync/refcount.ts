/**
 * refcount_t: a reference counter that refuses to wrap or to rise from zero.
 *
 * Models:     include/linux/refcount.h and lib/refcount.c — refcount_set, refcount_read,
 *             refcount_inc, refcount_inc_not_zero, refcount_dec, refcount_dec_and_test
 *             (v7.2-era mainline).
 * Abstracted: saturation: where the kernel WARNs and saturates, the model reports an assertion,
 *             because either is a bug in the caller.
 * Assertions: increment from 0 (use-after-free); decrement below 0 or refcount_dec to 0.
 */
import { op, type ObjectId, type Sched, type Sim } from '../sim/index.ts';

export class Refcount {
  readonly sim: Sim;
  readonly id: ObjectId;
  readonly name: string;
  refs: number;

  constructor(sim: Sim, name: string, value = 1) {
    this.sim = sim;
    this.name = name;
    this.id = sim.newObject(name);
    this.refs = value;
  }
}

export function* refcount_set(r: Refcount, n: number): Sched {
  yield op(`refcount_set(${r.name}, ${n})`, [{ object: r.id, kind: 'write' }]);
  r.refs = n;
}

export function* refcount_read(r: Refcount): Sched<number> {
  yield op(`refcount_read(${r.name})`, [{ object: r.id, kind: 'read' }]);
  if (r.sim.tracing) r.sim.annotate(`= ${r.refs}`);
  return r.refs;
}

export function* refcount_inc(r: Refcount): Sched {
  yield op(`refcount_inc(${r.name})`, [{ object: r.id, kind: 'rmw' }]);
  if (r.refs === 0) r.sim.fail(`refcount_t ${r.name}: addition on 0; use-after-free`);
  r.refs++;
}

export function* refcount_inc_not_zero(r: Refcount): Sched<boolean> {
  yield op(`refcount_inc_not_zero(${r.name})`, [{ object: r.id, kind: 'rmw' }]);
  if (r.refs === 0) return false;
  r.refs++;
  return true;
}

export function* refcount_dec(r: Refcount): Sched {
  yield op(`refcount_dec(${r.name})`, [{ object: r.id, kind: 'rmw' }]);
  if (r.refs <= 1) r.sim.fail(`refcount_t ${r.name}: decrement hit 0; leaking memory`);
  r.refs--;
}

/** Returns true when the count dropped to zero (the caller then frees the object). */
export function* refcount_dec_and_test(r: Refcount): Sched<boolean> {
  yield op(`refcount_dec_and_test(${r.name})`, [{ object: r.id, kind: 'rmw' }]);
  if (r.refs <= 0) r.sim.fail(`refcount_t ${r.name}: underflow; use-after-free`);
  r.refs--;
  if (r.sim.tracing) r.sim.annotate(`= ${r.refs === 0 ? 'true' : 'false'}`);
  return r.refs === 0;
}
