/**
 * memfd: anonymous shmem files with seals.
 *
 * **Models:** mm/memfd.c (v7.2-era mainline, with the 2026 fix that applies the seals implied
 * by F_SEAL_EXEC before mapping_deny_writable): memfd_create, memfd_alloc_file,
 * memfd_file_seals_ptr, memfd_add_seals, memfd_get_seals, memfd_fcntl (F_ADD_SEALS,
 * F_GET_SEALS), memfd_check_seals_mmap, memfd_pin_folios / unpin_folios.
 *
 * **Abstracted:**
 * 1. The vm.memfd_noexec sysctl is 0 (no warning, no enforced NOEXEC); memfd_create never
 *    fails to allocate the file.
 * 2. memfd_wait_for_pins is not modelled: adding F_SEAL_WRITE while folios are pinned succeeds.
 * 3. A pin is one folio reference (not GUP_PIN_COUNTING_BIAS).
 *
 * Paths of memfd_create: 1. unknown flags or MFD_EXEC with MFD_NOEXEC_SEAL: -EINVAL; 2. name
 * longer than MFD_NAME_MAX_LEN bytes: -EINVAL; 3. no fd: -EMFILE. memfd_add_seals: 1. file not
 * open for writing: -EPERM; 2. unknown seal bits: -EINVAL; 3. not a memfd: -EINVAL; 4. F_SEAL_SEAL
 * already set: -EPERM; 5. F_SEAL_WRITE (also implied by F_SEAL_EXEC on an executable inode) with
 * shared writable mappings: -EBUSY.
 */
import type { Sched } from '../../sim/index.ts';
import {
  fd_install,
  file_writable,
  get_unused_fd_flags,
  type file,
  type files_struct,
} from '../fs/file.ts';
import { PAGE_SIZE } from '../include/asm-generic/page.ts';
import { VM_MAYWRITE, VM_SHARED, VM_WRITE, type vm_area_struct } from '../include/linux/mm.ts';
import type { Folio } from '../include/linux/mm_types.ts';
import { EINVAL, EPERM } from '../include/uapi/asm-generic/errno.ts';
import { O_CLOEXEC } from '../include/uapi/asm-generic/fcntl.ts';
import {
  F_ADD_SEALS,
  F_ALL_SEALS,
  F_GET_SEALS,
  F_SEAL_EXEC,
  F_SEAL_FUTURE_WRITE,
  F_SEAL_GROW,
  F_SEAL_SEAL,
  F_SEAL_SHRINK,
  F_SEAL_WRITE,
} from '../include/uapi/linux/fcntl.ts';
import {
  MFD_ALL_FLAGS,
  MFD_ALLOW_SEALING,
  MFD_CLOEXEC,
  MFD_EXEC,
  MFD_HUGETLB,
  MFD_HUGE_MASK,
  MFD_HUGE_SHIFT,
  MFD_NAME_MAX_LEN,
  MFD_NOEXEC_SEAL,
} from '../include/uapi/linux/memfd.ts';
import type { Kernel } from '../kernel.ts';
import { filemap_get_folios, mapping_deny_writable } from './filemap.ts';
import {
  SGP_CACHE,
  SHMEM_I,
  inode_lock,
  inode_unlock,
  is_shmem_inode,
  shmem_get_folio,
} from './shmem.ts';
import { folio_put } from './page_alloc.ts';
import { shmem_file_setup } from './shmem_file.ts';

/** memfd_file_seals_ptr: the seal word of a shmem or hugetlb file, or null. */
function has_seals(f: file): boolean {
  return is_shmem_inode(f.f_inode);
}

/** memfd_alloc_file(name, flags): a new memfd file (one reference). */
export function memfd_alloc_file(k: Kernel, name: string, flags: number): file {
  const f = shmem_file_setup(k, name, 0, (flags & MFD_HUGETLB) !== 0);
  const info = SHMEM_I(f.f_inode);
  info.seals = F_SEAL_SEAL;
  if ((flags & MFD_NOEXEC_SEAL) !== 0) {
    f.f_inode.i_mode &= ~0o111;
    info.seals = (info.seals & ~F_SEAL_SEAL) | F_SEAL_EXEC;
  } else if ((flags & MFD_ALLOW_SEALING) !== 0) {
    info.seals &= ~F_SEAL_SEAL;
  }
  return f;
}

/** memfd_create(2): the new fd or -errno. */
export function* memfd_create(
  k: Kernel,
  files: files_struct,
  name: string,
  flags: number,
): Sched<number> {
  const allowed =
    (flags & MFD_HUGETLB) !== 0 ? MFD_ALL_FLAGS | (MFD_HUGE_MASK << MFD_HUGE_SHIFT) : MFD_ALL_FLAGS;
  if ((flags & ~allowed) !== 0) return -EINVAL;
  if ((flags & MFD_EXEC) !== 0 && (flags & MFD_NOEXEC_SEAL) !== 0) return -EINVAL;
  if (new TextEncoder().encode(name).length > MFD_NAME_MAX_LEN) return -EINVAL;
  const fd = yield* get_unused_fd_flags(files, (flags & MFD_CLOEXEC) !== 0 ? O_CLOEXEC : 0);
  if (fd < 0) return fd;
  fd_install(files, fd, memfd_alloc_file(k, name, flags));
  return fd;
}

/** memfd_add_seals: 0 or -errno. */
export function* memfd_add_seals(f: file, seals: number): Sched<number> {
  if (!file_writable(f)) return -EPERM;
  if ((seals & ~F_ALL_SEALS) !== 0) return -EINVAL;
  if (!has_seals(f)) return -EINVAL;
  const ino = f.f_inode;
  const info = SHMEM_I(ino);
  yield* inode_lock(ino);
  let err = 0;
  if ((info.seals & F_SEAL_SEAL) !== 0) err = -EPERM;
  else {
    if ((seals & F_SEAL_EXEC) !== 0 && (ino.i_mode & 0o111) !== 0)
      seals |= F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE;
    if ((seals & F_SEAL_WRITE) !== 0 && (info.seals & F_SEAL_WRITE) === 0 && f.f_mapping)
      err = mapping_deny_writable(f.f_mapping);
    if (err === 0) info.seals |= seals;
  }
  yield* inode_unlock(ino);
  return err;
}

/** memfd_get_seals: the seal bits, or -EINVAL for a file that has none. */
export function memfd_get_seals(f: file): number {
  return has_seals(f) ? SHMEM_I(f.f_inode).seals : -EINVAL;
}

/** memfd_fcntl(file, cmd, arg) for F_ADD_SEALS / F_GET_SEALS. */
export function* memfd_fcntl(f: file, cmd: number, arg: number): Sched<number> {
  if (cmd === F_ADD_SEALS) return yield* memfd_add_seals(f, arg);
  if (cmd === F_GET_SEALS) return memfd_get_seals(f);
  return -EINVAL;
}

/** memfd_check_seals_mmap: shared writable mappings of a write-sealed memfd are -EPERM;
 * shared read-only ones lose VM_MAYWRITE so mprotect cannot make them writable. */
export function memfd_check_seals_mmap(f: file, vma: vm_area_struct): number {
  if (!has_seals(f)) return 0;
  const seals = SHMEM_I(f.f_inode).seals;
  if ((seals & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE)) === 0) return 0;
  if ((vma.vm_flags & VM_SHARED) === 0) return 0;
  if ((vma.vm_flags & VM_WRITE) !== 0) return -EPERM;
  vma.vm_flags &= ~VM_MAYWRITE;
  return 0;
}

/**
 * memfd_pin_folios(file, start, end): pins every folio of the byte range [start, end],
 * allocating zeroed, uptodate folios for holes (so a sparse memfd becomes fully allocated).
 * The pinned folios in index order, or -errno (nothing stays pinned then).
 */
export function* memfd_pin_folios(
  k: Kernel,
  f: file,
  start: number,
  end: number,
): Sched<Folio[] | number> {
  if (start < 0 || start > end) return -EINVAL;
  const ino = f.f_inode;
  const m = f.f_mapping;
  if (m === null || !has_seals(f)) return -EINVAL;
  const pinned: Folio[] = [];
  const last = Math.floor(end / PAGE_SIZE);
  for (let index = Math.floor(start / PAGE_SIZE); index <= last;) {
    const found = filemap_get_folios(m, index, index)[0];
    let folio: Folio;
    if (found !== undefined) {
      folio = found;
      folio._refcount++;
    } else {
      const r = yield* shmem_get_folio(k, ino, index, SGP_CACHE);
      if (typeof r === 'number' || r === null) {
        unpin_folios(k, pinned);
        return typeof r === 'number' ? r : -EINVAL;
      }
      folio = r;
    }
    pinned.push(folio);
    index = folio.index + (1 << (folio.compound ? folio.order : 0));
  }
  return pinned;
}

export function unpin_folio(k: Kernel, folio: Folio): void {
  folio_put(k, folio);
}

export function unpin_folios(k: Kernel, folios: readonly Folio[]): void {
  for (const folio of folios) unpin_folio(k, folio);
}
