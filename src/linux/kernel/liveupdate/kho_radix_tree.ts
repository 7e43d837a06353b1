/**
 * The KHO preserved-memory tracker: a 6-level radix tree whose nodes are physical pages, edited
 * in place on every preserve and unpreserve and read in place by the next kernel.
 *
 * **Models:** the tracker half of kernel/liveupdate/kexec_handover.c — kho_radix_add_page,
 * kho_radix_del_page, kho_radix_walk_tree and the leaf walk — with the types of
 * include/linux/kho_radix_tree.h (v7.2-era mainline, `kho-v4`; spec §4.3).
 *
 * **Abstracted:** nothing in the bytes: tables are 512 little-endian u64 physical addresses, the
 * leaf is a 32768-bit bitmap (bit i in byte i/8, bit i%8), exactly as in the kernel. The tree
 * mutex is taken by the callers in kexec_handover.ts (a visible operation).
 *
 * Paths:
 * 1. add: allocate missing table/leaf pages (zeroed) on the way down, set the key's bit;
 * 2. add, out of memory: free the pages allocated by this call, unlink the new branch, -ENOMEM;
 * 3. del: clear the bit; a missing table entry on the way down is a WARN (never preserved);
 *    emptied nodes are not freed;
 * 4. walk (incoming, over bytes the previous kernel left): every set bit is reported; a pointer
 *    outside memory, a node reached twice, or a key without a valid order bit is corruption,
 *    reported as a TrackerCorrupt error for the boot code to turn into a panic.
 */
import type { PhysMem } from '../../../machine/physmem.ts';
import { PAGE_SIZE, PFN_PHYS } from '../../include/asm-generic/page.ts';
import {
  KHO_BITMAP_SIZE_LOG2,
  KHO_ORDER_0_LOG2,
  KHO_TABLE_ENTRIES,
  KHO_TREE_MAX_DEPTH,
  kho_radix_decode_key,
  kho_radix_encode_key,
  kho_radix_get_bitmap_index,
  kho_radix_get_table_index,
  kho_radix_table_key_bits,
} from '../../include/linux/kho/abi/kexec_handover.ts';
import { ENOMEM } from '../../include/uapi/asm-generic/errno.ts';
import { GFP_KERNEL, free_page, get_zeroed_page, type HasPageAlloc } from '../../mm/page_alloc.ts';

/** Bytes of the previous kernel's tracker cannot be walked. */
export class TrackerCorrupt extends Error {
  override readonly name = 'TrackerCorrupt';
}

interface Mem {
  readonly machine: { readonly physmem: PhysMem };
}

const entryAddr = (node: number, idx: number): number => node + idx * 8;

/** Sets the bit of (pfn, order) under `root`; 0 or -ENOMEM. The caller holds the tree lock. */
export function __kho_radix_add_page(
  k: Mem & HasPageAlloc,
  root: number,
  pfn: number,
  order: number,
): number {
  const mem = k.machine.physmem;
  const key = kho_radix_encode_key(PFN_PHYS(pfn), order);
  const fresh: number[] = [];
  let anchor: number | null = null;
  let node = root;
  for (let level = KHO_TREE_MAX_DEPTH - 1; level > 0; level--) {
    const at = entryAddr(node, kho_radix_get_table_index(key, level));
    const child = mem.readU64(at);
    if (child !== 0n) {
      node = Number(child);
      continue;
    }
    const page = get_zeroed_page(k, GFP_KERNEL);
    if (page < 0) {
      for (const p of fresh) free_page(k, p);
      if (anchor !== null) mem.writeU64(anchor, 0n);
      return -ENOMEM;
    }
    mem.writeU64(at, BigInt(page));
    anchor ??= at;
    fresh.push(page);
    node = page;
  }
  const bit = kho_radix_get_bitmap_index(key);
  const byteAddr = node + (bit >> 3);
  const byte = (mem.read(byteAddr, 1)[0] ?? 0) | (1 << (bit & 7));
  mem.write(byteAddr, Uint8Array.of(byte));
  return 0;
}

/** Clears the bit of (pfn, order); false when the path does not exist (the kernel WARNs). */
export function __kho_radix_del_page(k: Mem, root: number, pfn: number, order: number): boolean {
  const mem = k.machine.physmem;
  const key = kho_radix_encode_key(PFN_PHYS(pfn), order);
  let node = root;
  for (let level = KHO_TREE_MAX_DEPTH - 1; level > 0; level--) {
    const child = mem.readU64(entryAddr(node, kho_radix_get_table_index(key, level)));
    if (child === 0n) return false;
    node = Number(child);
  }
  const bit = kho_radix_get_bitmap_index(key);
  const byteAddr = node + (bit >> 3);
  const byte = (mem.read(byteAddr, 1)[0] ?? 0) & ~(1 << (bit & 7));
  mem.write(byteAddr, Uint8Array.of(byte));
  return true;
}

export interface RadixWalk {
  /** Every preserved block: physical address and order. */
  onBlock(phys: number, order: number): void;
  /** Every node page of the tree, table or leaf, including the root. */
  onNode?(phys: number): void;
}

function readNode(mem: PhysMem, phys: bigint, level: number): Uint8Array {
  if (phys % BigInt(PAGE_SIZE) !== 0n || phys + BigInt(PAGE_SIZE) > BigInt(mem.size)) {
    throw new TrackerCorrupt(
      `level-${level} node pointer 0x${phys.toString(16)} is not a page of this machine`,
    );
  }
  return mem.read(Number(phys), PAGE_SIZE);
}

/**
 * Walks the tree at `root` (kho_radix_walk_tree), reading bytes only. Corruption throws
 * TrackerCorrupt; the walk is bounded because every node may be visited once.
 */
export function kho_radix_walk_tree(mem: PhysMem, root: bigint, walk: RadixWalk): void {
  const seen = new Set<bigint>();
  const visit = (phys: bigint, level: number, prefix: bigint): void => {
    if (seen.has(phys)) {
      throw new TrackerCorrupt(`node 0x${phys.toString(16)} is reached twice`);
    }
    seen.add(phys);
    const bytes = readNode(mem, phys, level);
    walk.onNode?.(Number(phys));
    if (level === 0) {
      walkLeaf(mem, bytes, prefix, walk);
      return;
    }
    const dv = new DataView(bytes.buffer);
    for (let i = 0; i < KHO_TABLE_ENTRIES; i++) {
      const child = dv.getBigUint64(i * 8, true);
      if (child !== 0n) visit(child, level - 1, prefix | kho_radix_table_key_bits(level, i));
    }
  };
  visit(root, KHO_TREE_MAX_DEPTH - 1, 0n);
}

function walkLeaf(mem: PhysMem, bytes: Uint8Array, prefix: bigint, walk: RadixWalk): void {
  for (let b = 0; b < bytes.length; b++) {
    const byte = bytes[b] ?? 0;
    if (byte === 0) continue;
    for (let bit = 0; bit < 8; bit++) {
      if ((byte & (1 << bit)) === 0) continue;
      const key = prefix | BigInt(b * 8 + bit);
      const { phys, order } = kho_radix_decode_key(key);
      const end = phys + (1n << BigInt(order + 12));
      if (order < 0 || order > KHO_ORDER_0_LOG2 || end > BigInt(mem.size)) {
        throw new TrackerCorrupt(
          `key 0x${key.toString(16)} decodes to a block (0x${phys.toString(16)}, order ${order}) outside memory`,
        );
      }
      walk.onBlock(Number(phys), order);
    }
  }
}

/** Bits per leaf, for tests. */
export const KHO_LEAF_BITS = 1 << KHO_BITMAP_SIZE_LOG2;
