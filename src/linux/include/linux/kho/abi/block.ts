/**
 * KHO serialization blocks: the page-sized links of a chain of fixed-size entries.
 *
 * **Models:** include/linux/kho/abi/block.h (v7.2-era mainline, the June 2026 series that made
 * LUO sessions and files unlimited): `struct kho_block_header_ser` (packed, 16 bytes, little-
 * endian), KHO_BLOCK_SIZE and KHO_MAX_BLOCKS.
 * **Abstracted:** nothing of the layout.
 */
import { PAGE_SIZE } from '../../../asm-generic/page.ts';
import { defineStruct } from '../../../../lib/struct.ts';

/** Every block is exactly one page. */
export const KHO_BLOCK_SIZE = PAGE_SIZE;
/** Longest chain a reader accepts and a writer grows to. */
export const KHO_MAX_BLOCKS = 10000;

/** struct kho_block_header_ser: `next` (pa of the next header, 0 = last), `count` (entries). */
export const kho_block_header_ser = defineStruct('kho_block_header_ser', 16, {
  next: [0, 'u64'],
  count: [8, 'u64'],
});

/** How many entries of `entry_size` bytes fit in one block after its header. */
export function kho_block_count_per_block(entry_size: number): number {
  return Math.floor((KHO_BLOCK_SIZE - kho_block_header_ser.size) / entry_size);
}
