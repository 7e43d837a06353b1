/**
 * Page geometry and the address/pfn conversions every memory module uses.
 *
 * **Models:** include/asm-generic/page.h, include/linux/pfn.h, include/asm-generic/getorder.h and
 * MAX_PAGE_ORDER of include/linux/mmzone.h, for x86-64 with 4 KiB pages (v7.2-era mainline).
 *
 * **Abstracted:** the direct map is the identity: a kernel virtual address of a directly mapped
 * page is its physical address (phys_to_virt/virt_to_phys are identities), which keeps
 * addresses printable and lets preserved pointers be read back unchanged. Addresses and pfns are
 * JavaScript numbers (exact below 2^53, far above any modelled machine); u64 values in handover
 * bytes are bigints.
 */
import { PAGE_SHIFT, PAGE_SIZE } from '../../../machine/physmem.ts';

export { PAGE_SHIFT, PAGE_SIZE };
/** The largest buddy order (4 MiB blocks with 4 KiB pages). */
export const MAX_PAGE_ORDER = 10;
export const MAX_ORDER_NR_PAGES = 1 << MAX_PAGE_ORDER;

export const PFN_PHYS = (pfn: number): number => pfn * PAGE_SIZE;
/** The pfn of `phys`; an int32 result is made one (V8 then stores it as a small integer, not a
 * boxed double, in the Page objects that keep it). */
export const PHYS_PFN = (phys: number): number => {
  const pfn = Math.floor(phys / PAGE_SIZE);
  return pfn === (pfn | 0) ? pfn | 0 : pfn;
};
export const PAGE_ALIGNED = (addr: number): boolean => addr % PAGE_SIZE === 0;
export const phys_to_virt = (phys: number): number => phys;
export const virt_to_phys = (virt: number): number => virt;

/** The smallest order whose block holds `size` bytes (size >= 1). */
export function get_order(size: number): number {
  let order = 0;
  while (PAGE_SIZE * 2 ** order < size) order++;
  return order;
}

/** Number of trailing zero bits of a pfn; 64 for pfn 0, as the kernel's count_trailing_zeros on
 * an unsigned long. */
export function count_trailing_zeros(pfn: number): number {
  if (pfn === 0) return 64;
  let n = 0;
  while (pfn % 2 ** (n + 1) === 0) n++;
  return n;
}

/** floor(log2(n)) for n >= 1. */
export function ilog2(n: number): number {
  let r = 0;
  while (2 ** (r + 1) <= n) r++;
  return r;
}
