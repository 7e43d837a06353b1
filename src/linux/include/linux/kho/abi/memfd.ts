/**
 * memfd_luo's handover ABI: the memfd record and its folio array.
 *
 * **Models:** include/linux/kho/abi/memfd.h with MEMFD_LUO_FH_COMPATIBLE "memfd-v2" (v7.2-era
 * mainline, spec §5.2): `struct memfd_luo_folio_ser` (16 bytes: pfn in bits 0..51 and flags in
 * bits 52..63 of the first u64, GCC's little-endian bitfield order; then the page index) and
 * `struct memfd_luo_ser` (48 bytes: pos, size, seals, flags, nr_folios, then a 16-byte
 * `struct kho_vmalloc` describing the folio array). All packed, little-endian.
 * **Abstracted:** the memfd-v1 layout (40 bytes, no seals) is only described by its constants;
 * the model writes and reads v2.
 */
import { defineStruct } from '../../../../lib/struct.ts';
import { F_ALL_SEALS } from '../../../uapi/linux/fcntl.ts';

export const MEMFD_LUO_FH_COMPATIBLE = 'memfd-v2';

export const MEMFD_LUO_FOLIO_DIRTY = 1 << 0;
export const MEMFD_LUO_FOLIO_UPTODATE = 1 << 1;

/** The seals memfd-v2 can carry: all six known ones (0x3F). */
export const MEMFD_LUO_ALL_SEALS = F_ALL_SEALS;

const PFN_BITS = 52n;
const PFN_MASK = (1n << PFN_BITS) - 1n;

/** struct memfd_luo_folio_ser: `word0` packs pfn:52 and flags:12. */
export const memfd_luo_folio_ser = defineStruct('memfd_luo_folio_ser', 16, {
  word0: [0, 'u64'],
  index: [8, 'u64'],
});
export const MEMFD_LUO_FOLIO_SER_SIZE = memfd_luo_folio_ser.size;

export interface memfd_luo_folio {
  readonly pfn: number;
  readonly flags: number;
  readonly index: number;
}

export function memfd_luo_folio_encode(f: memfd_luo_folio): { word0: bigint; index: bigint } {
  return {
    word0: (BigInt(f.pfn) & PFN_MASK) | (BigInt(f.flags & 0xfff) << PFN_BITS),
    index: BigInt(f.index),
  };
}

export function memfd_luo_folio_decode(bytes: Uint8Array, at = 0): memfd_luo_folio {
  const v = memfd_luo_folio_ser.read(bytes, at);
  const index =
    v.index > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v.index);
  return { pfn: Number(v.word0 & PFN_MASK), flags: Number(v.word0 >> PFN_BITS), index };
}

/** struct memfd_luo_ser (memfd-v2); the kho_vmalloc `folios` occupies bytes 32..47. */
export const memfd_luo_ser = defineStruct('memfd_luo_ser', 48, {
  pos: [0, 'u64'],
  size: [8, 'u64'],
  seals: [16, 'u32'],
  flags: [20, 'u32'],
  nr_folios: [24, 'u64'],
});
export const MEMFD_LUO_SER_FOLIOS_OFFSET = 32;
export const MEMFD_LUO_SER_SIZE = memfd_luo_ser.size;

/** memfd-v1 (before seals): pos @0, size @8, nr_folios @16, folios @24; 40 bytes. */
export const MEMFD_LUO_V1_SER_SIZE = 40;
