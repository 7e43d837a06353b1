/**
 * Visible operations: the only things a task can ask of the engine.
 *
 * Protocol: a task is a generator. Each `yield` hands the engine the operation the task is about
 * to perform. The engine decides when the task may perform it (the scheduling point), records it,
 * and resumes the generator; the code that follows the `yield`, up to the next `yield`, runs
 * atomically and carries out the operation's effect. A `choose` is answered at once with a value
 * in [0, n) and is not a scheduling point.
 *
 * Every operation carries its access footprint (object id + kind). Footprints are all that the
 * explorer needs to decide whether two operations are dependent (DPOR) and to build
 * happens-before. An operation with a guard is enabled only while the guard holds; a task whose
 * pending operation is disabled is blocked, and `waitsFor` explains why.
 *
 * This module knows nothing about what the objects are.
 */

/** Index of a task in its execution, in creation order. Stable across executions. */
export type TaskId = number;

/** Index of a shared object in its execution, in creation order. */
export type ObjectId = number;

/** How an operation touches an object. Two accesses conflict unless both are reads. */
export type AccessKind = 'read' | 'write' | 'rmw' | 'acquire' | 'release' | 'wait' | 'wake';

export interface Access {
  readonly object: ObjectId;
  readonly kind: AccessKind;
}

export interface VisibleOp {
  readonly kind: 'op';
  /** What the task is doing, for timelines, e.g. `mutex_lock(m)`. */
  readonly label: string;
  readonly access: readonly Access[];
  /** Absent = always enabled. Evaluated by the engine between steps; must not mutate state. */
  readonly enabled?: () => boolean;
  /** Why the operation is disabled; called only when it is. */
  readonly waitsFor?: () => string;
}

export interface ChooseOp {
  readonly kind: 'choose';
  readonly n: number;
  readonly label: string;
}

export type Op = VisibleOp | ChooseOp;

/**
 * A task body or any function that may reach a scheduling point. The resume value is the id of
 * the running task after a visible operation, and the chosen value after a `choose`.
 */
export type Sched<T = void> = Generator<Op, T, number>;

export function accessesConflict(a: Access, b: Access): boolean {
  return a.object === b.object && !(a.kind === 'read' && b.kind === 'read');
}

export function footprintsConflict(a: readonly Access[], b: readonly Access[]): boolean {
  for (const x of a) for (const y of b) if (accessesConflict(x, y)) return true;
  return false;
}

/** A plain visible operation. */
export function op(label: string, access: readonly Access[] = []): VisibleOp {
  return { kind: 'op', label, access };
}

/** A visible operation that may only happen once `enabled()` holds. */
export function guardedOp(
  label: string,
  access: readonly Access[],
  enabled: () => boolean,
  waitsFor: () => string,
): VisibleOp {
  return { kind: 'op', label, access, enabled, waitsFor };
}

/** Nondeterminism that is not scheduling: returns a value in [0, n). */
export function* choose(n: number, label: string): Sched<number> {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`choose(${n}, ${label}): n must be >= 1`);
  if (n === 1) return 0;
  return yield { kind: 'choose', n, label };
}
