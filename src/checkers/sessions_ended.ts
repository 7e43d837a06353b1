/**
 * Property: every session ends finished or unpreserved (spec §2.1 steps 2 and 7, §3.5).
 *
 * On the kernel that runs last: no outgoing session still holds preserved files (a session the
 * program gave up on was closed, which unpreserves its files), and every incoming session was
 * finished (its file records are gone). A session handed over by a successful kexec ends in the
 * next kernel, so callers judge the kernel that ran last.
 */
import type { Process } from '../user/process.ts';

export function sessionsEnded(proc: Process): true | string {
  const luo = proc.kernel.luo;
  if (luo === null) return true;
  const open: string[] = [];
  for (const s of luo.outgoing.list)
    if (s.file_set.files_list.length > 0)
      open.push(
        `outgoing session "${s.name}" still preserves ${s.file_set.files_list.length} file(s)`,
      );
  for (const s of luo.incoming.list)
    if (s.file_set.files_list.length > 0)
      open.push(
        `incoming session "${s.name}" has ${s.file_set.files_list.length} unfinished file(s)`,
      );
  if (luo.incoming_sessions !== null) open.push('incoming sessions were never deserialized');
  return open.length === 0 || open.join('; ');
}
