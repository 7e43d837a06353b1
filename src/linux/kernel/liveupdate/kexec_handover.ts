/**
 * Kexec HandOver (KHO): the API other subsystems call to keep memory and named blobs across a
 * kexec, and to take them back in the next kernel.
 *
 * **Models:** kernel/liveupdate/kexec_handover.c and include/linux/kexec_handover.h, v7.2-era
 * mainline (`kho-v4`, no finalize step; spec §4.1, §4.2, §4.5, §4.7): kho_preserve_folio,
 * kho_unpreserve_folio, kho_preserve_pages, kho_unpreserve_pages, kho_alloc_preserve,
 * kho_unpreserve_free, kho_add_subtree, kho_remove_subtree, kho_retrieve_subtree,
 * kho_restore_folio, kho_restore_pages, kho_restore_free, is_kho_boot, kho_is_enabled. The
 * tracker is in kho_radix_tree.ts, vmalloc in kexec_handover_vmalloc.ts, boot in
 * kexec_handover_init.ts.
 *
 * **Abstracted:** no debugfs; no NUMA split of page ranges (one node); addresses are
 * direct-map identities (asm-generic/page.ts). The root FDT is a tree value re-serialized into
 * its page after every edit (fdt.ts), so the page always holds the current bytes.
 *
 * Paths:
 * 1. preserve without a tracker (KHO disabled): WARN, -EINVAL; with CONFIG_KEXEC_HANDOVER_DEBUG,
 *    a range overlapping scratch: WARN, -EINVAL; a tracker page allocation failing: -ENOMEM;
 *    kho_preserve_pages failing part-way undoes the blocks it added.
 * 2. The tracker holds one bit per key: preserving twice and unpreserving once leaves the block
 *    unpreserved; unpreserving a key whose path is missing WARNs.
 * 3. kho_alloc_preserve: size 0 -EINVAL, order > MAX_PAGE_ORDER -E2BIG, no memory -ENOMEM.
 * 4. kho_add_subtree: name exists -EEXIST; any other FDT failure (page full, bad name) -ENOMEM.
 * 5. kho_retrieve_subtree: no incoming FDT or no node -ENOENT; property missing or not 8 bytes
 *    -EINVAL.
 * 6. restore: a page never preserved, already restored, a tail, or offline: WARN_ON_ONCE, null.
 */
import type { Sched, Sim } from '../../../sim/index.ts';
import { Mutex, might_sleep } from '../../../sync/index.ts';
import {
  MAX_PAGE_ORDER,
  PAGE_SIZE,
  PFN_PHYS,
  PHYS_PFN,
  count_trailing_zeros,
  get_order,
  ilog2,
  virt_to_phys,
} from '../../include/asm-generic/page.ts';
import { Page, folio_order, type Folio } from '../../include/linux/mm_types.ts';
import { E2BIG, EEXIST, EINVAL, ENOENT, ENOMEM } from '../../include/uapi/asm-generic/errno.ts';
import {
  KHO_FDT_SUB_TREE_PROP_NAME,
  KHO_FDT_SUB_TREE_SIZE_PROP_NAME,
} from '../../include/linux/kho/abi/kexec_handover.ts';
import {
  FdtError,
  fdtFindNode,
  fdtGetProp,
  fdtParse,
  fdtSerialize,
  propU64LE,
  readU64LE,
  type FdtNode,
} from '../../lib/fdt.ts';
import {
  GFP_KERNEL,
  __GFP_ZERO,
  adjust_managed_page_count,
  folio_alloc,
  folio_put,
} from '../../mm/page_alloc.ts';
import type { Kernel } from '../../kernel.ts';
import { guard_mutex } from '../../include/linux/cleanup.ts';
import { __kho_radix_add_page, __kho_radix_del_page } from './kho_radix_tree.ts';

/** "KHOP": the stamp kho_memory_init puts on the head page of every incoming block. */
export const KHO_PAGE_MAGIC = 0x4b484f50;

/** page->private of a stamped head: magic in the high half, order in the low half. */
export const kho_page_info = (order: number): bigint =>
  (BigInt(KHO_PAGE_MAGIC) << 32n) | BigInt(order);

/** struct kho_scratch, with the model's number addresses. */
export interface KhoScratchArea {
  readonly addr: number;
  readonly size: number;
}

/** KHO's per-boot state: kho_out, kho_in, the scratch list and kho_enable. */
export class Kho {
  enabled = false;
  /** kho_out.lock: protects the outgoing root FDT. */
  readonly lock: Mutex;
  /** kho_out.radix_tree.lock. */
  readonly radix_lock: Mutex;
  /** Outgoing root FDT page (0 = none) and its current tree. */
  out_fdt = 0;
  out_tree: FdtNode | null = null;
  /** Outgoing tracker root node page (0 = none). */
  radix_root = 0;
  /** Incoming root FDT (0 = not a KHO boot) and whether scratch came from the previous kernel. */
  in_fdt_phys = 0;
  in_scratch = false;
  /** The incoming tracker root, as read from the FDT. */
  in_mem_map = 0n;
  scratch: KhoScratchArea[] = [];
  /** Incoming kexec count (0 on a cold boot) and the outgoing metadata blob. */
  in_kexec_count = 0;
  in_release: string | null = null;
  out_metadata = 0;

  constructor(sim: Sim) {
    this.lock = new Mutex(sim, 'kho_out.lock');
    this.radix_lock = new Mutex(sim, 'kho_out.radix_tree.lock');
  }
}

export const kho_is_enabled = (k: Kernel): boolean => k.kho.enabled;

/** True when the previous kernel passed valid KHO data (independent of kho=). */
export const is_kho_boot = (k: Kernel): boolean => k.kho.in_fdt_phys !== 0;

function kho_scratch_overlap(k: Kernel, phys: number, size: number): boolean {
  if (!k.config.kexec_handover_debug) return false;
  return k.kho.scratch.some((s) => phys < s.addr + s.size && s.addr < phys + size);
}

function* kho_radix_add_page(k: Kernel, pfn: number, order: number): Sched<number> {
  const root = k.kho.radix_root;
  if (k.WARN_ON_ONCE(root === 0, 'kho_radix_add_page', 'KHO: preserve without a tracker'))
    return -EINVAL;
  might_sleep(k.sim, 'kho_radix_add_page');
  return yield* guard_mutex(k, k.kho.radix_lock, () => __kho_radix_add_page(k, root, pfn, order));
}

function* kho_radix_del_page(k: Kernel, pfn: number, order: number): Sched {
  const root = k.kho.radix_root;
  if (k.WARN_ON_ONCE(root === 0, 'kho_radix_del_page', 'KHO: unpreserve without a tracker')) return;
  const found = yield* guard_mutex(k, k.kho.radix_lock, () =>
    __kho_radix_del_page(k, root, pfn, order),
  );
  k.WARN_ON(!found, `KHO: unpreserve of pfn ${pfn} order ${order}, which was never preserved`);
}

/** The naturally aligned blocks of [pfn, end): order = min(ctz(pfn), log2(remaining)). */
export function kho_split_range(pfn: number, end: number): Array<[pfn: number, order: number]> {
  const out: Array<[number, number]> = [];
  while (pfn < end) {
    const order = Math.min(count_trailing_zeros(pfn), ilog2(end - pfn));
    out.push([pfn, order]);
    pfn += 2 ** order;
  }
  return out;
}

export function* kho_preserve_folio(k: Kernel, folio: Folio): Sched<number> {
  const order = folio_order(folio);
  const overlap = kho_scratch_overlap(k, PFN_PHYS(folio.pfn), PAGE_SIZE << order);
  if (k.WARN_ON(overlap, `KHO: folio at pfn ${folio.pfn} overlaps scratch`)) return -EINVAL;
  return yield* kho_radix_add_page(k, folio.pfn, order);
}

export function* kho_unpreserve_folio(k: Kernel, folio: Folio): Sched {
  yield* kho_radix_del_page(k, folio.pfn, folio_order(folio));
}

export function* kho_preserve_pages(k: Kernel, page: Page, nr_pages: number): Sched<number> {
  return yield* kho_preserve_pfns(k, page.pfn, nr_pages);
}

/** kho_preserve_pages by pfn, for callers that hold no Page for the range (tails, vmalloc). */
export function* kho_preserve_pfns(k: Kernel, start: number, nr_pages: number): Sched<number> {
  const overlap = kho_scratch_overlap(k, PFN_PHYS(start), nr_pages * PAGE_SIZE);
  if (k.WARN_ON(overlap, `KHO: pages at pfn ${start} overlap scratch`)) return -EINVAL;
  const done: Array<[number, number]> = [];
  for (const [pfn, order] of kho_split_range(start, start + nr_pages)) {
    const err = yield* kho_radix_add_page(k, pfn, order);
    if (err !== 0) {
      for (const [p, o] of done) yield* kho_radix_del_page(k, p, o);
      return err;
    }
    done.push([pfn, order]);
  }
  return 0;
}

export function* kho_unpreserve_pages(k: Kernel, page: Page, nr_pages: number): Sched {
  yield* kho_unpreserve_pfns(k, page.pfn, nr_pages);
}

export function* kho_unpreserve_pfns(k: Kernel, start: number, nr_pages: number): Sched {
  for (const [pfn, order] of kho_split_range(start, start + nr_pages))
    yield* kho_radix_del_page(k, pfn, order);
}

/** A zeroed, preserved block of get_order(size); its address, or a negative errno. */
export function* kho_alloc_preserve(k: Kernel, size: number): Sched<number> {
  if (size <= 0) return -EINVAL;
  const order = get_order(size);
  if (order > MAX_PAGE_ORDER) return -E2BIG;
  const folio = folio_alloc(k, GFP_KERNEL | __GFP_ZERO, order);
  if (typeof folio === 'number') return -ENOMEM;
  const ret = yield* kho_preserve_folio(k, folio);
  if (ret !== 0) {
    folio_put(k, folio);
    return ret;
  }
  return PFN_PHYS(folio.pfn);
}

export function* kho_unpreserve_free(k: Kernel, mem: number): Sched {
  if (mem === 0) return;
  const folio = k.page_alloc.pages.get(PHYS_PFN(virt_to_phys(mem)));
  if (!folio) k.sim.fail(`kho_unpreserve_free(0x${mem.toString(16)}): not a folio`);
  yield* kho_unpreserve_folio(k, folio);
  folio_put(k, folio);
}

/** Writes the outgoing root FDT into its page; 0 or -ENOMEM (libfdt failure). */
export function kho_out_fdt_write(k: Kernel, tree: FdtNode): number {
  let bytes: Uint8Array;
  try {
    bytes = fdtSerialize(tree, { bufferSize: PAGE_SIZE });
  } catch (e) {
    if (e instanceof FdtError) return -ENOMEM;
    throw e;
  }
  const page = new Uint8Array(PAGE_SIZE);
  page.set(bytes);
  k.machine.physmem.write(k.kho.out_fdt, page);
  k.kho.out_tree = tree;
  return 0;
}

/** Names `blob` (size bytes at a kernel address) in the root FDT. The caller preserves it. */
export function* kho_add_subtree(
  k: Kernel,
  name: string,
  blob: number,
  size: number,
): Sched<number> {
  return yield* guard_mutex(k, k.kho.lock, () => {
    const tree = k.kho.out_tree;
    if (tree === null) return -ENOMEM;
    if (tree.children.some((c) => c.name === name)) return -EEXIST;
    const child: FdtNode = {
      name,
      props: [
        { name: KHO_FDT_SUB_TREE_PROP_NAME, value: propU64LE(BigInt(virt_to_phys(blob))) },
        { name: KHO_FDT_SUB_TREE_SIZE_PROP_NAME, value: propU64LE(BigInt(size)) },
      ],
      children: [],
    };
    return kho_out_fdt_write(k, { ...tree, children: [...tree.children, child] });
  });
}

export function* kho_remove_subtree(k: Kernel, blob: number): Sched {
  yield* guard_mutex(k, k.kho.lock, () => {
    const tree = k.kho.out_tree;
    if (tree === null) return;
    const target = BigInt(virt_to_phys(blob));
    const i = tree.children.findIndex((c) => {
      const v = fdtGetProp(c, KHO_FDT_SUB_TREE_PROP_NAME);
      return v !== null && v.length === 8 && readU64LE(v) === target;
    });
    if (i < 0) return;
    kho_out_fdt_write(k, { ...tree, children: tree.children.filter((_, j) => j !== i) });
  });
}

/** The incoming subtree `name`: its blob's address and size, or a negative errno. */
export function kho_retrieve_subtree(
  k: Kernel,
  name: string,
): { phys: number; size: number } | number {
  if (!is_kho_boot(k)) return -ENOENT;
  const root = fdtParse(k.machine.physmem.read(k.kho.in_fdt_phys, PAGE_SIZE));
  if (name.includes('/')) return -ENOENT;
  const node = fdtFindNode(root, `/${name}`);
  if (node === null) return -ENOENT;
  const phys = fdtGetProp(node, KHO_FDT_SUB_TREE_PROP_NAME);
  const size = fdtGetProp(node, KHO_FDT_SUB_TREE_SIZE_PROP_NAME);
  if (phys?.length !== 8 || size?.length !== 8) return -EINVAL;
  const p = readU64LE(phys);
  const s = readU64LE(size);
  if (p > BigInt(Number.MAX_SAFE_INTEGER) || s > BigInt(Number.MAX_SAFE_INTEGER)) return -EINVAL;
  return { phys: Number(p), size: Number(s) };
}

/** kho_restore_page: checks and clears the head stamp, then owns the block. */
function kho_restore_page(k: Kernel, phys: number, is_folio: boolean): Page | null {
  const pfn = PHYS_PFN(phys);
  if (phys % PAGE_SIZE !== 0 || pfn < 0 || pfn >= k.machine.physmem.pageCount) return null;
  const head = k.page_alloc.pages.get(pfn);
  const info = head?.private ?? 0n;
  const magic = Number(info >> 32n);
  const order = Number(info & 0xffff_ffffn);
  const bad = magic !== KHO_PAGE_MAGIC || order > MAX_PAGE_ORDER;
  if (
    k.WARN_ON_ONCE(
      bad,
      'kho_restore_page',
      `KHO: restore of 0x${phys.toString(16)}, not a preserved head`,
    )
  )
    return null;
  const nr = 1 << order;
  if (is_folio) {
    const folio = head as Page;
    folio.private = 0n;
    folio.reserved = false;
    folio._refcount = 1;
    folio.order = order;
    folio.compound = order > 0;
  } else {
    for (let i = 0; i < nr; i++) {
      const page = new Page(pfn + i);
      page._refcount = 1;
      k.page_alloc.track(page);
    }
  }
  adjust_managed_page_count(k, nr);
  return k.page_alloc.pages.get(pfn) ?? null;
}

export function kho_restore_folio(k: Kernel, phys: number): Folio | null {
  return kho_restore_page(k, phys, true);
}

/** Restores [phys, phys + nr pages) as order-0 pages; blocks restored before a failure stay. */
export function kho_restore_pages(k: Kernel, phys: number, nr_pages: number): Page | null {
  const start = PHYS_PFN(phys);
  for (const [pfn] of kho_split_range(start, start + nr_pages)) {
    if (kho_restore_page(k, PFN_PHYS(pfn), false) === null) return null;
  }
  return k.page_alloc.pages.get(start) ?? null;
}

/** Restores a kho_alloc_preserve block and gives it back to the allocator. */
export function kho_restore_free(k: Kernel, mem: number): void {
  if (mem === 0) return;
  const folio = kho_restore_folio(k, virt_to_phys(mem));
  if (!k.WARN_ON(folio === null, `KHO: kho_restore_free(0x${mem.toString(16)}) failed`))
    folio_put(k, folio as Folio);
}
