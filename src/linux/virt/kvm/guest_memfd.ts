/**
 * guest_memfd: KVM-owned guest memory files, and the mapping freeze of the preservation series.
 *
 * **Models:** virt/kvm/guest_memfd.c and virt/kvm/guest_memfd.h, v7.2-era mainline plus patches
 * 05 and 06 of the guest_memfd preservation series, RFC v2 (spec §3): gmem_file, gmem_inode,
 * GMEM_I, kvm_gmem_create / __kvm_gmem_create_file, kvm_gmem_get_folio (fast path without a
 * frozen check; slow path inside an SRCU read section), kvm_gmem_fallocate (the whole call one
 * read section, frozen checked first), punch hole and allocate, kvm_gmem_release, bind/unbind,
 * kvm_gmem_get_pfn, the host mmap and its fault, kvm_gmem_init, and patch 06's
 * GUEST_MEMFD_F_MAPPING_FROZEN, ONE SRCU domain per boot (`Kernel.kvm_gmem_freeze_srcu`),
 * kvm_gmem_freeze (READ_ONCE, WRITE_ONCE, then synchronize_srcu only when freezing) and
 * kvm_gmem_is_frozen (READ_ONCE).
 * **Abstracted:**
 * 1. Folio locks are not modelled (filemap.ts): "returns a locked folio" is a referenced folio.
 * 2. No NUMA policy (mpol lookups are no-ops), no hwpoison (so no -EHWPOISON), no arch prepare
 *    hook, no populate (CoCo only). Sizes above 2^52 bytes are refused with -EINVAL.
 * 3. The inode is evicted (page cache freed) when its only gmem_file is released.
 * 4. Every read of the inode flags is a READ_ONCE, even the kernel's plain reads of the
 *    creation-time bits, so every flags access is a visible operation.
 * 5. Inodes have no timestamps: a successful fallocate does not call file_modified.
 * Paths — create: 1. fd; 2. unsupported flags or size ≤ 0 / unaligned: -EINVAL; 3. -EMFILE.
 * fallocate (Appendix A): 1. frozen: -EPERM before any other check; 2. no KEEP_SIZE or other
 * mode bits: -EOPNOTSUPP; 3. unaligned: -EINVAL; 4. allocate past size: -EINVAL; 5. signal:
 * -EINTR; 6. frozen mid-loop: -EPERM, earlier pages kept; 7. punch hole: 0.
 * get_pfn: no file: -EFAULT; file/slot mismatch: -EFAULT; binding mismatch: -EIO; absent and
 * frozen: -EPERM. Host fault: beyond size, no INIT_SHARED, or get_folio error: SIGBUS.
 * Locking: fallocate: SRCU read ⊃ invalidate_lock (punch: write; allocate: read) ⊃ get_folio's
 * nested SRCU read; punch: invalidate_lock ⊃ KVM_MMU_LOCK for the invalidation's begin and end.
 * release: slots_lock ⊃ invalidate_lock ⊃ KVM_MMU_LOCK. bind/unbind: invalidate_lock.
 * Yield points: SRCU lock/unlock/synchronize, every flags READ_ONCE/WRITE_ONCE, page-cache
 * lookups and inserts, invalidate_lock, the invalidation's begin and end (writes of the VM's
 * MMU state), signal_pending and cond_resched per allocated page, and the first access that
 * zeroes a folio and marks it uptodate (a write of the page cache).
 */
import { mutant } from '../../mutants.ts';
import { op, type Sched } from '../../../sim/index.ts';
import {
  cond_resched,
  READ_ONCE,
  SrcuStruct,
  srcu_read_lock,
  srcu_read_unlock,
  synchronize_srcu,
  WRITE_ONCE,
} from '../../../sync/index.ts';
import { file_inode, type file } from '../../fs/file.ts';
import { PAGE_SIZE } from '../../include/asm-generic/page.ts';
import { folio_zero } from '../../include/linux/highmem.ts';
import { folio_order, type Folio } from '../../include/linux/mm_types.ts';
import { folio_mark_uptodate, folio_test_uptodate } from '../../include/linux/page-flags.ts';
import { signal_pending } from '../../include/linux/sched/signal.ts';
import { EINTR, EINVAL, EOPNOTSUPP, EPERM } from '../../include/uapi/asm-generic/errno.ts';
import { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE } from '../../include/uapi/linux/falloc.ts';
import {
  GUEST_MEMFD_FLAG_INIT_SHARED,
  GUEST_MEMFD_FLAG_MMAP,
} from '../../include/uapi/linux/kvm.ts';
import {
  kvm_arch_has_private_mem,
  kvm_mmu_invalidate_begin,
  kvm_mmu_invalidate_end,
  kvm_mmu_invalidate_range_add,
  type kvm,
} from '../../include/linux/kvm_host.ts';
import type { Kernel } from '../../kernel.ts';
import { kvm_globals } from './kvm_main.ts';
import {
  __filemap_get_folio,
  FGP_CREAT,
  FGP_LOCK,
  filemap_invalidate_lock,
  filemap_invalidate_lock_shared,
  filemap_invalidate_unlock,
  filemap_invalidate_unlock_shared,
  truncate_inode_pages_range,
} from '../../mm/filemap.ts';
import { folio_put } from '../../mm/page_alloc.ts';
import { gmem_variant, GMEM_I, gmem_inode, type gmem_file } from './guest_memfd_h.ts';

export * from './guest_memfd_h.ts';
export { kvm_gmem_bind, kvm_gmem_unbind, kvm_gmem_get_pfn } from './guest_memfd_bind.ts';
export {
  __kvm_gmem_create_file,
  file_is_gmem,
  kvm_gmem_create,
  kvm_gmem_fops,
  kvm_vm_ioctl_create_guest_memfd,
} from './guest_memfd_file.ts';

/** kvm_gmem_init: the boot's freeze SRCU domain (patch 06). 0 (init_srcu_struct cannot fail
 * in the model). */
export function kvm_gmem_init(k: Kernel): number {
  k.kvm_gmem_freeze_srcu = new SrcuStruct(k.sim, 'kvm_gmem_freeze_srcu');
  kvm_globals(k).gmem_debug.domains.add(k.kvm_gmem_freeze_srcu);
  return 0;
}

/** The SRCU domain that guards `gi`: the global one, or its own under `per-inode-srcu`. */
function gmem_srcu(k: Kernel, gi: gmem_inode): SrcuStruct {
  if (gi.srcu !== null) return gi.srcu;
  if (k.kvm_gmem_freeze_srcu === null) return k.sim.fail('guest_memfd used before kvm_gmem_init');
  return k.kvm_gmem_freeze_srcu;
}

/** kvm_gmem_get_supported_flags: MMAP always; INIT_SHARED unless the VM has private memory. */
export function kvm_gmem_get_supported_flags(v: kvm | null): bigint {
  let flags = GUEST_MEMFD_FLAG_MMAP;
  if (v === null || !kvm_arch_has_private_mem(v)) flags |= GUEST_MEMFD_FLAG_INIT_SHARED;
  return flags;
}

/** kvm_gmem_is_frozen (patch 06): one READ_ONCE of the inode flags. */
export function* kvm_gmem_is_frozen(gi: gmem_inode): Sched<boolean> {
  return ((yield* READ_ONCE(gi.flags)) & gmem_inode.FROZEN) !== 0n;
}

/**
 * kvm_gmem_freeze (patch 06): READ_ONCE the flags, set or clear FROZEN, WRITE_ONCE them, and
 * only when freezing, synchronize_srcu so that every allocation already inside a read section
 * has finished when it returns. Variants change exactly one of these steps.
 */
export function* kvm_gmem_freeze(k: Kernel, gi: gmem_inode, freeze: boolean): Sched {
  const underLock = freeze && gmem_variant(k, 'freeze-under-invalidate-lock');
  if (underLock) yield* filemap_invalidate_lock(gi.i_mapping_of());
  let flags = yield* READ_ONCE(gi.flags);
  flags = freeze ? flags | gmem_inode.FROZEN : flags & ~gmem_inode.FROZEN;
  yield* WRITE_ONCE(gi.flags, flags);
  const debug = kvm_globals(k).gmem_debug;
  // Model-only: with several domains (per-inode-srcu), observing the other domains' readers is a
  // visible step (a write of each domain, ordered against their read locks and unlocks), which
  // keeps DPOR sound for the checker. With the one global domain, synchronize_srcu's own steps
  // already order the observation.
  const observe = freeze && debug.domains.size > 1;
  if (observe) yield op('freeze: note read sections in flight', debug.footprint());
  const inFlight = debug.openReadSections();
  if (!underLock) {
    const sync = freeze
      ? !gmem_variant(k, 'no-sync-on-freeze')
      : gmem_variant(k, 'sync-on-unfreeze');
    if (sync) {
      if (!freeze && gmem_srcu(k, gi).readers.size > 0) debug.unfreezes_waited++;
      yield* synchronize_srcu(gmem_srcu(k, gi));
    }
  } else yield* filemap_invalidate_unlock(gi.i_mapping_of());
  if (freeze) {
    if (observe) yield op('freeze: check read sections ended', debug.footprint());
    debug.freezes++;
    const still = debug.openReadSections();
    if ([...inFlight].some((r) => still.has(r))) debug.freezes_returned_early++;
  }
}

/** Enters the read section and checks FROZEN, in the order the variant says; -EPERM when frozen
 * (the section is already left then), else the SRCU index. */
function* frozen_read_lock(k: Kernel, gi: gmem_inode, check: boolean): Sched<number> {
  const srcu = gmem_srcu(k, gi);
  if (check && gmem_variant(k, 'frozen-check-outside-read-section')) {
    if (yield* kvm_gmem_is_frozen(gi)) return -EPERM;
    return yield* srcu_read_lock(srcu);
  }
  const idx = yield* srcu_read_lock(srcu);
  if (check && (yield* kvm_gmem_is_frozen(gi))) {
    yield* srcu_read_unlock(srcu, idx);
    return -EPERM;
  }
  return idx;
}

/**
 * kvm_gmem_get_folio: the folio at `index` with a reference, or -errno. A cached folio is
 * returned with no frozen check (fast path); allocating one happens inside the freeze read
 * section and fails with -EPERM on a frozen inode.
 */
export function* kvm_gmem_get_folio(
  k: Kernel,
  gi: gmem_inode,
  index: number,
): Sched<Folio | number> {
  const m = gi.i_mapping_of();
  const cached = yield* __filemap_get_folio(k, m, index, FGP_LOCK);
  if (typeof cached !== 'number') return cached;
  const check = !mutant(k, 'mutant-get-folio-skips-frozen-check');
  const idx = yield* frozen_read_lock(k, gi, check);
  if (idx < 0) return idx;
  const folio = yield* __filemap_get_folio(k, m, index, FGP_LOCK | FGP_CREAT);
  yield* srcu_read_unlock(gmem_srcu(k, gi), idx);
  if (typeof folio !== 'number')
    k.WARN_ON_ONCE(folio_order(folio) !== 0, 'gmem_get_folio_order', 'large guest_memfd folio');
  return folio;
}

/**
 * The first access to a folio that is not uptodate (fallocated, or just allocated) zeroes it and
 * marks it uptodate, under the folio lock in the kernel (kvm_gmem_get_pfn, the host fault). The
 * flag is what preserve's pass 2 samples into the record (spec §8.4), so the update is a visible
 * write of the page cache (folios have no object of their own), ordered against the walk's reads.
 */
export function* kvm_gmem_folio_first_access(k: Kernel, gi: gmem_inode, folio: Folio): Sched {
  if (folio_test_uptodate(folio)) return;
  const m = gi.i_mapping_of();
  yield op(`folio_mark_uptodate(gmem${gi.i_ino}:${folio.index})`, [
    { object: m.id, kind: 'write' },
  ]);
  if (folio_test_uptodate(folio)) return;
  folio_zero(k, folio);
  folio_mark_uptodate(folio);
}

/**
 * __kvm_gmem_invalidate_begin: under KVM_MMU_LOCK (one visible write of the VM's MMU), an
 * invalidation in progress over the gfns `f` binds in the indices [start, end), whose guest
 * mappings are zapped; nothing when none of them is bound.
 */
export function* __kvm_gmem_invalidate_begin(f: gmem_file, start: number, end: number): Sched {
  const v = f.kvm;
  let found = false;
  for (const [index, slot] of f.bindings) {
    if (index < start || index >= end) continue;
    if (!found) {
      found = true;
      yield op(`KVM_MMU_LOCK(kvm(${v.stats_id})): invalidate begin`, [
        { object: v.mmu, kind: 'rmw' },
      ]);
      kvm_mmu_invalidate_begin(v);
    }
    const gfn = slot.base_gfn + index - slot.gmem_pgoff;
    kvm_mmu_invalidate_range_add(v, gfn, gfn + 1);
    v.spte.delete(gfn);
  }
}

/** __kvm_gmem_invalidate_end: under KVM_MMU_LOCK, when any index of the range is bound. */
export function* __kvm_gmem_invalidate_end(f: gmem_file, start: number, end: number): Sched {
  const v = f.kvm;
  for (const index of f.bindings.keys())
    if (index >= start && index < end) {
      yield op(`KVM_MMU_LOCK(kvm(${v.stats_id})): invalidate end`, [
        { object: v.mmu, kind: 'rmw' },
      ]);
      kvm_mmu_invalidate_end(v);
      return;
    }
}

/** kvm_gmem_invalidate_begin: every file of the inode. */
function* kvm_gmem_invalidate_begin(gi: gmem_inode, start: number, end: number): Sched {
  for (const f of gi.gmem_file_list) yield* __kvm_gmem_invalidate_begin(f, start, end);
}

/** kvm_gmem_invalidate_end: every file of the inode. */
function* kvm_gmem_invalidate_end(gi: gmem_inode, start: number, end: number): Sched {
  for (const f of gi.gmem_file_list) yield* __kvm_gmem_invalidate_end(f, start, end);
}

function* kvm_gmem_punch_hole(
  k: Kernel,
  gi: gmem_inode,
  offset: number,
  len: number,
): Sched<number> {
  const m = gi.i_mapping_of();
  yield* filemap_invalidate_lock(m);
  // Page indices as in pgoff_t: plain division (a shift would wrap at 2 GiB in JavaScript).
  const start = offset / PAGE_SIZE;
  const end = (offset + len) / PAGE_SIZE;
  yield* kvm_gmem_invalidate_begin(gi, start, end);
  yield* truncate_inode_pages_range(k, m, offset, offset + len - 1);
  yield* kvm_gmem_invalidate_end(gi, start, end);
  yield* filemap_invalidate_unlock(m);
  return 0;
}

function* kvm_gmem_allocate(k: Kernel, gi: gmem_inode, offset: number, len: number): Sched<number> {
  if (offset + len > gi.i_size) return -EINVAL;
  const m = gi.i_mapping_of();
  yield* filemap_invalidate_lock_shared(m);
  let r = 0;
  for (let index = offset / PAGE_SIZE; index < (offset + len) / PAGE_SIZE;) {
    if (yield* signal_pending(k.sim)) {
      r = -EINTR;
      break;
    }
    const folio = yield* kvm_gmem_get_folio(k, gi, index);
    if (typeof folio === 'number') {
      r = folio;
      break;
    }
    index = folio.index + 1;
    folio_put(k, folio);
    yield* cond_resched();
  }
  yield* filemap_invalidate_unlock_shared(m);
  return r;
}

/** kvm_gmem_fallocate: the whole call is one freeze read section; FROZEN is checked first. */
export function* kvm_gmem_fallocate(
  k: Kernel,
  f: file,
  mode: number,
  offset: number,
  len: number,
): Sched<number> {
  const gi = GMEM_I(file_inode(f));
  if (gi === null) return -EINVAL;
  const idx = yield* frozen_read_lock(k, gi, !gmem_variant(k, 'no-frozen-check-in-fallocate'));
  if (idx < 0) return idx;
  let ret: number;
  if ((mode & FALLOC_FL_KEEP_SIZE) === 0) ret = -EOPNOTSUPP;
  else if ((mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)) !== 0) ret = -EOPNOTSUPP;
  else if (offset % PAGE_SIZE !== 0 || len % PAGE_SIZE !== 0) ret = -EINVAL;
  else if ((mode & FALLOC_FL_PUNCH_HOLE) !== 0)
    ret = yield* kvm_gmem_punch_hole(k, gi, offset, len);
  else ret = yield* kvm_gmem_allocate(k, gi, offset, len);
  yield* srcu_read_unlock(gmem_srcu(k, gi), idx);
  return ret;
}
