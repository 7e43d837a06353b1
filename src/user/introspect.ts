/**
 * Read-only views of kernel state that a test harness gets as root through procfs, debugfs and
 * kcmp(2), for programs that must check what a flow did to memory and files, not just errnos.
 *
 * **Models:** /proc/meminfo (MemTotal, MemFree), /proc/self/pagemap (the pfn behind a present
 * pte), /proc/kpageflags (KPF_BUDDY for a free page, KPF_RESERVED for a reserved one, such as a
 * KHO-preserved block not yet restored), kcmp(KCMP_FILE) within one process, and a debugfs-style
 * listing of LUO's outgoing preserved files (session, token, handler, serialized_data), which
 * LUO itself does not export: it stands in for what a kernel developer reads with a debugger.
 * **Abstracted:** each read is atomic and not a visible operation: these are observations
 * between the program's own syscalls (the flows run one task), not racing readers.
 */
import type { Process } from './process.ts';
import { luo_of } from '../linux/kernel/liveupdate/luo_core.ts';
import { EBADF } from '../linux/include/uapi/asm-generic/errno.ts';
import { PAGE_SIZE } from '../linux/include/asm-generic/page.ts';

/** /proc/kpageflags bits (include/uapi/linux/kernel-page-flags.h). */
export const KPF_BUDDY = 1n << 10n;
export const KPF_NOPAGE = 1n << 20n;
export const KPF_RESERVED = 1n << 32n;

export interface Meminfo {
  readonly MemTotal: number;
  readonly MemFree: number;
}

/** /proc/meminfo: managed and free memory, in bytes. */
export function meminfo(proc: Process): Meminfo {
  const pa = proc.kernel.page_alloc;
  return { MemTotal: pa.managed_pages * PAGE_SIZE, MemFree: pa.nr_free * PAGE_SIZE };
}

/** /proc/self/pagemap: the pfn mapped at user address `addr`, or null when no pte is present. */
export function pagemap_pfn(proc: Process, addr: number): number | null {
  const pte = proc.sys.mm.ptes.get(Math.floor(addr / PAGE_SIZE));
  return pte === undefined ? null : pte.pfn;
}

/** /proc/kpageflags for each pfn: KPF_BUDDY, KPF_RESERVED, KPF_NOPAGE (beyond memory) or 0. */
export function kpageflags(proc: Process, pfns: readonly number[]): bigint[] {
  const k = proc.kernel;
  const free = k.page_alloc.freeRanges();
  const isFree = (pfn: number): boolean => free.some(([s, e]) => pfn >= s && pfn < e);
  return pfns.map((pfn) => {
    if (pfn < 0 || pfn >= k.machine.physmem.pageCount) return KPF_NOPAGE;
    const page = k.page_alloc.pages.get(pfn);
    if (page !== undefined) return page.reserved ? KPF_RESERVED : 0n;
    return isFree(pfn) ? KPF_BUDDY : 0n;
  });
}

/** kcmp(pid, pid, KCMP_FILE, fd1, fd2): 0 when both fds refer to the same open file, else 1
 * (the kernel's 1 or 2 orders the two file pointers; the model has no addresses to order), or
 * -EBADF when either fd is not open. */
export function kcmp_file(proc: Process, fd1: number, fd2: number): number {
  const a = proc.files.fdt.get(fd1)?.file ?? null;
  const b = proc.files.fdt.get(fd2)?.file ?? null;
  if (a === null || b === null) return -EBADF;
  return a === b ? 0 : 1;
}

/** One outgoing preserved file as a debugfs listing would show it. */
export interface OutgoingLuoFile {
  readonly session: string;
  readonly token: bigint;
  readonly compatible: string;
  /** The handler's serialized_data: the physical address of its handover record. */
  readonly serialized_data: bigint;
}

/** Every outgoing session's preserved files, in session then preservation order. */
export function luo_outgoing_files(proc: Process): OutgoingLuoFile[] {
  const out: OutgoingLuoFile[] = [];
  for (const s of luo_of(proc.kernel).outgoing.list)
    for (const lf of s.file_set.files_list)
      out.push({
        session: s.name,
        token: lf.token,
        compatible: lf.fh.compatible,
        serialized_data: lf.serialized_data,
      });
  return out;
}
