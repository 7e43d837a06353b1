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
 */
import { PAGE_SIZE, PFN_PHYS, phys_to_virt } from '../asm-generic/page.ts';

export class Page {
  readonly pfn: number;
  _refcount = 0;
  /** Order of the block this page heads (0 for a single page). */
  order = 0;
  /** Head of a compound page, i.e. a folio of `order`. */
  compound = false;
  /** PG_reserved: memblock-reserved, not owned by the buddy allocator (KHO-preserved blocks
   * before restore). */
  reserved = false;
  /** page->private; KHO stamps `(KHO_PAGE_MAGIC << 32) | order` on preserved heads. */
  private = 0n;
  /** Page flags as a bit set; subsystems define their own PG_ bits. */
  flags = 0;
  /** folio->mapping: the owning address space, if any. */
  mapping: unknown = null;
  /** folio->index: offset in the mapping, in pages. */
  index = 0;

  constructor(pfn: number) {
    this.pfn = pfn;
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
