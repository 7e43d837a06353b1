/**
 * open(2) and close(2) on the kernel side.
 *
 * **Models:** fs/open.c — do_sys_open (get_unused_fd_flags, do_filp_open, fd_install) and
 * close_fd; the /dev lookup of devtmpfs and chrdev_open → misc_open (v7.2-era mainline).
 * **Abstracted:** there is no filesystem: only `/dev/null` (drivers/char/mem.ts) and
 * `/dev/<misc device>` paths resolve; anything else is -ENOENT. Permissions are not checked.
 * Paths: 1. no free fd → -EMFILE; 2. no such device → -ENOENT; 3. the driver's open fails →
 * its error (the file is dropped without a release call, as in the kernel).
 */
import type { Sched } from '../../sim/index.ts';
import { null_fops, null_inode } from '../drivers/char/mem.ts';
import { misc_lookup } from '../drivers/char/misc.ts';
import { ENOENT } from '../include/uapi/asm-generic/errno.ts';
import type { Kernel } from '../kernel.ts';
import {
  alloc_file,
  close_fd,
  fd_install,
  get_unused_fd_flags,
  put_unused_fd,
  type files_struct,
} from './file.ts';

/** The new fd, or -errno. */
export function* do_sys_open(
  k: Kernel,
  files: files_struct,
  path: string,
  flags: number,
): Sched<number> {
  const fd = yield* get_unused_fd_flags(files, flags);
  if (fd < 0) return fd;
  if (path === '/dev/null') {
    // memory_open: no private data.
    fd_install(files, fd, alloc_file(k.sim, path, null_inode(k.sim, k), flags, null_fops));
    return fd;
  }
  const misc = path.startsWith('/dev/') ? misc_lookup(k, path.slice('/dev/'.length)) : null;
  if (misc?.this_device === undefined) {
    put_unused_fd(files, fd);
    return -ENOENT;
  }
  // misc_open: private_data is the miscdevice until the driver's open replaces it.
  const f = alloc_file(k.sim, path, misc.this_device, flags, misc.fops, misc);
  if (misc.fops.open) {
    const err = yield* misc.fops.open(misc.this_device, f);
    if (err < 0) {
      put_unused_fd(files, fd);
      return err;
    }
  }
  fd_install(files, fd, f);
  return fd;
}

export function* ksys_close(files: files_struct, fd: number): Sched<number> {
  return yield* close_fd(files, fd);
}
