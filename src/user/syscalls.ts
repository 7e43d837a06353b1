/**
 * The system calls a process makes, as generators that run in the calling engine task.
 *
 * Each call enters the kernel the way the syscall entry does: it records the caller's fd table
 * as `current->files`, runs the kernel path, and returns what the kernel returned: a
 * non-negative result or a negative errno (the libc wrapper's -1/errno folded into one value,
 * like the selftest library's return convention). No errno is ever thrown.
 *
 * `reboot(LINUX_REBOOT_CMD_KEXEC)` runs LUO's freeze/serialize; on failure it returns the error
 * and everything keeps running; on success the kernel jumps, the process is gone, and
 * `nextMachine` holds the machine to boot the next kernel on.
 */
import type { Machine } from '../machine/machine.ts';
import type { Sched } from '../sim/index.ts';
import { close_fd, set_current_files } from '../linux/fs/file.ts';
import { ksys_ioctl } from '../linux/fs/ioctl.ts';
import { do_sys_open } from '../linux/fs/open.ts';
import { O_RDWR } from '../linux/include/uapi/asm-generic/fcntl.ts';
import { LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2 } from '../linux/include/uapi/linux/reboot.ts';
import { sys_reboot } from '../linux/kernel/reboot.ts';
import type { Process } from './process.ts';

export class Syscalls {
  private readonly proc: Process;
  /** After a successful kexec reboot: the machine, ready for Kernel.boot. */
  nextMachine: Machine | null = null;

  constructor(proc: Process) {
    this.proc = proc;
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

  /** exit(): closes every fd (outgoing sessions held only here are unpreserved). */
  *exit(): Sched {
    this.enter('exit()');
    for (const fd of this.proc.openFds()) yield* close_fd(this.proc.files, fd);
    this.proc.exited = true;
  }
}
