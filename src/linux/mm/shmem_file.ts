/**
 * shmem file operations: fallocate, read/write through the page cache, mmap with its fault
 * handler, and creating the file of a memfd.
 *
 * **Models:** the file-facing half of mm/shmem.c (v7.2-era mainline with SHMEM_F_MAPPING_FROZEN):
 * shmem_fallocate (with shmem_undo_range's unfalloc on failure), shmem_file_read_iter,
 * shmem_file_write_iter (shmem_write_begin / shmem_write_end), shmem_fault, shmem_mmap,
 * shmem_file_operations, shmem_file_setup. The inode side is shmem.ts.
 *
 * **Abstracted:** see shmem.ts; in addition, no O_DIRECT, no splice, no fault-around.
 *
 * Paths of fallocate (after vfs_fallocate's checks): 1. modes other than KEEP_SIZE/PUNCH_HOLE:
 * -EOPNOTSUPP; 2. frozen mapping: -EPERM; 3. punch hole with a write seal: -EPERM; 4. allocate
 * past s_maxbytes: -EFBIG; 5. growing with F_SEAL_GROW: -EPERM; 6. no memory: -ENOMEM, the
 * fallocated folios undone. Paths of write: write seals: -EPERM; growing with F_SEAL_GROW or a
 * frozen mapping: -EPERM for the page that would grow (a short write if some was written).
 * Fault: at or beyond EOF: VM_FAULT_SIGBUS; no memory: VM_FAULT_OOM.
 */
import { rebuiltBy } from '../../sim/index.ts';
import type { Sched } from '../../sim/index.ts';
import { alloc_file, type file, type file_operations, type inode } from '../fs/file.ts';
import { PAGE_SIZE } from '../include/asm-generic/page.ts';
import { folio_zero, memcpy_from_folio, memcpy_to_folio } from '../include/linux/highmem.ts';
import {
  VM_FAULT_SIGBUS,
  vmf_error,
  type vm_area_struct,
  type vm_fault,
  type vm_fault_t,
  type vm_operations_struct,
} from '../include/linux/mm.ts';
import {
  folio_mark_dirty,
  folio_mark_uptodate,
  folio_test_uptodate,
} from '../include/linux/page-flags.ts';
import { EFBIG, ENOMEM, EOPNOTSUPP, EPERM } from '../include/uapi/asm-generic/errno.ts';
import { O_RDWR } from '../include/uapi/asm-generic/fcntl.ts';
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE } from '../include/uapi/linux/falloc.ts';
import {
  F_SEAL_FUTURE_WRITE,
  F_SEAL_GROW,
  F_SEAL_WRITE,
  O_LARGEFILE,
} from '../include/uapi/linux/fcntl.ts';
import type { Kernel } from '../kernel.ts';
import {
  __filemap_remove_folio,
  filemap_get_folios,
  filemap_peek,
  type MmKernel,
} from './filemap.ts';
import { memfd_check_seals_mmap } from './memfd.ts';
import { unmap_mapping_range } from './memory.ts';
import { folio_put } from './page_alloc.ts';
import {
  MAX_LFS_FILESIZE,
  SGP_FALLOC,
  SGP_READ,
  SGP_CACHE,
  SGP_WRITE,
  SHMEM_F_MAPPING_FROZEN,
  SHMEM_I,
  inode_lock,
  inode_unlock,
  mapping_of,
  shmem_evict_inode,
  shmem_get_folio,
  shmem_get_inode,
  shmem_truncate_range,
} from './shmem.ts';

/** shmem_fallocate: allocate (mode 0 / KEEP_SIZE) or punch a hole. 0 or -errno. */
export function* shmem_fallocate(
  k: MmKernel,
  f: file,
  mode: number,
  offset: number,
  len: number,
): Sched<number> {
  if ((mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)) !== 0) return -EOPNOTSUPP;
  const ino = f.f_inode;
  const info = SHMEM_I(ino);
  const m = mapping_of(ino);
  yield* inode_lock(ino);
  let err = 0;
  if ((info.flags & SHMEM_F_MAPPING_FROZEN) !== 0) {
    err = -EPERM;
  } else if ((mode & FALLOC_FL_PUNCH_HOLE) !== 0) {
    if ((info.seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) !== 0) err = -EPERM;
    else {
      const unmap_start = Math.ceil(offset / PAGE_SIZE) * PAGE_SIZE;
      const unmap_end = Math.floor((offset + len) / PAGE_SIZE) * PAGE_SIZE - 1;
      if (unmap_end > unmap_start)
        yield* unmap_mapping_range(k, m, unmap_start, 1 + unmap_end - unmap_start, false);
      yield* shmem_truncate_range(k, ino, offset, offset + len - 1);
    }
  } else if (offset + len > MAX_LFS_FILESIZE) {
    err = -EFBIG;
  } else if ((info.seals & F_SEAL_GROW) !== 0 && offset + len > ino.i_size) {
    err = -EPERM;
  } else {
    err = yield* shmem_fallocate_range(k, ino, offset, len);
    if (err === 0 && (mode & FALLOC_FL_KEEP_SIZE) === 0 && offset + len > ino.i_size)
      ino.i_size = offset + len;
  }
  yield* inode_unlock(ino);
  return err;
}

/** Allocates every page of the range (not uptodate, dirty); undoes its fallocated folios on
 * failure (shmem_undo_range with unfalloc). */
function* shmem_fallocate_range(
  k: MmKernel,
  ino: inode,
  offset: number,
  len: number,
): Sched<number> {
  const m = mapping_of(ino);
  const start = Math.floor(offset / PAGE_SIZE);
  const end = Math.ceil((offset + len) / PAGE_SIZE);
  for (let index = start; index < end; index++) {
    if (filemap_peek(m, index) !== null) continue;
    const folio = yield* shmem_get_folio(k, ino, index, SGP_FALLOC);
    if (typeof folio === 'number' || folio === null) {
      for (const f of filemap_get_folios(m, start, index - 1))
        if (!folio_test_uptodate(f)) __filemap_remove_folio(k, f);
      return typeof folio === 'number' ? folio : -ENOMEM;
    }
    folio_mark_dirty(folio);
    folio_put(k, folio);
  }
  return 0;
}

/** shmem_file_read_iter: holes and fallocated pages read as zeros without allocating. */
export function* shmem_file_read_iter(
  k: MmKernel,
  f: file,
  buf: Uint8Array,
  pos: number,
): Sched<number> {
  const ino = f.f_inode;
  let done = 0;
  while (done < buf.length && pos + done < ino.i_size) {
    const p = pos + done;
    const off = p % PAGE_SIZE;
    const n = Math.min(PAGE_SIZE - off, buf.length - done, ino.i_size - p);
    const folio = yield* shmem_get_folio(k, ino, Math.floor(p / PAGE_SIZE), SGP_READ);
    if (typeof folio === 'number') return done > 0 ? done : folio;
    if (folio === null) buf.fill(0, done, done + n);
    else {
      buf.set(memcpy_from_folio(k, folio, off, n), done);
      folio_put(k, folio);
    }
    done += n;
  }
  return done;
}

/** shmem_file_write_iter: page by page through write_begin / write_end, under the inode lock. */
export function* shmem_file_write_iter(
  k: MmKernel,
  f: file,
  buf: Uint8Array,
  pos: number,
): Sched<number> {
  if (buf.length === 0) return 0;
  if (pos >= MAX_LFS_FILESIZE) return -EFBIG;
  const ino = f.f_inode;
  const info = SHMEM_I(ino);
  const len = Math.min(buf.length, MAX_LFS_FILESIZE - pos);
  yield* inode_lock(ino);
  let done = 0;
  let err = 0;
  while (done < len) {
    const p = pos + done;
    const off = p % PAGE_SIZE;
    const n = Math.min(PAGE_SIZE - off, len - done);
    // shmem_write_begin
    const grows = p + n > ino.i_size;
    if ((info.seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) !== 0) err = -EPERM;
    else if (grows && (info.seals & F_SEAL_GROW) !== 0) err = -EPERM;
    else if (grows && (info.flags & SHMEM_F_MAPPING_FROZEN) !== 0) err = -EPERM;
    if (err !== 0) break;
    const folio = yield* shmem_get_folio(k, ino, Math.floor(p / PAGE_SIZE), SGP_WRITE);
    if (typeof folio === 'number' || folio === null) {
      err = typeof folio === 'number' ? folio : -ENOMEM;
      break;
    }
    // shmem_write_end
    if (!folio_test_uptodate(folio)) {
      folio_zero(k, folio);
      folio_mark_uptodate(folio);
    }
    memcpy_to_folio(k, folio, off, buf.subarray(done, done + n));
    if (grows) ino.i_size = p + n;
    folio_mark_dirty(folio);
    folio_put(k, folio);
    done += n;
  }
  yield* inode_unlock(ino);
  return done > 0 ? done : err;
}

/** shmem_fault: the page at vmf.pgoff, allocated if needed; SIGBUS at or beyond EOF. */
export function* shmem_fault(k: MmKernel, vmf: vm_fault): Sched<vm_fault_t> {
  const f = vmf.vma.vm_file;
  if (f === null) return VM_FAULT_SIGBUS;
  const folio = yield* shmem_get_folio(k, f.f_inode, vmf.pgoff, SGP_CACHE);
  if (typeof folio === 'number') return vmf_error(folio);
  if (folio === null) return VM_FAULT_SIGBUS;
  vmf.page = folio;
  return 0;
}

function shmem_vm_ops(k: MmKernel): vm_operations_struct {
  const ops: vm_operations_struct = {
    name: 'shmem',
    fault(vmf) {
      return shmem_fault(k, vmf);
    },
  };
  return rebuiltBy(ops, shmem_vm_ops, k);
}

/** shmem_mmap: seal checks, then the shmem fault handler. */
// eslint-disable-next-line require-yield
export function* shmem_mmap(k: MmKernel, f: file, vma: vm_area_struct): Sched<number> {
  const err = memfd_check_seals_mmap(f, vma);
  if (err !== 0) return err;
  vma.vm_ops = shmem_vm_ops(k);
  return 0;
}

const SHMEM_FOPS = Symbol('shmem_file_operations per kernel');

/** shmem_file_operations of boot `k`. */
export function shmem_file_operations(k: Kernel): file_operations {
  const perKernel = k.sim.local(SHMEM_FOPS, () => new Map<Kernel, file_operations>());
  let fops = perKernel.get(k);
  if (fops === undefined) {
    fops = shmem_fops_of(k);
    perKernel.set(k, fops);
  }
  return fops;
}

function shmem_fops_of(k: Kernel): file_operations {
  return rebuiltBy(
    {
      owner: 'shmem',
      read(f, buf, pos) {
        return shmem_file_read_iter(k, f, buf, pos);
      },
      write(f, buf, pos) {
        return shmem_file_write_iter(k, f, buf, pos);
      },
      mmap(f, vma) {
        return shmem_mmap(k, f, vma);
      },
      fallocate(f, mode, offset, len) {
        return shmem_fallocate(k, f, mode, offset, len);
      },
      *release(ino) {
        yield* shmem_evict_inode(k, ino);
        return 0;
      },
    },
    shmem_fops_of,
    k,
  );
}

/** shmem_file_setup / hugetlb_file_setup: an unlinked file of `size` bytes, O_RDWR|O_LARGEFILE. */
export function shmem_file_setup(k: Kernel, name: string, size: number, hugetlb = false): file {
  const ino = shmem_get_inode(k, name, hugetlb);
  ino.i_size = size;
  const path = `/memfd:${name} (deleted)`;
  return alloc_file(k.sim, path, ino, O_RDWR | O_LARGEFILE, shmem_file_operations(k));
}
