/**
 * KHO handover ABI: the root FDT's names, the radix-tree tracker geometry and key encoding, and
 * the vmalloc descriptor and chunk layouts. These are the bytes one kernel leaves for the next.
 *
 * **Models:** include/linux/kho/abi/kexec_handover.h (`kho-v4` text; the tracker geometry and
 * key encoding as in the radix-tree version of that header and of include/linux/kho_radix_tree.h),
 * v7.2-era mainline. Spec §4.3–§4.5.
 *
 * **Abstracted:** nothing in the layouts. The KHOSER pointer union is a u64 physical address
 * (the model's direct map is the identity, see asm-generic/page.ts).
 *
 * Key encoding (PAGE_SHIFT 12): a block at `pa` of order `o` has key
 * `(1 << (52 - o)) | (pa >> (12 + o))`; the highest set bit gives the order back. The key is cut
 * into a 9-bit index per table level 5..1 and a 15-bit bit number in the level-0 bitmap page.
 */
import { PAGE_SHIFT, PAGE_SIZE } from '../../../asm-generic/page.ts';

/** Compatible of the root FDT's root node. */
export const KHO_FDT_COMPATIBLE = 'kho-v4';
/** Root property: u64 physical address of the level-5 tracker node. */
export const KHO_FDT_MEMORY_MAP_PROP_NAME = 'preserved-memory-map';
/** Subtree property: u64 physical address of the subsystem's blob. */
export const KHO_FDT_SUB_TREE_PROP_NAME = 'preserved-data';
/** Subtree property: u64 size of the blob in bytes. */
export const KHO_FDT_SUB_TREE_SIZE_PROP_NAME = 'blob-size';

/** Bit position of the order bit of an order-0 key (and width of its address part). */
export const KHO_ORDER_0_LOG2 = 64 - PAGE_SHIFT;
/** log2 of the 512 u64 entries of a table node. */
export const KHO_TABLE_SIZE_LOG2 = 9;
/** log2 of the 32768 bits of a leaf bitmap page. */
export const KHO_BITMAP_SIZE_LOG2 = PAGE_SHIFT + 3;
/** Levels 5..1 are tables, level 0 is the bitmap. */
export const KHO_TREE_MAX_DEPTH =
  Math.ceil((KHO_ORDER_0_LOG2 - KHO_BITMAP_SIZE_LOG2) / KHO_TABLE_SIZE_LOG2) + 1;
export const KHO_TABLE_ENTRIES = 1 << KHO_TABLE_SIZE_LOG2;

/** The tracker key of the block at `phys` of `order`. */
export function kho_radix_encode_key(phys: number, order: number): bigint {
  const h = 1n << BigInt(KHO_ORDER_0_LOG2 - order);
  const l = BigInt(phys) >> BigInt(PAGE_SHIFT + order);
  return h | l;
}

/** Highest set bit, numbered from 1 (0 for key 0), as fls64. */
export function fls64(key: bigint): number {
  return key === 0n ? 0 : key.toString(2).length;
}

/**
 * The block a key stands for. A key without an order bit in range (a corrupt leaf) decodes to an
 * order outside 0..KHO_ORDER_0_LOG2; callers that read keys from memory must check it.
 */
export function kho_radix_decode_key(key: bigint): { phys: bigint; order: number } {
  const order = KHO_ORDER_0_LOG2 - fls64(key) + 1;
  if (order < 0 || order > KHO_ORDER_0_LOG2) return { phys: 0n, order };
  const mask = (1n << BigInt(KHO_ORDER_0_LOG2 - order)) - 1n;
  return { phys: (key & mask) << BigInt(PAGE_SHIFT + order), order };
}

export function kho_radix_get_bitmap_index(key: bigint): number {
  return Number(key & ((1n << BigInt(KHO_BITMAP_SIZE_LOG2)) - 1n));
}

/** Index into the table node of `level` (1..5). */
export function kho_radix_get_table_index(key: bigint, level: number): number {
  const shift = (level - 1) * KHO_TABLE_SIZE_LOG2 + KHO_BITMAP_SIZE_LOG2;
  return Number((key >> BigInt(shift)) & BigInt(KHO_TABLE_ENTRIES - 1));
}

/** The key bits a table entry at `level`, index `idx` contributes (the walk's prefix). */
export function kho_radix_table_key_bits(level: number, idx: number): bigint {
  return BigInt(idx) << BigInt((level - 1) * KHO_TABLE_SIZE_LOG2 + KHO_BITMAP_SIZE_LOG2);
}

/** struct kho_vmalloc (16 bytes, natural layout). */
export const KHO_VMALLOC_SIZEOF = 16;
export const KHO_VMALLOC_OFF_FIRST = 0; // u64 phys of the first chunk
export const KHO_VMALLOC_OFF_TOTAL_PAGES = 8; // u32
export const KHO_VMALLOC_OFF_FLAGS = 12; // u16
export const KHO_VMALLOC_OFF_ORDER = 14; // u16
export const KHO_VMALLOC_ALLOC = 0x0001;
export const KHO_VMALLOC_HUGE_VMAP = 0x0002;

/** struct kho_vmalloc_chunk: one page, `next` u64 at 0, then 511 u64 block addresses. */
export const KHO_VMALLOC_CHUNK_OFF_NEXT = 0;
export const KHO_VMALLOC_CHUNK_OFF_PHYS = 8;
/** KHO_VMALLOC_SIZE: block addresses per chunk, zero-terminated when not full. */
export const KHO_VMALLOC_SIZE = (PAGE_SIZE - 8) / 8;

/** struct kho_vmalloc as a value; `first` is the chunk's physical address (0 = none). */
export interface kho_vmalloc {
  first: number;
  total_pages: number;
  flags: number;
  order: number;
}

export function kho_vmalloc_encode(v: kho_vmalloc): Uint8Array {
  const out = new Uint8Array(KHO_VMALLOC_SIZEOF);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(KHO_VMALLOC_OFF_FIRST, BigInt(v.first), true);
  dv.setUint32(KHO_VMALLOC_OFF_TOTAL_PAGES, v.total_pages, true);
  dv.setUint16(KHO_VMALLOC_OFF_FLAGS, v.flags, true);
  dv.setUint16(KHO_VMALLOC_OFF_ORDER, v.order, true);
  return out;
}

/** Decodes 16 bytes; `first` beyond 2^53 is clamped to a value no memory holds. */
export function kho_vmalloc_decode(bytes: Uint8Array): kho_vmalloc {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, KHO_VMALLOC_SIZEOF);
  const first = dv.getBigUint64(KHO_VMALLOC_OFF_FIRST, true);
  return {
    first: first > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(first),
    total_pages: dv.getUint32(KHO_VMALLOC_OFF_TOTAL_PAGES, true),
    flags: dv.getUint16(KHO_VMALLOC_OFF_FLAGS, true),
    order: dv.getUint16(KHO_VMALLOC_OFF_ORDER, true),
  };
}
