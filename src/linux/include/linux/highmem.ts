/**
 * Copying to, from and zeroing folio contents through the direct map.
 *
 * **Models:** include/linux/highmem.h (v7.2-era mainline): memcpy_to_folio, memcpy_from_folio,
 * folio_zero_range, folio_zero_segment, clear_highpage; folio_file_page's pfn arithmetic of
 * include/linux/pagemap.h.
 * **Abstracted:** no highmem, no kmap: every folio is in the direct map, so the bytes are the
 * machine's physical memory at folio_phys. Zeroing a whole page drops its bytes (PhysMem), which
 * keeps memory costs proportional to pages that hold data. Offsets past the folio are a model
 * assertion (the kernel would BUG or corrupt a neighbour).
 */
import { ModelAssertion } from '../../../sim/index.ts';
import type { PhysMem } from '../../../machine/physmem.ts';
import { PAGE_SIZE, PFN_PHYS } from '../asm-generic/page.ts';
import { folio_nr_pages, folio_size, type Folio } from './mm_types.ts';

/** What the helpers need: the machine's memory. */
export interface HasPhysMem {
  readonly machine: { readonly physmem: PhysMem };
}

function check(folio: Folio, offset: number, len: number): void {
  if (offset < 0 || len < 0 || offset + len > folio_size(folio)) {
    throw new ModelAssertion(
      `folio at pfn ${folio.pfn}: ${len} bytes at ${offset} exceed ${folio_size(folio)}`,
    );
  }
}

/** memcpy_to_folio(folio, offset, from, len). */
export function memcpy_to_folio(
  k: HasPhysMem,
  folio: Folio,
  offset: number,
  from: Uint8Array,
): void {
  check(folio, offset, from.length);
  k.machine.physmem.write(PFN_PHYS(folio.pfn) + offset, from);
}

/** memcpy_from_folio(to, folio, offset, len): a copy of the bytes. */
export function memcpy_from_folio(
  k: HasPhysMem,
  folio: Folio,
  offset: number,
  len: number,
): Uint8Array {
  check(folio, offset, len);
  return k.machine.physmem.read(PFN_PHYS(folio.pfn) + offset, len);
}

/** folio_zero_range(folio, offset, len): whole pages drop their bytes, partial ones get zeros. */
export function folio_zero_range(k: HasPhysMem, folio: Folio, offset: number, len: number): void {
  check(folio, offset, len);
  const mem = k.machine.physmem;
  let at = offset;
  const end = offset + len;
  while (at < end) {
    const inPage = at % PAGE_SIZE;
    const n = Math.min(PAGE_SIZE - inPage, end - at);
    const pfn = folio.pfn + Math.floor(at / PAGE_SIZE);
    if (n === PAGE_SIZE) mem.zeroPage(pfn);
    else if (mem.pageBytes(pfn) !== null) mem.write(PFN_PHYS(pfn) + inPage, new Uint8Array(n));
    at += n;
  }
}

/** folio_zero_segment(folio, start, end). */
export function folio_zero_segment(k: HasPhysMem, folio: Folio, start: number, end: number): void {
  folio_zero_range(k, folio, start, end - start);
}

/** Zeroes every page of the folio (clear_highpage on each page, folio_zero_user). */
export function folio_zero(k: HasPhysMem, folio: Folio): void {
  for (let i = 0; i < folio_nr_pages(folio); i++) k.machine.physmem.zeroPage(folio.pfn + i);
}

/** The pfn of file page `index` inside `folio` (folio_file_page). */
export function folio_file_pfn(folio: Folio, index: number): number {
  const i = index - folio.index;
  if (i < 0 || i >= folio_nr_pages(folio)) {
    throw new ModelAssertion(`index ${index} is not in the folio at ${folio.index}`);
  }
  return folio.pfn + i;
}
