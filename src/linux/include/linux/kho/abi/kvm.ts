/**
 * KVM and guest_memfd live-update ABI: the VM record, the guest_memfd record and its folio
 * entries, handed over through KHO.
 *
 * **Models:** include/linux/kho/abi/kvm.h of the guest_memfd preservation series, RFC v2
 * (patches 04 and 07; spec §4): `struct kvm_luo_ser` (8 bytes), `struct guest_memfd_luo_ser`
 * (48 bytes: size, flags, nr_folios, vm_token, then a 16-byte `struct kho_vmalloc` describing the
 * folio array) and `struct guest_memfd_luo_folio_ser` (16 bytes: pfn in bits 0..51 and flags in
 * bits 52..63 of the first u64, GCC's little-endian bit-field order; then the page index). All
 * packed, little-endian. Versioning is only by the compatible strings.
 * **Abstracted:** the RFC v1 VM layout (with memory attributes) is not modelled.
 */
import { defineStruct } from '../../../../lib/struct.ts';

export const KVM_LUO_FH_COMPATIBLE = 'kvm_vm_luo_v1';
export const GUEST_MEMFD_LUO_FH_COMPATIBLE = 'guest_memfd_luo_v1';

/** ABI file flags: a stable namespace, translated bit by bit from the inode flags. */
export const GUEST_MEMFD_LUO_FLAG_MMAP = 1n << 0n;
export const GUEST_MEMFD_LUO_FLAG_INIT_SHARED = 1n << 1n;
export const GUEST_MEMFD_LUO_SUPPORTED_FLAGS =
  GUEST_MEMFD_LUO_FLAG_MMAP | GUEST_MEMFD_LUO_FLAG_INIT_SHARED;

/** Per-folio flag: the folio was uptodate when preserve sampled it (pass 2). */
export const GUEST_MEMFD_LUO_FOLIO_UPTODATE = 1 << 0;

export const kvm_luo_ser = defineStruct('kvm_luo_ser', 8, { type: [0, 'u64'] });

export const guest_memfd_luo_ser = defineStruct('guest_memfd_luo_ser', 48, {
  size: [0, 'u64'],
  flags: [8, 'u64'],
  nr_folios: [16, 'u64'],
  vm_token: [24, 'u64'],
});
/** Offset of `struct kho_vmalloc folios` inside guest_memfd_luo_ser. */
export const GUEST_MEMFD_LUO_SER_FOLIOS_OFFSET = 32;
export const GUEST_MEMFD_LUO_SER_VM_TOKEN_OFFSET = 24;

export const guest_memfd_luo_folio_ser = defineStruct('guest_memfd_luo_folio_ser', 16, {
  word0: [0, 'u64'],
  index: [8, 'u64'],
});
export const GUEST_MEMFD_LUO_FOLIO_SER_SIZE = guest_memfd_luo_folio_ser.size;

/** Bits of the pfn field in the first u64 of an entry; the flags take the 12 above. */
const PFN_BITS = 52;
const U32 = 2 ** 32;
/** The pfn bits held in the high half of the first u64. */
const PFN_HIGH_MASK = (1 << (PFN_BITS - 32)) - 1;

export interface guest_memfd_luo_folio {
  readonly pfn: number;
  readonly flags: number;
  readonly index: number;
}

/*
 * Entry access without bigints or objects, for the per-folio loops: a DataView over the array
 * (or over the page of it that holds the entry) and the entry's number in it. Each u64 is
 * written and read as two little-endian u32 halves.
 * pfn and index are JS numbers below 2^53. A value whose high half is zero is returned as the
 * u32 itself, not as a sum of doubles: V8 then keeps it a small integer, and storing it in a
 * Page field does not turn that field (of every Page) into a double.
 */

/** A value whose u64 has a zero high half and fits an int32 (no division needed). */
const small = (v: number): boolean => v >= 0 && v <= 0x7fff_ffff;

/** Writes entry `i`: pfn (low 52 bits kept) and flags (low 12 bits kept), then the index. */
export function guest_memfd_luo_folio_set(
  dv: DataView,
  i: number,
  pfn: number,
  flags: number,
  index: number,
): void {
  const at = i * 16;
  const pfnHigh = small(pfn) ? 0 : Math.floor(pfn / U32) & PFN_HIGH_MASK;
  dv.setUint32(at, small(pfn) ? pfn : pfn % U32, true);
  dv.setUint32(at + 4, (pfnHigh | ((flags & 0xfff) << (PFN_BITS - 32))) >>> 0, true);
  dv.setUint32(at + 8, small(index) ? index : index % U32, true);
  dv.setUint32(at + 12, small(index) ? 0 : Math.floor(index / U32), true);
}

export function guest_memfd_luo_folio_pfn(dv: DataView, i: number): number {
  const at = i * 16;
  const high = dv.getUint32(at + 4, true) & PFN_HIGH_MASK;
  const low = dv.getUint32(at, true);
  return high === 0 ? low : high * U32 + low;
}

export function guest_memfd_luo_folio_flags(dv: DataView, i: number): number {
  return dv.getUint32(i * 16 + 4, true) >>> (PFN_BITS - 32);
}

/** The index; a value past 2^53 is clamped to Number.MAX_SAFE_INTEGER (beyond any file). */
export function guest_memfd_luo_folio_index(dv: DataView, i: number): number {
  const high = dv.getUint32(i * 16 + 12, true);
  const low = dv.getUint32(i * 16 + 8, true);
  if (high === 0) return low;
  if (high >= 2 ** (53 - 32)) return Number.MAX_SAFE_INTEGER;
  return high * U32 + low;
}

/** A DataView over a folio array held in `bytes`. */
const guest_memfd_luo_folios_view = (bytes: Uint8Array): DataView =>
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** Writes entry `i` of a folio array held in `out` (a byte buffer of the whole array). */
export function guest_memfd_luo_folio_put(
  out: Uint8Array,
  i: number,
  f: guest_memfd_luo_folio,
): void {
  if ((i + 1) * 16 > out.length) throw new RangeError(`entry ${i} is outside the array`);
  guest_memfd_luo_folio_set(guest_memfd_luo_folios_view(out), i, f.pfn, f.flags, f.index);
}

export function guest_memfd_luo_folio_get(bytes: Uint8Array, i: number): guest_memfd_luo_folio {
  if ((i + 1) * 16 > bytes.length) throw new RangeError(`entry ${i} is outside the array`);
  const dv = guest_memfd_luo_folios_view(bytes);
  return {
    pfn: guest_memfd_luo_folio_pfn(dv, i),
    flags: guest_memfd_luo_folio_flags(dv, i),
    index: guest_memfd_luo_folio_index(dv, i),
  };
}
