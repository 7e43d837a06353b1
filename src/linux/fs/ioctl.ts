/**
 * ioctl(2) on the kernel side.
 *
 * **Models:** fs/ioctl.c — the ioctl syscall (fdget, vfs_ioctl) and include/linux/errno.h's
 * ENOIOCTLCMD convention (v7.2-era mainline).
 * **Abstracted:** the generic commands handled before the driver (FIOCLEX, FIONBIO, FIGETBSZ…)
 * are not modelled; every command goes to the file's unlocked_ioctl.
 * Paths: 1. fd not open → -EBADF; 2. no unlocked_ioctl → -ENOTTY; 3. the driver's -ENOIOCTLCMD
 * → -ENOTTY; 4. otherwise the driver's result.
 */
import type { Sched } from '../../sim/index.ts';
import type { UserPtr } from '../include/linux/uaccess.ts';
import { EBADF, ENOIOCTLCMD, ENOTTY } from '../include/uapi/asm-generic/errno.ts';
import { type file, type files_struct, fdget, fdput } from './file.ts';

export function* vfs_ioctl(f: file, cmd: number, arg: UserPtr): Sched<number> {
  if (!f.f_op.unlocked_ioctl) return -ENOTTY;
  const error = yield* f.f_op.unlocked_ioctl(f, cmd, arg);
  return error === -ENOIOCTLCMD ? -ENOTTY : error;
}

export function* ksys_ioctl(
  files: files_struct,
  fd: number,
  cmd: number,
  arg: UserPtr,
): Sched<number> {
  const r = yield* fdget(files, fd);
  if (r === null) return -EBADF;
  const ret = yield* vfs_ioctl(r.file, cmd, arg);
  yield* fdput(r);
  return ret;
}
