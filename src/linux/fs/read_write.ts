/**
 * read(2), write(2), pread64(2), pwrite64(2) and lseek(2) on the kernel side.
 *
 * **Models:** fs/read_write.c (v7.2-era mainline): ksys_read, ksys_write, ksys_pread64,
 * ksys_pwrite64, vfs_read / vfs_write (FMODE checks, rw_verify_area's negative-position check),
 * ksys_lseek with generic_file_llseek (SEEK_SET/CUR/END against i_size, -EINVAL for a negative
 * result or an unknown whence).
 * **Abstracted:** no f_pos lock (the caller's task runs the whole call; concurrent read(2)s on
 * one file may interleave only at the file's own visible operations), no O_APPEND, no
 * SEEK_DATA/SEEK_HOLE, no fsnotify. User buffers are byte arrays (uaccess.ts).
 * Paths: 1. bad fd: -EBADF; 2. not open for reading / writing: -EBADF; 3. no read/write op:
 * -EINVAL; 4. negative position: -EINVAL; 5. the file's op result (count or -errno).
 */
import type { Sched } from '../../sim/index.ts';
import { EBADF, EINVAL } from '../include/uapi/asm-generic/errno.ts';
import { SEEK_CUR, SEEK_END, SEEK_SET } from '../include/uapi/linux/fcntl.ts';
import {
  file_readable,
  file_writable,
  type file,
  type files_struct,
  fdget,
  fdput,
} from './file.ts';

export function* vfs_read(f: file, buf: Uint8Array, pos: number): Sched<number> {
  if (!file_readable(f)) return -EBADF;
  if (f.f_op.read === undefined) return -EINVAL;
  if (pos < 0) return -EINVAL;
  return yield* f.f_op.read(f, buf, pos);
}

export function* vfs_write(f: file, buf: Uint8Array, pos: number): Sched<number> {
  if (!file_writable(f)) return -EBADF;
  if (f.f_op.write === undefined) return -EINVAL;
  if (pos < 0) return -EINVAL;
  return yield* f.f_op.write(f, buf, pos);
}

/** Runs `body` on the file behind `fd` with a reference held; -EBADF if there is none. */
function* with_fd(
  files: files_struct,
  fd: number,
  body: (f: file) => Sched<number>,
): Sched<number> {
  const r = yield* fdget(files, fd);
  if (r === null) return -EBADF;
  const ret = yield* body(r.file);
  yield* fdput(r);
  return ret;
}

/** read(fd, buf) / write(fd, buf) at f_pos, advancing it by the count. */
export function* ksys_rw(
  files: files_struct,
  fd: number,
  buf: Uint8Array,
  write: boolean,
): Sched<number> {
  return yield* with_fd(files, fd, function* (f) {
    const ret = write ? yield* vfs_write(f, buf, f.f_pos) : yield* vfs_read(f, buf, f.f_pos);
    if (ret > 0) f.f_pos += ret;
    return ret;
  });
}

/** pread64 / pwrite64: at `pos`, f_pos unchanged. */
export function* ksys_prw(
  files: files_struct,
  fd: number,
  buf: Uint8Array,
  pos: number,
  write: boolean,
): Sched<number> {
  if (pos < 0) return -EINVAL;
  return yield* with_fd(files, fd, (f) => (write ? vfs_write(f, buf, pos) : vfs_read(f, buf, pos)));
}

/** generic_file_llseek: the new position or -EINVAL. */
// eslint-disable-next-line require-yield
export function* generic_file_llseek(f: file, offset: number, whence: number): Sched<number> {
  let pos: number;
  if (whence === SEEK_SET) pos = offset;
  else if (whence === SEEK_CUR) pos = f.f_pos + offset;
  else if (whence === SEEK_END) pos = f.f_inode.i_size + offset;
  else return -EINVAL;
  if (pos < 0 || !Number.isSafeInteger(pos)) return -EINVAL;
  f.f_pos = pos;
  return pos;
}

export function* ksys_lseek(
  files: files_struct,
  fd: number,
  offset: number,
  whence: number,
): Sched<number> {
  return yield* with_fd(files, fd, (f) =>
    f.f_op.llseek ? f.f_op.llseek(f, offset, whence) : generic_file_llseek(f, offset, whence),
  );
}
