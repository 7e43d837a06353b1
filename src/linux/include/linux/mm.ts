/**
 * Virtual memory areas, page faults and a process's address space.
 *
 * **Models:** include/linux/mm.h and include/linux/mm_types.h (v7.2-era mainline): struct
 * vm_area_struct (vm_start, vm_end, vm_pgoff, vm_flags, vm_file, vm_ops, vm_private_data),
 * struct vm_operations_struct (open, close, fault), struct vm_fault, the VM_* flags, the
 * VM_FAULT_* codes (vm_fault_t) and FAULT_FLAG_*, struct mm_struct with its mmap_lock,
 * vma_pages, linear_page_index, find_vma.
 *
 * **Abstracted:**
 * 1. The page table is a map from virtual page number to a `pte_t` that names the pfn, the folio
 *    it belongs to (the pte holds one folio reference, the model's mapcount), and whether it is
 *    writable. No TLB, no huge ptes, no rmap walk: the page cache keeps its vmas in
 *    address_space.i_mmap and zaps them directly (mm/memory.ts).
 * 2. The vma tree is a sorted array. Address-space layout is bottom-up from `mmap_base`,
 *    deterministic.
 * 3. A fault handler hands its page back in `vmf.page` holding a reference; for a large folio it
 *    may return the head page, and the core maps `pgoff - folio.index` pages into it. Returning
 *    VM_FAULT_LOCKED is accepted and means nothing more (folio locks are not modelled).
 */
import type { Sched, Sim } from '../../../sim/index.ts';
import { RwSemaphore } from '../../../sync/index.ts';
import type { file } from '../../fs/file.ts';
import { PAGE_SIZE } from '../asm-generic/page.ts';
import type { Folio, Page } from './mm_types.ts';

export const VM_NONE = 0x0;
export const VM_READ = 0x1;
export const VM_WRITE = 0x2;
export const VM_EXEC = 0x4;
export const VM_SHARED = 0x8;
export const VM_MAYREAD = 0x10;
export const VM_MAYWRITE = 0x20;
export const VM_MAYEXEC = 0x40;
export const VM_MAYSHARE = 0x80;
export const VM_DONTEXPAND = 0x40000;
export const VM_DONTDUMP = 0x4000000;

/** vm_fault_t: a bit set of VM_FAULT_* (0 = the fault handler installed vmf.page). */
export type vm_fault_t = number;
export const VM_FAULT_OOM = 0x000001;
export const VM_FAULT_SIGBUS = 0x000002;
export const VM_FAULT_MAJOR = 0x000004;
export const VM_FAULT_HWPOISON = 0x000010;
export const VM_FAULT_HWPOISON_LARGE = 0x000020;
export const VM_FAULT_SIGSEGV = 0x000040;
export const VM_FAULT_NOPAGE = 0x000100;
export const VM_FAULT_LOCKED = 0x000200;
export const VM_FAULT_RETRY = 0x000400;
export const VM_FAULT_FALLBACK = 0x000800;
export const VM_FAULT_ERROR =
  VM_FAULT_OOM |
  VM_FAULT_SIGBUS |
  VM_FAULT_SIGSEGV |
  VM_FAULT_HWPOISON |
  VM_FAULT_HWPOISON_LARGE |
  VM_FAULT_FALLBACK;

export const FAULT_FLAG_WRITE = 0x1;
export const FAULT_FLAG_MKWRITE = 0x2;
export const FAULT_FLAG_USER = 0x40;

/** vmf_error(err): the vm_fault_t for a -errno (OOM for -ENOMEM, SIGBUS otherwise). */
export const vmf_error = (err: number): vm_fault_t =>
  err === -12 ? VM_FAULT_OOM : VM_FAULT_SIGBUS;

/** struct vm_operations_struct. */
export interface vm_operations_struct {
  /** A new vma shares this one's backing (split, fork). */
  open?(vma: vm_area_struct): void;
  /** The vma goes away (munmap, exit). */
  close?(vma: vm_area_struct): void;
  /** Supplies the page for vmf.pgoff in vmf.page (with a reference) or returns an error code. */
  fault?(vmf: vm_fault): Sched<vm_fault_t>;
  readonly name?: string;
}

export class vm_area_struct {
  readonly vm_mm: mm_struct;
  vm_start: number;
  vm_end: number;
  /** File offset of vm_start, in pages. */
  vm_pgoff: number;
  vm_flags: number;
  vm_file: file | null;
  vm_ops: vm_operations_struct | null = null;
  vm_private_data: unknown = null;

  constructor(
    mm: mm_struct,
    start: number,
    end: number,
    pgoff: number,
    flags: number,
    f: file | null,
  ) {
    this.vm_mm = mm;
    this.vm_start = start;
    this.vm_end = end;
    this.vm_pgoff = pgoff;
    this.vm_flags = flags;
    this.vm_file = f;
  }
}

/** struct vm_fault: what a fault handler is asked for and answers. */
export interface vm_fault {
  readonly vma: vm_area_struct;
  /** Faulting user address, page aligned. */
  readonly address: number;
  /** File page index of the address. */
  readonly pgoff: number;
  /** FAULT_FLAG_* bits. */
  readonly flags: number;
  /** OUT: the page (or the head of its folio), with one reference for the caller. */
  page: Page | null;
}

/** pte_t: a present page table entry. */
export interface pte_t {
  readonly pfn: number;
  /** The folio the pfn belongs to; the pte holds one reference on it. */
  readonly folio: Folio;
  writable: boolean;
  /** A private (copy-on-write) copy, not a page-cache page. */
  readonly anon: boolean;
}

/** struct mm_struct: a process's address space. */
export class mm_struct {
  readonly sim: Sim;
  readonly id: number;
  readonly mmap_lock: RwSemaphore;
  /** The vmas, sorted by vm_start, non-overlapping. */
  readonly vmas: vm_area_struct[] = [];
  /** Page table: virtual page number → pte. */
  readonly ptes = new Map<number, pte_t>();
  /** Where bottom-up address search starts. */
  readonly mmap_base: number;

  constructor(sim: Sim, name: string, mmap_base = 0x7f00_0000_0000) {
    this.sim = sim;
    this.id = sim.newObject(`${name}.mm`);
    this.mmap_lock = new RwSemaphore(sim, `${name}.mmap_lock`);
    this.mmap_base = mmap_base;
  }
}

export const vma_pages = (vma: vm_area_struct): number => (vma.vm_end - vma.vm_start) / PAGE_SIZE;

/** linear_page_index(vma, address): the file page index of `address`. */
export const linear_page_index = (vma: vm_area_struct, address: number): number =>
  vma.vm_pgoff + Math.floor((address - vma.vm_start) / PAGE_SIZE);

/** The vma containing `addr`, or null (the kernel's find_vma + a vm_start check). */
export function find_vma(mm: mm_struct, addr: number): vm_area_struct | null {
  for (const vma of mm.vmas) {
    if (addr < vma.vm_start) return null;
    if (addr < vma.vm_end) return vma;
  }
  return null;
}
