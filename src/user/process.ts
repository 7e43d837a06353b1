/**
 * A userspace process: a name, the kernel it runs on, and its fd table.
 *
 * A process lives on one boot. A kexec ends every process: after `sys.reboot` succeeds the
 * process is gone (`exited`), and the program goes on as a new Process on the next Kernel, the way
 * a selftest's stage 2 runs as a new program. Its code runs in engine tasks and calls the kernel
 * only through `sys`.
 */
import { files_struct } from '../linux/fs/file.ts';
import type { Kernel } from '../linux/kernel.ts';
import { Syscalls } from './syscalls.ts';

export interface ProcessOptions {
  /** RLIMIT_NOFILE; default 1024. */
  readonly nofile?: number;
}

export class Process {
  readonly kernel: Kernel;
  readonly name: string;
  readonly files: files_struct;
  readonly sys: Syscalls;
  /** True once the process exited or its kernel jumped away. */
  exited = false;

  constructor(kernel: Kernel, name: string, opts: ProcessOptions = {}) {
    this.kernel = kernel;
    this.name = name;
    this.files = new files_struct(kernel.sim, name, opts.nofile ?? 1024);
    this.sys = new Syscalls(this);
  }

  /** The fds open in this process, ascending. */
  openFds(): number[] {
    return [...this.files.fdt.entries()]
      .filter(([, e]) => e.file !== null)
      .map(([fd]) => fd)
      .sort((a, b) => a - b);
  }
}
