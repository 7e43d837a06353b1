/**
 * vmalloc: virtually contiguous kernel memory over physically scattered pages.
 *
 * **Models:** mm/vmalloc.c — vmalloc, vcalloc, vmalloc_huge, vfree, find_vm_area,
 * get_vm_area_page_order, vmap of a page array (as kho_restore_vmalloc maps restored pages), and
 * reading/writing through the mapping; VM_ALLOC / VM_ALLOW_HUGE_VMAP of include/linux/vmalloc.h
 * (v7.2-era mainline). Just enough for KHO's vmalloc preservation.
 *
 * **Abstracted:** the virtual range is a model range above all physical memory, handed out
 * upwards with a guard page between areas and never reused within a boot, so a restored area
 * lands at a new address as in the kernel. No page tables, no lazy purging, no NUMA.
 */
import { MAX_PAGE_ORDER, PAGE_SIZE, PFN_PHYS } from '../include/asm-generic/page.ts';
import type { Page } from '../include/linux/mm_types.ts';
import { ENOMEM } from '../include/uapi/asm-generic/errno.ts';
import { GFP_KERNEL, __GFP_ZERO, __free_pages, type HasPageAlloc } from './page_alloc.ts';
import type { PhysMem } from '../../machine/physmem.ts';

export const VM_ALLOC = 0x00000002;
export const VM_MAP = 0x00000004;
export const VM_ALLOW_HUGE_VMAP = 0x00000400;
/** Start of the model's vmalloc space: 128 TiB, above any modelled RAM. */
export const VMALLOC_START = 2 ** 47;

export interface vm_struct {
  readonly addr: number;
  readonly size: number;
  readonly flags: number;
  /** Pfn of each 4 KiB page, in mapping order (vm->pages). */
  readonly pfns: readonly number[];
  /** The allocation heads to free on vfree, each of its own order. */
  readonly heads: readonly Page[];
  readonly page_order: number;
}

export class VmallocState {
  readonly areas = new Map<number, vm_struct>();
  next = VMALLOC_START;
}

interface VmallocKernel extends HasPageAlloc {
  readonly vmalloc: VmallocState;
  readonly machine: { readonly physmem: PhysMem };
}

function new_area(k: VmallocKernel, vm: Omit<vm_struct, 'addr' | 'size'>): number {
  const size = vm.pfns.length * PAGE_SIZE;
  const align = PAGE_SIZE << vm.page_order;
  const addr = Math.ceil(k.vmalloc.next / align) * align;
  k.vmalloc.next = addr + size + PAGE_SIZE;
  k.vmalloc.areas.set(addr, { ...vm, addr, size });
  return addr;
}

/** __vmalloc_node with pages of `page_order`; the area's address, or -ENOMEM. */
function __vmalloc(
  k: VmallocKernel,
  size: number,
  flags: number,
  page_order: number,
  gfp = GFP_KERNEL,
): number {
  if (size <= 0 || page_order > MAX_PAGE_ORDER) return -ENOMEM;
  const unit = PAGE_SIZE << page_order;
  const nr = Math.ceil(size / unit);
  const heads: Page[] = [];
  const pfns: number[] = [];
  for (let i = 0; i < nr; i++) {
    const page = k.page_alloc.alloc(page_order, gfp);
    if (page === null) {
      for (const h of heads) __free_pages(k, h, page_order);
      return -ENOMEM;
    }
    heads.push(page);
    for (let j = 0; j < 1 << page_order; j++) pfns.push(page.pfn + j);
  }
  return new_area(k, { flags, pfns, heads, page_order });
}

export function vmalloc(k: VmallocKernel, size: number): number {
  return __vmalloc(k, size, VM_ALLOC, 0);
}

/** vcalloc(n, size): a zeroed array of n elements (-ENOMEM also when n * size overflows). */
export function vcalloc(k: VmallocKernel, n: number, size: number): number {
  if (!Number.isSafeInteger(n * size)) return -ENOMEM;
  return __vmalloc(k, n * size, VM_ALLOC, 0, GFP_KERNEL | __GFP_ZERO);
}

/** vmalloc_huge: backing blocks of `page_order` (the kernel picks PMD size when it fits). */
export function vmalloc_huge(k: VmallocKernel, size: number, page_order: number): number {
  return __vmalloc(k, size, VM_ALLOC | VM_ALLOW_HUGE_VMAP, page_order);
}

/** Maps restored pages at a new address (vmap_pages_range over a fresh area). */
export function vmap_restored(
  k: VmallocKernel,
  pages: readonly Page[],
  flags: number,
  page_order: number,
): number {
  return new_area(k, { flags, pfns: pages.map((p) => p.pfn), heads: pages, page_order });
}

export function find_vm_area(k: VmallocKernel, addr: number): vm_struct | null {
  return k.vmalloc.areas.get(addr) ?? null;
}

export const get_vm_area_page_order = (vm: vm_struct): number => vm.page_order;

export function vfree(k: VmallocKernel, addr: number): void {
  const vm = k.vmalloc.areas.get(addr);
  if (!vm) return;
  k.vmalloc.areas.delete(addr);
  for (const h of vm.heads) __free_pages(k, h, h.order);
}

/** The physical address behind `addr` in `vm`, or a RangeError outside it. */
function vmalloc_to_phys(vm: vm_struct, addr: number): number {
  const off = addr - vm.addr;
  const pfn = vm.pfns[Math.floor(off / PAGE_SIZE)];
  if (off < 0 || pfn === undefined) throw new RangeError(`0x${addr.toString(16)} not in the area`);
  return PFN_PHYS(pfn) + (off % PAGE_SIZE);
}

/**
 * A vmalloc area used in place, page by page, the way kernel code indexes a vmalloc'd array
 * through its mapping (vread and vwrite copy instead): the DataView over the frame behind each
 * page of the area. A page whose frame holds no bytes reads as zeros; `write` gives the frame
 * bytes, so ask for it only to store non-zero data. Valid until the area is freed.
 */
export class vmalloc_pages {
  private readonly views: Array<DataView | undefined> = [];
  /** What a page without bytes reads as (never written). */
  private zero: DataView | null = null;
  private readonly k: VmallocKernel;
  private readonly vm: vm_struct;

  /** `len`: the bytes the caller will use; past the area it is a RangeError, as for vread. */
  constructor(k: VmallocKernel, vm: vm_struct, len: number) {
    if (len > 0) vmalloc_to_phys(vm, vm.addr + len - 1);
    this.k = k;
    this.vm = vm;
  }

  /** The page that holds byte `off` of the area. */
  page(off: number, write: boolean): DataView {
    const i = Math.floor(off / PAGE_SIZE);
    const known = this.views[i];
    if (known !== undefined) return known;
    const pfn = this.vm.pfns[i];
    if (pfn === undefined) throw new RangeError(`offset ${off} is outside the area`);
    const bytes = this.k.machine.physmem.frameBytes(pfn, write);
    if (bytes === null) return (this.zero ??= new DataView(new ArrayBuffer(PAGE_SIZE)));
    const view = new DataView(bytes.buffer, bytes.byteOffset, PAGE_SIZE);
    this.views[i] = view;
    return view;
  }
}

/** Copies bytes out of a vmalloc area, page by page through its mapping. */
export function vread(k: VmallocKernel, vm: vm_struct, addr: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let done = 0; done < len;) {
    const n = Math.min(len - done, PAGE_SIZE - ((addr + done) % PAGE_SIZE));
    k.machine.physmem.readInto(vmalloc_to_phys(vm, addr + done), out.subarray(done, done + n));
    done += n;
  }
  return out;
}

export function vwrite(k: VmallocKernel, vm: vm_struct, addr: number, bytes: Uint8Array): void {
  for (let done = 0; done < bytes.length;) {
    const n = Math.min(bytes.length - done, PAGE_SIZE - ((addr + done) % PAGE_SIZE));
    k.machine.physmem.write(vmalloc_to_phys(vm, addr + done), bytes.subarray(done, done + n));
    done += n;
  }
}
