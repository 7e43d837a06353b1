/**
 * The in-kernel LUO interface: file handlers and their callbacks.
 *
 * **Models:** include/linux/liveupdate.h (v7.2-era mainline): `struct liveupdate_file_handler`,
 * `struct liveupdate_file_ops` and `struct liveupdate_file_op_args`. The registration functions
 * live in kernel/liveupdate/luo_file.ts, as in the kernel (luo_file.c).
 * **Abstracted:**
 * 1. `owner` is a module name only: handlers are built in, so pinning the module always succeeds.
 * 2. FLBs (File-Lifecycle-Bound objects, luo_flb.c) are not modelled: a handler has no FLB list,
 *    and the FLB page is serialized with zero entries.
 * 3. Callbacks that may sleep or take locks are generators (`Sched`); `get_id` is plain.
 *
 * Contract (spec §3.1): `can_preserve`, `preserve`, `unpreserve`, `retrieve` and `finish` are
 * required; `freeze`, `unfreeze`, `can_finish` and `get_id` are optional. A failing `preserve` or
 * `freeze` must undo its own work; LUO never calls `unpreserve` for a failed preserve nor
 * `unfreeze` for the file whose freeze failed.
 */
import type { Sched } from '../../../sim/index.ts';
import type { file } from '../../fs/file.ts';

/** LIVEUPDATE_HNDL_COMPAT_LENGTH, including the NUL. */
export const LIVEUPDATE_HNDL_COMPAT_LENGTH = 48;

/** struct liveupdate_file_op_args: the in/out bundle of every op except can_preserve. */
export interface liveupdate_file_op_args {
  readonly handler: liveupdate_file_handler;
  /**
   * The session of the file (added by patch 01 of the guest_memfd preservation series, RFC v2),
   * for liveupdate_get_token_outgoing / liveupdate_get_file_incoming. Opaque to handlers.
   */
  readonly session: unknown;
  /** For can_finish/finish: 0 never retrieved, 1 retrieved, < 0 the retrieve's errno. */
  retrieve_status: number;
  /** IN for preserve/unpreserve/freeze/unfreeze/can_finish/finish; OUT for retrieve. */
  file: file | null;
  /** Opaque u64 that goes into the ABI (usually the pa of a KHO-preserved blob). */
  serialized_data: bigint;
  /** Runtime-only; set by preserve, seen by unpreserve/freeze/unfreeze. */
  private_data: unknown;
}

/** struct liveupdate_file_ops. Ops return 0 or -errno. */
export interface liveupdate_file_ops {
  can_preserve?(handler: liveupdate_file_handler, file: file): Sched<boolean>;
  preserve?(args: liveupdate_file_op_args): Sched<number>;
  unpreserve?(args: liveupdate_file_op_args): Sched;
  freeze?(args: liveupdate_file_op_args): Sched<number>;
  unfreeze?(args: liveupdate_file_op_args): Sched;
  retrieve?(args: liveupdate_file_op_args): Sched<number>;
  can_finish?(args: liveupdate_file_op_args): Sched<boolean>;
  finish?(args: liveupdate_file_op_args): Sched;
  /** Key in the global preserved-files registry; default: the struct file itself. */
  get_id?(file: file): unknown;
  readonly owner?: string;
}

/** struct liveupdate_file_handler. */
export interface liveupdate_file_handler {
  readonly ops: liveupdate_file_ops;
  /** Versioned ABI string, e.g. "memfd-v2"; at most 47 bytes. */
  readonly compatible: string;
}
