/**
 * LUO's handover ABI: the `luo_ser` blob under the KHO node "LUO", and the session, file and FLB
 * records it points to.
 *
 * **Models:** include/linux/kho/abi/luo.h with LUO_ABI_COMPATIBLE "luo-v5" (v7.2-era mainline):
 * `struct luo_ser` (32 bytes), `struct luo_session_ser` (80), `struct luo_file_set_ser` (16),
 * `struct luo_file_ser` (64), `struct luo_flb_header_ser` (16), `struct luo_flb_ser` (64). All
 * packed, little-endian; "pa" fields are physical addresses, 0 = none.
 * **Abstracted:** the older FDT-based versions (luo-v1..v3) are not modelled.
 */
import { defineStruct } from '../../../../lib/struct.ts';
import { kho_block_count_per_block } from './block.ts';

export const LUO_FDT_KHO_ENTRY_NAME = 'LUO';
export const LUO_ABI_COMPATIBLE = 'luo-v5';
/** ALIGN(sizeof("luo-v5"), 8). */
export const LUO_ABI_COMPAT_LEN = 8;

export const LIVEUPDATE_HNDL_COMPAT_LENGTH = 48;
export const LIVEUPDATE_FLB_COMPAT_LENGTH = 48;
export const LUO_SESSION_NAME_LENGTH = 64;

/** struct luo_ser; `char compatible[8]` at offset 0 is a gap, see LUO_SER_COMPATIBLE_OFFSET. */
export const luo_ser = defineStruct('luo_ser', 32, {
  liveupdate_num: [8, 'u64'],
  sessions_pa: [16, 'u64'],
  flbs_pa: [24, 'u64'],
});
export const LUO_SER_COMPATIBLE_OFFSET = 0;

/** struct luo_file_set_ser, embedded in luo_session_ser at offset 64. */
export const luo_file_set_ser = defineStruct('luo_file_set_ser', 16, {
  files: [0, 'u64'],
  count: [8, 'u64'],
});

/** struct luo_session_ser: `char name[64]` at 0, then its luo_file_set_ser. */
export const luo_session_ser = defineStruct('luo_session_ser', 80, {
  files: [64, 'u64'],
  count: [72, 'u64'],
});
export const LUO_SESSION_SER_NAME_OFFSET = 0;
export const LUO_SESSION_SER_FILE_SET_OFFSET = 64;

/** struct luo_file_ser: `char compatible[48]` at 0, then data and token. */
export const luo_file_ser = defineStruct('luo_file_ser', 64, {
  data: [48, 'u64'],
  token: [56, 'u64'],
});
export const LUO_FILE_SER_COMPATIBLE_OFFSET = 0;

/** struct luo_flb_header_ser, at the start of the FLB page. */
export const luo_flb_header_ser = defineStruct('luo_flb_header_ser', 16, {
  pgcnt: [0, 'u64'],
  count: [8, 'u64'],
});

/** struct luo_flb_ser: `char name[48]` at 0, then data and count. */
export const luo_flb_ser = defineStruct('luo_flb_ser', 64, {
  data: [48, 'u64'],
  count: [56, 'u64'],
});

export const LUO_FLB_PGCNT = 1;
/** (PAGE_SIZE - sizeof(luo_flb_header_ser)) / sizeof(luo_flb_ser). */
export const LUO_FLB_MAX = kho_block_count_per_block(luo_flb_ser.size);

/** Session entries per 4 KiB block (51) and file entries per block (63). */
export const LUO_SESSIONS_PER_BLOCK = kho_block_count_per_block(luo_session_ser.size);
export const LUO_FILES_PER_BLOCK = kho_block_count_per_block(luo_file_ser.size);

/** Writes `s` as a fixed-size char array (zero padded; truncated to fit with its NUL). */
export function abi_put_string(dst: Uint8Array, offset: number, len: number, s: string): void {
  const bytes = new TextEncoder().encode(s).subarray(0, len - 1);
  dst.fill(0, offset, offset + len);
  dst.set(bytes, offset);
}

/** Reads a fixed-size char array up to its first NUL (or all `len` bytes if it has none). */
export function abi_get_string(src: Uint8Array, offset: number, len: number): string {
  const field = src.subarray(offset, offset + len);
  const nul = field.indexOf(0);
  return new TextDecoder().decode(nul < 0 ? field : field.subarray(0, nul));
}
