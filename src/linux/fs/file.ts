/**
 * Open files and file descriptor tables: `struct file` with its operations and reference count,
 * `struct inode`, and the per-process fd table.
 *
 * **Models:** fs/file.c — get_unused_fd_flags, put_unused_fd, fd_install, fget, close_fd;
 * fs/file_table.c — alloc_file, get_file, fput/__fput; the `struct file`, `struct inode` and
 * `struct file_operations` of include/linux/fs.h (v7.2-era mainline).
 * **Abstracted:**
 * 1. fput runs the final release at once in the calling task instead of deferring it to
 *    task_work; the release still happens exactly once, at the last reference.
 * 2. `current`: kernel code finds the calling task's fd table with `current_files(sim)`; the
 *    syscall layer records it at every syscall entry (per engine task).
 * 3. No RCU lookup, no f_pos lock, no file modes beyond f_flags (FMODE_READ/WRITE are derived
 *    from the access mode); RLIMIT_NOFILE is a number on the table.
 * 4. read/write take a byte buffer and a position instead of a kiocb + iov_iter (the spirit of
 *    read_iter/write_iter); the VFS (user/syscalls.ts) advances f_pos for read(2)/write(2).
 * 5. The inode's setattr is the only inode operation; ftruncate reaches it with ATTR_SIZE.
 * Unhappy paths: (1) no free fd below the limit → -EMFILE; (2) fget of a closed or reserved fd →
 * null (callers return -EBADF); (3) close of a free fd → -EBADF.
 */
import { op, type Sched, type Sim, type TaskId } from '../../sim/index.ts';
import { Refcount, refcount_dec_and_test, refcount_inc } from '../../sync/index.ts';
import { O_ACCMODE, O_CLOEXEC, O_RDONLY, O_WRONLY } from '../include/uapi/asm-generic/fcntl.ts';
import { EBADF, EMFILE } from '../include/uapi/asm-generic/errno.ts';
import type { UserPtr } from '../include/linux/uaccess.ts';
import type { vm_area_struct } from '../include/linux/mm.ts';
import type { RwSemaphore } from '../../sync/index.ts';
import type { address_space } from '../mm/filemap.ts';

/** struct file_operations: the subset the model's files implement. */
export interface file_operations {
  readonly owner?: string;
  open?(inode: inode, file: file): Sched<number>;
  /** Runs once, when the last reference to the file is dropped. */
  release?(inode: inode, file: file): Sched<number>;
  /** Returns 0, a positive result, or -errno; -ENOIOCTLCMD becomes -ENOTTY in the VFS. */
  unlocked_ioctl?(file: file, cmd: number, arg: UserPtr): Sched<number>;
  /** read_iter: copies file bytes at `pos` into `buf` (at most buf.length); the count read, 0
   * at EOF, or -errno. Does not move f_pos. */
  read?(file: file, buf: Uint8Array, pos: number): Sched<number>;
  /** write_iter: copies `buf` into the file at `pos`; the count written (possibly short) or
   * -errno. Does not move f_pos. */
  write?(file: file, buf: Uint8Array, pos: number): Sched<number>;
  /** llseek: the new position or -errno; absent = generic_file_llseek on i_size. */
  llseek?(file: file, offset: number, whence: number): Sched<number>;
  /** mmap: sets up `vma` (vm_ops, flags) for the file; 0 or -errno. The VFS has already
   * checked the protection against the open mode and inserted nothing yet. */
  mmap?(file: file, vma: vm_area_struct): Sched<number>;
  /** fallocate after vfs_fallocate's generic checks; mode is FALLOC_FL_* bits. 0 or -errno. */
  fallocate?(file: file, mode: number, offset: number, len: number): Sched<number>;
}

/** ATTR_SIZE of struct iattr.ia_valid (include/linux/fs.h). */
export const ATTR_SIZE = 1 << 3;

/** struct iattr: the subset truncation uses. */
export interface iattr {
  readonly ia_valid: number;
  readonly ia_size: number;
}

/** struct inode_operations: the subset the model's inodes implement. */
export interface inode_operations {
  /** notify_change → i_op->setattr; ftruncate arrives with ATTR_SIZE. 0 or -errno. */
  setattr?(ino: inode, attr: iattr): Sched<number>;
}

/** S_IFMT bits of i_mode (include/uapi/linux/stat.h). */
export const S_IFMT = 0o170000;
export const S_IFREG = 0o100000;
export const S_ISREG = (mode: number): boolean => (mode & S_IFMT) === S_IFREG;

export class inode {
  readonly i_ino: number;
  i_private: unknown = null;
  /** The page cache of the inode, for file types that have one (mm/filemap.ts). */
  i_mapping: address_space | null = null;
  i_size = 0;
  /** File type and permission bits; 0 for the anonymous inode (not a regular file). */
  i_mode = 0;
  /** Link count: 0 for unlinked files such as memfds. */
  i_nlink = 0;
  i_op: inode_operations | null = null;
  /** inode->i_rwsem (inode_lock); created by the file types that take it. */
  i_rwsem: RwSemaphore | null = null;

  constructor(i_ino: number) {
    this.i_ino = i_ino;
  }
}

export class file {
  readonly sim: Sim;
  readonly f_op: file_operations;
  readonly f_inode: inode;
  readonly f_count: Refcount;
  f_flags: number;
  f_pos = 0;
  private_data: unknown;
  /** What /proc/<pid>/fd shows, e.g. `anon_inode:[luo_session] s1` or `/dev/liveupdate`. */
  readonly f_path: string;

  constructor(sim: Sim, path: string, ino: inode, flags: number, fops: file_operations) {
    this.sim = sim;
    this.f_path = path;
    this.f_inode = ino;
    this.f_flags = flags;
    this.f_op = fops;
    this.private_data = null;
    this.f_count = new Refcount(sim, `file(${path}).f_count`, 1);
  }

  /** file->f_mapping: the inode's page cache. */
  get f_mapping(): address_space | null {
    return this.f_inode.i_mapping;
  }
}

/** FMODE_READ: the file was opened for reading. */
export const file_readable = (f: file): boolean => (f.f_flags & O_ACCMODE) !== O_WRONLY;
/** FMODE_WRITE: the file was opened for writing. */
export const file_writable = (f: file): boolean => (f.f_flags & O_ACCMODE) !== O_RDONLY;
/** file_inode(file). */
export const file_inode = (f: file): inode => f.f_inode;

/** alloc_file: a new open file with one reference, owned by the caller. */
export function alloc_file(
  sim: Sim,
  path: string,
  ino: inode,
  flags: number,
  fops: file_operations,
  private_data: unknown = null,
): file {
  const f = new file(sim, path, ino, flags, fops);
  f.private_data = private_data;
  return f;
}

/** get_file: takes one more reference. */
export function* get_file(f: file): Sched<file> {
  yield* refcount_inc(f.f_count);
  return f;
}

/** fput: drops one reference; the last one releases the file (abstraction 1). */
export function* fput(f: file): Sched {
  if (yield* refcount_dec_and_test(f.f_count)) {
    if (f.f_op.release) yield* f.f_op.release(f.f_inode, f);
  }
}

/** One fd table slot: the file, or reserved (between get_unused_fd_flags and fd_install). */
interface FdEntry {
  file: file | null;
  cloexec: boolean;
}

/** struct files_struct: one process's fd table. */
export class files_struct {
  readonly sim: Sim;
  readonly id: number;
  readonly fdt = new Map<number, FdEntry>();
  /** RLIMIT_NOFILE. */
  rlimit_nofile: number;
  /** files->count: tasks sharing this table (threads created with CLONE_FILES). */
  users = 1;

  constructor(sim: Sim, name: string, rlimit_nofile = 1024) {
    this.sim = sim;
    this.id = sim.newObject(`${name}.files`);
    this.rlimit_nofile = rlimit_nofile;
  }
}

/** get_unused_fd_flags: reserves the lowest free fd, or -EMFILE. */
export function* get_unused_fd_flags(files: files_struct, flags: number): Sched<number> {
  yield op('get_unused_fd_flags', [{ object: files.id, kind: 'rmw' }]);
  for (let fd = 0; fd < files.rlimit_nofile; fd++) {
    if (!files.fdt.has(fd)) {
      files.fdt.set(fd, { file: null, cloexec: (flags & O_CLOEXEC) !== 0 });
      if (files.sim.tracing) files.sim.annotate(`= ${fd}`);
      return fd;
    }
  }
  return -EMFILE;
}

export function put_unused_fd(files: files_struct, fd: number): void {
  const e = files.fdt.get(fd);
  if (e?.file !== null) files.sim.fail(`put_unused_fd(${fd}) of an fd that is not reserved`);
  files.fdt.delete(fd);
}

/** fd_install: publishes a reserved fd; the table takes over the caller's reference. */
export function fd_install(files: files_struct, fd: number, f: file): void {
  const e = files.fdt.get(fd);
  if (e?.file !== null) files.sim.fail(`fd_install(${fd}) of an fd that is not reserved`);
  e.file = f;
}

/** fget: the file behind `fd` with a new reference, or null. */
export function* fget(files: files_struct, fd: number): Sched<file | null> {
  yield op(`fget(${fd})`, [{ object: files.id, kind: 'read' }]);
  const f = files.fdt.get(fd)?.file ?? null;
  if (f === null) return null;
  return yield* get_file(f);
}

/** struct fd: a file borrowed from, or referenced through, an fd table. */
export interface fd_ref {
  readonly file: file;
  /** True when fdget took a reference that fdput must drop. */
  readonly refd: boolean;
}

/**
 * fdget (__fget_light): the file behind `fd` for the duration of a syscall. When no other task
 * shares the fd table, the file is borrowed without touching its reference count (nothing can
 * close the fd meanwhile); otherwise a reference is taken, as fget does.
 */
export function* fdget(files: files_struct, fd: number): Sched<fd_ref | null> {
  yield op(`fdget(${fd})`, [{ object: files.id, kind: 'read' }]);
  const f = files.fdt.get(fd)?.file ?? null;
  if (f === null) return null;
  if (files.users === 1) return { file: f, refd: false };
  yield* get_file(f);
  return { file: f, refd: true };
}

/** fdput: drops what fdget took. */
export function* fdput(r: fd_ref): Sched {
  if (r.refd) yield* fput(r.file);
}

/** The file behind `fd` without a new reference (the caller holds the table stable). */
export function fd_file_peek(files: files_struct, fd: number): file | null {
  return files.fdt.get(fd)?.file ?? null;
}

export function fd_is_cloexec(files: files_struct, fd: number): boolean {
  return files.fdt.get(fd)?.cloexec ?? false;
}

/** close_fd: removes the fd and drops the table's reference; -EBADF if it is not open. */
export function* close_fd(files: files_struct, fd: number): Sched<number> {
  yield op(`close_fd(${fd})`, [{ object: files.id, kind: 'rmw' }]);
  const f = files.fdt.get(fd)?.file ?? null;
  if (f === null) return -EBADF;
  files.fdt.delete(fd);
  yield* fput(f);
  return 0;
}

const CURRENT_FILES = Symbol('fd table of the task in each syscall');

function currentMap(sim: Sim): Map<TaskId | null, files_struct> {
  return sim.local(CURRENT_FILES, () => new Map<TaskId | null, files_struct>());
}

/** Records the fd table of the calling task (the syscall layer calls this on entry). */
export function set_current_files(sim: Sim, files: files_struct): void {
  currentMap(sim).set(sim.current, files);
}

/** current->files; a model assertion if the calling task never entered a syscall. */
export function current_files(sim: Sim): files_struct {
  const files = currentMap(sim).get(sim.current);
  if (files === undefined) return sim.fail('current->files: the task is not in a syscall');
  return files;
}
