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

const PFN_BITS = 52n;
const PFN_MASK = (1n << PFN_BITS) - 1n;

export interface guest_memfd_luo_folio {
  readonly pfn: number;
  readonly flags: number;
  readonly index: number;
}

/** Writes entry `i` of a folio array held in `out` (a byte buffer of the whole array). */
export function guest_memfd_luo_folio_put(
  out: Uint8Array,
  i: number,
  f: guest_memfd_luo_folio,
): void {
  const dv = new DataView(out.buffer, out.byteOffset + i * 16, 16);
  dv.setBigUint64(0, (BigInt(f.pfn) & PFN_MASK) | (BigInt(f.flags & 0xfff) << PFN_BITS), true);
  dv.setBigUint64(8, BigInt(f.index), true);
}

export function guest_memfd_luo_folio_get(bytes: Uint8Array, i: number): guest_memfd_luo_folio {
  const dv = new DataView(bytes.buffer, bytes.byteOffset + i * 16, 16);
  const word0 = dv.getBigUint64(0, true);
  const index = dv.getBigUint64(8, true);
  return {
    pfn: Number(word0 & PFN_MASK),
    flags: Number(word0 >> PFN_BITS),
    index: index > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(index),
  };
}
