/**
 * The page cache: an inode's address_space, a sparse map from page index to folio.
 *
 * **Models:** mm/filemap.c and include/linux/pagemap.h (v7.2-era mainline): struct
 * address_space (i_pages, nrpages, invalidate_lock, i_mmap, i_mmap_writable, flags),
 * filemap_get_folio / __filemap_get_folio (FGP_CREAT), filemap_add_folio, filemap_remove_folio,
 * filemap_get_folios, filemap_invalidate_lock{,_shared}/unlock{,_shared}, mapping_map_writable
 * and mapping_deny_writable; truncate_inode_pages_range, truncate_inode_pages and
 * truncate_pagecache(_range) of mm/truncate.c.
 *
 * **Abstracted:**
 * 1. i_pages is an xarray (lib/xarray.ts) with one entry per page index a folio covers (a large
 *    folio appears under each of its indices); entries exist only for cached pages, so a huge
 *    sparse file costs only what it caches. The xa_lock is one visible operation per page-cache lookup
 *    or update (footprint: the mapping), and the update itself is atomic.
 * 2. The page cache holds folio_nr_pages references on a folio it caches, as in the kernel;
 *    removing the folio drops them (filemap_free_folio).
 * 3. No LRU, no writeback, no shadow entries, no readahead, no memcg charge.
 * 4. A partial large folio at a truncation edge is zeroed over the range, never split.
 *
 * Paths: add: 1. the index is free: 0; 2. occupied: -EEXIST. __filemap_get_folio: 1. cached: the
 * folio with a new reference; 2. absent without FGP_CREAT: -ENOENT; 3. FGP_CREAT: a new,
 * not-uptodate order-0 folio (its bytes are whatever the frame held), -ENOMEM if none is free,
 * or the racing folio if another task added one first.
 */
import { op, type Sched, type Sim } from '../../sim/index.ts';
import { RwSemaphore, down_read, down_write, up_read, up_write } from '../../sync/index.ts';
import type { inode } from '../fs/file.ts';
import { xarray } from '../lib/xarray.ts';
import { PAGE_SIZE } from '../include/asm-generic/page.ts';
import { folio_zero_range, type HasPhysMem } from '../include/linux/highmem.ts';
import type { vm_area_struct } from '../include/linux/mm.ts';
import { folio_nr_pages, folio_size, type Folio } from '../include/linux/mm_types.ts';
import { EBUSY, EEXIST, ENOENT, ENOMEM, EPERM } from '../include/uapi/asm-generic/errno.ts';
import { GFP_KERNEL, folio_alloc, folio_put, type HasPageAlloc } from './page_alloc.ts';
import { unmap_mapping_range } from './memory.ts';

export type MmKernel = HasPageAlloc & HasPhysMem;

export const FGP_ACCESSED = 0x1;
export const FGP_LOCK = 0x2;
export const FGP_CREAT = 0x4;

/** AS_* mapping flags (include/linux/pagemap.h). */
export const AS_UNEVICTABLE = 1 << 3;
export const AS_INACCESSIBLE = 1 << 8;

/** struct address_space_operations: the hooks the model's mappings use. */
export interface address_space_operations {
  /** Called once the page cache has dropped a folio (e.g. guest_memfd's free_folio). */
  free_folio?(folio: Folio): void;
}

export class address_space {
  readonly host: inode;
  readonly id: number;
  /** index → folio, one entry per page the folio covers. */
  readonly i_pages = new xarray<Folio>();
  nrpages = 0;
  readonly invalidate_lock: RwSemaphore;
  /** The vmas mapping this file (for unmap_mapping_range). */
  readonly i_mmap = new Set<vm_area_struct>();
  /** > 0: that many shared maybe-writable mappings; < 0: writable mappings denied. */
  i_mmap_writable = 0;
  a_ops: address_space_operations = {};
  flags = 0;
  private_data: unknown = null;

  constructor(sim: Sim, host: inode, name: string) {
    this.host = host;
    this.id = sim.newObject(`${name}.i_pages`);
    this.invalidate_lock = new RwSemaphore(sim, `${name}.invalidate_lock`);
  }
}

export const filemap_invalidate_lock = (m: address_space): Sched => down_write(m.invalidate_lock);
export const filemap_invalidate_unlock = (m: address_space): Sched => up_write(m.invalidate_lock);
export const filemap_invalidate_lock_shared = (m: address_space): Sched =>
  down_read(m.invalidate_lock);
export const filemap_invalidate_unlock_shared = (m: address_space): Sched =>
  up_read(m.invalidate_lock);

/** mapping_map_writable: -EPERM if writable mappings are denied (F_SEAL_WRITE). */
export function mapping_map_writable(m: address_space): number {
  if (m.i_mmap_writable < 0) return -EPERM;
  m.i_mmap_writable++;
  return 0;
}

export function mapping_unmap_writable(m: address_space): void {
  m.i_mmap_writable--;
}

/** mapping_deny_writable: -EBUSY while a shared writable mapping exists. */
export function mapping_deny_writable(m: address_space): number {
  if (m.i_mmap_writable > 0) return -EBUSY;
  m.i_mmap_writable--;
  return 0;
}

/** The cached folio at `index`, no reference taken (caller holds what keeps it stable). */
export function filemap_peek(m: address_space, index: number): Folio | null {
  return m.i_pages.get(index) ?? null;
}

/** filemap_get_folio: the cached folio at `index` with a new reference, or null. */
export function* filemap_get_folio(m: address_space, index: number): Sched<Folio | null> {
  yield op(`filemap_get_folio(${index})`, [{ object: m.id, kind: 'read' }]);
  const folio = m.i_pages.get(index) ?? null;
  if (folio !== null) folio._refcount++;
  return folio;
}

/** __filemap_get_folio with FGP_* flags: a referenced folio, or -ENOENT / -ENOMEM. */
export function* __filemap_get_folio(
  k: MmKernel,
  m: address_space,
  index: number,
  fgp_flags: number,
  gfp = GFP_KERNEL,
): Sched<Folio | number> {
  const found = yield* filemap_get_folio(m, index);
  if (found !== null) return found;
  if ((fgp_flags & FGP_CREAT) === 0) return -ENOENT;
  const folio = folio_alloc(k, gfp, 0);
  if (typeof folio === 'number') return -ENOMEM;
  const err = yield* filemap_add_folio(m, folio, index);
  if (err === 0) return folio;
  folio_put(k, folio);
  if (err !== -EEXIST) return err;
  const raced = yield* filemap_get_folio(m, index);
  return raced ?? -ENOENT;
}

/** Inserts without a visible operation; the caller's operation covers it. */
export function __filemap_add_folio(m: address_space, folio: Folio, index: number): number {
  const nr = folio_nr_pages(folio);
  for (let i = 0; i < nr; i++) if (m.i_pages.has(index + i)) return -EEXIST;
  for (let i = 0; i < nr; i++) m.i_pages.set(index + i, folio);
  folio.mapping = m;
  folio.index = index;
  folio._refcount += nr;
  m.nrpages += nr;
  return 0;
}

/** filemap_add_folio: caches `folio` at `index` (aligned to its size); 0 or -EEXIST. */
export function* filemap_add_folio(m: address_space, folio: Folio, index: number): Sched<number> {
  yield op(`filemap_add_folio(${index})`, [{ object: m.id, kind: 'write' }]);
  return __filemap_add_folio(m, folio, index);
}

/** Removes without a visible operation and drops the cache's references. */
export function __filemap_remove_folio(k: HasPageAlloc, folio: Folio): void {
  const m = folio.mapping as address_space | null;
  if (m === null) return;
  const nr = folio_nr_pages(folio);
  for (let i = 0; i < nr; i++) m.i_pages.delete(folio.index + i);
  m.nrpages -= nr;
  folio.mapping = null;
  m.a_ops.free_folio?.(folio);
  for (let i = 0; i < nr; i++) folio_put(k, folio);
}

/** filemap_remove_folio: takes `folio` out of its mapping and frees the cache's references. */
export function* filemap_remove_folio(k: HasPageAlloc, folio: Folio): Sched {
  const m = folio.mapping as address_space | null;
  if (m === null) return;
  yield op(`filemap_remove_folio(${folio.index})`, [{ object: m.id, kind: 'write' }]);
  __filemap_remove_folio(k, folio);
}

/**
 * filemap_get_folios with a folio_batch: up to `max` distinct folios with a page in [start, end]
 * (inclusive page indices), in index order. Cost follows the batch, not the file size.
 */
export function filemap_get_folios_batch(
  m: address_space,
  start: number,
  end: number,
  max: number,
): Folio[] {
  const out: Folio[] = [];
  m.i_pages.extract(start, end, max, out);
  return out;
}

/** The distinct folios with a page in [start, end] (inclusive page indices), by index. */
export function filemap_get_folios(m: address_space, start: number, end: number): Folio[] {
  const out = new Set<Folio>();
  if (end - start + 1 > m.i_pages.size) {
    for (const [index, folio] of m.i_pages) if (index >= start && index <= end) out.add(folio);
  } else {
    for (let i = start; i <= end; i++) {
      const folio = m.i_pages.get(i);
      if (folio) out.add(folio);
    }
  }
  return [...out].sort((a, b) => a.index - b.index);
}

/**
 * truncate_inode_pages_range(mapping, lstart, lend): drops the folios wholly inside the byte
 * range [lstart, lend] (lend inclusive, -1 = to the end), each unmapped from every process
 * that maps it first (truncate_cleanup_folio → unmap_mapping_folio), and zeroes the partial
 * edges.
 */
export function* truncate_inode_pages_range(
  k: MmKernel,
  m: address_space,
  lstart: number,
  lend: number,
): Sched {
  if (m.nrpages === 0) return;
  yield op('truncate_inode_pages_range', [{ object: m.id, kind: 'write' }]);
  const last = lend < 0 ? Number.MAX_SAFE_INTEGER : lend;
  const first = Math.floor(lstart / PAGE_SIZE);
  for (const folio of filemap_get_folios(m, first, Math.floor(last / PAGE_SIZE))) {
    const fstart = folio.index * PAGE_SIZE;
    const fend = fstart + folio_size(folio) - 1;
    if (fstart >= lstart && fend <= last) {
      yield* unmap_mapping_range(k, m, fstart, folio_size(folio), false);
      __filemap_remove_folio(k, folio);
    } else {
      const from = Math.max(lstart, fstart) - fstart;
      const to = Math.min(last, fend) - fstart + 1;
      folio_zero_range(k, folio, from, to - from);
    }
  }
}

export function* truncate_inode_pages(k: MmKernel, m: address_space, lstart: number): Sched {
  yield* truncate_inode_pages_range(k, m, lstart, -1);
}

/** truncate_pagecache(inode, newsize): unmap beyond EOF, drop the cache, unmap again. */
export function* truncate_pagecache(k: MmKernel, m: address_space, newsize: number): Sched {
  const holebegin = Math.ceil(newsize / PAGE_SIZE) * PAGE_SIZE;
  yield* unmap_mapping_range(k, m, holebegin, 0, true);
  yield* truncate_inode_pages(k, m, newsize);
  yield* unmap_mapping_range(k, m, holebegin, 0, true);
}

/** truncate_pagecache_range(inode, lstart, lend): the same for a hole. */
export function* truncate_pagecache_range(
  k: MmKernel,
  m: address_space,
  lstart: number,
  lend: number,
): Sched {
  const unmap_start = Math.ceil(lstart / PAGE_SIZE) * PAGE_SIZE;
  const unmap_end = Math.floor((lend + 1) / PAGE_SIZE) * PAGE_SIZE - 1;
  if (unmap_end > unmap_start)
    yield* unmap_mapping_range(k, m, unmap_start, unmap_end - unmap_start + 1, false);
  yield* truncate_inode_pages_range(k, m, lstart, lend);
}
