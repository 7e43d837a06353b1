/**
 * guest_memfd preservation, incoming side: retrieve and finish of "guest_memfd_luo_v1".
 *
 * **Models:** virt/kvm/guest_memfd_luo.c of the guest_memfd preservation series, RFC v2
 * (patch 07; spec §2.4, §4.7): kvm_gmem_luo_retrieve, kvm_gmem_luo_finish and
 * kvm_gmem_luo_discard_folios; the post-v3 retrieve validation behind its switch.
 * **Abstracted:** NUMA policy (never restored, nothing to model); memcg charging of restored
 * folios (spec §8.8).
 *
 * Retrieve, step by step: 1. no record → -EINVAL (nothing freed); 2. ABI flags outside 0x3 →
 * -EOPNOTSUPP; 3. the VM is retrieved through its token (liveupdate_get_file_incoming: first
 * retrieve of the VM, the already retrieved VM file, the VM's stored error, or -ENOENT) → that
 * error; 4. the token's file is not a VM → -EINVAL; 5. (post-v3) bad size or unsupported flags →
 * -EINVAL; 6. a new, unfrozen guest_memfd file of the preserved size and flags, bound to the VM;
 * 7. with folios: the array cannot be restored → -EINVAL; a folio cannot be restored → -EIO; the
 * page cache refuses it → its error; UPTODATE restored from the entry. Any failure from step 2 on
 * destroys the preserved memory for good: folios not yet inserted are restored and freed, the
 * half-built file is released, the record is freed; LUO then returns the same error forever.
 * Finish: nothing after a retrieve attempt; otherwise every folio, the array and the record are
 * freed.
 */
import type { Sched } from '../../../sim/index.ts';
import { fput } from '../../fs/file.ts';
import { PAGE_SIZE, PFN_PHYS } from '../../include/asm-generic/page.ts';
import {
  GUEST_MEMFD_LUO_FLAG_INIT_SHARED,
  GUEST_MEMFD_LUO_FLAG_MMAP,
  GUEST_MEMFD_LUO_FOLIO_SER_SIZE,
  GUEST_MEMFD_LUO_FOLIO_UPTODATE,
  GUEST_MEMFD_LUO_SER_FOLIOS_OFFSET,
  GUEST_MEMFD_LUO_SUPPORTED_FLAGS,
  guest_memfd_luo_folio_get,
  guest_memfd_luo_ser,
  type guest_memfd_luo_folio,
} from '../../include/linux/kho/abi/kvm.ts';
import { kho_vmalloc_decode } from '../../include/linux/kho/abi/kexec_handover.ts';
import type { kvm } from '../../include/linux/kvm_host.ts';
import type { liveupdate_file_op_args } from '../../include/linux/liveupdate.ts';
import {
  folio_mark_uptodate,
  folio_unlock,
  __folio_set_locked,
} from '../../include/linux/page-flags.ts';
import { EINVAL, EIO, EOPNOTSUPP } from '../../include/uapi/asm-generic/errno.ts';
import {
  GUEST_MEMFD_FLAG_INIT_SHARED,
  GUEST_MEMFD_FLAG_MMAP,
} from '../../include/uapi/linux/kvm.ts';
import type { Kernel } from '../../kernel.ts';
import { kho_restore_folio, kho_restore_free } from '../../kernel/liveupdate/kexec_handover.ts';
import { kho_restore_vmalloc } from '../../kernel/liveupdate/kexec_handover_vmalloc.ts';
import { liveupdate_get_file_incoming } from '../../kernel/liveupdate/luo_file.ts';
import { luo_of } from '../../kernel/liveupdate/luo_core.ts';
import { filemap_add_folio } from '../../mm/filemap.ts';
import { folio_put } from '../../mm/page_alloc.ts';
import { find_vm_area, vfree, vread } from '../../mm/vmalloc.ts';
import { kvm_gmem_get_supported_flags } from './guest_memfd.ts';
import { GMEM_I, type gmem_inode } from './guest_memfd_h.ts';
import { __kvm_gmem_create_file } from './guest_memfd_file.ts';
import { GMEM_LUO } from './guest_memfd_luo_h.ts';
import { file_is_kvm } from './kvm_main.ts';

/** The preserved folio entries, from a restored array (which is freed), or null. */
function restore_entries(
  k: Kernel,
  ser_bytes: Uint8Array,
  nr: number,
): guest_memfd_luo_folio[] | null {
  const desc = kho_vmalloc_decode(ser_bytes.subarray(GUEST_MEMFD_LUO_SER_FOLIOS_OFFSET));
  const arr = kho_restore_vmalloc(k, desc);
  if (arr === null) return null;
  const vm = find_vm_area(k, arr);
  if (vm === null) return k.sim.fail('guest_memfd_luo: restored array has no area');
  const bytes = vread(k, vm, arr, nr * GUEST_MEMFD_LUO_FOLIO_SER_SIZE);
  vfree(k, arr);
  const out: guest_memfd_luo_folio[] = [];
  for (let i = 0; i < nr; i++) out.push(guest_memfd_luo_folio_get(bytes, i));
  return out;
}

/** kvm_gmem_luo_discard_folios: restores and frees each folio (the memory is lost). */
function discard_folios(k: Kernel, entries: readonly guest_memfd_luo_folio[]): void {
  for (const e of entries) {
    if (e.pfn === 0) continue;
    const folio = kho_restore_folio(k, PFN_PHYS(e.pfn));
    if (folio !== null) folio_put(k, folio);
  }
}

/** Step 7: insert every preserved folio at its index; 0, or -errno after discarding the rest. */
function* restore_folios(
  k: Kernel,
  gi: gmem_inode,
  entries: readonly guest_memfd_luo_folio[],
): Sched<number> {
  const m = gi.i_mapping_of();
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i] as guest_memfd_luo_folio;
    if (e.pfn === 0) continue;
    const folio = kho_restore_folio(k, PFN_PHYS(e.pfn));
    let err: number;
    if (folio === null) err = -EIO;
    else {
      __folio_set_locked(folio);
      err = yield* filemap_add_folio(m, folio, e.index);
      if (err === 0 && (e.flags & GUEST_MEMFD_LUO_FOLIO_UPTODATE) !== 0) folio_mark_uptodate(folio);
      folio_unlock(folio);
      // The page cache holds its own reference; drop the one from kho_restore_folio (on failure
      // this frees the folio).
      folio_put(k, folio);
    }
    if (err !== 0) {
      discard_folios(k, entries.slice(i + 1));
      return err;
    }
  }
  return 0;
}

export function* kvm_gmem_luo_retrieve(k: Kernel, args: liveupdate_file_op_args): Sched<number> {
  if (args.serialized_data === 0n) return -EINVAL;
  const pa = Number(args.serialized_data);
  const bytes = k.machine.physmem.read(pa, guest_memfd_luo_ser.size);
  const ser = guest_memfd_luo_ser.read(bytes);
  const nr = Number(ser.nr_folios);
  let entries: guest_memfd_luo_folio[] | null = null;
  const fail = (err: number): number => {
    if (entries === null && nr > 0) {
      const all = restore_entries(k, bytes, nr);
      if (all !== null) discard_folios(k, all);
    }
    kho_restore_free(k, pa);
    return err;
  };
  if ((ser.flags & ~GUEST_MEMFD_LUO_SUPPORTED_FLAGS) !== 0n) return fail(-EOPNOTSUPP);
  const flags =
    ((ser.flags & GUEST_MEMFD_LUO_FLAG_MMAP) !== 0n ? GUEST_MEMFD_FLAG_MMAP : 0n) |
    ((ser.flags & GUEST_MEMFD_LUO_FLAG_INIT_SHARED) !== 0n ? GUEST_MEMFD_FLAG_INIT_SHARED : 0n);
  const vm_file = yield* liveupdate_get_file_incoming(luo_of(k), args.session, ser.vm_token);
  if (typeof vm_file === 'number') {
    k.pr_warn(`gmem: provided VM FD token (${ser.vm_token.toString(16)}) on preserve is incorrect`);
    return fail(vm_file);
  }
  const isVm = file_is_kvm(vm_file);
  const v = isVm ? (vm_file.private_data as kvm) : null;
  yield* fput(vm_file);
  if (v === null) return fail(-EINVAL);
  if (GMEM_LUO(k).retrieve_validates) {
    const size = BigInt.asIntN(64, ser.size);
    if (size <= 0n || size % BigInt(PAGE_SIZE) !== 0n) return fail(-EINVAL);
    if ((flags & ~kvm_gmem_get_supported_flags(v)) !== 0n) return fail(-EINVAL);
  }
  const f = yield* __kvm_gmem_create_file(k, v, Number(ser.size), flags);
  if (typeof f === 'number') return fail(f);
  if (nr > 0) {
    entries = restore_entries(k, bytes, nr);
    if (entries === null) {
      yield* fput(f);
      kho_restore_free(k, pa);
      return -EINVAL;
    }
    const err = yield* restore_folios(k, GMEM_I(f.f_inode) as gmem_inode, entries);
    if (err !== 0) {
      yield* fput(f);
      kho_restore_free(k, pa);
      return err;
    }
  }
  args.file = f;
  kho_restore_free(k, pa);
  return 0;
}

// eslint-disable-next-line require-yield
export function* kvm_gmem_luo_finish(k: Kernel, args: liveupdate_file_op_args): Sched {
  if (args.retrieve_status !== 0 || args.serialized_data === 0n) return;
  const pa = Number(args.serialized_data);
  const bytes = k.machine.physmem.read(pa, guest_memfd_luo_ser.size);
  const nr = Number(guest_memfd_luo_ser.read(bytes).nr_folios);
  if (nr > 0) {
    const entries = restore_entries(k, bytes, nr);
    if (entries !== null) discard_folios(k, entries);
  }
  kho_restore_free(k, pa);
}
