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
 * its page after every edit (fdt.ts), so the page always holds the current bytes. A task alone
 * in the execution may do a batch of tracker updates as one merged visible operation
 * (kho_solo_start, kho_preserve_folio_solo, kho_unpreserve_folio_solo; see "Merged runs").
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
import { op, type Access, type Sched, type Sim } from '../../../sim/index.ts';
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
import {
  __kho_radix_add_page,
  __kho_radix_del_page,
  kho_radix_cursor,
  type KhoRadixCursor,
} from './kho_radix_tree.ts';

/** "KHOP": the stamp kho_memory_init puts on the head page of every incoming block. */
export const KHO_PAGE_MAGIC = 0x4b484f50;

const kho_page_info_of = (order: number): bigint => (BigInt(KHO_PAGE_MAGIC) << 32n) | BigInt(order);

/** The stamps of the orders a restore accepts (0..MAX_PAGE_ORDER), made once. */
const KHO_PAGE_INFO: readonly bigint[] = Object.freeze(
  Array.from({ length: MAX_PAGE_ORDER + 1 }, (_, order) => kho_page_info_of(order)),
);

/** page->private of a stamped head: magic in the high half, order in the low half. */
export const kho_page_info = (order: number): bigint =>
  KHO_PAGE_INFO[order] ?? kho_page_info_of(order);

/**
 * The order of a head's stamp when it has the magic and an order up to MAX_PAGE_ORDER (what
 * kho_restore_page accepts), else -1. Comparing with the valid stamps is that same test without
 * shifting bigints per page.
 */
function kho_page_info_order(info: bigint): number {
  for (let order = 0; order <= MAX_PAGE_ORDER; order++)
    if (info === KHO_PAGE_INFO[order]) return order;
  return -1;
}

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

/** The tracker root for an update, or 0 after the kernel's WARN_ON_ONCE (KHO has no tracker). */
function kho_radix_root(k: Kernel, site: string, what: string): number {
  const root = k.kho.radix_root;
  if (root === 0) k.WARN_ON_ONCE(true, site, `KHO: ${what} without a tracker`);
  return root;
}

function* kho_radix_add_page(k: Kernel, pfn: number, order: number): Sched<number> {
  const root = kho_radix_root(k, 'kho_radix_add_page', 'preserve');
  if (root === 0) return -EINVAL;
  might_sleep(k.sim, 'kho_radix_add_page');
  return yield* guard_mutex(k, k.kho.radix_lock, () => __kho_radix_add_page(k, root, pfn, order));
}

/** kho_radix_add_page inside a merged run: the same check and update, the lock is the run's. */
function kho_radix_add_page_solo(
  k: Kernel,
  pfn: number,
  order: number,
  run: KhoRadixCursor,
): number {
  const root = kho_radix_root(k, 'kho_radix_add_page', 'preserve');
  if (root === 0) return -EINVAL;
  return __kho_radix_add_page(k, root, pfn, order, run);
}

function kho_radix_del_warn(k: Kernel, found: boolean, pfn: number, order: number): void {
  k.WARN_ON(!found, `KHO: unpreserve of pfn ${pfn} order ${order}, which was never preserved`);
}

function* kho_radix_del_page(k: Kernel, pfn: number, order: number): Sched {
  const root = kho_radix_root(k, 'kho_radix_del_page', 'unpreserve');
  if (root === 0) return;
  const found = yield* guard_mutex(k, k.kho.radix_lock, () =>
    __kho_radix_del_page(k, root, pfn, order),
  );
  kho_radix_del_warn(k, found, pfn, order);
}

/** kho_radix_del_page inside a merged run. */
function kho_radix_del_page_solo(k: Kernel, pfn: number, order: number, run: KhoRadixCursor): void {
  const root = kho_radix_root(k, 'kho_radix_del_page', 'unpreserve');
  if (root === 0) return;
  kho_radix_del_warn(k, __kho_radix_del_page(k, root, pfn, order, run), pfn, order);
}

/*
 * Merged runs. While the running task is the only live task (Sim.solo), nothing can run between
 * the tree-lock operations of consecutive updates, so a caller may do a whole batch of updates
 * inside ONE visible operation of its own whose footprint includes the tree lock (taken and
 * dropped): kho_solo_start performs it, kho_solo_end ends the run. In between the lock is owned
 * by the task (as it is inside each update of the fine path), and the run's cursor lets
 * consecutive updates skip the descent to a leaf they share. The *_solo functions do the same
 * checks, WARNs and tracker edits as their fine counterparts, in the same order. The kernel is
 * the fine path; a merged run is the same code with fewer scheduling points at which nobody
 * else could have run.
 */

/** Whether the running task may merge tracker updates: alone, not booting, tree lock free. */
function kho_radix_solo(k: Kernel): boolean {
  return k.sim.solo && !k.booting && k.kho.radix_lock.owner === null;
}

/** The tree lock's part of a merged operation's footprint. */
function kho_radix_lock_access(k: Kernel): Access[] {
  const object = k.kho.radix_lock.id;
  return [
    { object, kind: 'acquire' },
    { object, kind: 'release' },
  ];
}

/**
 * Starts a merged run (the caller has just performed its merged operation). The sleep check of
 * taking the lock is made once: nothing inside the run can change its answer.
 */
function kho_solo_begin(k: Kernel): KhoRadixCursor {
  might_sleep(k.sim, `mutex_lock(${k.kho.radix_lock.name})`);
  k.kho.radix_lock.owner = k.sim.current;
  return kho_radix_cursor();
}

export function kho_solo_end(k: Kernel): void {
  k.kho.radix_lock.owner = null;
}

/**
 * When the task may merge (kho_radix_solo): performs the merged operation `label`, whose
 * footprint is `access` plus the tree lock's, and starts a run; otherwise null (fine path).
 */
export function* kho_solo_start(
  k: Kernel,
  label: string,
  access: readonly Access[] = [],
): Sched<KhoRadixCursor | null> {
  if (!kho_radix_solo(k)) return null;
  yield op(label, [...access, ...kho_radix_lock_access(k)]);
  return kho_solo_begin(k);
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

/** kho_preserve_folio's check before the tracker: 0, or -EINVAL after a WARN. */
function kho_preserve_folio_check(k: Kernel, folio: Folio): number {
  if (!k.config.kexec_handover_debug) return 0;
  const overlap = kho_scratch_overlap(k, PFN_PHYS(folio.pfn), PAGE_SIZE << folio_order(folio));
  if (k.WARN_ON(overlap, `KHO: folio at pfn ${folio.pfn} overlaps scratch`)) return -EINVAL;
  return 0;
}

export function* kho_preserve_folio(k: Kernel, folio: Folio): Sched<number> {
  const err = kho_preserve_folio_check(k, folio);
  if (err !== 0) return err;
  return yield* kho_radix_add_page(k, folio.pfn, folio_order(folio));
}

/** kho_preserve_folio inside a merged run (see kho_radix_solo). */
export function kho_preserve_folio_solo(k: Kernel, folio: Folio, run: KhoRadixCursor): number {
  const err = kho_preserve_folio_check(k, folio);
  if (err !== 0) return err;
  return kho_radix_add_page_solo(k, folio.pfn, folio_order(folio), run);
}

export function* kho_unpreserve_folio(k: Kernel, folio: Folio): Sched {
  yield* kho_radix_del_page(k, folio.pfn, folio_order(folio));
}

/** kho_unpreserve_folio inside a merged run. */
export function kho_unpreserve_folio_solo(k: Kernel, folio: Folio, run: KhoRadixCursor): void {
  kho_radix_del_page_solo(k, folio.pfn, folio_order(folio), run);
}

export function* kho_preserve_pages(k: Kernel, page: Page, nr_pages: number): Sched<number> {
  return yield* kho_preserve_pfns(k, page.pfn, nr_pages);
}

/**
 * kho_preserve_pages by pfn, for callers that hold no Page for the range (tails, vmalloc). With
 * `run`, the updates belong to the caller's merged run and nothing yields.
 */
export function* kho_preserve_pfns(
  k: Kernel,
  start: number,
  nr_pages: number,
  run: KhoRadixCursor | null = null,
): Sched<number> {
  const overlap = kho_scratch_overlap(k, PFN_PHYS(start), nr_pages * PAGE_SIZE);
  if (k.WARN_ON(overlap, `KHO: pages at pfn ${start} overlap scratch`)) return -EINVAL;
  const done: Array<[number, number]> = [];
  for (const [pfn, order] of kho_split_range(start, start + nr_pages)) {
    const err =
      run !== null
        ? kho_radix_add_page_solo(k, pfn, order, run)
        : yield* kho_radix_add_page(k, pfn, order);
    if (err !== 0) {
      for (const [p, o] of done)
        if (run !== null) kho_radix_del_page_solo(k, p, o, run);
        else yield* kho_radix_del_page(k, p, o);
      return err;
    }
    done.push([pfn, order]);
  }
  return 0;
}

export function* kho_unpreserve_pages(k: Kernel, page: Page, nr_pages: number): Sched {
  yield* kho_unpreserve_pfns(k, page.pfn, nr_pages);
}

export function* kho_unpreserve_pfns(
  k: Kernel,
  start: number,
  nr_pages: number,
  run: KhoRadixCursor | null = null,
): Sched {
  for (const [pfn, order] of kho_split_range(start, start + nr_pages))
    if (run !== null) kho_radix_del_page_solo(k, pfn, order, run);
    else yield* kho_radix_del_page(k, pfn, order);
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
  const order = kho_page_info_order(head?.private ?? 0n);
  if (order < 0) {
    k.WARN_ON_ONCE(
      true,
      'kho_restore_page',
      `KHO: restore of 0x${phys.toString(16)}, not a preserved head`,
    );
    return null;
  }
  const nr = 1 << order;
  if (!is_folio) {
    for (let i = 0; i < nr; i++) {
      const page = new Page(pfn + i);
      page._refcount = 1;
      k.page_alloc.track(page);
    }
    adjust_managed_page_count(k, nr);
    return k.page_alloc.pages.get(pfn) ?? null;
  }
  const folio = head as Page;
  folio.private = 0n;
  folio.reserved = false;
  folio._refcount = 1;
  folio.order = order;
  folio.compound = order > 0;
  adjust_managed_page_count(k, nr);
  return folio;
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
