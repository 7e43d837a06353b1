/**
 * Read-only views of guest_memfd and LUO state that the checkers compare, reached from a
 * userspace handle (a process and an fd), the way a test harness would use debugfs.
 */
import { fd_file_peek } from '../linux/fs/file.ts';
import {
  GUEST_MEMFD_LUO_FOLIO_SER_SIZE,
  GUEST_MEMFD_LUO_SER_FOLIOS_OFFSET,
  guest_memfd_luo_folio_get,
  guest_memfd_luo_ser,
} from '../linux/include/linux/kho/abi/kvm.ts';
import { kho_vmalloc_decode } from '../linux/include/linux/kho/abi/kexec_handover.ts';
import {
  KHO_VMALLOC_CHUNK_OFF_PHYS,
  KHO_VMALLOC_SIZE,
} from '../linux/include/linux/kho/abi/kexec_handover.ts';
import type { Kernel } from '../linux/kernel.ts';
import { GMEM_I, gmem_inode } from '../linux/virt/kvm/guest_memfd_h.ts';
import { PAGE_SIZE } from '../linux/include/asm-generic/page.ts';
import type { Process } from '../user/process.ts';

/** The guest_memfd inode behind `fd` in `proc`, or null. */
export function gmemOf(proc: Process, fd: number): gmem_inode | null {
  const f = fd_file_peek(proc.files, fd);
  return f === null ? null : GMEM_I(f.f_inode);
}

/** index → pfn of every page in the inode's page cache, as "index:pfn" sorted by index. */
export function pageCacheOf(gi: gmem_inode): string[] {
  return [...gi.i_mapping_of().i_pages.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([index, folio]) => `${index}:${folio.pfn}`);
}

export interface GmemRecord {
  readonly size: bigint;
  readonly flags: bigint;
  readonly vm_token: bigint;
  /** "index:pfn" of every entry, in array order. */
  readonly entries: string[];
  readonly uptodate: number;
  /** The indices whose entry carries GUEST_MEMFD_LUO_FOLIO_UPTODATE. */
  readonly uptodateIndices: number[];
}

/** The physical pages of a kho_vmalloc area, following its chunk list (bounded). */
function vmallocPages(k: Kernel, desc: { first: number; total_pages: number }): number[] {
  const pages: number[] = [];
  let chunk = desc.first;
  for (let guard = 0; chunk !== 0 && guard < 1 << 20; guard++) {
    for (let i = 0; i < KHO_VMALLOC_SIZE && pages.length < desc.total_pages; i++) {
      const pa = Number(k.machine.physmem.readU64(chunk + KHO_VMALLOC_CHUNK_OFF_PHYS + i * 8));
      if (pa === 0) break;
      pages.push(pa);
    }
    chunk = Number(k.machine.physmem.readU64(chunk));
  }
  return pages;
}

/** Decodes the guest_memfd record at physical address `pa` from the kernel's memory. */
export function readGmemRecord(k: Kernel, pa: number): GmemRecord {
  const bytes = k.machine.physmem.read(pa, guest_memfd_luo_ser.size);
  const ser = guest_memfd_luo_ser.read(bytes);
  const nr = Number(ser.nr_folios);
  const entries: string[] = [];
  let uptodate = 0;
  const uptodateIndices: number[] = [];
  if (nr > 0) {
    const desc = kho_vmalloc_decode(bytes.subarray(GUEST_MEMFD_LUO_SER_FOLIOS_OFFSET));
    const pages = vmallocPages(k, desc);
    const per = PAGE_SIZE / GUEST_MEMFD_LUO_FOLIO_SER_SIZE;
    for (let i = 0; i < nr; i++) {
      const page = pages[Math.floor(i / per)];
      if (page === undefined) break;
      const raw = k.machine.physmem.read(page + (i % per) * 16, 16);
      const e = guest_memfd_luo_folio_get(raw, 0);
      entries.push(`${e.index}:${e.pfn}`);
      if ((e.flags & 1) !== 0) {
        uptodate++;
        uptodateIndices.push(e.index);
      }
    }
  }
  return {
    size: ser.size,
    flags: ser.flags,
    vm_token: ser.vm_token,
    entries,
    uptodate,
    uptodateIndices,
  };
}

/** The serialized_data of the file preserved under `token` in any outgoing session, or null. */
export function outgoingRecordOf(k: Kernel, token: bigint): number | null {
  const luo = k.luo;
  if (luo === null) return null;
  for (const s of luo.outgoing.list)
    for (const lf of s.file_set.files_list)
      if (lf.token === token && lf.serialized_data !== 0n) return Number(lf.serialized_data);
  return null;
}

export { gmem_inode };
