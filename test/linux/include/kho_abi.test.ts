/**
 * Proves the kho-v4 tracker key encoding and its split into tree indices (spec §4.3), and the
 * vmalloc descriptor and kexec-metadata layouts, by worked examples from the ABI text.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  KHO_TREE_MAX_DEPTH,
  kho_radix_decode_key,
  kho_radix_encode_key,
  kho_radix_get_bitmap_index,
  kho_radix_get_table_index,
  kho_vmalloc_decode,
  kho_vmalloc_encode,
} from '../../../src/linux/include/linux/kho/abi/kexec_handover.ts';
import {
  KHO_KEXEC_METADATA_SIZEOF,
  kho_kexec_metadata_decode,
  kho_kexec_metadata_encode,
} from '../../../src/linux/include/linux/kho/abi/kexec_metadata.ts';

test('the order bit sits at 52 - order and the address part is pa >> (12 + order)', () => {
  assert.equal(kho_radix_encode_key(0, 0), 1n << 52n);
  assert.equal(kho_radix_encode_key(0x1000, 0), (1n << 52n) | 1n);
  assert.equal(kho_radix_encode_key(0x200000, 9), (1n << 43n) | 1n);
  assert.equal(KHO_TREE_MAX_DEPTH, 6);
});

test('keys decode back to address and order', () => {
  for (const [pa, order] of [
    [0x1000, 0],
    [0x4000_0000, 3],
    [0x3_f000_0000, 10],
  ] as const) {
    assert.deepEqual(kho_radix_decode_key(kho_radix_encode_key(pa, order)), {
      phys: BigInt(pa),
      order,
    });
  }
});

test('key bits split as [59:51] L5 ... [23:15] L1 and [14:0] leaf bit', () => {
  const key = (1n << 52n) | (5n << 15n) | 7n;
  assert.equal(kho_radix_get_bitmap_index(key), 7);
  assert.equal(kho_radix_get_table_index(key, 1), 5);
  assert.equal(kho_radix_get_table_index(key, 5), 2); // bit 52 is bit 1 of the L5 slice
  assert.equal(kho_radix_get_table_index(key, 4), 0);
});

test('kho_vmalloc is 16 bytes: first u64, total_pages u32, flags u16, order u16', () => {
  const v = { first: 0x12345000, total_pages: 3, flags: 1, order: 2 };
  const bytes = kho_vmalloc_encode(v);
  assert.deepEqual([...bytes], [0, 0x50, 0x34, 0x12, 0, 0, 0, 0, 3, 0, 0, 0, 1, 0, 2, 0]);
  assert.deepEqual(kho_vmalloc_decode(bytes), v);
});

test('kexec metadata is 73 packed bytes with the count at 69', () => {
  const m = { version: 1, previous_release: '7.2.0', kexec_count: 4 };
  const bytes = kho_kexec_metadata_encode(m);
  assert.equal(bytes.length, KHO_KEXEC_METADATA_SIZEOF);
  assert.equal(bytes[69], 4);
  assert.deepEqual(kho_kexec_metadata_decode(bytes), m);
});
