/**
 * Process-level calls the selftest programs make besides I/O: fork(2) and the RLIMIT_NOFILE
 * pair of getrlimit(2)/setrlimit(2).
 *
 * **Models:** what a program sees of kernel/fork.c (copy_process → dup_fd: the child gets every
 * fd of the parent, referring to the same open files, FD_CLOEXEC kept, since only exec drops
 * those) and kernel/sys.c do_prlimit for RLIMIT_NOFILE (v7.2-era mainline).
 *
 * **Abstracted:** no pids, no signals, no wait(2): a forked process is a second Process with its
 * own fd table on the same kernel; whether it "runs" is up to the program that holds it. The
 * calling task is privileged (CAP_SYS_RESOURCE), so raising the hard limit never fails with
 * EPERM. These calls live here rather than in syscalls.ts until the syscall table grows them.
 */
import { op, type Sched } from '../sim/index.ts';
import { get_file } from '../linux/fs/file.ts';
import { EINVAL } from '../linux/include/uapi/asm-generic/errno.ts';
import { Process } from './process.ts';

/** fork(): a child process holding a new reference to every open file of `parent`. */
export function* fork(parent: Process, childName: string): Sched<Process> {
  const child = new Process(parent.kernel, childName, { nofile: parent.files.rlimit_nofile });
  yield op(`fork(${parent.name} -> ${childName})`, [
    { object: parent.files.id, kind: 'read' },
    { object: child.files.id, kind: 'write' },
  ]);
  for (const [fd, entry] of parent.files.fdt) {
    if (entry.file === null) continue;
    const f = yield* get_file(entry.file);
    child.files.fdt.set(fd, { file: f, cloexec: entry.cloexec });
  }
  return child;
}

/** getrlimit(RLIMIT_NOFILE): the soft limit (the model keeps soft = hard). */
export function getrlimit_nofile(proc: Process): number {
  return proc.files.rlimit_nofile;
}

/** setrlimit(RLIMIT_NOFILE, n): 0, or -EINVAL for a negative or non-integer limit. */
export function setrlimit_nofile(proc: Process, limit: number): number {
  if (!Number.isSafeInteger(limit) || limit < 0) return -EINVAL;
  proc.files.rlimit_nofile = limit;
  return 0;
}
