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
 * mutex is taken by the callers in kexec_handover.ts (a visible operation); a merged run of
 * updates there passes a cursor that remembers the last leaf. Keys are computed as JS numbers
 * on the update paths (they are below 2^53) and decoded once per leaf by the walk.
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
import { PAGE_SHIFT, PAGE_SIZE } from '../../include/asm-generic/page.ts';
import {
  KHO_BITMAP_SIZE_LOG2,
  KHO_ORDER_0_LOG2,
  KHO_TABLE_ENTRIES,
  KHO_TABLE_SIZE_LOG2,
  KHO_TREE_MAX_DEPTH,
  kho_radix_decode_key,
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

/** Keys in one leaf: the bitmap index is the key modulo this. */
const LEAF_KEYS = 2 ** KHO_BITMAP_SIZE_LOG2;

/** 2^i for i in 0..63, so the per-update arithmetic makes no Math.pow call. */
const POW2: readonly number[] = Object.freeze(Array.from({ length: 64 }, (_, i) => 2 ** i));

/*
 * Where the key of (pfn, order) lives, as JS numbers. kho_radix_encode_key is
 * `2^(52 - order) + (pfn >> order)`: the order bit lies above every address bit, so `|` is `+`,
 * and the key is below 2^53, so the number is exact. The leaf prefix is the key without its
 * bitmap index (it selects the leaf); the bit is the bitmap index. The first branch of each is
 * the same arithmetic for the usual case (an int32 address part, the order bit at or above bit
 * 15), without doubles.
 */

/** pfn >> order: the address part of the key. */
const radix_addr = (pfn: number, order: number): number =>
  order === 0 ? pfn : Math.floor(pfn / (POW2[order] as number));

function radix_prefix(pfn: number, order: number): number {
  const q = radix_addr(pfn, order);
  const top = KHO_ORDER_0_LOG2 - order;
  if (q <= 0x7fff_ffff && top >= KHO_BITMAP_SIZE_LOG2)
    return (POW2[top - KHO_BITMAP_SIZE_LOG2] as number) + (q >> KHO_BITMAP_SIZE_LOG2);
  return Math.floor(((POW2[top] as number) + q) / LEAF_KEYS);
}

function radix_bit(pfn: number, order: number): number {
  const q = radix_addr(pfn, order);
  const top = KHO_ORDER_0_LOG2 - order;
  if (q <= 0x7fff_ffff && top >= KHO_BITMAP_SIZE_LOG2) return q & (LEAF_KEYS - 1);
  return ((POW2[top] as number) + q) % LEAF_KEYS;
}

/** kho_radix_get_table_index from a key's leaf prefix: the key bits of `level` (1..5). */
const table_index = (prefix: number, level: number): number =>
  Math.floor(prefix / (POW2[(level - 1) * KHO_TABLE_SIZE_LOG2] as number)) % KHO_TABLE_ENTRIES;

/**
 * The leaf the previous update of one merged run of updates reached (see kho_solo_start in
 * kexec_handover.ts): the key bits above the bitmap index, the leaf page and (once fetched) its
 * bytes. Only valid while the tree lock is held throughout and nothing else edits the tree,
 * which a merged run ensures; table entries are never removed except for the branch of a
 * failed add, which is not cached.
 */
export interface KhoRadixCursor {
  prefix: number;
  leaf: number;
  bytes: Uint8Array | null;
}

export const kho_radix_cursor = (): KhoRadixCursor => ({ prefix: -1, leaf: 0, bytes: null });

/** Points the cursor at the leaf of `prefix` (its bytes are looked up again when needed). */
function cursor_at(cursor: KhoRadixCursor, prefix: number, leaf: number): void {
  cursor.prefix = prefix;
  cursor.leaf = leaf;
  cursor.bytes = null;
}

/**
 * Sets the bit of (pfn, order) under `root`; 0 or -ENOMEM. The caller holds the tree lock. A
 * cursor skips the descent when the key is in the leaf of the previous update (the same bytes
 * would be read) and edits the leaf's frame in place.
 */
export function __kho_radix_add_page(
  k: Mem & HasPageAlloc,
  root: number,
  pfn: number,
  order: number,
  cursor: KhoRadixCursor | null = null,
): number {
  const mem = k.machine.physmem;
  const prefix = radix_prefix(pfn, order);
  const bit = radix_bit(pfn, order);
  let node = root;
  if (cursor !== null && cursor.prefix === prefix) node = cursor.leaf;
  else {
    const fresh: number[] = [];
    let anchor: number | null = null;
    for (let level = KHO_TREE_MAX_DEPTH - 1; level > 0; level--) {
      const at = entryAddr(node, table_index(prefix, level));
      const child = mem.readU64Number(at);
      if (child !== 0) {
        node = child;
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
    if (cursor !== null) cursor_at(cursor, prefix, node);
  }
  const mask = 1 << (bit & 7);
  if (cursor !== null && node % PAGE_SIZE === 0) {
    // Setting a bit puts a non-zero byte in the frame, so it may be given bytes.
    cursor.bytes ??= mem.frameBytes(node / PAGE_SIZE, true);
    const bytes = cursor.bytes as Uint8Array;
    bytes[bit >> 3] = (bytes[bit >> 3] as number) | mask;
  } else {
    const at = node + (bit >> 3);
    mem.writeU8(at, mem.readU8(at) | mask);
  }
  return 0;
}

/** Clears the bit of (pfn, order); false when the path does not exist (the kernel WARNs). */
export function __kho_radix_del_page(
  k: Mem,
  root: number,
  pfn: number,
  order: number,
  cursor: KhoRadixCursor | null = null,
): boolean {
  const mem = k.machine.physmem;
  const prefix = radix_prefix(pfn, order);
  const bit = radix_bit(pfn, order);
  let node = root;
  if (cursor !== null && cursor.prefix === prefix) node = cursor.leaf;
  else {
    for (let level = KHO_TREE_MAX_DEPTH - 1; level > 0; level--) {
      const child = mem.readU64Number(entryAddr(node, table_index(prefix, level)));
      if (child === 0) return false;
      node = child;
    }
    if (cursor !== null) cursor_at(cursor, prefix, node);
  }
  const mask = 1 << (bit & 7);
  if (cursor !== null && node % PAGE_SIZE === 0) {
    // A frame without bytes has no bit set: nothing to clear, and it stays without bytes.
    cursor.bytes ??= mem.frameBytes(node / PAGE_SIZE, false);
    const bytes = cursor.bytes;
    if (bytes !== null) bytes[bit >> 3] = (bytes[bit >> 3] as number) & ~mask;
  } else {
    const at = node + (bit >> 3);
    mem.writeU8(at, mem.readU8(at) & ~mask);
  }
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
  // Every key of a leaf shares the prefix's highest bit, i.e. the order: decode it once and the
  // blocks with numbers. A zero prefix (keys below 2^15) or one past 2^53 is only found in a
  // corrupt tracker and takes the bigint path, which also words the error.
  if (prefix === 0n || prefix >= 1n << 53n) {
    walkLeafSlow(mem, bytes, prefix, walk);
    return;
  }
  const base = Number(prefix);
  let top = KHO_ORDER_0_LOG2;
  while (2 ** top > base) top--;
  const order = KHO_ORDER_0_LOG2 - top;
  const first = base - 2 ** top;
  const unit = 2 ** (PAGE_SHIFT + order);
  for (let b = 0; b < bytes.length; b++) {
    const byte = bytes[b] as number;
    if (byte === 0) continue;
    for (let bit = 0; bit < 8; bit++) {
      if ((byte & (1 << bit)) === 0) continue;
      const phys = (first + b * 8 + bit) * unit;
      if (phys + unit > mem.size) corruptKey(mem, prefix | BigInt(b * 8 + bit));
      walk.onBlock(phys, order);
    }
  }
}

function walkLeafSlow(mem: PhysMem, bytes: Uint8Array, prefix: bigint, walk: RadixWalk): void {
  for (let b = 0; b < bytes.length; b++) {
    const byte = bytes[b] ?? 0;
    if (byte === 0) continue;
    for (let bit = 0; bit < 8; bit++) {
      if ((byte & (1 << bit)) === 0) continue;
      const key = prefix | BigInt(b * 8 + bit);
      const { phys, order } = kho_radix_decode_key(key);
      const end = phys + (1n << BigInt(order + 12));
      if (order < 0 || order > KHO_ORDER_0_LOG2 || end > BigInt(mem.size)) corruptKey(mem, key);
      walk.onBlock(Number(phys), order);
    }
  }
}

function corruptKey(mem: PhysMem, key: bigint): never {
  const { phys, order } = kho_radix_decode_key(key);
  throw new TrackerCorrupt(
    `key 0x${key.toString(16)} decodes to a block (0x${phys.toString(16)}, order ${order}) outside memory`,
  );
}

/** Bits per leaf, for tests. */
export const KHO_LEAF_BITS = 1 << KHO_BITMAP_SIZE_LOG2;
