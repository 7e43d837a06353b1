/**
 * guest_memfd and memslots: binding a file range to a memslot, unbinding it, and resolving a
 * guest frame to a pfn for the MMU.
 *
 * **Models:** the memslot half of virt/kvm/guest_memfd.c (v7.2-era mainline plus patch 06 of
 * the preservation series, RFC v2, through kvm_gmem_get_folio): kvm_gmem_bind, kvm_gmem_unbind,
 * __kvm_gmem_unbind, kvm_gmem_get_file (get_file_active on slot->gmem.file), __kvm_gmem_get_pfn,
 * kvm_gmem_get_pfn (a folio that is not uptodate is zeroed and marked uptodate before the guest
 * sees it), kvm_gmem_get_index.
 * **Abstracted:** no hwpoison check and no arch prepare hook (see guest_memfd.ts).
 * Paths: bind: 1. fd not open: -EBADF; 2. not a guest_memfd, another VM's, offset unaligned or
 * past the size: -EINVAL; 3. range already bound: -EEXIST; 4. ok: slot->gmem.file set (no
 * reference kept), GMEM_ONLY when the file supports mmap. get_pfn: 1. file gone: -EFAULT;
 * 2. slot/file mismatch: -EFAULT (+WARN if the slot names another file); 3. binding mismatch:
 * -EIO; 4. kvm_gmem_get_folio errors (-EPERM when frozen and absent, -ENOMEM); 5. the pfn with a
 * folio reference for the caller.
 */
import type { Sched } from '../../../sim/index.ts';
import { READ_ONCE, WRITE_ONCE } from '../../../sync/index.ts';
import { current_files, fget, fput, type file } from '../../fs/file.ts';
import { PAGE_SHIFT, PAGE_SIZE } from '../../include/asm-generic/page.ts';
import {
  KVM_MEMSLOT_GMEM_ONLY,
  type kvm,
  type kvm_memory_slot,
} from '../../include/linux/kvm_host.ts';
import type { Folio } from '../../include/linux/mm_types.ts';
import { EBADF, EEXIST, EFAULT, EINVAL, EIO } from '../../include/uapi/asm-generic/errno.ts';
import { GUEST_MEMFD_FLAG_MMAP } from '../../include/uapi/linux/kvm.ts';
import type { Kernel } from '../../kernel.ts';
import { filemap_invalidate_lock, filemap_invalidate_unlock } from '../../mm/filemap.ts';
import { folio_put } from '../../mm/page_alloc.ts';
import { kvm_gmem_folio_first_access, kvm_gmem_get_folio } from './guest_memfd.ts';
import { file_is_gmem } from './guest_memfd_file.ts';
import { GMEM_I, gmem_file_of, type gmem_file } from './guest_memfd_h.ts';
import { get_file_active } from './kvm_main.ts';

/** kvm_gmem_get_index: the file page of `gfn` in `slot`. */
export const kvm_gmem_get_index = (slot: kvm_memory_slot, gfn: number): number =>
  gfn - slot.base_gfn + slot.gmem_pgoff;

/** kvm_gmem_bind: binds [offset, offset + slot size) of guest_memfd `fd` to the new `slot`. */
export function* kvm_gmem_bind(
  k: Kernel,
  v: kvm,
  slot: kvm_memory_slot,
  fd: number,
  offset: bigint,
): Sched<number> {
  const f = yield* fget(current_files(k.sim), fd);
  if (f === null) return -EBADF;
  const r = yield* bind_file(v, slot, f, offset);
  // The file pins the VM, not the other way round: no reference is kept.
  yield* fput(f);
  return r;
}

function* bind_file(v: kvm, slot: kvm_memory_slot, f: file, offset: bigint): Sched<number> {
  const gf = gmem_file_of(f);
  if (!file_is_gmem(f) || gf === null || gf.kvm !== v) return -EINVAL;
  const gi = gf.inode;
  const size = BigInt(slot.npages * PAGE_SIZE);
  if (offset % BigInt(PAGE_SIZE) !== 0n || offset + size > BigInt(gi.i_size)) return -EINVAL;
  const m = gi.i_mapping_of();
  yield* filemap_invalidate_lock(m);
  const start = Number(offset >> BigInt(PAGE_SHIFT));
  const end = start + slot.npages;
  for (const index of gf.bindings.keys()) {
    if (index >= start && index < end) {
      yield* filemap_invalidate_unlock(m);
      return -EEXIST;
    }
  }
  yield* WRITE_ONCE(slot.gmem_file, f);
  slot.gmem_pgoff = start;
  if (((yield* READ_ONCE(gi.flags)) & GUEST_MEMFD_FLAG_MMAP) !== 0n)
    slot.flags |= KVM_MEMSLOT_GMEM_ONLY;
  for (let i = start; i < end; i++) gf.bindings.set(i, slot);
  yield* filemap_invalidate_unlock(m);
  return 0;
}

function* __kvm_gmem_unbind(slot: kvm_memory_slot, gf: gmem_file): Sched {
  for (let i = slot.gmem_pgoff; i < slot.gmem_pgoff + slot.npages; i++) gf.bindings.delete(i);
  yield* WRITE_ONCE(slot.gmem_file, null);
}

/** kvm_gmem_unbind: on memslot deletion; nothing to do if the file was already released. */
export function* kvm_gmem_unbind(k: Kernel, slot: kvm_memory_slot): Sched {
  const weak = slot.gmem_file.value;
  if (weak === null) return;
  const f = yield* get_file_active(slot.gmem_file);
  const gf = gmem_file_of(f ?? weak);
  if (gf === null) return k.sim.fail('memslot bound to a file that is not a guest_memfd');
  if (f === null) {
    // Being released: its release has not destroyed the bindings yet (we hold slots_lock).
    yield* __kvm_gmem_unbind(slot, gf);
    return;
  }
  const m = gf.inode.i_mapping_of();
  yield* filemap_invalidate_lock(m);
  yield* __kvm_gmem_unbind(slot, gf);
  yield* filemap_invalidate_unlock(m);
  yield* fput(f);
}

/** What kvm_gmem_get_pfn hands the MMU: the pfn and its folio, holding one reference. */
export interface GmemPfn {
  readonly pfn: number;
  readonly folio: Folio;
}

/** kvm_gmem_get_pfn: resolves `gfn` of a guest_memfd slot; a pfn or -errno. */
export function* kvm_gmem_get_pfn(
  k: Kernel,
  _v: kvm,
  slot: kvm_memory_slot,
  gfn: number,
): Sched<GmemPfn | number> {
  const index = kvm_gmem_get_index(slot, gfn);
  const f = yield* get_file_active(slot.gmem_file);
  if (f === null) return -EFAULT;
  const r = yield* __kvm_gmem_get_pfn(k, f, slot, index);
  const gi = GMEM_I(f.f_inode);
  yield* fput(f);
  if (typeof r === 'number') return r;
  if (gi !== null) yield* kvm_gmem_folio_first_access(k, gi, r);
  return { pfn: r.pfn + (index - r.index), folio: r };
}

function* __kvm_gmem_get_pfn(
  k: Kernel,
  f: file,
  slot: kvm_memory_slot,
  index: number,
): Sched<Folio | number> {
  const slot_file = yield* READ_ONCE(slot.gmem_file);
  const gf = gmem_file_of(f);
  if (gf === null || f !== slot_file) {
    k.WARN_ON_ONCE(slot_file !== null, 'gmem_get_pfn_file', 'memslot bound to another file');
    return -EFAULT;
  }
  if (gf.bindings.get(index) !== slot) {
    k.WARN_ON_ONCE(gf.bindings.has(index), 'gmem_get_pfn_binding', 'index bound to another slot');
    return -EIO;
  }
  return yield* kvm_gmem_get_folio(k, gf.inode, index);
}

/** Drops the reference kvm_gmem_get_pfn returned (kvm_release_faultin_page). */
export function kvm_gmem_put_pfn(k: Kernel, p: GmemPfn): void {
  folio_put(k, p.folio);
}
