/**
 * mmap(2) and munmap(2): creating and removing the vmas of a process.
 *
 * **Models:** mm/mmap.c and mm/vma.c (v7.2-era mainline): do_mmap (flag and protection checks,
 * calc_vm_prot_bits / calc_vm_flag_bits, get_unmapped_area bottom-up, MAP_FIXED replacing what
 * was there), mmap_region → call_mmap (f_op->mmap), mapping_map_writable for shared maybe-writable
 * mappings, vma_link into i_mmap; do_vmi_munmap with vma splitting (vm_ops->open on the split
 * piece, vm_ops->close on removed vmas), exit_mmap; ksys_mmap_pgoff's fd lookup.
 *
 * **Abstracted:** no anonymous mappings (MAP_ANONYMOUS is -EINVAL: scenarios map files), no
 * merging of adjacent vmas, no mprotect/mremap, no rlimits, no hint address (addr is used only
 * with MAP_FIXED). The vma holds a file reference, as in the kernel.
 *
 * Paths of do_mmap: 1. len 0, unaligned offset or fixed address, bad map type, MAP_ANONYMOUS:
 * -EINVAL; 2. PROT_WRITE on MAP_SHARED of a file not open for writing, or any access to a file
 * not open for reading: -EACCES; 3. no f_op->mmap: -ENODEV; 4. writable mappings denied
 * (F_SEAL_WRITE): -EPERM; 5. f_op->mmap fails: its error, nothing mapped. munmap: unaligned or
 * empty: -EINVAL.
 */
import type { Sched } from '../../sim/index.ts';
import { down_write, up_write } from '../../sync/index.ts';
import { file_readable, file_writable, fput, get_file, type file } from '../fs/file.ts';
import { PAGE_SIZE } from '../include/asm-generic/page.ts';
import {
  VM_EXEC,
  VM_MAYEXEC,
  VM_MAYREAD,
  VM_MAYSHARE,
  VM_MAYWRITE,
  VM_READ,
  VM_SHARED,
  VM_WRITE,
  vm_area_struct,
  type mm_struct,
} from '../include/linux/mm.ts';
import { EACCES, EINVAL, ENODEV, ENOMEM } from '../include/uapi/asm-generic/errno.ts';
import {
  MAP_ANONYMOUS,
  MAP_FIXED,
  MAP_PRIVATE,
  MAP_SHARED,
  MAP_SHARED_VALIDATE,
  MAP_TYPE,
  PROT_EXEC,
  PROT_READ,
  PROT_WRITE,
} from '../include/uapi/asm-generic/mman.ts';
import { mapping_map_writable, mapping_unmap_writable, type MmKernel } from './filemap.ts';
import { zap_page_range } from './memory.ts';

const page_align = (n: number): number => Math.ceil(n / PAGE_SIZE) * PAGE_SIZE;

/** Shared and maybe-writable: counts in i_mmap_writable. */
const is_shared_maywrite = (vma: vm_area_struct): boolean =>
  (vma.vm_flags & (VM_SHARED | VM_MAYWRITE)) === (VM_SHARED | VM_MAYWRITE);

/** The lowest free range of `len` bytes at or above mmap_base. */
function get_unmapped_area(mm: mm_struct, len: number): number {
  let addr = mm.mmap_base;
  for (const vma of mm.vmas) {
    if (vma.vm_end <= addr) continue;
    if (vma.vm_start >= addr + len) break;
    addr = vma.vm_end;
  }
  return addr;
}

function vma_link(mm: mm_struct, vma: vm_area_struct): void {
  let i = 0;
  while (i < mm.vmas.length && (mm.vmas[i] as vm_area_struct).vm_start < vma.vm_start) i++;
  mm.vmas.splice(i, 0, vma);
  vma.vm_file?.f_mapping?.i_mmap.add(vma);
}

/** Removes [start, end) from the address space; the caller holds mmap_lock for write. */
function* unmap_region(k: MmKernel, mm: mm_struct, start: number, end: number): Sched {
  for (const vma of [...mm.vmas]) {
    if (vma.vm_end <= start || vma.vm_start >= end) continue;
    const keepLow = vma.vm_start < start;
    const keepHigh = vma.vm_end > end;
    zap_page_range(k, mm, Math.max(start, vma.vm_start), Math.min(end, vma.vm_end));
    if (keepHigh) {
      const hi = new vm_area_struct(mm, end, vma.vm_end, 0, vma.vm_flags, vma.vm_file);
      hi.vm_pgoff = vma.vm_pgoff + (end - vma.vm_start) / PAGE_SIZE;
      hi.vm_ops = vma.vm_ops;
      hi.vm_private_data = vma.vm_private_data;
      if (hi.vm_file !== null) yield* get_file(hi.vm_file);
      if (hi.vm_file?.f_mapping && is_shared_maywrite(hi)) hi.vm_file.f_mapping.i_mmap_writable++;
      hi.vm_ops?.open?.(hi);
      vma_link(mm, hi);
    }
    if (keepLow) {
      vma.vm_end = start;
      continue;
    }
    if (keepHigh) vma.vm_end = end;
    mm.vmas.splice(mm.vmas.indexOf(vma), 1);
    vma.vm_ops?.close?.(vma);
    const f = vma.vm_file;
    if (f !== null) {
      f.f_mapping?.i_mmap.delete(vma);
      if (f.f_mapping && is_shared_maywrite(vma)) mapping_unmap_writable(f.f_mapping);
      yield* fput(f);
    }
  }
}

/** do_mmap for a file: the mapped address or -errno. */
export function* do_mmap(
  k: MmKernel,
  mm: mm_struct,
  f: file,
  addr: number,
  len: number,
  prot: number,
  flags: number,
  offset: number,
): Sched<number> {
  const type = flags & MAP_TYPE;
  if (len <= 0 || offset % PAGE_SIZE !== 0 || offset < 0) return -EINVAL;
  if ((flags & MAP_ANONYMOUS) !== 0) return -EINVAL;
  if (type !== MAP_SHARED && type !== MAP_PRIVATE && type !== MAP_SHARED_VALIDATE) return -EINVAL;
  if ((flags & MAP_FIXED) !== 0 && addr % PAGE_SIZE !== 0) return -EINVAL;
  len = page_align(len);
  if (!Number.isSafeInteger(offset + len)) return -ENOMEM;
  let vm_flags =
    ((prot & PROT_READ) !== 0 ? VM_READ : 0) |
    ((prot & PROT_WRITE) !== 0 ? VM_WRITE : 0) |
    ((prot & PROT_EXEC) !== 0 ? VM_EXEC : 0) |
    VM_MAYREAD |
    VM_MAYWRITE |
    VM_MAYEXEC;
  if (!file_readable(f)) return -EACCES;
  if (type !== MAP_PRIVATE) {
    if ((prot & PROT_WRITE) !== 0 && !file_writable(f)) return -EACCES;
    vm_flags |= VM_SHARED | VM_MAYSHARE;
    if (!file_writable(f)) vm_flags &= ~(VM_MAYWRITE | VM_SHARED);
  }
  if (f.f_op.mmap === undefined) return -ENODEV;
  yield* down_write(mm.mmap_lock);
  const start = (flags & MAP_FIXED) !== 0 ? addr : get_unmapped_area(mm, len);
  if ((flags & MAP_FIXED) !== 0) yield* unmap_region(k, mm, start, start + len);
  const vma = new vm_area_struct(mm, start, start + len, offset / PAGE_SIZE, vm_flags, f);
  let err = yield* f.f_op.mmap(f, vma);
  const mapping = f.f_mapping;
  if (err === 0 && mapping !== null && is_shared_maywrite(vma)) {
    err = mapping_map_writable(mapping);
    if (err !== 0) vma.vm_ops?.close?.(vma);
  }
  if (err === 0) {
    yield* get_file(f);
    vma_link(mm, vma);
  }
  yield* up_write(mm.mmap_lock);
  return err < 0 ? err : start;
}

/** munmap(addr, len): 0 or -EINVAL. */
export function* do_munmap(k: MmKernel, mm: mm_struct, start: number, len: number): Sched<number> {
  if (start % PAGE_SIZE !== 0 || len <= 0) return -EINVAL;
  yield* down_write(mm.mmap_lock);
  yield* unmap_region(k, mm, start, start + page_align(len));
  yield* up_write(mm.mmap_lock);
  return 0;
}

/** exit_mmap: tears the whole address space down. */
export function* exit_mmap(k: MmKernel, mm: mm_struct): Sched {
  yield* down_write(mm.mmap_lock);
  yield* unmap_region(k, mm, 0, Number.MAX_SAFE_INTEGER);
  yield* up_write(mm.mmap_lock);
}
