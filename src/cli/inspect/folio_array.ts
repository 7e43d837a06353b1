/**
 * Shared reading of the handover data that memfd and guest_memfd records point at: a
 * `struct kho_vmalloc` descriptor with its chain of one-page chunks (spec §4.4 of
 * luo-kho-memfd.md), and the array of 16-byte folio entries {pfn:52 | flags:12, index} that the
 * vmalloc area holds. Both handlers use the same entry layout, so one reader serves both.
 *
 * Everything comes from the image and is distrusted: chunk and block addresses are checked
 * against memory, the chunk chain is walked with a visited set (a chain can only continue
 * through a stored page, so it ends), and the number of entries decoded is bounded by the
 * array's pages and by the memory's page count. Problems are returned as text, never thrown.
 */
import type { PhysMem } from '../../machine/physmem.ts';
import { MAX_PAGE_ORDER, PAGE_SIZE } from '../../linux/include/asm-generic/page.ts';
import {
  KHO_VMALLOC_ALLOC,
  KHO_VMALLOC_CHUNK_OFF_NEXT,
  KHO_VMALLOC_CHUNK_OFF_PHYS,
  KHO_VMALLOC_HUGE_VMAP,
  KHO_VMALLOC_SIZE,
  KHO_VMALLOC_SIZEOF,
  kho_vmalloc_decode,
  type kho_vmalloc,
} from '../../linux/include/linux/kho/abi/kexec_handover.ts';

export const hex = (n: number | bigint): string => `0x${n.toString(16)}`;

/** A byte count with the largest unit that divides it, and the exact value in hex. */
export function sizeText(bytes: bigint): string {
  for (const [shift, unit] of [
    [30n, 'GiB'],
    [20n, 'MiB'],
    [10n, 'KiB'],
  ] as const)
    if (bytes >= 1n << shift && bytes % (1n << shift) === 0n)
      return `${bytes >> shift} ${unit} (${hex(bytes)})`;
  return `${bytes} bytes`;
}

/** `value` in hex with the names of its set bits; bits without a name are listed as unknown. */
export function flagsText(value: bigint, names: readonly (readonly [bigint, string])[]): string {
  const parts: string[] = [];
  let rest = value;
  for (const [bit, name] of names)
    if ((value & bit) !== 0n) {
      parts.push(name);
      rest &= ~bit;
    }
  if (rest !== 0n) parts.push(`unknown ${hex(rest)}`);
  return `${hex(value)} (${parts.length === 0 ? 'none' : parts.join('|')})`;
}

/** Whether `len` bytes at `pa` lie inside memory. */
export function inMemory(mem: PhysMem, pa: bigint | number, len: number): boolean {
  const a = BigInt(pa);
  return a >= 0n && a + BigInt(len) <= BigInt(mem.size);
}

export interface VmallocWalk {
  readonly desc: kho_vmalloc;
  /** Chunk pages, in chain order. */
  readonly chunks: readonly number[];
  /** Backing blocks of 2^order pages each, in array order. */
  readonly blocks: readonly number[];
  /** What is wrong with the descriptor or its chain; the walk stops at the first problem. */
  readonly problem: string | null;
}

/** Walks the chunk chain of the descriptor held in the 16 bytes `descBytes`. */
export function walkKhoVmalloc(mem: PhysMem, descBytes: Uint8Array): VmallocWalk {
  const desc = kho_vmalloc_decode(descBytes);
  const chunks: number[] = [];
  const blocks: number[] = [];
  const done = (problem: string | null): VmallocWalk => ({ desc, chunks, blocks, problem });
  if (desc.order > MAX_PAGE_ORDER)
    return done(`order ${desc.order} is above MAX_PAGE_ORDER (${MAX_PAGE_ORDER})`);
  const blockSize = PAGE_SIZE * 2 ** desc.order;
  const seen = new Set<number>();
  for (let at = desc.first; at !== 0;) {
    if (seen.has(at)) return done(`the chunk chain loops back to ${hex(at)}`);
    if (at % PAGE_SIZE !== 0 || !inMemory(mem, at, PAGE_SIZE))
      return done(`chunk ${chunks.length + 1} at ${hex(at)} is not a page of memory`);
    seen.add(at);
    chunks.push(at);
    for (let i = 0; i < KHO_VMALLOC_SIZE; i++) {
      const pa = mem.readU64(at + KHO_VMALLOC_CHUNK_OFF_PHYS + 8 * i);
      if (pa === 0n) break;
      if (pa % BigInt(blockSize) !== 0n || !inMemory(mem, pa, blockSize))
        return done(`chunk ${chunks.length} entry ${i} (${hex(pa)}) is not a block of memory`);
      if (blocks.length * 2 ** desc.order >= desc.total_pages)
        return done(`the chunks list more pages than total_pages (${desc.total_pages})`);
      blocks.push(Number(pa));
    }
    const next = mem.readU64(at + KHO_VMALLOC_CHUNK_OFF_NEXT);
    at = next > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(next);
  }
  const listed = blocks.length * 2 ** desc.order;
  if (listed !== desc.total_pages)
    return done(`the chunks list ${listed} pages, total_pages says ${desc.total_pages}`);
  return done(null);
}

/** The descriptor in one line: chunk count, pages, order and flags. */
export function vmallocText(w: VmallocWalk): string {
  const flags = flagsText(BigInt(w.desc.flags), [
    [BigInt(KHO_VMALLOC_ALLOC), 'ALLOC'],
    [BigInt(KHO_VMALLOC_HUGE_VMAP), 'HUGE_VMAP'],
  ]);
  const chunks = w.chunks.length === 1 ? '1 chunk' : `${w.chunks.length} chunks`;
  return (
    `kho_vmalloc first ${hex(w.desc.first)}, total_pages ${w.desc.total_pages}, ` +
    `order ${w.desc.order}, flags ${flags}; ${chunks}`
  );
}

export interface FolioEntry {
  readonly pfn: number;
  readonly flags: number;
  readonly index: bigint;
}

export interface FolioArray {
  /** Entries decoded (at most nr_folios, at most what the array's pages hold). */
  readonly entries: readonly FolioEntry[];
  readonly problem: string | null;
}

const PFN_MASK = (1n << 52n) - 1n;
const ENTRY_SIZE = 16;

/** Decodes up to `nr` entries from the array pages of a walk that found no problem. */
export function readFolioArray(mem: PhysMem, w: VmallocWalk, nr: bigint): FolioArray {
  const capacity = BigInt((w.blocks.length * 2 ** w.desc.order * PAGE_SIZE) / ENTRY_SIZE);
  let problem: string | null = null;
  let want = nr;
  if (nr > BigInt(mem.pageCount)) {
    problem = `nr_folios ${nr} is more than the ${mem.pageCount} pages of memory`;
    want = 0n;
  } else if (nr > capacity) {
    problem = `nr_folios ${nr} needs ${nr * 16n} bytes, the array's pages hold ${capacity * 16n}`;
    want = capacity;
  }
  const entries: FolioEntry[] = [];
  const pagesPerBlock = 2 ** w.desc.order;
  for (let page = 0; BigInt(entries.length) < want; page++) {
    const block = w.blocks[Math.floor(page / pagesPerBlock)] as number;
    const bytes = mem.read(block + (page % pagesPerBlock) * PAGE_SIZE, PAGE_SIZE);
    const dv = new DataView(bytes.buffer);
    for (let off = 0; off < PAGE_SIZE && BigInt(entries.length) < want; off += ENTRY_SIZE) {
      const word0 = dv.getBigUint64(off, true);
      entries.push({
        pfn: Number(word0 & PFN_MASK),
        flags: Number(word0 >> 52n),
        index: dv.getBigUint64(off + 8, true),
      });
    }
  }
  return { entries, problem };
}

/**
 * One line about the entries: how many, the first and last index, each named flag's count, and
 * anything odd (pfn 0 entries, pfns outside memory, indices not ascending, at or past `end`).
 */
export function entriesText(
  mem: PhysMem,
  entries: readonly FolioEntry[],
  flagNames: readonly (readonly [number, string])[],
  end: bigint | null,
): string {
  const n = entries.length;
  if (n === 0) return '0 entries';
  const first = (entries[0] as FolioEntry).index;
  const last = (entries[n - 1] as FolioEntry).index;
  const parts = [`${n} ${n === 1 ? 'entry' : 'entries'}`, `index ${first}..${last}`];
  for (const [bit, name] of flagNames)
    parts.push(`${entries.filter((e) => (e.flags & bit) !== 0).length} ${name}`);
  const odd: string[] = [];
  const none = entries.filter((e) => e.pfn === 0).length;
  if (none > 0) odd.push(`${none} with pfn 0 (skipped on restore)`);
  const outside = entries.filter((e) => e.pfn !== 0 && e.pfn >= mem.pageCount).length;
  if (outside > 0) odd.push(`${outside} with a pfn outside memory`);
  if (entries.some((e, i) => i > 0 && e.index <= (entries[i - 1] as FolioEntry).index))
    odd.push('indices not strictly ascending');
  if (end !== null) {
    const past = entries.filter((e) => e.index >= end).length;
    if (past > 0) odd.push(`${past} at or past the end of the file`);
  }
  return parts.join(', ') + (odd.length === 0 ? '' : `; warning: ${odd.join(', ')}`);
}

/** Labels for the chunk pages, array pages and folios of a record. */
export function claimArray(
  blocks: Map<number, string>,
  who: string,
  mem: PhysMem,
  w: VmallocWalk,
  entries: readonly FolioEntry[],
): void {
  w.chunks.forEach((pa, i) => blocks.set(pa, `${who} folio-array chunk ${i + 1}`));
  w.blocks.forEach((pa, i) => blocks.set(pa, `${who} folio array page ${i + 1}`));
  for (const e of entries)
    if (e.pfn !== 0 && e.pfn < mem.pageCount)
      blocks.set(e.pfn * PAGE_SIZE, `${who} folio ${e.index}`);
}

/** What openFolioArray found: the walk of the kho_vmalloc chunks and the decoded entries. */
export interface OpenedArray {
  readonly w: VmallocWalk;
  readonly arr: FolioArray;
}

/**
 * Decodes the folio array a record describes with the kho_vmalloc at `offset` of `bytes`
 * (memfd and guest_memfd share the layout), adding its summary line to `lines`. Null when the
 * record has no array, or when the array cannot be walked (reported, and its pages claimed).
 */
export function openFolioArray(
  mem: PhysMem,
  bytes: Uint8Array,
  offset: number,
  nr_folios: bigint,
  lines: string[],
  blocks: Map<number, string>,
  who: string,
  noneText: string,
): OpenedArray | null {
  const descBytes = bytes.subarray(offset, offset + KHO_VMALLOC_SIZEOF);
  if (nr_folios === 0n && descBytes.every((b) => b === 0)) {
    lines.push(`folio array: ${noneText}`);
    return null;
  }
  const w = walkKhoVmalloc(mem, descBytes);
  lines.push(`folio array: ${vmallocText(w)}`);
  if (w.problem !== null) {
    lines.push(`error: folio array: ${w.problem}`);
    claimArray(blocks, who, mem, w, []);
    return null;
  }
  return { w, arr: readFolioArray(mem, w, nr_folios) };
}

/** The closing lines of an opened array: its problem if any, and the claim of its pages. */
export function closeFolioArray(
  mem: PhysMem,
  opened: OpenedArray,
  lines: string[],
  blocks: Map<number, string>,
  who: string,
): void {
  if (opened.arr.problem !== null) lines.push(`error: folio array: ${opened.arr.problem}`);
  claimArray(blocks, who, mem, opened.w, opened.arr.entries);
}
