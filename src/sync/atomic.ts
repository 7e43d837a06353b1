/**
 * Shared memory words and atomics: READ_ONCE / WRITE_ONCE on a shared location, atomic_t and
 * atomic64_t / atomic_long_t operations, and cmpxchg.
 *
 * Models:     include/linux/compiler.h (READ_ONCE, WRITE_ONCE), include/linux/atomic.h and
 *             rcupdate.h's rcu_assign_pointer (v7.2-era mainline).
 * Abstracted: the memory model is sequentially consistent: every access is one visible operation
 *             and all tasks see it at once. Weak-memory reorderings are not explored.
 */
import { op, type ObjectId, type Sched, type Sim } from '../sim/index.ts';

function show(v: unknown): string {
  if (v === null) return 'NULL';
  if (v === undefined) return 'undefined';
  switch (typeof v) {
    case 'number':
    case 'bigint':
    case 'boolean':
      return String(v);
    case 'string':
      return v;
    default:
      return 'ptr';
  }
}

/** One shared memory location holding a value of type T. */
export class Shared<T> {
  readonly sim: Sim;
  readonly id: ObjectId;
  readonly name: string;
  value: T;

  constructor(sim: Sim, name: string, value: T) {
    this.sim = sim;
    this.name = name;
    this.id = sim.newObject(name);
    this.value = value;
  }
}

export function* READ_ONCE<T>(p: Shared<T>): Sched<T> {
  yield op(`READ_ONCE(${p.name})`, [{ object: p.id, kind: 'read' }]);
  if (p.sim.tracing) p.sim.annotate(`= ${show(p.value)}`);
  return p.value;
}

export function* WRITE_ONCE<T>(p: Shared<T>, v: T): Sched {
  yield op(`WRITE_ONCE(${p.name}, ${show(v)})`, [{ object: p.id, kind: 'write' }]);
  p.value = v;
}

export function* rcu_assign_pointer<T>(p: Shared<T>, v: T): Sched {
  yield op(`rcu_assign_pointer(${p.name}, ${show(v)})`, [{ object: p.id, kind: 'write' }]);
  p.value = v;
}

/** atomic_t, atomic64_t and atomic_long_t alike: an integer changed only by atomic operations. */
export class Atomic {
  readonly sim: Sim;
  readonly id: ObjectId;
  readonly name: string;
  counter: number;

  constructor(sim: Sim, name: string, value = 0) {
    this.sim = sim;
    this.name = name;
    this.id = sim.newObject(name);
    this.counter = value;
  }
}

export function* atomic_read(a: Atomic): Sched<number> {
  yield op(`atomic_read(${a.name})`, [{ object: a.id, kind: 'read' }]);
  if (a.sim.tracing) a.sim.annotate(`= ${a.counter}`);
  return a.counter;
}

export function* atomic_set(a: Atomic, v: number): Sched {
  yield op(`atomic_set(${a.name}, ${v})`, [{ object: a.id, kind: 'write' }]);
  a.counter = v;
}

/** Adds `delta` and returns the new value. */
export function* atomic_add_return(
  a: Atomic,
  delta: number,
  label = 'atomic_add_return',
): Sched<number> {
  yield op(`${label}(${a.name})`, [{ object: a.id, kind: 'rmw' }]);
  a.counter += delta;
  if (a.sim.tracing) a.sim.annotate(`= ${a.counter}`);
  return a.counter;
}

export function* atomic_inc(a: Atomic): Sched {
  yield* atomic_add_return(a, 1, 'atomic_inc');
}

export function* atomic_dec(a: Atomic): Sched {
  yield* atomic_add_return(a, -1, 'atomic_dec');
}

export function* atomic_inc_return(a: Atomic): Sched<number> {
  return yield* atomic_add_return(a, 1, 'atomic_inc_return');
}

export function* atomic_dec_and_test(a: Atomic): Sched<boolean> {
  return (yield* atomic_add_return(a, -1, 'atomic_dec_and_test')) === 0;
}

/** Sets the counter to `next` if it equals `expected`; returns the old value. */
export function* atomic_cmpxchg(a: Atomic, expected: number, next: number): Sched<number> {
  yield op(`atomic_cmpxchg(${a.name}, ${expected}, ${next})`, [{ object: a.id, kind: 'rmw' }]);
  const old = a.counter;
  if (old === expected) a.counter = next;
  if (a.sim.tracing) a.sim.annotate(`= ${old}`);
  return old;
}

/** Bit operations on an unsigned long word of flags (bit numbers up to 63, as bigint). */
export class AtomicFlags {
  readonly sim: Sim;
  readonly id: ObjectId;
  readonly name: string;
  bits: bigint;

  constructor(sim: Sim, name: string, bits = 0n) {
    this.sim = sim;
    this.name = name;
    this.id = sim.newObject(name);
    this.bits = bits;
  }
}

export function* test_bit(nr: number, f: AtomicFlags): Sched<boolean> {
  yield op(`test_bit(${nr}, ${f.name})`, [{ object: f.id, kind: 'read' }]);
  const set = (f.bits >> BigInt(nr)) & 1n;
  if (f.sim.tracing) f.sim.annotate(`= ${set}`);
  return set === 1n;
}

export function* set_bit(nr: number, f: AtomicFlags): Sched {
  yield op(`set_bit(${nr}, ${f.name})`, [{ object: f.id, kind: 'rmw' }]);
  f.bits |= 1n << BigInt(nr);
}

export function* clear_bit(nr: number, f: AtomicFlags): Sched {
  yield op(`clear_bit(${nr}, ${f.name})`, [{ object: f.id, kind: 'rmw' }]);
  f.bits &= ~(1n << BigInt(nr));
}
