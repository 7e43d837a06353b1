/**
 * shmem: the memory-backed files behind memfd_create, with their page cache, truncation,
 * fallocate, read/write, mmap faults and the live-update "mapping frozen" flag.
 *
 * **Models:** mm/shmem.c and include/linux/shmem_fs.h (v7.2-era mainline with
 * SHMEM_F_MAPPING_FROZEN): shmem_inode_info (flags, seals), SHMEM_I, shmem_file, shmem_freeze,
 * shmem_file_setup, shmem_get_folio (SGP_READ/CACHE/WRITE/FALLOC), shmem_add_to_page_cache,
 * shmem_setattr, shmem_truncate_range, shmem_fallocate, shmem_file_read_iter,
 * shmem_file_write_iter (write_begin/write_end), shmem_fault, shmem_mmap, and the release of the
 * last reference (shmem_evict_inode). The file operations (fallocate, read/write, mmap and the
 * fault handler, shmem_file_setup) are in shmem_file.ts.
 *
 * **Abstracted:**
 * 1. Order-0 folios only (no THP, huge= is never); no swap, no quotas, no block accounting
 *    (the shm mount is unlimited, as for memfds): the only allocation failure is -ENOMEM.
 * 2. No shmem_falloc wait queue: a fault racing with a hole punch simply refaults.
 * 3. s_maxbytes is the largest page-aligned safe integer (JS numbers), not 2^63 - 1.
 * 4. A hugetlb memfd is a shmem file whose `hugetlb` flag is set: same behaviour here, but
 *    shmem_file() is false for it (what memfd_luo's can_preserve tests).
 *
 * Paths of shmem_get_folio: 1. cached and uptodate: it; 2. cached, fallocated (not uptodate):
 * SGP_READ treats it as a hole, others zero it and mark it uptodate (SGP_WRITE leaves that to
 * write_end); 3. hole: SGP_READ → null, otherwise allocate (-ENOMEM); 4. index at or beyond
 * EOF with SGP_READ/CACHE: -EINVAL (a fault there is SIGBUS).
 */
import { rebuiltBy } from '../../sim/index.ts';
import type { Sched } from '../../sim/index.ts';
import { RwSemaphore, down_write, up_write } from '../../sync/index.ts';
import { ATTR_SIZE, S_IFREG, inode, type iattr, type inode_operations } from '../fs/file.ts';
import { PAGE_SIZE } from '../include/asm-generic/page.ts';
import { folio_zero } from '../include/linux/highmem.ts';
import type { Folio } from '../include/linux/mm_types.ts';
import { folio_mark_uptodate, folio_test_uptodate } from '../include/linux/page-flags.ts';
import { EFBIG, EINVAL, ENOMEM, EPERM } from '../include/uapi/asm-generic/errno.ts';
import { F_SEAL_GROW, F_SEAL_SHRINK } from '../include/uapi/linux/fcntl.ts';
import type { Kernel } from '../kernel.ts';
import {
  __filemap_remove_folio,
  address_space,
  filemap_add_folio,
  filemap_get_folio,
  truncate_inode_pages_range,
  type MmKernel,
} from './filemap.ts';
import { unmap_mapping_range } from './memory.ts';
import { GFP_KERNEL, folio_alloc, folio_put } from './page_alloc.ts';

export const SHMEM_F_NORESERVE = 1 << 0;
export const SHMEM_F_LOCKED = 1 << 1;
/** Disallows growing, shrinking and hole punching; internal to live update, removable. */
export const SHMEM_F_MAPPING_FROZEN = 1 << 2;

/** The model's s_maxbytes (abstraction 3). */
export const MAX_LFS_FILESIZE = Number.MAX_SAFE_INTEGER - (Number.MAX_SAFE_INTEGER % PAGE_SIZE);

export const SGP_READ = 0;
export const SGP_NOALLOC = 1;
export const SGP_CACHE = 2;
export const SGP_WRITE = 3;
export const SGP_FALLOC = 4;

export class shmem_inode_info {
  readonly k: Kernel;
  flags = 0;
  /** F_SEAL_* bits. */
  seals = 0;
  /** A hugetlbfs file in the kernel (abstraction 4). */
  readonly hugetlb: boolean;

  constructor(k: Kernel, hugetlb: boolean) {
    this.k = k;
    this.hugetlb = hugetlb;
  }
}

export function SHMEM_I(ino: inode): shmem_inode_info {
  if (!(ino.i_private instanceof shmem_inode_info)) throw new TypeError('not a shmem inode');
  return ino.i_private;
}

export const is_shmem_inode = (ino: inode): boolean => ino.i_private instanceof shmem_inode_info;

/** shmem_mapping(inode->i_mapping): a (non-hugetlb) shmem inode. */
export const shmem_inode = (ino: inode): boolean =>
  ino.i_private instanceof shmem_inode_info && !ino.i_private.hugetlb;

/** shmem_freeze(inode, freeze); the caller holds the inode lock. */
export function shmem_freeze(ino: inode, freeze: boolean): void {
  const info = SHMEM_I(ino);
  if (freeze) info.flags |= SHMEM_F_MAPPING_FROZEN;
  else info.flags &= ~SHMEM_F_MAPPING_FROZEN;
}

export const shmem_frozen = (ino: inode): boolean =>
  (SHMEM_I(ino).flags & SHMEM_F_MAPPING_FROZEN) !== 0;

/** A new unlinked shmem inode with its page cache and inode lock (shmem_get_inode). */
export function shmem_get_inode(k: Kernel, name: string, hugetlb: boolean): inode {
  const ino = new inode(k.sim.newObject(`shmem:${name}`));
  ino.i_mode = S_IFREG | 0o777;
  ino.i_nlink = 0;
  ino.i_private = new shmem_inode_info(k, hugetlb);
  ino.i_mapping = new address_space(k.sim, ino, `shmem:${name}`);
  ino.i_rwsem = new RwSemaphore(k.sim, `shmem:${name}.i_rwsem`);
  ino.i_op = shmem_inode_operations(k);
  return ino;
}

/** shmem_inode_operations bound to boot `k`. */
function shmem_inode_operations(k: MmKernel): inode_operations {
  const iop: inode_operations = {
    setattr(i, attr) {
      return shmem_setattr(k, i, attr);
    },
  };
  return rebuiltBy(iop, shmem_inode_operations, k);
}

export function mapping_of(ino: inode): address_space {
  if (ino.i_mapping === null) throw new TypeError('shmem inode without a mapping');
  return ino.i_mapping;
}

/** shmem_add_to_page_cache: 0, -EEXIST or -ENOMEM. */
export function* shmem_add_to_page_cache(
  folio: Folio,
  m: address_space,
  index: number,
): Sched<number> {
  return yield* filemap_add_folio(m, folio, index);
}

/** shmem_get_folio(inode, index, write_end, &folio, sgp): the folio with a reference, null for
 * a hole under SGP_READ/NOALLOC, or -errno. */
export function* shmem_get_folio(
  k: MmKernel,
  ino: inode,
  index: number,
  sgp: number,
): Sched<Folio | null | number> {
  const m = mapping_of(ino);
  const beyond = () => sgp <= SGP_CACHE && index * PAGE_SIZE >= ino.i_size;
  if (beyond()) return -EINVAL;
  let folio = yield* filemap_get_folio(m, index);
  if (folio !== null && !folio_test_uptodate(folio) && sgp <= SGP_NOALLOC) {
    folio_put(k, folio);
    folio = null;
  }
  if (folio === null) {
    if (sgp <= SGP_NOALLOC) return null;
    const fresh = folio_alloc(k, GFP_KERNEL, 0);
    if (typeof fresh === 'number') return -ENOMEM;
    const err = yield* shmem_add_to_page_cache(fresh, m, index);
    if (err !== 0) {
      folio_put(k, fresh);
      return err;
    }
    folio = fresh;
  }
  if (sgp !== SGP_WRITE && sgp !== SGP_FALLOC && !folio_test_uptodate(folio)) {
    folio_zero(k, folio);
    folio_mark_uptodate(folio);
  }
  if (beyond()) {
    folio_put(k, folio);
    return -EINVAL;
  }
  return folio;
}

/** shmem_truncate_range(inode, lstart, lend): drops the cache in [lstart, lend] (lend incl.). */
export function* shmem_truncate_range(
  k: MmKernel,
  ino: inode,
  lstart: number,
  lend: number,
): Sched {
  yield* truncate_inode_pages_range(k, mapping_of(ino), lstart, lend);
}

/** shmem_setattr for ATTR_SIZE; the caller holds the inode lock. 0 or -errno. */
export function* shmem_setattr(k: MmKernel, ino: inode, attr: iattr): Sched<number> {
  if ((attr.ia_valid & ATTR_SIZE) === 0) return 0;
  const info = SHMEM_I(ino);
  const oldsize = ino.i_size;
  const newsize = attr.ia_size;
  if (newsize > MAX_LFS_FILESIZE) return -EFBIG; // inode_newsize_ok
  if (
    (newsize < oldsize && (info.seals & F_SEAL_SHRINK) !== 0) ||
    (newsize > oldsize && (info.seals & F_SEAL_GROW) !== 0)
  )
    return -EPERM;
  if (newsize === oldsize) return 0;
  if ((info.flags & SHMEM_F_MAPPING_FROZEN) !== 0) return -EPERM;
  ino.i_size = newsize;
  if (newsize < oldsize) {
    const m = mapping_of(ino);
    const holebegin = Math.ceil(newsize / PAGE_SIZE) * PAGE_SIZE;
    yield* unmap_mapping_range(k, m, holebegin, 0, true);
    yield* shmem_truncate_range(k, ino, newsize, -1);
    yield* unmap_mapping_range(k, m, holebegin, 0, true);
  }
  return 0;
}

/** shmem_evict_inode: the last reference is gone; free the page cache. */
export function* shmem_evict_inode(k: MmKernel, ino: inode): Sched {
  const m = mapping_of(ino);
  yield* truncate_inode_pages_range(k, m, 0, -1);
  if (m.nrpages !== 0) {
    for (const folio of new Set(m.i_pages.values())) __filemap_remove_folio(k, folio);
  }
}

/** inode_lock / inode_unlock on the shmem inode's i_rwsem. */
export const inode_lock = (ino: inode): Sched => down_write(ino.i_rwsem as RwSemaphore);
export const inode_unlock = (ino: inode): Sched => up_write(ino.i_rwsem as RwSemaphore);
