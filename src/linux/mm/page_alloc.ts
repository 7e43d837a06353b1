/**
 * The buddy page allocator of one boot: free lists by order over the machine's page frames.
 *
 * **Models:** mm/page_alloc.c — __alloc_pages (rmqueue, expand), __free_pages (__free_one_page
 * with buddy merging), folio_alloc, folio_put, get_zeroed_page, free_page, __free_pages_core
 * for memory released at boot, adjust_managed_page_count; pfn_to_online_page of
 * mm/memory_hotplug.c (v7.2-era mainline).
 *
 * **Abstracted:**
 * 1. One zone, one migratetype, no per-cpu lists, watermarks, reclaim, compaction or CMA; scratch
 *    areas are simply never given to the allocator (the kernel makes them movable-only CMA).
 * 2. Deterministic: the smallest order that has a free block wins, and within an order the
 *    lowest address, so runs are reproducible and addresses are stable across schedules.
 * 3. Costs follow use: free blocks of the largest order are kept as address ranges, lower orders
 *    as sorted pfn lists, and a Page object exists only for owned frames (mm_types.ts). A 64 GiB
 *    machine costs a handful of ranges.
 * 4. Allocation and free are atomic (no visible operation): the zone lock's critical sections
 *    contain no scheduling point, and nothing observable depends on their interleaving.
 *
 * Paths: 1. alloc: split a larger block down to the order asked; 2. alloc with nothing free of
 * that order or above: -ENOMEM (as a value); 3. free: merge with a free buddy up to the largest
 * order; 4. free of a page that is not an owned head, or with the wrong order: model assertion
 * (the kernel would corrupt its free lists: "Bad page state").
 */
import { ModelAssertion } from '../../sim/index.ts';
import {
  MAX_ORDER_NR_PAGES,
  MAX_PAGE_ORDER,
  PAGE_SIZE,
  PFN_PHYS,
  count_trailing_zeros,
  ilog2,
} from '../include/asm-generic/page.ts';
import { ENOMEM } from '../include/uapi/asm-generic/errno.ts';
import { Page, folio_order, type Folio } from '../include/linux/mm_types.ts';
import type { PhysMem } from '../../machine/physmem.ts';
import { xarray } from '../lib/xarray.ts';

export const GFP_KERNEL = 0x1;
export const __GFP_ZERO = 0x100;
export const __GFP_COMP = 0x4000;

/** A range [start, end) of pfns. */
export type PfnRange = readonly [start: number, end: number];

/** Lowest index i with list[i] >= x. */
function lowerBound(list: readonly number[], x: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((list[mid] as number) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export class PageAlloc {
  readonly physmem: PhysMem;
  /** free_area[order] for order < MAX_PAGE_ORDER: sorted pfns of free blocks. */
  private readonly free_area: number[][] = [];
  /** Free blocks of MAX_PAGE_ORDER as sorted, disjoint, aligned pfn ranges. */
  private readonly free_max: Array<[number, number]> = [];
  /** Owned frames' metadata by pfn (see mm_types.ts): the memmap, sparse like SPARSEMEM's, so
   * it costs what is owned; an xarray keeps runs of neighbouring pfns cheap to reach. */
  readonly pages = new xarray<Page>();
  nr_free = 0;
  managed_pages = 0;

  constructor(physmem: PhysMem) {
    this.physmem = physmem;
    for (let o = 0; o < MAX_PAGE_ORDER; o++) this.free_area.push([]);
  }

  /** Releases boot memory to the allocator: sorted, disjoint pfn ranges (__free_pages_core). */
  free_ranges_init(ranges: readonly PfnRange[]): void {
    for (const [start, end] of ranges) {
      let pfn = start;
      while (pfn < end) {
        const align = Math.min(MAX_PAGE_ORDER, count_trailing_zeros(pfn));
        const order = Math.min(align, ilog2(end - pfn));
        if (order === MAX_PAGE_ORDER) {
          const n = Math.floor((end - pfn) / MAX_ORDER_NR_PAGES) * MAX_ORDER_NR_PAGES;
          this.insertMax(pfn, pfn + n);
          pfn += n;
        } else {
          this.free_area[order]?.push(pfn);
          pfn += 1 << order;
        }
      }
      this.nr_free += end - start;
      this.managed_pages += end - start;
    }
    for (const list of this.free_area) list.sort((a, b) => a - b);
  }

  private insertMax(start: number, end: number): void {
    const ranges = this.free_max;
    let i = 0;
    while (i < ranges.length && (ranges[i] as [number, number])[1] < start) i++;
    const next = ranges[i];
    if (next && next[1] === start) {
      next[1] = end;
      const after = ranges[i + 1];
      if (after && after[0] === end) {
        next[1] = after[1];
        ranges.splice(i + 1, 1);
      }
    } else if (next && next[0] === end) {
      next[0] = start;
    } else {
      ranges.splice(i, 0, [start, end]);
    }
  }

  private takeBlock(order: number): number | null {
    for (let o = order; o <= MAX_PAGE_ORDER; o++) {
      let pfn: number;
      if (o < MAX_PAGE_ORDER) {
        const list = this.free_area[o] as number[];
        if (list.length === 0) continue;
        pfn = list.shift() as number;
      } else {
        const first = this.free_max[0];
        if (!first) return null;
        pfn = first[0];
        first[0] += MAX_ORDER_NR_PAGES;
        if (first[0] === first[1]) this.free_max.shift();
      }
      // expand(): hand the upper halves back, keep the lowest block of `order`.
      for (let h = o - 1; h >= order; h--) this.insertFree(pfn + (1 << h), h);
      return pfn;
    }
    return null;
  }

  private insertFree(pfn: number, order: number): void {
    if (order === MAX_PAGE_ORDER) {
      this.insertMax(pfn, pfn + MAX_ORDER_NR_PAGES);
      return;
    }
    const list = this.free_area[order] as number[];
    list.splice(lowerBound(list, pfn), 0, pfn);
  }

  private removeFree(pfn: number, order: number): boolean {
    const list = this.free_area[order] as number[];
    const i = lowerBound(list, pfn);
    if (list[i] !== pfn) return false;
    list.splice(i, 1);
    return true;
  }

  /** Allocates a block of 2^order pages; its head Page has refcount 1. */
  alloc(order: number, gfp: number): Page | null {
    if (!Number.isInteger(order) || order < 0 || order > MAX_PAGE_ORDER) return null;
    const pfn = this.takeBlock(order);
    if (pfn === null) return null;
    this.nr_free -= 1 << order;
    if ((gfp & __GFP_ZERO) !== 0)
      for (let i = 0; i < 1 << order; i++) this.physmem.zeroPage(pfn + i);
    const page = new Page(pfn);
    page._refcount = 1;
    page.order = order;
    page.compound = (gfp & __GFP_COMP) !== 0 && order > 0;
    this.pages.set(pfn, page);
    return page;
  }

  /** Returns a block to the free lists, merging buddies (__free_one_page). */
  free(page: Page, order: number): void {
    if (this.pages.get(page.pfn) !== page) {
      throw new ModelAssertion(`Bad page state: freeing pfn ${page.pfn}, which is not owned`);
    }
    if (page.order !== order) {
      throw new ModelAssertion(`Bad page state: pfn ${page.pfn} freed with order ${order}`);
    }
    this.pages.delete(page.pfn);
    this.nr_free += 1 << order;
    let pfn = page.pfn;
    let o = order;
    while (o < MAX_PAGE_ORDER) {
      const buddy = pfn ^ (1 << o);
      if (!this.removeFree(buddy, o)) break;
      pfn = Math.min(pfn, buddy);
      o++;
    }
    this.insertFree(pfn, o);
  }

  /** Makes `page` the tracked metadata for its frame (KHO reservations and restores). */
  track(page: Page): void {
    this.pages.set(page.pfn, page);
  }

  /** Free blocks as (pfn, order), ascending by pfn; for tests and checkers. */
  freeBlocks(): Array<[pfn: number, order: number]> {
    const out: Array<[number, number]> = [];
    this.free_area.forEach((list, order) => {
      for (const pfn of list) out.push([pfn, order]);
    });
    for (const [start, end] of this.free_max)
      for (let pfn = start; pfn < end; pfn += MAX_ORDER_NR_PAGES) out.push([pfn, MAX_PAGE_ORDER]);
    return out.sort((a, b) => a[0] - b[0]);
  }

  /** Free pfn ranges, ascending and merged; cheap on large machines. */
  freeRanges(): PfnRange[] {
    const blocks: Array<[number, number]> = [];
    this.free_area.forEach((list, order) => {
      for (const pfn of list) blocks.push([pfn, pfn + (1 << order)]);
    });
    for (const r of this.free_max) blocks.push([r[0], r[1]]);
    blocks.sort((a, b) => a[0] - b[0]);
    const out: Array<[number, number]> = [];
    for (const b of blocks) {
      const last = out[out.length - 1];
      if (last && last[1] === b[0]) last[1] = b[1];
      else out.push([b[0], b[1]]);
    }
    return out;
  }
}

/** What the kernel-facing functions need: the boot's allocator. */
export interface HasPageAlloc {
  readonly page_alloc: PageAlloc;
}

/** alloc_pages(gfp, order): the head page, or -ENOMEM when no block is free. */
export function alloc_pages(k: HasPageAlloc, gfp: number, order: number): Page | number {
  return k.page_alloc.alloc(order, gfp) ?? -ENOMEM;
}

export function __free_pages(k: HasPageAlloc, page: Page, order: number): void {
  k.page_alloc.free(page, order);
}

/** folio_alloc(gfp, order): a compound folio with refcount 1, or -ENOMEM. */
export function folio_alloc(k: HasPageAlloc, gfp: number, order: number): Folio | number {
  return k.page_alloc.alloc(order, gfp | __GFP_COMP) ?? -ENOMEM;
}

export function folio_get(folio: Folio): void {
  if (folio._refcount <= 0) throw new ModelAssertion(`folio_get on pfn ${folio.pfn} with no ref`);
  folio._refcount++;
}

/** Drops a reference; the last one frees the folio. A put at zero is a model assertion. */
export function folio_put(k: HasPageAlloc, folio: Folio): void {
  if (folio._refcount <= 0) {
    throw new ModelAssertion(`folio_put on pfn ${folio.pfn} whose refcount is already zero`);
  }
  folio._refcount--;
  if (folio._refcount === 0)
    k.page_alloc.free(folio, folio.compound ? folio_order(folio) : folio.order);
}

/** get_zeroed_page(gfp): the address of a zeroed page, or -ENOMEM. */
export function get_zeroed_page(k: HasPageAlloc, gfp: number): number {
  const page = k.page_alloc.alloc(0, gfp | __GFP_ZERO);
  return page === null ? -ENOMEM : PFN_PHYS(page.pfn);
}

/** free_page(addr): frees an order-0 page by its (direct-map) address. */
export function free_page(k: HasPageAlloc, addr: number): void {
  const page = k.page_alloc.pages.get(addr / PAGE_SIZE);
  if (!page) throw new ModelAssertion(`free_page(0x${addr.toString(16)}): not an owned page`);
  k.page_alloc.free(page, 0);
}

/** The owned page at `pfn`, or null (free, tail, or never owned in this boot). */
export function pfn_to_page(k: HasPageAlloc, pfn: number): Page | null {
  return k.page_alloc.pages.get(pfn) ?? null;
}

export function adjust_managed_page_count(k: HasPageAlloc, count: number): void {
  k.page_alloc.managed_pages += count;
}
