/**
 * The Live Update Orchestrator core: boot-time setup in both directions, /dev/liveupdate, and
 * the reboot hook that freezes and serializes the outgoing sessions.
 *
 * **Models:** kernel/liveupdate/luo_core.c (v7.2-era mainline, `luo-v5`; spec §1.2–1.6, §2.1,
 * §2.2, §4.6): early_param("liveupdate"), luo_early_startup, luo_late_startup/luo_state_setup,
 * liveupdate_ioctl_init, luo_open, luo_release, luo_ioctl, liveupdate_reboot, liveupdate_enabled.
 * **Abstracted:** FLBs: the FLB page is allocated and handed over with zero entries; the
 * incoming FLB page is not read.
 * Boot paths (luo_early_startup, every one with KHO enabled, even without liveupdate=on):
 * 1. no "LUO" subtree → cold start, liveupdate_num 0; 2. any other subtree error → panic;
 * 3. blob shorter than luo_ser → panic; 4. compatible ≠ "luo-v5" → panic; 5. session chain
 * invalid → panic. luo_state_setup failing turns LUO off. open paths: second open → -EBUSY;
 * deserialization failed (now or before) → -EIO, sticky for the boot.
 */
import { rebuiltBy } from '../../../sim/index.ts';
import type { Sched } from '../../../sim/index.ts';
import { atomic_cmpxchg, atomic_set } from '../../../sync/index.ts';
import { PAGE_SIZE } from '../../include/asm-generic/page.ts';
import {
  LUO_ABI_COMPATIBLE,
  LUO_ABI_COMPAT_LEN,
  LUO_FDT_KHO_ENTRY_NAME,
  LUO_FLB_PGCNT,
  LUO_SER_COMPATIBLE_OFFSET,
  abi_put_string,
  luo_flb_header_ser,
  luo_ser,
  luo_session_ser,
} from '../../include/linux/kho/abi/luo.ts';
import { EBUSY, EIO, ENOENT } from '../../include/uapi/asm-generic/errno.ts';
import {
  LIVEUPDATE_CMD_BASE,
  LIVEUPDATE_IOCTL_CREATE_SESSION,
  LIVEUPDATE_IOCTL_RETRIEVE_SESSION,
  liveupdate_ioctl_create_session,
  liveupdate_ioctl_retrieve_session,
  liveupdate_name_bytes,
} from '../../include/uapi/linux/liveupdate.ts';
import { misc_register } from '../../drivers/char/misc.ts';
import type { file_operations } from '../../fs/file.ts';
import type { Kernel } from '../../kernel.ts';
import { panic } from '../panic.ts';
import {
  kho_add_subtree,
  kho_alloc_preserve,
  kho_is_enabled,
  kho_restore_free,
  kho_retrieve_subtree,
  kho_unpreserve_free,
} from './kexec_handover.ts';
import { kho_block_set_restore } from './kho_block.ts';
import {
  Luo,
  luo_ioctl_decode,
  luo_ucmd_respond,
  type luo_ioctl_op,
  type luo_ucmd,
} from './luo_internal.ts';
import {
  luo_session_create,
  luo_session_deserialize,
  luo_session_retrieve,
  luo_session_serialize,
} from './luo_session.ts';

/** The boot's LUO state; a model assertion before luo_early_startup ran. */
export function luo_of(k: Kernel): Luo {
  if (!(k.luo instanceof Luo)) return k.sim.fail('LUO used before luo_early_startup');
  return k.luo;
}

export function liveupdate_enabled(k: Kernel): boolean {
  return k.luo instanceof Luo && k.luo.enabled;
}

/** early_param("liveupdate", ...): kstrtobool; absent or unparsable = off. */
export function liveupdate_parse(cmdline: string): boolean {
  let on = false;
  for (const arg of cmdline.split(/\s+/)) {
    if (!arg.startsWith('liveupdate=')) continue;
    const v = arg.slice('liveupdate='.length).toLowerCase();
    if (['1', 'y', 'yes', 'on', 'true'].includes(v)) on = true;
    if (['0', 'n', 'no', 'off', 'false'].includes(v)) on = false;
  }
  return on;
}

/** early_initcall: reads the previous kernel's LUO blob (boot paths 1–5). A generator only
 * because initcalls are; it has no scheduling point. */
// eslint-disable-next-line require-yield
export function* luo_early_startup(k: Kernel): Sched<number> {
  const luo = new Luo(k, liveupdate_parse(k.cmdline));
  k.luo = luo;
  if (!kho_is_enabled(k)) {
    if (luo.enabled) k.pr_warn('LUO: disabled because KHO is disabled');
    luo.enabled = false;
    return 0;
  }
  const blob = kho_retrieve_subtree(k, LUO_FDT_KHO_ENTRY_NAME);
  if (blob === -ENOENT) return 0;
  if (typeof blob === 'number') return panic(`LUO: failed to retrieve the LUO subtree: ${blob}`);
  if (blob.size < luo_ser.size) return panic(`LUO: blob of ${blob.size} bytes is too small`);
  const bytes = k.machine.physmem.read(blob.phys, luo_ser.size);
  const compat = bytes.subarray(LUO_SER_COMPATIBLE_OFFSET, LUO_ABI_COMPAT_LEN);
  const want = new Uint8Array(LUO_ABI_COMPAT_LEN);
  abi_put_string(want, 0, LUO_ABI_COMPAT_LEN, LUO_ABI_COMPATIBLE);
  if (!compat.every((b, i) => b === want[i]))
    return panic(`LUO: incompatible blob '${new TextDecoder().decode(compat)}'`);
  const ser = luo_ser.read(bytes);
  luo.incoming_liveupdate_num = ser.liveupdate_num;
  k.liveupdate_num = Number(ser.liveupdate_num);
  if (ser.sessions_pa !== 0n) {
    const chain = kho_block_set_restore(k, Number(ser.sessions_pa), luo_session_ser.size);
    if (typeof chain === 'number') return panic(`LUO: invalid session chain: ${chain}`);
    luo.incoming_sessions = chain;
  }
  kho_restore_free(k, blob.phys);
  k.pr_info(`LUO: live update #${ser.liveupdate_num}`);
  return 0;
}

/** luo_state_setup: the outgoing luo_ser blob, its FLB page, and the "LUO" subtree. */
function* luo_state_setup(luo: Luo): Sched<number> {
  const k = luo.kernel;
  const pa = yield* kho_alloc_preserve(k, luo_ser.size);
  if (pa < 0) return pa;
  const flbs = yield* kho_alloc_preserve(k, LUO_FLB_PGCNT * PAGE_SIZE);
  if (flbs < 0) {
    yield* kho_unpreserve_free(k, pa);
    return flbs;
  }
  const bytes = luo_ser.encode({
    liveupdate_num: luo.incoming_liveupdate_num + 1n,
    sessions_pa: 0n,
    flbs_pa: BigInt(flbs),
  });
  abi_put_string(bytes, LUO_SER_COMPATIBLE_OFFSET, LUO_ABI_COMPAT_LEN, LUO_ABI_COMPATIBLE);
  k.machine.physmem.write(pa, bytes);
  k.machine.physmem.write(
    flbs,
    luo_flb_header_ser.encode({ pgcnt: BigInt(LUO_FLB_PGCNT), count: 0n }),
  );
  const err = yield* kho_add_subtree(k, LUO_FDT_KHO_ENTRY_NAME, pa, luo_ser.size);
  if (err < 0) {
    yield* kho_unpreserve_free(k, flbs);
    yield* kho_unpreserve_free(k, pa);
    return err;
  }
  luo.luo_ser_pa = pa;
  luo.flbs_pa = flbs;
  return 0;
}

/** late_initcall: sets up the outgoing state; a failure turns LUO off. */
export function* luo_late_startup(k: Kernel): Sched<number> {
  const luo = luo_of(k);
  if (!luo.enabled) return 0;
  const err = yield* luo_state_setup(luo);
  if (err < 0) {
    k.pr_warn(`LUO: failed to set up the outgoing state (${err}); live update disabled`);
    luo.enabled = false;
  }
  return 0;
}

/** late_initcall: registers /dev/liveupdate when LUO is enabled. */
// eslint-disable-next-line require-yield
export function* liveupdate_ioctl_init(k: Kernel): Sched<number> {
  const luo = luo_of(k);
  if (!luo.enabled) return 0;
  const err = misc_register(k, { name: 'liveupdate', fops: liveupdate_fops(luo) });
  luo.miscdev_registered = err === 0;
  return err;
}

function* luo_open(luo: Luo): Sched<number> {
  if ((yield* atomic_cmpxchg(luo.in_use, 0, 1)) !== 0) return -EBUSY;
  if (luo.deserialize.kind === 'not-yet') {
    const err = yield* luo_session_deserialize(luo);
    luo.deserialize = { kind: 'done', err };
  }
  if (luo.deserialize.err < 0) {
    yield* atomic_set(luo.in_use, 0);
    return -EIO;
  }
  return 0;
}

function* luo_release(luo: Luo): Sched<number> {
  yield* atomic_set(luo.in_use, 0);
  return 0;
}

function respond_fd(ucmd: luo_ucmd, fd: number): number {
  liveupdate_ioctl_create_session.write(ucmd.cmd, {
    ...liveupdate_ioctl_create_session.read(ucmd.cmd),
    fd,
  });
  return luo_ucmd_respond(ucmd, liveupdate_ioctl_create_session.size);
}

const luo_ioctl_ops: readonly luo_ioctl_op<Luo>[] = [
  {
    size: liveupdate_ioctl_create_session.size,
    min_size: 72,
    ioctl_num: LIVEUPDATE_IOCTL_CREATE_SESSION,
    execute: (luo, ucmd) =>
      luo_session_create(luo, liveupdate_name_bytes(ucmd.cmd), (fd) => respond_fd(ucmd, fd)),
  },
  {
    size: liveupdate_ioctl_retrieve_session.size,
    min_size: 72,
    ioctl_num: LIVEUPDATE_IOCTL_RETRIEVE_SESSION,
    execute: (luo, ucmd) =>
      luo_session_retrieve(luo, liveupdate_name_bytes(ucmd.cmd), (fd) => respond_fd(ucmd, fd)),
  },
];

/** The file operations of /dev/liveupdate. */
export function liveupdate_fops(luo: Luo): file_operations {
  return rebuiltBy(
    {
      owner: 'liveupdate',
      open() {
        return luo_open(luo);
      },
      release() {
        return luo_release(luo);
      },
      *unlocked_ioctl(_f, cmd, arg) {
        const d = luo_ioctl_decode(luo_ioctl_ops, LIVEUPDATE_CMD_BASE, cmd, arg, null);
        if (typeof d === 'number') return d;
        return yield* d.op.execute(luo, d.ucmd);
      },
    },
    liveupdate_fops,
    luo,
  );
}

/** Called by kernel_kexec before anything shuts down: freeze and serialize every outgoing
 * session. 0 (the kexec is then committed) or the error, with everything rolled back. */
export function* liveupdate_reboot(k: Kernel): Sched<number> {
  if (!liveupdate_enabled(k)) return 0;
  const luo = luo_of(k);
  const err = yield* luo_session_serialize(luo);
  if (err < 0) return err;
  /* luo_flb_serialize: no FLBs are modelled; the header keeps count 0. */
  return 0;
}
