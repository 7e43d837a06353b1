/**
 * The system calls a process makes, as generators that run in the calling engine task.
 *
 * Each call enters the kernel the way the syscall entry does: it records the caller's fd table
 * as `current->files`, runs the kernel path, and returns what the kernel returned: a
 * non-negative result or a negative errno (the libc wrapper's -1/errno folded into one value,
 * like the selftest library's return convention). No errno is ever thrown.
 *
 * Memory: `mmap`/`munmap` map files into the process's address space (`mm`); `load`/`store`
 * access it the way the process's own loads and stores would, faulting pages in, and return a
 * `UserAccess` value: the bytes, or the signal the access raised (SIGBUS past EOF, SIGSEGV
 * outside a mapping) with the faulting address. A signal is never an exception either.
 *
 * `reboot(LINUX_REBOOT_CMD_KEXEC)` runs LUO's freeze/serialize; on failure it returns the error
 * and everything keeps running; on success the kernel jumps, the process is gone, and
 * `nextMachine` holds the machine to boot the next kernel on.
 */
import type { Machine } from '../machine/machine.ts';
import type { Sched } from '../sim/index.ts';
import { close_fd, fd_file_peek, set_current_files, fdget, fdput } from '../linux/fs/file.ts';
import { ksys_ioctl } from '../linux/fs/ioctl.ts';
import { ksys_lseek, ksys_prw, ksys_rw } from '../linux/fs/read_write.ts';
import { do_sys_ftruncate, ksys_fallocate } from '../linux/fs/truncate.ts';
import { mm_struct } from '../linux/include/linux/mm.ts';
import { EBADF, EINVAL } from '../linux/include/uapi/asm-generic/errno.ts';
import { FD_CLOEXEC } from '../linux/include/uapi/asm-generic/fcntl.ts';
import {
  F_ADD_SEALS,
  F_GETFD,
  F_GETFL,
  F_GET_SEALS,
  F_SETFD,
} from '../linux/include/uapi/linux/fcntl.ts';
import { memfd_create, memfd_fcntl } from '../linux/mm/memfd.ts';
import { access_user_memory, type UserAccess } from '../linux/mm/memory.ts';
import { do_mmap, do_munmap, exit_mmap } from '../linux/mm/mmap.ts';
import { do_sys_open } from '../linux/fs/open.ts';
import { O_RDWR } from '../linux/include/uapi/asm-generic/fcntl.ts';
import { LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2 } from '../linux/include/uapi/linux/reboot.ts';
import { sys_reboot } from '../linux/kernel/reboot.ts';
import type { Process } from './process.ts';

export class Syscalls {
  private readonly proc: Process;
  /** After a successful kexec reboot: the machine, ready for Kernel.boot. */
  nextMachine: Machine | null = null;
  /** The process's address space (mm_struct). */
  readonly mm: mm_struct;

  constructor(proc: Process) {
    this.proc = proc;
    this.mm = new mm_struct(proc.kernel.sim, proc.name);
  }

  private *call(what: string, body: () => Sched<number>): Sched<number> {
    this.enter(what);
    return this.leave(what, yield* body());
  }

  private enter(what: string): void {
    const k = this.proc.kernel;
    if (this.proc.exited) k.sim.fail(`${this.proc.name}: ${what} after the process exited`);
    if (k.dead) k.sim.fail(`${this.proc.name}: ${what} on a kernel that has kexec'd`);
    set_current_files(k.sim, this.proc.files);
  }

  private leave(what: string, ret: number): number {
    if (this.proc.kernel.sim.tracing) this.proc.kernel.sim.note(`${what} = ${ret}`);
    return ret;
  }

  /** open(path, flags): the fd or -errno. */
  *open(path: string, flags = O_RDWR): Sched<number> {
    const what = `open("${path}")`;
    this.enter(what);
    const ret = yield* do_sys_open(this.proc.kernel, this.proc.files, path, flags);
    return this.leave(what, ret);
  }

  *close(fd: number): Sched<number> {
    const what = `close(${fd})`;
    this.enter(what);
    return this.leave(what, yield* close_fd(this.proc.files, fd));
  }

  /** ioctl(fd, cmd, arg): `arg` is the user buffer (null = NULL pointer); the kernel reads and
   * writes it in place. */
  *ioctl(fd: number, cmd: number, arg: Uint8Array | null): Sched<number> {
    const what = `ioctl(${fd}, 0x${(cmd >>> 0).toString(16)})`;
    this.enter(what);
    return this.leave(what, yield* ksys_ioctl(this.proc.files, fd, cmd, arg));
  }

  /** reboot(cmd): -errno, or 0 after a kexec (the process no longer exists then). */
  *reboot(cmd: number, magic1 = LINUX_REBOOT_MAGIC1, magic2 = LINUX_REBOOT_MAGIC2): Sched<number> {
    const what = `reboot(0x${(cmd >>> 0).toString(16)})`;
    this.enter(what);
    const r = yield* sys_reboot(this.proc.kernel, magic1, magic2, cmd);
    if (typeof r === 'number') return this.leave(what, r);
    this.nextMachine = r;
    this.proc.exited = true;
    return this.leave(what, 0);
  }

  /** memfd_create(name, MFD_* flags): the fd or -errno. */
  *memfd_create(name: string, flags: number): Sched<number> {
    const k = this.proc.kernel;
    return yield* this.call(`memfd_create("${name}", 0x${flags.toString(16)})`, () =>
      memfd_create(k, this.proc.files, name, flags),
    );
  }

  *ftruncate(fd: number, length: number): Sched<number> {
    return yield* this.call(`ftruncate(${fd}, ${length})`, () =>
      do_sys_ftruncate(this.proc.files, fd, length),
    );
  }

  /** fallocate(fd, FALLOC_FL_* mode, offset, len): 0 or -errno. */
  *fallocate(fd: number, mode: number, offset: number, len: number): Sched<number> {
    return yield* this.call(`fallocate(${fd}, ${mode}, ${offset}, ${len})`, () =>
      ksys_fallocate(this.proc.files, fd, mode, offset, len),
    );
  }

  /** read(fd, buf): fills `buf` from f_pos; the count or -errno. */
  *read(fd: number, buf: Uint8Array): Sched<number> {
    return yield* this.call(`read(${fd}, ${buf.length})`, () =>
      ksys_rw(this.proc.files, fd, buf, false),
    );
  }

  *write(fd: number, data: Uint8Array): Sched<number> {
    return yield* this.call(`write(${fd}, ${data.length})`, () =>
      ksys_rw(this.proc.files, fd, data, true),
    );
  }

  *pread(fd: number, buf: Uint8Array, offset: number): Sched<number> {
    return yield* this.call(`pread(${fd}, ${buf.length}, ${offset})`, () =>
      ksys_prw(this.proc.files, fd, buf, offset, false),
    );
  }

  *pwrite(fd: number, data: Uint8Array, offset: number): Sched<number> {
    return yield* this.call(`pwrite(${fd}, ${data.length}, ${offset})`, () =>
      ksys_prw(this.proc.files, fd, data, offset, true),
    );
  }

  /** lseek(fd, offset, SEEK_*): the new position or -errno. */
  *lseek(fd: number, offset: number, whence: number): Sched<number> {
    return yield* this.call(`lseek(${fd}, ${offset}, ${whence})`, () =>
      ksys_lseek(this.proc.files, fd, offset, whence),
    );
  }

  /** fcntl(fd, cmd, arg): F_ADD_SEALS, F_GET_SEALS, F_GETFD, F_SETFD, F_GETFL. */
  *fcntl(fd: number, cmd: number, arg = 0): Sched<number> {
    const files = this.proc.files;
    return yield* this.call(`fcntl(${fd}, ${cmd}, ${arg})`, function* () {
      const r = yield* fdget(files, fd);
      if (r === null) return -EBADF;
      const f = r.file;
      let ret = -EINVAL;
      if (cmd === F_ADD_SEALS || cmd === F_GET_SEALS) ret = yield* memfd_fcntl(f, cmd, arg);
      else if (cmd === F_GETFL) ret = f.f_flags;
      else if (cmd === F_GETFD) ret = files.fdt.get(fd)?.cloexec === true ? FD_CLOEXEC : 0;
      else if (cmd === F_SETFD) {
        const e = files.fdt.get(fd);
        if (e !== undefined && fd_file_peek(files, fd) === f) e.cloexec = (arg & FD_CLOEXEC) !== 0;
        ret = 0;
      }
      yield* fdput(r);
      return ret;
    });
  }

  /** mmap(addr, len, PROT_*, MAP_*, fd, offset): the address or -errno (MAP_FAILED). */
  *mmap(
    addr: number,
    len: number,
    prot: number,
    flags: number,
    fd: number,
    offset = 0,
  ): Sched<number> {
    const k = this.proc.kernel;
    const files = this.proc.files;
    const mm = this.mm;
    return yield* this.call(
      `mmap(0x${addr.toString(16)}, ${len}, ${prot}, ${flags}, ${fd}, ${offset})`,
      function* () {
        const r = yield* fdget(files, fd);
        if (r === null) return -EBADF;
        const ret = yield* do_mmap(k, mm, r.file, addr, len, prot, flags, offset);
        yield* fdput(r);
        return ret;
      },
    );
  }

  *munmap(addr: number, len: number): Sched<number> {
    const k = this.proc.kernel;
    return yield* this.call(`munmap(0x${addr.toString(16)}, ${len})`, () =>
      do_munmap(k, this.mm, addr, len),
    );
  }

  /** The process loads `len` bytes at `addr`: the bytes, or the signal raised. */
  *load(addr: number, len: number): Sched<UserAccess> {
    this.enter('load');
    return yield* access_user_memory(this.proc.kernel, this.mm, addr, len, null);
  }

  /** The process stores `data` at `addr`: ok, or the signal raised (earlier pages stay written). */
  *store(addr: number, data: Uint8Array): Sched<UserAccess> {
    this.enter('store');
    return yield* access_user_memory(this.proc.kernel, this.mm, addr, data.length, data);
  }

  /** exit(): unmaps everything and closes every fd (outgoing sessions held only here are
   * unpreserved). */
  *exit(): Sched {
    this.enter('exit()');
    yield* exit_mmap(this.proc.kernel, this.mm);
    for (const fd of this.proc.openFds()) yield* close_fd(this.proc.files, fd);
    this.proc.exited = true;
  }
}
