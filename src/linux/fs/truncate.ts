/**
 * ftruncate(2) and fallocate(2) on the kernel side: the size-changing half of fs/open.c.
 *
 * **Models:** fs/open.c (v7.2-era mainline): do_sys_ftruncate → do_truncate (inode_lock,
 * notify_change → i_op->setattr with ATTR_SIZE), and vfs_fallocate's generic checks before
 * f_op->fallocate (ksys_fallocate). Kept apart from open.ts, which models open/close.
 * **Abstracted:** no O_APPEND/immutable inodes, swapfiles, leases, fsnotify or sb_start_write;
 * an inode without setattr refuses every size change (-EINVAL), like a non-regular file.
 *
 * Paths of ftruncate: 1. length < 0: -EINVAL; 2. bad fd: -EBADF; 3. not open for writing or not a
 * regular file: -EINVAL; 4. setattr's result. Paths of fallocate (in the kernel's order):
 * 1. offset < 0 or len <= 0: -EINVAL; 2. unknown mode bits: -EOPNOTSUPP; 3. more than one of the
 * exclusive modes, PUNCH_HOLE without KEEP_SIZE, KEEP_SIZE with a mode that forbids it:
 * -EOPNOTSUPP; 4. not open for writing: -EBADF; 5. not a regular file (i_mode): -ENODEV;
 * 6. offset + len beyond the safe range: -EFBIG; 7. no f_op->fallocate: -EOPNOTSUPP; 8. the
 * filesystem's result.
 */
import type { Sched } from '../../sim/index.ts';
import { down_write, up_write } from '../../sync/index.ts';
import { EBADF, EFBIG, EINVAL, ENODEV, EOPNOTSUPP } from '../include/uapi/asm-generic/errno.ts';
import {
  FALLOC_FL_ALLOCATE_RANGE,
  FALLOC_FL_COLLAPSE_RANGE,
  FALLOC_FL_INSERT_RANGE,
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_MODE_MASK,
  FALLOC_FL_PUNCH_HOLE,
  FALLOC_FL_SUPPORTED_MASK,
  FALLOC_FL_UNSHARE_RANGE,
  FALLOC_FL_WRITE_ZEROES,
  FALLOC_FL_ZERO_RANGE,
} from '../include/uapi/linux/falloc.ts';
import {
  ATTR_SIZE,
  S_ISREG,
  file_writable,
  type file,
  type files_struct,
  fdget,
  fdput,
} from './file.ts';

/** do_truncate: setattr(ATTR_SIZE) under the inode lock. */
export function* do_truncate(f: file, length: number): Sched<number> {
  const ino = f.f_inode;
  const iop = ino.i_op;
  if (iop?.setattr === undefined) return -EINVAL;
  if (ino.i_rwsem) yield* down_write(ino.i_rwsem);
  const ret = yield* iop.setattr(ino, { ia_valid: ATTR_SIZE, ia_size: length });
  if (ino.i_rwsem) yield* up_write(ino.i_rwsem);
  return ret;
}

export function* do_sys_ftruncate(files: files_struct, fd: number, length: number): Sched<number> {
  if (length < 0 || !Number.isSafeInteger(length)) return -EINVAL;
  const r = yield* fdget(files, fd);
  if (r === null) return -EBADF;
  const f = r.file;
  let ret: number;
  if (!file_writable(f) || !S_ISREG(f.f_inode.i_mode)) ret = -EINVAL;
  else ret = yield* do_truncate(f, length);
  yield* fdput(r);
  return ret;
}

/** vfs_fallocate's mode and range checks, then f_op->fallocate. */
export function* vfs_fallocate(f: file, mode: number, offset: number, len: number): Sched<number> {
  if (offset < 0 || len <= 0) return -EINVAL;
  if ((mode & ~FALLOC_FL_SUPPORTED_MASK) !== 0) return -EOPNOTSUPP;
  const op = mode & FALLOC_FL_MODE_MASK;
  switch (op) {
    case FALLOC_FL_ALLOCATE_RANGE:
    case FALLOC_FL_UNSHARE_RANGE:
    case FALLOC_FL_ZERO_RANGE:
      break;
    case FALLOC_FL_PUNCH_HOLE:
      if ((mode & FALLOC_FL_KEEP_SIZE) === 0) return -EOPNOTSUPP;
      break;
    case FALLOC_FL_COLLAPSE_RANGE:
    case FALLOC_FL_INSERT_RANGE:
    case FALLOC_FL_WRITE_ZEROES:
      if ((mode & FALLOC_FL_KEEP_SIZE) !== 0) return -EOPNOTSUPP;
      break;
    default:
      return -EOPNOTSUPP;
  }
  if (!file_writable(f)) return -EBADF;
  if (!S_ISREG(f.f_inode.i_mode)) return -ENODEV;
  if (!Number.isSafeInteger(offset + len)) return -EFBIG;
  if (f.f_op.fallocate === undefined) return -EOPNOTSUPP;
  return yield* f.f_op.fallocate(f, mode, offset, len);
}

export function* ksys_fallocate(
  files: files_struct,
  fd: number,
  mode: number,
  offset: number,
  len: number,
): Sched<number> {
  const r = yield* fdget(files, fd);
  if (r === null) return -EBADF;
  const ret = yield* vfs_fallocate(r.file, mode, offset, len);
  yield* fdput(r);
  return ret;
}
