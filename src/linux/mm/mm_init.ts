/**
 * Boot memory: what memblock has reserved, and handing the rest to the buddy allocator.
 *
 * **Models:** mm/memblock.c (memblock_reserve, memblock_phys_alloc_range top-down,
 * memblock_phys_free) and mm/mm_init.c (memblock_free_all → __free_pages_core over the free
 * ranges), v7.2-era mainline.
 *
 * **Abstracted:** memblock keeps only the reserved list (all RAM is one range, one node); the
 * low 1 MiB is reserved as on x86 (which also keeps physical address 0, "none" in every
 * handover ABI, from ever being handed out). Scratch areas are reserved outright instead of
 * becoming CMA pageblocks, so the allocator never hands them out.
 */
import { PAGE_SIZE } from '../include/asm-generic/page.ts';
import type { PfnRange } from './page_alloc.ts';
import type { Kernel } from '../kernel.ts';

/** x86 reserves the first megabyte (BIOS, real-mode trampoline). */
export const LOW_RESERVED_BYTES = 1024 * 1024;

export class Memblock {
  /** Reserved byte ranges [base, end), unsorted, possibly overlapping. */
  readonly reserved: Array<[number, number]> = [[0, LOW_RESERVED_BYTES]];

  /**
   * Adds [base, base + size). A range that starts inside or right at the end of the last one
   * added extends it, as memblock merges neighbouring regions; KHO's boot walk reserves its
   * blocks in address order, so a run of preserved folios costs one entry.
   */
  memblock_reserve(base: number, size: number): void {
    if (size <= 0) return;
    const last = this.reserved[this.reserved.length - 1];
    if (last !== undefined && base >= last[0] && base <= last[1]) {
      if (base + size > last[1]) last[1] = base + size;
      return;
    }
    this.reserved.push([base, base + size]);
  }

  /** Sorted, merged reserved byte ranges. */
  merged(): Array<[number, number]> {
    const sorted = [...this.reserved].sort((a, b) => a[0] - b[0]);
    const out: Array<[number, number]> = [];
    for (const [s, e] of sorted) {
      const last = out[out.length - 1];
      if (last && s <= last[1]) last[1] = Math.max(last[1], e);
      else out.push([s, e]);
    }
    return out;
  }

  /**
   * memblock_phys_alloc_range(size, align, 0, limit), top-down: the highest aligned free range
   * below `limit`; reserves and returns it, or 0 when nothing fits.
   */
  memblock_phys_alloc_range(size: number, align: number, limit: number): number {
    let addr = Math.floor((limit - size) / align) * align;
    for (;;) {
      if (addr < LOW_RESERVED_BYTES) return 0;
      const hit = this.merged().find(([s, e]) => addr < e && s < addr + size);
      if (!hit) break;
      addr = Math.floor((hit[0] - size) / align) * align;
    }
    this.memblock_reserve(addr, size);
    return addr;
  }

  /** memblock_phys_free: [base, base + size) is no longer reserved (ranges around it are cut). */
  memblock_phys_free(base: number, size: number): void {
    const end = base + size;
    const kept: Array<[number, number]> = [];
    for (const [s, e] of this.reserved) {
      if (e <= base || s >= end) kept.push([s, e]);
      else {
        if (s < base) kept.push([s, base]);
        if (e > end) kept.push([end, e]);
      }
    }
    this.reserved.splice(0, this.reserved.length, ...kept);
  }
}

/** Releases every unreserved page frame to the buddy allocator (memblock_free_all). */
export function mem_init(k: Kernel): void {
  const total = k.machine.physmem.pageCount;
  const free: PfnRange[] = [];
  let cursor = 0;
  for (const [s, e] of k.memblock.merged()) {
    const sPfn = Math.floor(s / PAGE_SIZE);
    const ePfn = Math.min(total, Math.ceil(e / PAGE_SIZE));
    if (sPfn > cursor) free.push([cursor, Math.min(sPfn, total)]);
    cursor = Math.max(cursor, ePfn);
    if (cursor >= total) break;
  }
  if (cursor < total) free.push([cursor, total]);
  k.page_alloc.free_ranges_init(free.filter(([a, b]) => a < b));
}
