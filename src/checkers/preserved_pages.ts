/**
 * Property: no preserved page leaks, and none is restored twice (KHO tracker against records).
 *
 * Outgoing kernel: every page in the KHO tracker is either part of the baseline (what the kernel
 * itself preserved before any session existed: LUO's blob and FLB page, KHO's metadata) or owned
 * by a live LUO record: a session or file block, a VM record, or a guest_memfd record with its
 * folio array (kho_vmalloc chunks and pages) and its folios (spec §2.1, §2.3, §2.4, §4.5). A page
 * preserved and owned by nothing would reach the next kernel with no one to free it; a record
 * page missing from the tracker would not survive at all.
 *
 * Incoming kernel: the pages of every record the previous kernel handed over are stamped by KHO
 * until restored. Once the sessions are finished, none may still be stamped (leaked, B.8/B.9),
 * nor may any other page outside the previous kernel's baseline (preserved by no record, e.g. a
 * folio an unpreserve forgot), and no folio may sit in two page caches (restored twice). A
 * second restore of the same page is also a WARN in kho_restore_page, which the model turns
 * into an assertion.
 *
 * Read like a debugger would, between visible operations: the scenarios call these when the
 * paths that change the tracker have been ordered before the caller (joined or serialized).
 */
import { PAGE_SIZE, PHYS_PFN } from '../linux/include/asm-generic/page.ts';
import {
  GUEST_MEMFD_LUO_FH_COMPATIBLE,
  GUEST_MEMFD_LUO_FOLIO_SER_SIZE,
  GUEST_MEMFD_LUO_SER_FOLIOS_OFFSET,
  KVM_LUO_FH_COMPATIBLE,
  guest_memfd_luo_folio_get,
  guest_memfd_luo_ser,
} from '../linux/include/linux/kho/abi/kvm.ts';
import {
  KHO_VMALLOC_CHUNK_OFF_PHYS,
  KHO_VMALLOC_SIZE,
  kho_vmalloc_decode,
} from '../linux/include/linux/kho/abi/kexec_handover.ts';
import { KHO_PAGE_MAGIC } from '../linux/kernel/liveupdate/kexec_handover.ts';
import { kho_radix_walk_tree } from '../linux/kernel/liveupdate/kho_radix_tree.ts';
import type { luo_file } from '../linux/kernel/liveupdate/luo_internal.ts';
import type { Kernel } from '../linux/kernel.ts';
import { GMEM_I } from '../linux/virt/kvm/guest_memfd_h.ts';
import type { Process } from '../user/process.ts';

/** Every pfn the outgoing KHO tracker preserves (blocks expanded to pages). */
export function trackedPfns(k: Kernel): Set<number> {
  const out = new Set<number>();
  if (k.kho.radix_root === 0) return out;
  kho_radix_walk_tree(k.machine.physmem, BigInt(k.kho.radix_root), {
    onBlock: (phys, order) => {
      for (let i = 0; i < 2 ** order; i++) out.add(PHYS_PFN(phys) + i);
    },
  });
  return out;
}

/** The chunk pages and the data pages of a kho_vmalloc descriptor. */
function vmallocPfns(k: Kernel, descBytes: Uint8Array, into: Set<number>): void {
  const desc = kho_vmalloc_decode(descBytes);
  const mem = k.machine.physmem;
  let chunk = desc.first;
  for (let guard = 0; chunk !== 0 && guard < 1024; guard++) {
    into.add(PHYS_PFN(chunk));
    for (let i = 0; i < KHO_VMALLOC_SIZE; i++) {
      const pa = Number(mem.readU64(chunk + KHO_VMALLOC_CHUNK_OFF_PHYS + i * 8));
      if (pa === 0) break;
      for (let j = 0; j < 2 ** desc.order; j++) into.add(PHYS_PFN(pa) + j);
    }
    chunk = Number(mem.readU64(chunk));
  }
}

/** The folio pfns a guest_memfd record lists, read through its folio array. */
function gmemFolioPfns(k: Kernel, pa: number): number[] {
  const bytes = k.machine.physmem.read(pa, guest_memfd_luo_ser.size);
  const nr = Number(guest_memfd_luo_ser.read(bytes).nr_folios);
  if (nr === 0) return [];
  const pages = new Set<number>();
  vmallocPfns(k, bytes.subarray(GUEST_MEMFD_LUO_SER_FOLIOS_OFFSET), pages);
  const desc = kho_vmalloc_decode(bytes.subarray(GUEST_MEMFD_LUO_SER_FOLIOS_OFFSET));
  const data: number[] = [];
  let chunk = desc.first;
  for (let guard = 0; chunk !== 0 && guard < 1024; guard++) {
    for (let i = 0; i < KHO_VMALLOC_SIZE; i++) {
      const p = Number(k.machine.physmem.readU64(chunk + KHO_VMALLOC_CHUNK_OFF_PHYS + i * 8));
      if (p === 0) break;
      data.push(p);
    }
    chunk = Number(k.machine.physmem.readU64(chunk));
  }
  const per = PAGE_SIZE / GUEST_MEMFD_LUO_FOLIO_SER_SIZE;
  const out: number[] = [];
  for (let i = 0; i < nr; i++) {
    const page = data[Math.floor(i / per)];
    if (page === undefined) break;
    const raw = k.machine.physmem.read(page + (i % per) * GUEST_MEMFD_LUO_FOLIO_SER_SIZE, 16);
    const e = guest_memfd_luo_folio_get(raw, 0);
    if (e.pfn !== 0) out.push(e.pfn);
  }
  return out;
}

/** Adds the pages a handler record at `pa` owns; false for a handler this checker cannot read. */
function recordPfns(k: Kernel, compatible: string, pa: number, into: Set<number>): boolean {
  if (pa === 0) return true;
  into.add(PHYS_PFN(pa));
  if (compatible === KVM_LUO_FH_COMPATIBLE) return true;
  if (compatible !== GUEST_MEMFD_LUO_FH_COMPATIBLE) return false;
  const bytes = k.machine.physmem.read(pa, guest_memfd_luo_ser.size);
  if (guest_memfd_luo_ser.read(bytes).nr_folios > 0n) {
    vmallocPfns(k, bytes.subarray(GUEST_MEMFD_LUO_SER_FOLIOS_OFFSET), into);
    for (const pfn of gmemFolioPfns(k, pa)) into.add(pfn);
  }
  return true;
}

/** The pages the live outgoing LUO records own: session and file blocks, handler records. */
function ownedOutgoingPfns(k: Kernel): { owned: Set<number>; unknown: string[] } {
  const owned = new Set<number>();
  const unknown: string[] = [];
  const luo = k.luo;
  if (luo === null) return { owned, unknown };
  for (const pa of luo.outgoing.block_set.blocks) owned.add(PHYS_PFN(pa));
  for (const s of luo.outgoing.list) {
    for (const pa of s.file_set.block_set.blocks) owned.add(PHYS_PFN(pa));
    for (const lf of s.file_set.files_list)
      if (!recordPfns(k, lf.fh.compatible, Number(lf.serialized_data), owned))
        unknown.push(lf.fh.compatible);
  }
  return { owned, unknown };
}

const show = (pfns: Iterable<number>): string => [...pfns].sort((a, b) => a - b).join(', ');

/**
 * Outgoing kernel: the tracker holds exactly the baseline plus what live records own.
 * `baseline` is trackedPfns() taken before any session existed.
 */
export function noPreservedPageLeaks(proc: Process, baseline: ReadonlySet<number>): true | string {
  const k = proc.kernel;
  const tracked = trackedPfns(k);
  const { owned, unknown } = ownedOutgoingPfns(k);
  if (unknown.length > 0) return `cannot account for records of ${unknown.join(', ')}`;
  const leaked = [...tracked].filter((p) => !baseline.has(p) && !owned.has(p));
  const missing = [...owned].filter((p) => !tracked.has(p));
  const parts: string[] = [];
  if (leaked.length > 0) parts.push(`preserved but owned by no record: pfn ${show(leaked)}`);
  if (missing.length > 0) parts.push(`owned by a record but not preserved: pfn ${show(missing)}`);
  return parts.length === 0 || parts.join('; ');
}

/** True while `pfn` is a preserved head still waiting to be restored in this kernel. */
export function stillPreserved(k: Kernel, pfn: number): boolean {
  const page = k.page_alloc.pages.get(pfn);
  return page !== undefined && page.reserved && Number(page.private >> 32n) === KHO_PAGE_MAGIC;
}

/** Incoming kernel: the pages every not-yet-retrieved incoming record owns (take it before any
 * retrieve or finish: both consume records). */
export function incomingRecordPfns(proc: Process): Set<number> {
  const k = proc.kernel;
  const out = new Set<number>();
  const luo = k.luo;
  if (luo === null) return out;
  const files: luo_file[] = luo.incoming.list.flatMap((s) => s.file_set.files_list);
  for (const lf of files)
    if (lf.retrieve_status === 0) recordPfns(k, lf.fh.compatible, Number(lf.serialized_data), out);
  return out;
}

/**
 * Incoming kernel, after the sessions finished: no record page is still waiting to be restored,
 * no other page KHO handed over is either, except the previous kernel's own `baseline` (KHO and
 * LUO metadata preserved before any session, which the kernel keeps), and no folio is cached by
 * two guest_memfd inodes of the given processes.
 */
export function incomingPagesReleased(
  procs: readonly Process[],
  recordPfns: ReadonlySet<number>,
  baseline: ReadonlySet<number>,
): true | string {
  const k = procs[0]?.kernel;
  if (k === undefined) return 'no process to inspect';
  const leaked = [...recordPfns].filter((p) => stillPreserved(k, p));
  const stray: number[] = [];
  for (const [pfn] of k.page_alloc.pages.entries())
    if (!recordPfns.has(pfn) && !baseline.has(pfn) && stillPreserved(k, pfn)) stray.push(pfn);
  const owner = new Map<number, number>();
  const twice: number[] = [];
  const inodes = new Set<number>();
  for (const p of procs)
    for (const e of p.files.fdt.values()) {
      const gi = e.file === null ? null : GMEM_I(e.file.f_inode);
      if (gi === null || inodes.has(gi.i_ino)) continue;
      inodes.add(gi.i_ino);
      for (const folio of new Set(gi.i_mapping_of().i_pages.values())) {
        if (owner.has(folio.pfn) && owner.get(folio.pfn) !== gi.i_ino) twice.push(folio.pfn);
        owner.set(folio.pfn, gi.i_ino);
      }
    }
  const parts: string[] = [];
  if (leaked.length > 0) parts.push(`handed over but never restored or freed: pfn ${show(leaked)}`);
  if (stray.length > 0) parts.push(`handed over by KHO, owned by no record: pfn ${show(stray)}`);
  if (twice.length > 0) parts.push(`restored into two page caches: pfn ${show(twice)}`);
  return parts.length === 0 || parts.join('; ');
}
