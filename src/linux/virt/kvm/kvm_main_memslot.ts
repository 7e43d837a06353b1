/**
 * Memslots: KVM_SET_USER_MEMORY_REGION{,2} with its validation, and KVM_CHECK_EXTENSION.
 *
 * **Models:** the memslot half of virt/kvm/kvm_main.c (v7.2-era mainline):
 * kvm_vm_ioctl_set_memory_region, check_memory_region_flags, kvm_set_memory_region (create,
 * delete, move, flags-only; overlap check), kvm_free_memslot (guest_memfd unbind), and
 * kvm_vm_ioctl_check_extension_generic for the capabilities the model has.
 * **Abstracted:** one address space; no dirty bitmaps (LOG_DIRTY_PAGES is accepted and does
 * nothing); kvm_set_memslot's invalidate/synchronize_srcu dance is one atomic update under
 * slots_lock (see kvm_host.ts abstraction 1). Moving a slot zaps its sptes.
 * Paths (each -EINVAL unless noted): 1. v1 ioctl with flags outside LOG_DIRTY|READONLY;
 * 2. slot id ≥ KVM_USER_MEM_SLOTS; 3. unknown flags, GUEST_MEMFD with LOG_DIRTY or READONLY;
 * 4. size, gpa or hva not page aligned, or hva range not a user range; 5. guest_memfd_offset not
 * aligned or wrapping; 6. gpa + size wraps; 7. too many pages; 8. delete of an empty slot;
 * 9. changing a guest_memfd slot, its hva, size or READONLY; 10. overlap with another slot:
 * -EEXIST; 11. guest_memfd bind errors (-EBADF, -EINVAL, -EEXIST); 12. unchanged: 0; 13. a
 * user buffer too short: -EFAULT.
 */
import type { Sched } from '../../../sim/index.ts';
import { with_mutex } from '../../../sync/index.ts';
import { PAGE_SHIFT, PAGE_SIZE } from '../../include/asm-generic/page.ts';
import {
  kvm_memory_slot,
  kvm_slot_has_gmem,
  KVM_MEM_MAX_NR_PAGES,
  type kvm,
} from '../../include/linux/kvm_host.ts';
import type { UserPtr } from '../../include/linux/uaccess.ts';
import { copy_from_user } from '../../include/linux/uaccess.ts';
import { EEXIST, EFAULT, EINVAL } from '../../include/uapi/asm-generic/errno.ts';
import {
  KVM_CAP_GUEST_MEMFD,
  KVM_CAP_GUEST_MEMFD_FLAGS,
  KVM_CAP_MEMORY_FAULT_INFO,
  KVM_CAP_USER_MEMORY,
  KVM_CAP_USER_MEMORY2,
  KVM_CAP_VM_TYPES,
  KVM_MEM_GUEST_MEMFD,
  KVM_MEM_LOG_DIRTY_PAGES,
  KVM_MEM_READONLY,
  KVM_SET_USER_MEMORY_REGION,
  KVM_USER_MEM_SLOTS,
  kvm_userspace_memory_region,
  kvm_userspace_memory_region2,
} from '../../include/uapi/linux/kvm.ts';
import type { Kernel } from '../../kernel.ts';
import { kvm_gmem_bind, kvm_gmem_get_supported_flags, kvm_gmem_unbind } from './guest_memfd.ts';

/** TASK_SIZE_MAX on x86-64 with 4-level paging: the end of the user address range. */
const TASK_SIZE_MAX = 0x7fff_ffff_f000n;
const PAGE_MASK_LOW = BigInt(PAGE_SIZE - 1);

type Region = ReturnType<typeof kvm_userspace_memory_region2.read>;

function check_memory_region_flags(mem: Region): number {
  let valid = KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_GUEST_MEMFD;
  // Dirty logging of guest_memfd memory is not supported; read-only slots get emulated-MMIO
  // semantics that guest_memfd cannot give.
  if ((mem.flags & KVM_MEM_GUEST_MEMFD) !== 0) valid &= ~KVM_MEM_LOG_DIRTY_PAGES;
  else valid |= KVM_MEM_READONLY;
  return (mem.flags & ~valid) !== 0 ? -EINVAL : 0;
}

/** KVM_SET_USER_MEMORY_REGION and KVM_SET_USER_MEMORY_REGION2. */
export function* kvm_vm_ioctl_set_memory_region(
  k: Kernel,
  v: kvm,
  cmd: number,
  arg: UserPtr,
): Sched<number> {
  const v1 = cmd === KVM_SET_USER_MEMORY_REGION;
  const buf = new Uint8Array(kvm_userspace_memory_region2.size);
  const size = v1 ? kvm_userspace_memory_region.size : kvm_userspace_memory_region2.size;
  if (copy_from_user(buf, arg, size) !== 0) return -EFAULT;
  const mem = kvm_userspace_memory_region2.read(buf);
  if (v1 && (mem.flags & ~(KVM_MEM_LOG_DIRTY_PAGES | KVM_MEM_READONLY)) !== 0) return -EINVAL;
  if ((mem.slot & 0xffff) >= KVM_USER_MEM_SLOTS) return -EINVAL;
  const r = check_memory_region_flags(mem);
  if (r < 0) return r;
  return yield* with_mutex(v.slots_lock, () => kvm_set_memory_region(k, v, mem));
}

function region_problem(mem: Region): boolean {
  const { memory_size: size, guest_phys_addr: gpa, userspace_addr: hva } = mem;
  if ((size & PAGE_MASK_LOW) !== 0n || (gpa & PAGE_MASK_LOW) !== 0n) return true;
  if ((hva & PAGE_MASK_LOW) !== 0n || hva + size > TASK_SIZE_MAX) return true;
  if ((mem.flags & KVM_MEM_GUEST_MEMFD) !== 0) {
    const off = mem.guest_memfd_offset;
    if ((off & PAGE_MASK_LOW) !== 0n || off + size > 0xffff_ffff_ffff_ffffn) return true;
  }
  if (mem.slot >>> 16 !== 0) return true;
  if (gpa + size > 0xffff_ffff_ffff_ffffn) return true;
  return size >> BigInt(PAGE_SHIFT) > BigInt(KVM_MEM_MAX_NR_PAGES);
}

function* kvm_set_memory_region(k: Kernel, v: kvm, mem: Region): Sched<number> {
  if (region_problem(mem)) return -EINVAL;
  const id = mem.slot & 0xffff;
  const old = v.memslots.get(id) ?? null;
  if (mem.memory_size === 0n) {
    if (old === null || old.npages === 0) return -EINVAL;
    yield* kvm_delete_memslot(k, v, old);
    return 0;
  }
  const base_gfn = Number(mem.guest_phys_addr >> BigInt(PAGE_SHIFT));
  const npages = Number(mem.memory_size >> BigInt(PAGE_SHIFT));
  let move = true;
  if (old !== null) {
    // guest_memfd slots are immutable: they can only be deleted.
    if ((mem.flags & KVM_MEM_GUEST_MEMFD) !== 0) return -EINVAL;
    if (mem.userspace_addr !== old.userspace_addr || npages !== old.npages) return -EINVAL;
    if (((mem.flags ^ old.flags) & KVM_MEM_READONLY) !== 0) return -EINVAL;
    move = base_gfn !== old.base_gfn;
    if (!move && mem.flags === (old.flags & 0xffff)) return 0;
  }
  if (move) {
    for (const s of v.memslots.values())
      if (s.id !== id && base_gfn < s.base_gfn + s.npages && s.base_gfn < base_gfn + npages)
        return -EEXIST;
  }
  const slot = new kvm_memory_slot(k.sim, id, base_gfn, npages, mem.flags, mem.userspace_addr);
  if ((mem.flags & KVM_MEM_GUEST_MEMFD) !== 0) {
    const r = yield* kvm_gmem_bind(k, v, slot, mem.guest_memfd, mem.guest_memfd_offset);
    if (r < 0) return r;
  }
  if (old !== null) zap_slot(v, old);
  else v.nr_memslot_pages += npages;
  v.memslots.set(id, slot);
  return 0;
}

function zap_slot(v: kvm, slot: kvm_memory_slot): void {
  for (let gfn = slot.base_gfn; gfn < slot.base_gfn + slot.npages; gfn++) v.spte.delete(gfn);
}

function* kvm_delete_memslot(k: Kernel, v: kvm, slot: kvm_memory_slot): Sched {
  v.memslots.delete(slot.id);
  v.nr_memslot_pages -= slot.npages;
  zap_slot(v, slot);
  if (kvm_slot_has_gmem(slot)) yield* kvm_gmem_unbind(k, slot);
}

/** kvm_free_memslots at VM destruction: unbinds every guest_memfd slot. */
export function* kvm_free_memslots(v: kvm): Sched {
  for (const slot of [...v.memslots.values()]) yield* kvm_delete_memslot(v.k, v, slot);
}

/** KVM_CHECK_EXTENSION on /dev/kvm (v = null) or on a VM. */
export function kvm_vm_ioctl_check_extension(k: Kernel, v: kvm | null, cap: number): number {
  switch (cap) {
    case KVM_CAP_USER_MEMORY:
    case KVM_CAP_USER_MEMORY2:
    case KVM_CAP_MEMORY_FAULT_INFO:
    case KVM_CAP_GUEST_MEMFD:
      return 1;
    case KVM_CAP_VM_TYPES: {
      let mask = 0;
      for (const t of k.kvm?.supported_vm_types ?? []) mask |= 1 << t;
      return mask;
    }
    case KVM_CAP_GUEST_MEMFD_FLAGS:
      return Number(kvm_gmem_get_supported_flags(v));
    default:
      return 0;
  }
}
