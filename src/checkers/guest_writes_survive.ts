/**
 * Property (Appendix B.6, spec §3.3, §3.4, §8.4): every byte the guest wrote before the kexec
 * reads back the same after the guest_memfd is retrieved, or its loss is the documented one.
 *
 * The documented loss: preserve samples each folio's UPTODATE flag in pass 2. A folio that was
 * present but not uptodate then (fallocated and never touched, or allocated by a fault whose
 * zero-and-mark step had not run yet) may still be written by the guest while frozen (present
 * pages stay writable); it is handed over without UPTODATE and the next kernel zeroes it on its
 * first access, so those writes are lost. Any other difference is a violation.
 *
 * `recordPreserved` is called right after the preserve returned (the record is final then: the
 * UPTODATE flags are not re-sampled at reboot); `judge` after reading the bytes back.
 */
import type { Process } from '../user/process.ts';
import { outgoingRecordOf, readGmemRecord } from './gmem_inspect.ts';

export interface PreservedSample {
  /** Page indices in the record, and those recorded with UPTODATE. */
  readonly indices: ReadonlySet<number>;
  readonly uptodate: ReadonlySet<number>;
}

/** What the preserve of `token` recorded: indices and their sampled UPTODATE flags. */
export function recordPreserved(proc: Process, token: bigint): PreservedSample | null {
  const pa = outgoingRecordOf(proc.kernel, token);
  if (pa === null) return null;
  const rec = readGmemRecord(proc.kernel, pa);
  const indices = new Set(rec.entries.map((e) => Number(e.split(':')[0])));
  return { indices, uptodate: new Set(rec.uptodateIndices) };
}

export interface GuestWrite {
  readonly page: number;
  readonly wrote: number;
  readonly readBack: number;
}

export interface WritesVerdict {
  /** true, or the writes lost for no documented reason. */
  readonly verdict: true | string;
  /** Pages whose writes were lost by the documented UPTODATE sampling (§8.4). */
  readonly documentedLoss: number[];
}

export function judgeGuestWrites(
  sample: PreservedSample | null,
  writes: readonly GuestWrite[],
): WritesVerdict {
  const bad: string[] = [];
  const documentedLoss: number[] = [];
  for (const w of writes) {
    if (w.readBack === w.wrote) continue;
    const what = `page ${w.page}: wrote 0x${w.wrote.toString(16)}, read back 0x${w.readBack.toString(16)}`;
    if (sample === null) bad.push(`${what} (no preserved record)`);
    else if (!sample.indices.has(w.page)) bad.push(`${what} (page not in the record)`);
    else if (!sample.uptodate.has(w.page)) documentedLoss.push(w.page);
    else bad.push(`${what} (recorded UPTODATE, so it must survive)`);
  }
  return { verdict: bad.length === 0 || `guest writes lost: ${bad.join('; ')}`, documentedLoss };
}
