/**
 * KHO preservation of vmalloc areas: the backing blocks plus a chain of one-page chunks that
 * list their physical addresses, restored in the next kernel at a new virtual address.
 *
 * **Models:** kernel/liveupdate/kexec_handover.c — kho_preserve_vmalloc, kho_unpreserve_vmalloc,
 * kho_restore_vmalloc, new_vmalloc_chunk — with the kho_vmalloc / kho_vmalloc_chunk layouts of
 * include/linux/kho/abi/kexec_handover.h (v7.2-era mainline, spec §4.4).
 *
 * **Abstracted:** the descriptor is the caller's `kho_vmalloc` value; callers that hand it over
 * write it into their own preserved struct with kho_vmalloc_encode (16 bytes).
 *
 * Paths:
 * 1. not a vmalloc area: -EINVAL; flags other than VM_ALLOC / VM_ALLOW_HUGE_VMAP: -EOPNOTSUPP;
 *    a chunk page or a preserve failing: everything done so far is undone, -ENOMEM or the error;
 * 2. unpreserve: unpreserve every listed block and chunk and free the chunk pages;
 * 3. restore: a listed block or chunk that cannot be restored, more blocks than total_pages, or
 *    fewer: null (blocks restored before the failure stay restored, as in the kernel).
 */
import type { Sched } from '../../../sim/index.ts';
import { PAGE_SIZE, PFN_PHYS, PHYS_PFN } from '../../include/asm-generic/page.ts';
import {
  KHO_VMALLOC_ALLOC,
  KHO_VMALLOC_CHUNK_OFF_NEXT,
  KHO_VMALLOC_CHUNK_OFF_PHYS,
  KHO_VMALLOC_HUGE_VMAP,
  KHO_VMALLOC_SIZE,
  type kho_vmalloc,
} from '../../include/linux/kho/abi/kexec_handover.ts';
import type { Page } from '../../include/linux/mm_types.ts';
import { EINVAL, ENOMEM, EOPNOTSUPP } from '../../include/uapi/asm-generic/errno.ts';
import type { Kernel } from '../../kernel.ts';
import { GFP_KERNEL, __free_pages, free_page, get_zeroed_page } from '../../mm/page_alloc.ts';
import {
  VM_ALLOC,
  VM_ALLOW_HUGE_VMAP,
  find_vm_area,
  get_vm_area_page_order,
  vmap_restored,
  type vm_struct,
} from '../../mm/vmalloc.ts';
import {
  kho_preserve_pfns,
  kho_restore_pages,
  kho_solo_end,
  kho_solo_start,
  kho_unpreserve_pfns,
} from './kexec_handover.ts';
import type { KhoRadixCursor } from './kho_radix_tree.ts';

const KHO_VMALLOC_SUPPORTED_FLAGS = VM_ALLOC | VM_ALLOW_HUGE_VMAP;

function vmalloc_flags_to_kho(vm_flags: number): number {
  return (
    ((vm_flags & VM_ALLOC) !== 0 ? KHO_VMALLOC_ALLOC : 0) |
    ((vm_flags & VM_ALLOW_HUGE_VMAP) !== 0 ? KHO_VMALLOC_HUGE_VMAP : 0)
  );
}

function kho_flags_to_vmalloc(kho_flags: number): number {
  return (
    ((kho_flags & KHO_VMALLOC_ALLOC) !== 0 ? VM_ALLOC : 0) |
    ((kho_flags & KHO_VMALLOC_HUGE_VMAP) !== 0 ? VM_ALLOW_HUGE_VMAP : 0)
  );
}

const slot = (chunk: number, i: number): number => chunk + KHO_VMALLOC_CHUNK_OFF_PHYS + i * 8;

/** A zeroed, preserved chunk page linked after `cur` (0 = first); its address or 0. */
function* new_vmalloc_chunk(k: Kernel, cur: number, run: KhoRadixCursor | null): Sched<number> {
  const chunk = get_zeroed_page(k, GFP_KERNEL);
  if (chunk < 0) return 0;
  if ((yield* kho_preserve_pfns(k, PHYS_PFN(chunk), 1, run)) !== 0) {
    free_page(k, chunk);
    return 0;
  }
  if (cur !== 0) k.machine.physmem.writeU64(cur + KHO_VMALLOC_CHUNK_OFF_NEXT, BigInt(chunk));
  return chunk;
}

/**
 * kho_preserve_vmalloc. A task alone in the execution does every tracker update in one merged
 * operation (a merged run, see kho_solo_start); otherwise each update takes the tree lock.
 */
export function* kho_preserve_vmalloc(
  k: Kernel,
  ptr: number,
  preservation: kho_vmalloc,
): Sched<number> {
  const vm = find_vm_area(k, ptr);
  if (vm === null) return -EINVAL;
  if ((vm.flags & ~KHO_VMALLOC_SUPPORTED_FLAGS) !== 0) return -EOPNOTSUPP;
  const run = yield* kho_solo_start(k, 'kho_preserve_vmalloc');
  const err = yield* preserve_vm_pages(k, vm, preservation, run);
  if (run !== null) kho_solo_end(k);
  return err;
}

function* preserve_vm_pages(
  k: Kernel,
  vm: vm_struct,
  preservation: kho_vmalloc,
  run: KhoRadixCursor | null,
): Sched<number> {
  const order = get_vm_area_page_order(vm);
  let chunk = yield* new_vmalloc_chunk(k, 0, run);
  if (chunk === 0) return -ENOMEM;
  preservation.first = chunk;
  preservation.order = order;
  const contig = 1 << order;
  let idx = 0;
  for (let i = 0; i < vm.pfns.length; i += contig) {
    const pfn = vm.pfns[i] as number;
    let err = yield* kho_preserve_pfns(k, pfn, contig, run);
    if (err === 0) {
      k.machine.physmem.writeU64(slot(chunk, idx++), BigInt(PFN_PHYS(pfn)));
      if (idx === KHO_VMALLOC_SIZE) {
        chunk = yield* new_vmalloc_chunk(k, chunk, run);
        idx = 0;
        if (chunk === 0) err = -ENOMEM;
      }
    }
    if (err !== 0) {
      yield* unpreserve_vm_pages(k, preservation, run);
      return err;
    }
  }
  preservation.total_pages = vm.pfns.length;
  preservation.flags = vmalloc_flags_to_kho(vm.flags);
  return 0;
}

/** kho_unpreserve_vmalloc; merged into one operation as kho_preserve_vmalloc is. */
export function* kho_unpreserve_vmalloc(k: Kernel, preservation: kho_vmalloc): Sched {
  const run = yield* kho_solo_start(k, 'kho_unpreserve_vmalloc');
  yield* unpreserve_vm_pages(k, preservation, run);
  if (run !== null) kho_solo_end(k);
}

function* unpreserve_vm_pages(
  k: Kernel,
  preservation: kho_vmalloc,
  run: KhoRadixCursor | null,
): Sched {
  const mem = k.machine.physmem;
  let chunk = preservation.first;
  while (chunk !== 0) {
    yield* kho_unpreserve_pfns(k, PHYS_PFN(chunk), 1, run);
    for (let i = 0; i < KHO_VMALLOC_SIZE; i++) {
      const phys = mem.readU64(slot(chunk, i));
      if (phys === 0n) break;
      yield* kho_unpreserve_pfns(k, PHYS_PFN(Number(phys)), 1 << preservation.order, run);
    }
    const next = Number(mem.readU64(chunk + KHO_VMALLOC_CHUNK_OFF_NEXT));
    free_page(k, chunk);
    chunk = next;
  }
}

/** Restores the chunks and blocks and maps them at a new address; the address or null. */
export function kho_restore_vmalloc(k: Kernel, preservation: kho_vmalloc): number | null {
  const mem = k.machine.physmem;
  const vm_flags = kho_flags_to_vmalloc(preservation.flags);
  const total = preservation.total_pages;
  const order = preservation.order;
  const contig = 2 ** order;
  const pages: Page[] = [];
  let chunk = preservation.first;
  while (chunk !== 0) {
    if (chunk % PAGE_SIZE !== 0 || chunk + PAGE_SIZE > mem.size) return null;
    for (let i = 0; i < KHO_VMALLOC_SIZE; i++) {
      const phys = mem.readU64(slot(chunk, i));
      if (phys === 0n) break;
      if (pages.length + contig > total || phys > BigInt(mem.size)) return null;
      const first = kho_restore_pages(k, Number(phys), contig);
      if (first === null) return null;
      for (let j = 0; j < contig; j++) {
        const page = k.page_alloc.pages.get(first.pfn + j);
        if (page) pages.push(page);
      }
    }
    const page = kho_restore_pages(k, chunk, 1);
    if (page === null) return null;
    const next = Number(mem.readU64(chunk + KHO_VMALLOC_CHUNK_OFF_NEXT));
    __free_pages(k, page, 0);
    chunk = next;
  }
  if (pages.length !== total) return null;
  return vmap_restored(k, pages, vm_flags, order);
}
