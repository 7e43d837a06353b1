/**
 * reboot(2) with LINUX_REBOOT_CMD_KEXEC: the live update's point of no return.
 *
 * **Models:** kernel/reboot.c — the reboot syscall's magic and command checks — and the part of
 * kernel/kexec_core.c kernel_kexec() that runs before the jump: liveupdate_reboot() is called
 * first, before any shutdown step, and its error is returned to userspace with the system still
 * running (v7.2-era mainline; spec §1.6). The jump itself is kexec_core.ts's kernel_kexec.
 * **Abstracted:** no kexec image: a KHO kexec is always "loaded" (kexec_file_load is not
 * modelled), so -EINVAL for a missing image never happens; the kexec mutex is not modelled.
 * CAP_SYS_BOOT is assumed. Commands other than KEXEC return -EINVAL.
 * Paths: 1. bad magic → -EINVAL; 2. liveupdate_reboot fails → its error, nothing shut down;
 * 3. success → the kernel jumps (dead) and the Machine is ready for the next boot.
 */
import type { Sched } from '../../sim/index.ts';
import type { Machine } from '../../machine/machine.ts';
import { EINVAL } from '../include/uapi/asm-generic/errno.ts';
import {
  LINUX_REBOOT_CMD_KEXEC,
  LINUX_REBOOT_MAGIC1,
  LINUX_REBOOT_MAGIC2,
} from '../include/uapi/linux/reboot.ts';
import type { Kernel } from '../kernel.ts';
import { liveupdate_reboot } from './liveupdate/luo_core.ts';

/** kernel_kexec up to the jump; the machine after it, or -errno. */
export function* kernel_kexec_prepare(k: Kernel): Sched<Machine | number> {
  const err = yield* liveupdate_reboot(k);
  if (err < 0) return err;
  return k.kexec();
}

/** sys_reboot: the next boot's Machine on a successful kexec, else -errno. */
export function* sys_reboot(
  k: Kernel,
  magic1: number,
  magic2: number,
  cmd: number,
): Sched<Machine | number> {
  if (magic1 !== LINUX_REBOOT_MAGIC1 || magic2 !== LINUX_REBOOT_MAGIC2) return -EINVAL;
  if (cmd !== LINUX_REBOOT_CMD_KEXEC) return -EINVAL;
  return yield* kernel_kexec_prepare(k);
}
