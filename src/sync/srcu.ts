/**
 * struct srcu_struct: sleepable RCU, modelled by its contract.
 *
 * Models:     include/linux/srcu.h and kernel/rcu/srcutree.c — srcu_read_lock, srcu_read_unlock,
 *             synchronize_srcu, srcu_dereference (v7.2-era mainline), as the guarantees callers
 *             rely on rather than the per-CPU counter algorithm.
 * Contract:   srcu_read_lock returns an index (the domain's current phase, 0 or 1) that must be
 *             passed to the matching unlock; read sections nest. synchronize_srcu waits for every
 *             read section that had begun when it started, and for none that begins later.
 *             A synchronize_srcu inside a read section of the same domain waits for itself, the
 *             self-deadlock the kernel documents; the engine reports it as a deadlock.
 * Abstracted: grace-period expediting, callbacks (call_srcu), srcu_barrier, and the exact phase
 *             flip order: the model flips the phase once per synchronize.
 * Assertions: unlock with an index or by a task that does not match an open read section;
 *             srcu_dereference outside a read section; synchronize_srcu under a spinlock.
 * Footprints: read lock and unlock read the domain (two readers commute); synchronize writes it
 *             when it starts and waits on it until its readers are gone.
 */
import { guardedOp, op, type ObjectId, type Sched, type Sim, type TaskId } from '../sim/index.ts';
import type { Shared } from './atomic.ts';
import { might_sleep } from './context.ts';

interface ReadSection {
  readonly task: TaskId;
  readonly idx: number;
}

export class SrcuStruct {
  readonly sim: Sim;
  readonly id: ObjectId;
  readonly name: string;
  /** Open read sections by sequence number. */
  readonly readers = new Map<number, ReadSection>();
  phase = 0;
  private nextSeq = 0;

  constructor(sim: Sim, name: string) {
    this.sim = sim;
    this.name = name;
    this.id = sim.newObject(name);
  }

  /** Internal: opens a read section and returns its sequence number. */
  enter(task: TaskId): number {
    const seq = this.nextSeq++;
    this.readers.set(seq, { task, idx: this.phase & 1 });
    return seq;
  }

  /** True when the running task is inside a read section of this domain. */
  heldByCurrent(): boolean {
    for (const r of this.readers.values()) if (r.task === this.sim.current) return true;
    return false;
  }
}

export function* srcu_read_lock(ss: SrcuStruct): Sched<number> {
  const me = yield op(`srcu_read_lock(${ss.name})`, [{ object: ss.id, kind: 'read' }]);
  const seq = ss.enter(me);
  const idx = (ss.readers.get(seq) as ReadSection).idx;
  ss.sim.annotate(`= ${idx}`);
  return idx;
}

export function* srcu_read_unlock(ss: SrcuStruct, idx: number): Sched {
  const me = ss.sim.current;
  // Close the innermost open section of this task with this index.
  let found = -1;
  for (const [seq, r] of ss.readers) if (r.task === me && r.idx === idx) found = seq;
  if (found < 0)
    ss.sim.fail(`srcu_read_unlock(${ss.name}, ${idx}) without a matching srcu_read_lock`);
  yield op(`srcu_read_unlock(${ss.name}, ${idx})`, [{ object: ss.id, kind: 'read' }]);
  ss.readers.delete(found);
}

export function* synchronize_srcu(ss: SrcuStruct): Sched {
  might_sleep(ss.sim, `synchronize_srcu(${ss.name})`);
  yield op(`synchronize_srcu(${ss.name}) start`, [{ object: ss.id, kind: 'write' }]);
  const waitFor = [...ss.readers.keys()];
  ss.phase++;
  if (ss.sim.tracing && waitFor.length > 0)
    ss.sim.annotate(`waits for ${waitFor.length} reader${waitFor.length > 1 ? 's' : ''}`);
  const self = ss.sim.current;
  yield guardedOp(
    `synchronize_srcu(${ss.name}) done`,
    [{ object: ss.id, kind: 'wait' }],
    () => waitFor.every((seq) => !ss.readers.has(seq)),
    () => {
      const left = waitFor.filter((seq) => ss.readers.has(seq)).map((seq) => ss.readers.get(seq));
      const who = left.map((r) =>
        r?.task === self ? 'its own read section (self-deadlock)' : ss.sim.taskName(r?.task ?? -1),
      );
      return `grace period of ${ss.name}: readers still inside: ${who.join(', ')}`;
    },
  );
}

/** Reads an SRCU-protected pointer; the running task must be inside a read section. */
export function* srcu_dereference<T>(p: Shared<T>, ss: SrcuStruct): Sched<T> {
  if (!ss.heldByCurrent())
    ss.sim.fail(`srcu_dereference(${p.name}) outside an ${ss.name} read section`);
  yield op(`srcu_dereference(${p.name})`, [{ object: p.id, kind: 'read' }]);
  return p.value;
}

/**
 * Number of open read sections, read without a visible operation: for properties, invariants
 * and tests, not for task code (DPOR would not see the dependence on the readers).
 */
export function srcu_readers(ss: SrcuStruct): number {
  return ss.readers.size;
}
