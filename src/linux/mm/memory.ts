/**
 * Page faults and user memory access through a process's page table.
 *
 * **Models:** mm/memory.c (v7.2-era mainline): handle_mm_fault → __do_fault (vm_ops->fault) →
 * finish_fault for file pages; do_cow_fault and do_wp_page for private mappings;
 * unmap_mapping_range / unmap_mapping_pages and zap_page_range for the page-cache side; the
 * user access path (copy_{to,from}_user over user addresses, as access_process_vm walks it)
 * that faults pages in and turns fault codes into signals (arch fault handler: VM_FAULT_SIGBUS →
 * SIGBUS, VM_FAULT_SIGSEGV or no vma / bad permission → SIGSEGV, VM_FAULT_OOM → the OOM kill).
 *
 * **Abstracted:** one visible operation per page accessed (the mmap_lock read hold); the fault
 * and the byte copy run atomically under it. No retry (VM_FAULT_RETRY is treated as an error),
 * no fault-around, no userfaultfd, no huge ptes. A pte holds one folio reference.
 *
 * Paths of an access: 1. pte present with the right permission: copy; 2. no vma or a vma
 * without the permission: SIGSEGV; 3. fault error: SIGBUS (SIGBUS/HWPOISON), SIGSEGV, or SIGKILL
 * (OOM); 4. write to a private mapping: copy-on-write into an anonymous page; 5. write to a
 * shared page: the folio is marked dirty.
 */
import type { Sched } from '../../sim/index.ts';
import { down_read, up_read } from '../../sync/index.ts';
import { PAGE_SIZE, PFN_PHYS } from '../include/asm-generic/page.ts';
import { folio_file_pfn } from '../include/linux/highmem.ts';
import {
  FAULT_FLAG_USER,
  FAULT_FLAG_WRITE,
  VM_FAULT_ERROR,
  VM_FAULT_HWPOISON,
  VM_FAULT_HWPOISON_LARGE,
  VM_FAULT_OOM,
  VM_FAULT_RETRY,
  VM_FAULT_SIGBUS,
  VM_FAULT_SIGSEGV,
  VM_READ,
  VM_SHARED,
  VM_WRITE,
  find_vma,
  linear_page_index,
  type mm_struct,
  type vm_area_struct,
  type vm_fault,
  type vm_fault_t,
} from '../include/linux/mm.ts';
import { folio_mark_dirty } from '../include/linux/page-flags.ts';
import { SIGBUS, SIGSEGV } from '../include/uapi/asm-generic/mman.ts';
import type { address_space, MmKernel } from './filemap.ts';
import { GFP_KERNEL, folio_alloc, folio_put, type HasPageAlloc } from './page_alloc.ts';

export const SIGKILL = 9;

/** Removes the ptes of [start, end) (user addresses) and drops their folio references. */
export function zap_page_range(k: HasPageAlloc, mm: mm_struct, start: number, end: number): void {
  for (let a = start; a < end; a += PAGE_SIZE) {
    const vpn = a / PAGE_SIZE;
    const pte = mm.ptes.get(vpn);
    if (pte === undefined) continue;
    mm.ptes.delete(vpn);
    folio_put(k, pte.folio);
  }
}

/**
 * unmap_mapping_range(mapping, holebegin, holelen, even_cows): zaps every user pte of the file
 * pages in the range (holelen 0 = to the end); private COW copies only if even_cows.
 */
// eslint-disable-next-line require-yield
export function* unmap_mapping_range(
  k: HasPageAlloc,
  m: address_space,
  holebegin: number,
  holelen: number,
  even_cows: boolean,
): Sched {
  const first = Math.floor(holebegin / PAGE_SIZE);
  const last = holelen === 0 ? Number.MAX_SAFE_INTEGER : first + Math.ceil(holelen / PAGE_SIZE) - 1;
  for (const vma of m.i_mmap) {
    const vfirst = Math.max(first, vma.vm_pgoff);
    const vlast = Math.min(last, vma.vm_pgoff + (vma.vm_end - vma.vm_start) / PAGE_SIZE - 1);
    for (let idx = vfirst; idx <= vlast; idx++) {
      const addr = vma.vm_start + (idx - vma.vm_pgoff) * PAGE_SIZE;
      const pte = vma.vm_mm.ptes.get(addr / PAGE_SIZE);
      if (pte === undefined || (pte.anon && !even_cows)) continue;
      zap_page_range(k, vma.vm_mm, addr, addr + PAGE_SIZE);
    }
  }
}

/** Calls vm_ops->fault; the faulted folio with a reference, or the error code. */
function* __do_fault(
  vma: vm_area_struct,
  address: number,
  flags: number,
): Sched<vm_fault_t | vm_fault> {
  const ops = vma.vm_ops;
  if (ops?.fault === undefined) return VM_FAULT_SIGBUS;
  const vmf: vm_fault = { vma, address, pgoff: linear_page_index(vma, address), flags, page: null };
  const ret = yield* ops.fault(vmf);
  if ((ret & (VM_FAULT_ERROR | VM_FAULT_RETRY)) !== 0)
    return ret & (VM_FAULT_ERROR | VM_FAULT_RETRY);
  if (vmf.page === null) return VM_FAULT_SIGBUS;
  return vmf;
}

/** A private copy of the page at `pfn` for do_cow_fault / do_wp_page. */
function cow_copy(k: MmKernel, pfn: number): import('../include/linux/mm_types.ts').Folio | null {
  const copy = folio_alloc(k, GFP_KERNEL, 0);
  if (typeof copy === 'number') return null;
  const mem = k.machine.physmem;
  const bytes = mem.pageBytes(pfn);
  mem.zeroPage(copy.pfn);
  if (bytes !== null) mem.write(PFN_PHYS(copy.pfn), bytes);
  return copy;
}

/** handle_mm_fault: installs a pte for `address`; 0 or VM_FAULT_* error bits. The caller holds
 * mmap_lock for read and has checked the vma's permission. */
export function* handle_mm_fault(
  k: MmKernel,
  vma: vm_area_struct,
  address: number,
  flags: number,
): Sched<vm_fault_t> {
  const mm = vma.vm_mm;
  const vpn = Math.floor(address / PAGE_SIZE);
  const write = (flags & FAULT_FLAG_WRITE) !== 0;
  const shared = (vma.vm_flags & VM_SHARED) !== 0;
  const present = mm.ptes.get(vpn);
  if (present !== undefined && !write) return 0;
  if (present !== undefined && (present.writable || shared)) {
    present.writable = true;
    return 0;
  }
  if (present !== undefined) {
    // do_wp_page: break COW of a read-only file page in a private mapping.
    const copy = cow_copy(k, present.pfn);
    if (copy === null) return VM_FAULT_OOM;
    folio_put(k, present.folio);
    mm.ptes.set(vpn, { pfn: copy.pfn, folio: copy, writable: true, anon: true });
    return 0;
  }
  const r = yield* __do_fault(vma, vpn * PAGE_SIZE, flags);
  if (typeof r === 'number') return r;
  const folio = r.page as import('../include/linux/mm_types.ts').Folio;
  const pfn = folio_file_pfn(folio, r.pgoff);
  if (write && !shared) {
    const copy = cow_copy(k, pfn);
    folio_put(k, folio);
    if (copy === null) return VM_FAULT_OOM;
    mm.ptes.set(vpn, { pfn: copy.pfn, folio: copy, writable: true, anon: true });
    return 0;
  }
  const writable = shared && (vma.vm_flags & VM_WRITE) !== 0;
  mm.ptes.set(vpn, { pfn, folio, writable, anon: false });
  return 0;
}

/** The outcome of a user memory access: the bytes (reads), or the signal it raised. */
export type UserAccess =
  | { readonly ok: true; readonly bytes: Uint8Array }
  | {
      readonly ok: false;
      readonly signal: number;
      readonly addr: number;
      readonly fault: vm_fault_t;
    };

function signal_of(fault: vm_fault_t): number {
  if ((fault & VM_FAULT_OOM) !== 0) return SIGKILL;
  if ((fault & (VM_FAULT_SIGBUS | VM_FAULT_HWPOISON | VM_FAULT_HWPOISON_LARGE)) !== 0)
    return SIGBUS;
  return SIGSEGV;
}

/**
 * Reads `len` bytes at user address `addr`, or writes `data` there, page by page through the
 * page table, faulting pages in. Stops at the first page that raises a signal.
 */
export function* access_user_memory(
  k: MmKernel,
  mm: mm_struct,
  addr: number,
  len: number,
  data: Uint8Array | null,
): Sched<UserAccess> {
  const write = data !== null;
  const out = new Uint8Array(write ? 0 : len);
  const mem = k.machine.physmem;
  for (let done = 0; done < len;) {
    const at = addr + done;
    const n = Math.min(len - done, PAGE_SIZE - (at % PAGE_SIZE));
    yield* down_read(mm.mmap_lock);
    const vma = find_vma(mm, at);
    const need = write ? VM_WRITE : VM_READ;
    let fault = vma === null || (vma.vm_flags & need) === 0 ? VM_FAULT_SIGSEGV : 0;
    if (fault === 0 && vma !== null)
      fault = yield* handle_mm_fault(k, vma, at, FAULT_FLAG_USER | (write ? FAULT_FLAG_WRITE : 0));
    const pte = mm.ptes.get(Math.floor(at / PAGE_SIZE));
    if (fault === 0 && pte !== undefined) {
      const phys = PFN_PHYS(pte.pfn) + (at % PAGE_SIZE);
      if (write) {
        mem.write(phys, data.subarray(done, done + n));
        if (!pte.anon) folio_mark_dirty(pte.folio);
      } else {
        out.set(mem.read(phys, n), done);
      }
    }
    yield* up_read(mm.mmap_lock);
    if (fault !== 0 || pte === undefined) {
      return { ok: false, signal: signal_of(fault || VM_FAULT_SIGBUS), addr: at, fault };
    }
    done += n;
  }
  return { ok: true, bytes: out };
}
