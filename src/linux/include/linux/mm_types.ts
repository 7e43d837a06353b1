/**
 * struct page and struct folio: the per-frame metadata of the memory the kernel has handed out.
 *
 * **Models:** include/linux/mm_types.h (struct page: _refcount, private, mapping, index, flags;
 * struct folio as the head page of a compound page) and the folio accessors of
 * include/linux/mm.h (folio_pfn, folio_order, folio_nr_pages, folio_address, page_folio,
 * folio_ref_count), v7.2-era mainline.
 *
 * **Abstracted:**
 * 1. A Page object exists only for frames someone owns: the head of an allocated block, each
 *    page of a block restored with kho_restore_pages, and the head of a preserved block waiting
 *    to be restored (it carries the KHO stamp in `private`). Free frames and tail pages have no
 *    object, so memory for metadata follows use.
 * 2. A folio is its head Page (`Folio` is an alias); tails are addressed by pfn.
 * 3. The refcount is a plain field: the allocator and KHO restore run atomically in the model.
 *    Subsystems that race on it (pinning, lookups) wrap it in their own visible operations.
 * 4. `compound` (PG_head) and `reserved` (PG_reserved) are bits of `flags`, read and written
 *    through accessors, as in the kernel's page flags; the objects stay small (a fully
 *    populated 16 GiB guest_memfd has four million of them on each side of a kexec).
 */
import { PAGE_SIZE, PFN_PHYS, phys_to_virt } from '../asm-generic/page.ts';

/** PG_head and PG_reserved (page-flags.ts has the others), numbered as in the kernel's enum. */
export const PG_head = 1 << 6;
export const PG_reserved = 1 << 13;

export class Page {
  readonly pfn: number;
  _refcount = 0;
  /** Order of the block this page heads (0 for a single page). */
  order = 0;
  /** page->private; KHO stamps `(KHO_PAGE_MAGIC << 32) | order` on preserved heads. */
  private = 0n;
  /** Page flags as a bit set (PG_*), including `compound` and `reserved` below. */
  flags = 0;
  /** folio->mapping: the owning address space, if any. */
  mapping: unknown = null;
  /** folio->index: offset in the mapping, in pages. */
  index = 0;

  constructor(pfn: number) {
    this.pfn = pfn;
  }

  /** PG_head: head of a compound page, i.e. a folio of `order`. A flag bit, as in the kernel,
   * which also keeps the millions of Page objects of a large guest_memfd smaller. */
  get compound(): boolean {
    return (this.flags & PG_head) !== 0;
  }

  set compound(v: boolean) {
    this.flags = v ? this.flags | PG_head : this.flags & ~PG_head;
  }

  /** PG_reserved: memblock-reserved, not owned by the buddy allocator (KHO-preserved blocks
   * before restore). */
  get reserved(): boolean {
    return (this.flags & PG_reserved) !== 0;
  }

  set reserved(v: boolean) {
    this.flags = v ? this.flags | PG_reserved : this.flags & ~PG_reserved;
  }
}

export type Folio = Page;

export const page_to_pfn = (page: Page): number => page.pfn;
export const page_to_phys = (page: Page): number => PFN_PHYS(page.pfn);
export const page_address = (page: Page): number => phys_to_virt(PFN_PHYS(page.pfn));
export const page_private = (page: Page): bigint => page.private;
export const set_page_private = (page: Page, v: bigint): void => {
  page.private = v;
};
export const page_count = (page: Page): number => page._refcount;
export const set_page_count = (page: Page, v: number): void => {
  page._refcount = v;
};

export const page_folio = (page: Page): Folio => page;
export const folio_pfn = (folio: Folio): number => folio.pfn;
export const folio_order = (folio: Folio): number => (folio.compound ? folio.order : 0);
export const folio_nr_pages = (folio: Folio): number => 1 << folio_order(folio);
export const folio_size = (folio: Folio): number => PAGE_SIZE * folio_nr_pages(folio);
export const folio_address = (folio: Folio): number => page_address(folio);
export const folio_phys = (folio: Folio): number => PFN_PHYS(folio.pfn);
export const folio_ref_count = (folio: Folio): number => folio._refcount;
