/**
 * guest_memfd preservation, incoming side: retrieve and finish of "guest_memfd_luo_v1".
 *
 * **Models:** virt/kvm/guest_memfd_luo.c of the guest_memfd preservation series, RFC v2
 * (patch 07; spec §2.4, §4.7): kvm_gmem_luo_retrieve, kvm_gmem_luo_finish and
 * kvm_gmem_luo_discard_folios; the post-v3 retrieve validation behind its switch.
 * **Abstracted:** NUMA policy (never restored, nothing to model); memcg charging of restored
 * folios (spec §8.8). The restored folio array is read in place through its vmalloc pages and
 * freed once the loop is done, as mm/memfd_luo.c does with its own array. A task alone in the
 * execution (Sim.solo) inserts all folios under one visible write of the mapping, with the same
 * per-folio code as the fine path (one filemap_add_folio operation each).
 *
 * Retrieve, step by step: 1. no record → -EINVAL (nothing freed); 1a. (post-v3) size 0 or not
 * page-aligned → -EINVAL; 2. ABI flags outside 0x3 → -EOPNOTSUPP; 3. the VM is retrieved through
 * its token (liveupdate_get_file_incoming: first retrieve of the VM, the already retrieved VM
 * file, the VM's stored error, or -ENOENT) → that error; 4. the token's file is not a VM →
 * -EINVAL; 5. (post-v3) flags the VM does not support → -EINVAL; 6. a new, unfrozen guest_memfd
 * file of the preserved size and flags, bound to the VM;
 * 7. with folios: the array cannot be restored → -EINVAL; a folio cannot be restored → -EIO; the
 * page cache refuses it → its error; UPTODATE restored from the entry. Any failure from step 1a on
 * destroys the preserved memory for good: folios not yet inserted are restored and freed, the
 * half-built file is released, the record is freed; LUO then returns the same error forever.
 * Finish: nothing after a retrieve attempt; otherwise every folio, the array and the record are
 * freed.
 */
import { op, type Sched } from '../../../sim/index.ts';
import { fput } from '../../fs/file.ts';
import { PAGE_SIZE, PFN_PHYS } from '../../include/asm-generic/page.ts';
import {
  GUEST_MEMFD_LUO_FLAG_INIT_SHARED,
  GUEST_MEMFD_LUO_FLAG_MMAP,
  GUEST_MEMFD_LUO_FOLIO_SER_SIZE,
  GUEST_MEMFD_LUO_FOLIO_UPTODATE,
  GUEST_MEMFD_LUO_SER_FOLIOS_OFFSET,
  GUEST_MEMFD_LUO_SUPPORTED_FLAGS,
  guest_memfd_luo_folio_flags,
  guest_memfd_luo_folio_index,
  guest_memfd_luo_folio_pfn,
  guest_memfd_luo_folio_set,
  guest_memfd_luo_ser,
} from '../../include/linux/kho/abi/kvm.ts';
import { kho_vmalloc_decode } from '../../include/linux/kho/abi/kexec_handover.ts';
import type { kvm } from '../../include/linux/kvm_host.ts';
import type { liveupdate_file_op_args } from '../../include/linux/liveupdate.ts';
import type { Folio } from '../../include/linux/mm_types.ts';
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
import { __filemap_add_folio, filemap_add_folio } from '../../mm/filemap.ts';
import { folio_put } from '../../mm/page_alloc.ts';
import { find_vm_area, vfree, vmalloc_pages } from '../../mm/vmalloc.ts';
import { kvm_gmem_get_supported_flags } from './guest_memfd.ts';
import { GMEM_I, type gmem_inode } from './guest_memfd_h.ts';
import { __kvm_gmem_create_file } from './guest_memfd_file.ts';
import { GMEM_LUO } from './guest_memfd_luo_h.ts';
import { file_is_kvm } from './kvm_main.ts';

/** Entries per page of a folio array (an entry never straddles two pages). */
const FOLIOS_PER_PAGE = PAGE_SIZE / GUEST_MEMFD_LUO_FOLIO_SER_SIZE;

/**
 * A folio array used in place through its vmalloc mapping, as the kernel indexes it: its area
 * (freed with vfree once the caller is done) and its pages.
 */
export interface folio_array {
  readonly arr: number;
  readonly pages: vmalloc_pages;
}

export function folio_array_of(k: Kernel, arr: number, nr: number): folio_array | null {
  const vm = find_vm_area(k, arr);
  if (vm === null) return null;
  return { arr, pages: new vmalloc_pages(k, vm, nr * GUEST_MEMFD_LUO_FOLIO_SER_SIZE) };
}

/** The page holding entry `i` (`write`: the entry is about to be stored). */
const entry_page = (a: folio_array, i: number, write: boolean): DataView =>
  a.pages.page(i * GUEST_MEMFD_LUO_FOLIO_SER_SIZE, write);

export const folio_array_pfn = (a: folio_array, i: number): number =>
  guest_memfd_luo_folio_pfn(entry_page(a, i, false), i % FOLIOS_PER_PAGE);

const folio_array_flags = (a: folio_array, i: number): number =>
  guest_memfd_luo_folio_flags(entry_page(a, i, false), i % FOLIOS_PER_PAGE);

const folio_array_index = (a: folio_array, i: number): number =>
  guest_memfd_luo_folio_index(entry_page(a, i, false), i % FOLIOS_PER_PAGE);

/** Stores entry `i` (its pfn is never 0, so the page gets non-zero bytes). */
export function folio_array_set(
  a: folio_array,
  i: number,
  pfn: number,
  flags: number,
  index: number,
): void {
  guest_memfd_luo_folio_set(entry_page(a, i, true), i % FOLIOS_PER_PAGE, pfn, flags, index);
}

/** The restored folio array (the caller frees it), or null when it cannot be restored. */
function restore_entries(k: Kernel, ser_bytes: Uint8Array, nr: number): folio_array | null {
  const desc = kho_vmalloc_decode(ser_bytes.subarray(GUEST_MEMFD_LUO_SER_FOLIOS_OFFSET));
  const arr = kho_restore_vmalloc(k, desc);
  if (arr === null) return null;
  const a = folio_array_of(k, arr, nr);
  if (a === null) return k.sim.fail('guest_memfd_luo: restored array has no area');
  return a;
}

/** kvm_gmem_luo_discard_folios on entries [from, nr): restores and frees each folio (the memory
 * is lost). */
function discard_folios(k: Kernel, entries: folio_array, from: number, nr: number): void {
  for (let i = from; i < nr; i++) {
    const pfn = folio_array_pfn(entries, i);
    if (pfn === 0) continue;
    const folio = kho_restore_folio(k, PFN_PHYS(pfn));
    if (folio !== null) folio_put(k, folio);
  }
}

/** Step 7 for entry `i` up to the page-cache insertion: the restored folio, locked, or null. */
function restore_folio_begin(k: Kernel, entries: folio_array, i: number): Folio | null {
  const folio = kho_restore_folio(k, PFN_PHYS(folio_array_pfn(entries, i)));
  if (folio !== null) __folio_set_locked(folio);
  return folio;
}

/** Step 7 for entry `i` once filemap_add_folio returned `err`; returns err. */
function restore_folio_end(
  k: Kernel,
  entries: folio_array,
  i: number,
  folio: Folio,
  err: number,
): number {
  if (err === 0 && (folio_array_flags(entries, i) & GUEST_MEMFD_LUO_FOLIO_UPTODATE) !== 0)
    folio_mark_uptodate(folio);
  folio_unlock(folio);
  // The page cache holds its own reference; drop the one from kho_restore_folio (on failure
  // this frees the folio).
  folio_put(k, folio);
  return err;
}

/**
 * Step 7: insert every preserved folio at its index; 0, or -errno after discarding the rest.
 * Each insertion is a visible write of the mapping; a task alone in the execution (Sim.solo)
 * makes one write for the whole loop and the same per-folio steps inside it.
 */
function* restore_folios(
  k: Kernel,
  gi: gmem_inode,
  entries: folio_array,
  nr: number,
): Sched<number> {
  const m = gi.i_mapping_of();
  const solo = k.sim.solo;
  if (solo)
    yield op(`filemap_add_folio(gmem${gi.i_ino}) [${nr} entries]`, [
      { object: m.id, kind: 'write' },
    ]);
  for (let i = 0; i < nr; i++) {
    if (folio_array_pfn(entries, i) === 0) continue;
    const folio = restore_folio_begin(k, entries, i);
    let err = -EIO;
    if (folio !== null) {
      const index = folio_array_index(entries, i);
      const added = solo
        ? __filemap_add_folio(m, folio, index)
        : yield* filemap_add_folio(m, folio, index);
      err = restore_folio_end(k, entries, i, folio, added);
    }
    if (err !== 0) {
      discard_folios(k, entries, i + 1, nr);
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
  let entries: folio_array | null = null;
  const fail = (err: number): number => {
    if (entries === null && nr > 0) {
      const all = restore_entries(k, bytes, nr);
      if (all !== null) {
        discard_folios(k, all, 0, nr);
        vfree(k, all.arr);
      }
    }
    kho_restore_free(k, pa);
    return err;
  };
  // post-v3: the size is validated first (a u64: only 0 and unaligned sizes are refused).
  if (GMEM_LUO(k).retrieve_validates && (ser.size === 0n || ser.size % BigInt(PAGE_SIZE) !== 0n))
    return fail(-EINVAL);
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
  if (GMEM_LUO(k).retrieve_validates && (flags & ~kvm_gmem_get_supported_flags(v)) !== 0n)
    return fail(-EINVAL);
  const f = yield* __kvm_gmem_create_file(k, v, Number(ser.size), flags);
  if (typeof f === 'number') return fail(f);
  if (nr > 0) {
    entries = restore_entries(k, bytes, nr);
    if (entries === null) {
      yield* fput(f);
      kho_restore_free(k, pa);
      return -EINVAL;
    }
    const err = yield* restore_folios(k, GMEM_I(f.f_inode) as gmem_inode, entries, nr);
    vfree(k, entries.arr);
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
    if (entries !== null) {
      discard_folios(k, entries, 0, nr);
      vfree(k, entries.arr);
    }
  }
  kho_restore_free(k, pa);
}
