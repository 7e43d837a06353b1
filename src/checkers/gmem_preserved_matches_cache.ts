/**
 * Property: what a guest_memfd preserve recorded is what the page cache holds.
 *
 * From spec §3.4 and Appendix B.2/B.4: after a successful preserve the inode is frozen, so the
 * set of populated indices and their physical pages cannot change any more, and the record's
 * entries (index and pfn, in index order) equal the page cache. A folio that appears after the
 * walk would hold guest data that is never handed over; a folio removed after the walk leaves a
 * preserved pfn that the page cache no longer owns. Checked at the end of an execution in which
 * the preserve succeeded and the session is still open.
 */
import { op, type Sched } from '../sim/index.ts';
import type { Process } from '../user/process.ts';
import { gmemOf, outgoingRecordOf, pageCacheOf, readGmemRecord } from './gmem_inspect.ts';

export function preservedMatchesPageCache(
  proc: Process,
  gmem_fd: number,
  token: bigint,
): true | string {
  const gi = gmemOf(proc, gmem_fd);
  if (gi === null) return `fd ${gmem_fd} is not a guest_memfd`;
  const pa = outgoingRecordOf(proc.kernel, token);
  if (pa === null) return `no preserved record for token 0x${token.toString(16)}`;
  const rec = readGmemRecord(proc.kernel, pa);
  const cache = pageCacheOf(gi);
  const recorded = rec.entries.join(' ');
  const now = cache.join(' ');
  if (recorded === now) return true;
  const extra = cache.filter((e) => !rec.entries.includes(e));
  const gone = rec.entries.filter((e) => !cache.includes(e));
  const parts: string[] = [];
  if (extra.length > 0) parts.push(`cached but not preserved: ${extra.join(', ')}`);
  if (gone.length > 0) parts.push(`preserved but no longer cached: ${gone.join(', ')}`);
  return `the page cache changed after preserve (index:pfn) — ${parts.join('; ')}`;
}

/** The page cache of the guest_memfd behind `gmem_fd`, as "index:pfn" entries. */
export function pageCacheEntries(proc: Process, gmem_fd: number): string {
  const gi = gmemOf(proc, gmem_fd);
  return gi === null ? '' : pageCacheOf(gi).join(' ');
}

/** The entries the outgoing record of `token` holds, or null without a record. */
export function recordedEntries(proc: Process, token: bigint): string | null {
  const pa = outgoingRecordOf(proc.kernel, token);
  return pa === null ? null : readGmemRecord(proc.kernel, pa).entries.join(' ');
}

/**
 * What a scenario task records, right after its preserve returned, for an invariant that compares
 * the record with the page cache of `gmem_fd` at every step: the entries of the record of
 * `token`, taken in a visible operation that reads the page cache. The read makes the recording
 * dependent on every insertion into and removal from that page cache, so a reducing explorer
 * (DPOR) orders it both ways against them; recorded in the code after the preserve's last
 * operation instead, DPOR would see no dependency and could miss the states in which the
 * invariant fails (docs/engine.md, "Soundness requirement on models").
 */
export function* observeRecordedEntries(
  proc: Process,
  gmem_fd: number,
  token: bigint,
): Sched<string | null> {
  const gi = gmemOf(proc, gmem_fd);
  const access = gi === null ? [] : [{ object: gi.i_mapping_of().id, kind: 'read' as const }];
  yield op(
    `observe(record of 0x${token.toString(16)}, gmem${gi?.i_ino ?? '?'} page cache)`,
    access,
  );
  return recordedEntries(proc, token);
}
