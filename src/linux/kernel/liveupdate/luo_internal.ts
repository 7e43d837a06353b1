/**
 * LUO's internal records and the per-boot LUO state (the kernel's file-scope globals of
 * luo_core.c, luo_session.c and luo_file.c, gathered on one object that the Kernel owns).
 *
 * **Models:** kernel/liveupdate/luo_internal.h (v7.2-era mainline): `struct luo_session`,
 * `struct luo_file_set`, `struct luo_file` (private to luo_file.c in the kernel), the session
 * list headers, and the globals `luo_global`, `luo_session_global`, the handler list with
 * `luo_register_rwlock`, the preserved-files xarray and `luo_session_serialize_rwsem`.
 * **Abstracted:** FLB state (not modelled, see include/linux/liveupdate.ts); module refcounts.
 * Not upstream: the session a `luo_file` and a `luo_file_set` record, which patch 01 of the
 * guest_memfd series passes to every handler op (`args.session`) for its
 * liveupdate_get_token_outgoing / liveupdate_get_file_incoming helpers (luo_file.ts).
 */
import type { ObjectId, Sched, Sim } from '../../../sim/index.ts';
import {
  Atomic,
  Mutex,
  RwSemaphore,
  down_read,
  down_write,
  up_read,
  up_write,
} from '../../../sync/index.ts';
import type { Kernel } from '../../kernel.ts';
import { _IOC_NR } from '../../include/uapi/asm-generic/ioctl.ts';
import { EFAULT, EINVAL, ENOIOCTLCMD } from '../../include/uapi/asm-generic/errno.ts';
import {
  copy_struct_from_user,
  copy_to_user,
  get_user_u32,
  type UserPtr,
} from '../../include/linux/uaccess.ts';
import { luo_file_ser, luo_session_ser } from '../../include/linux/kho/abi/luo.ts';
import type { liveupdate_file_handler } from '../../include/linux/liveupdate.ts';
import type { file } from '../../fs/file.ts';
import { kho_block_set, type kho_block_chain } from './kho_block.ts';

/** struct luo_file: one preserved (outgoing) or incoming file of a session. */
export class luo_file {
  readonly fh: liveupdate_file_handler;
  file: file | null;
  serialized_data: bigint;
  private_data: unknown = null;
  /** The session the file belongs to (patch 01 passes it to every op). */
  session: luo_session | null = null;
  /** 0 never retrieved, 1 retrieved, < 0 the errno of the failed retrieve (permanent). */
  retrieve_status = 0;
  readonly token: bigint;
  readonly mutex: Mutex;

  constructor(sim: Sim, fh: liveupdate_file_handler, f: file | null, sd: bigint, token: bigint) {
    this.fh = fh;
    this.file = f;
    this.serialized_data = sd;
    this.token = token;
    this.mutex = new Mutex(sim, `luo_file(${token}).mutex`);
  }
}

/** struct luo_file_set: the files of one session, in preservation (FIFO) order. */
export class luo_file_set {
  /** The session that owns this set (handed to handlers as `args.session`, patch 01). */
  owner: luo_session | null = null;
  readonly files_list: luo_file[] = [];
  /** Outgoing: the chain the files are serialized into at reboot. */
  readonly block_set = new kho_block_set(luo_file_ser.size);
  /** Incoming: the validated chain the files were read from; freed at finish. */
  incoming_chain: kho_block_chain | null = null;

  get count(): number {
    return this.files_list.length;
  }
}

/** struct luo_session. */
export class luo_session {
  readonly name: string;
  readonly file_set = new luo_file_set();
  /** True for a session deserialized from the previous kernel. */
  readonly incoming: boolean;
  retrieved = false;
  readonly mutex: Mutex;

  constructor(sim: Sim, name: string, incoming: boolean) {
    this.name = name;
    this.incoming = incoming;
    this.file_set.owner = this;
    this.mutex = new Mutex(sim, `session(${name}).mutex`);
  }
}

/** struct luo_session_header: the outgoing or the incoming session list. */
export class luo_session_header {
  readonly list: luo_session[] = [];
  readonly rwsem: RwSemaphore;
  /** Outgoing: the session chain, grown on create so that reboot cannot run out of slots. */
  readonly block_set = new kho_block_set(luo_session_ser.size);

  constructor(sim: Sim, name: string) {
    this.rwsem = new RwSemaphore(sim, `${name}.rwsem`);
  }

  get count(): number {
    return this.list.length;
  }
}

/** What happened to the one-time deserialization of incoming sessions. */
export type DeserializeState = { kind: 'not-yet' } | { kind: 'done'; err: number };

/** All LUO state of one boot. */
export class Luo {
  readonly kernel: Kernel;
  readonly sim: Sim;
  /** luo_global.enabled: `liveupdate=on`, KHO on, and the boot-time setup succeeded. */
  enabled: boolean;
  /** liveupdate_num handed over by the previous kernel (0 on a cold boot). */
  incoming_liveupdate_num = 0n;
  /** pa of the outgoing `struct luo_ser`, 0 until luo_state_setup. */
  luo_ser_pa = 0;
  flbs_pa = 0;
  /** The incoming session chain, validated at early boot, consumed on first open. */
  incoming_sessions: kho_block_chain | null = null;
  /** Set when LUO panicked the boot: the panic message. */
  panic_reason: string | null = null;
  /** /dev/liveupdate is registered (liveupdate_ioctl_init). */
  miscdev_registered = false;
  readonly in_use: Atomic;
  deserialize: DeserializeState = { kind: 'not-yet' };
  readonly session_serialize_rwsem: RwSemaphore;
  readonly outgoing: luo_session_header;
  readonly incoming: luo_session_header;
  readonly file_handlers: liveupdate_file_handler[] = [];
  readonly luo_register_rwlock: RwSemaphore;
  /** The preserved-files xarray: id → file, for every session of both directions. */
  readonly preserved_files = new Map<unknown, file>();
  readonly preserved_files_id: ObjectId;

  constructor(kernel: Kernel, enabled: boolean) {
    const sim = kernel.sim;
    this.kernel = kernel;
    this.sim = sim;
    this.enabled = enabled;
    this.in_use = new Atomic(sim, 'luo_device.in_use');
    this.session_serialize_rwsem = new RwSemaphore(sim, 'luo_session_serialize_rwsem');
    this.outgoing = new luo_session_header(sim, 'luo_session_outgoing');
    this.incoming = new luo_session_header(sim, 'luo_session_incoming');
    this.luo_register_rwlock = new RwSemaphore(sim, 'luo_register_rwlock');
    this.preserved_files_id = sim.newObject('luo_preserved_files');
  }
}

/* Boot runs single-threaded outside the engine's tasks (kernel.ts, abstraction 1): locks taken
 * by code that also runs at boot (handler registration) are skipped while booting. */

export function* luo_down_read(luo: Luo, s: RwSemaphore): Sched {
  if (!luo.kernel.booting) yield* down_read(s);
}

export function* luo_up_read(luo: Luo, s: RwSemaphore): Sched {
  if (!luo.kernel.booting) yield* up_read(s);
}

export function* luo_down_write(luo: Luo, s: RwSemaphore): Sched {
  if (!luo.kernel.booting) yield* down_write(s);
}

export function* luo_up_write(luo: Luo, s: RwSemaphore): Sched {
  if (!luo.kernel.booting) yield* up_write(s);
}

/** struct luo_ucmd: one ioctl call after its struct was copied in. */
export interface luo_ucmd {
  readonly ubuffer: UserPtr;
  readonly user_size: number;
  /** The kernel's copy of the struct, `size` bytes of the op, zero-extended. */
  readonly cmd: Uint8Array;
}

/** struct luo_ioctl_op: one entry of an ioctl table, indexed by nr - base. */
export interface luo_ioctl_op<C> {
  readonly size: number;
  readonly min_size: number;
  readonly ioctl_num: number;
  /** Session fds only: the direction the command needs, if any. */
  readonly dir?: 'incoming' | 'outgoing';
  readonly execute: (ctx: C, ucmd: luo_ucmd) => Sched<number>;
}

/**
 * The common ioctl dispatch of /dev/liveupdate and session fds (spec §2.2, steps 1–6; steps 7–8
 * belong to the caller and to `execute`): nr range → -EINVAL, read `size` → -EFAULT, full
 * command match → -ENOIOCTLCMD, direction → -EINVAL, min size → -EINVAL, copy-in with the zero
 * tail rule → -E2BIG / -EFAULT.
 */
export function luo_ioctl_decode<C>(
  ops: readonly luo_ioctl_op<C>[],
  base: number,
  cmd: number,
  arg: UserPtr,
  incoming: boolean | null,
): { op: luo_ioctl_op<C>; ucmd: luo_ucmd } | number {
  const nr = _IOC_NR(cmd);
  const op = nr >= base ? ops[nr - base] : undefined;
  if (op === undefined) return -EINVAL;
  const size = get_user_u32(arg);
  if (size.err < 0) return size.err;
  if (op.ioctl_num !== cmd >>> 0) return -ENOIOCTLCMD;
  if (incoming !== null && op.dir !== undefined && (op.dir === 'incoming') !== incoming)
    return -EINVAL;
  if (size.val < op.min_size) return -EINVAL;
  const kbuf = new Uint8Array(op.size);
  const err = copy_struct_from_user(kbuf, op.size, arg, size.val);
  if (err < 0) return err;
  return { op, ucmd: { ubuffer: arg, user_size: size.val, cmd: kbuf } };
}

/** luo_ucmd_respond: copies min(user size, kernel size) bytes back; 0 or -EFAULT. */
export function luo_ucmd_respond(ucmd: luo_ucmd, kernel_cmd_size: number): number {
  const n = Math.min(ucmd.user_size, kernel_cmd_size);
  return copy_to_user(ucmd.ubuffer, ucmd.cmd, n) === 0 ? 0 : -EFAULT;
}
