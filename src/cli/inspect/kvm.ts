/**
 * `luosim inspect` decoders for the guest_memfd preservation series (guest_memfd-preservation.md
 * §4): "kvm_vm_luo_v1" (the 8-byte `struct kvm_luo_ser`: the VM type, named after the x86
 * KVM_X86_*_VM constants) and "guest_memfd_luo_v1" (the 48-byte `struct guest_memfd_luo_ser`:
 * size, ABI flags, nr_folios, vm_token, and the folio array behind its `kho_vmalloc`). Each
 * claims its record page; the guest_memfd decoder also claims the chunk and array pages and the
 * preserved folios.
 */
import type { PhysMem } from '../../machine/physmem.ts';
import { PAGE_SIZE } from '../../linux/include/asm-generic/page.ts';
import {
  GUEST_MEMFD_LUO_FH_COMPATIBLE,
  GUEST_MEMFD_LUO_FLAG_INIT_SHARED,
  GUEST_MEMFD_LUO_FLAG_MMAP,
  GUEST_MEMFD_LUO_FOLIO_UPTODATE,
  GUEST_MEMFD_LUO_SER_FOLIOS_OFFSET,
  KVM_LUO_FH_COMPATIBLE,
  guest_memfd_luo_ser,
  kvm_luo_ser,
} from '../../linux/include/linux/kho/abi/kvm.ts';
import * as K from '../../linux/include/uapi/linux/kvm.ts';
import {
  closeFolioArray,
  entriesText,
  flagsText,
  hex,
  inMemory,
  openFolioArray,
  sizeText,
} from './folio_array.ts';
import type { FileRecordDecoder, RecordView } from './records.ts';

const VM_TYPES: ReadonlyMap<bigint, string> = new Map([
  [BigInt(K.KVM_X86_DEFAULT_VM), 'KVM_X86_DEFAULT_VM'],
  [BigInt(K.KVM_X86_SW_PROTECTED_VM), 'KVM_X86_SW_PROTECTED_VM'],
  [BigInt(K.KVM_X86_SEV_VM), 'KVM_X86_SEV_VM'],
  [BigInt(K.KVM_X86_SEV_ES_VM), 'KVM_X86_SEV_ES_VM'],
  [BigInt(K.KVM_X86_SNP_VM), 'KVM_X86_SNP_VM'],
  [BigInt(K.KVM_X86_TDX_VM), 'KVM_X86_TDX_VM'],
]);

const GMEM_FLAGS: readonly (readonly [bigint, string])[] = [
  [GUEST_MEMFD_LUO_FLAG_MMAP, 'MMAP'],
  [GUEST_MEMFD_LUO_FLAG_INIT_SHARED, 'INIT_SHARED'],
];

/** The record's bytes, or the line that says why there are none; claims the record page. */
function readRecord(
  mem: PhysMem,
  data: bigint,
  size: number,
  label: string,
  blocks: Map<number, string>,
): Uint8Array | string {
  if (data === 0n) return 'error: no record (data is 0)';
  if (!inMemory(mem, data, size)) return `error: record at ${hex(data)} is outside memory`;
  const pa = Number(data);
  blocks.set(pa - (pa % PAGE_SIZE), label);
  return mem.read(pa, size);
}

function decodeVm(mem: PhysMem, data: bigint, token: bigint): RecordView {
  const blocks = new Map<number, string>();
  const bytes = readRecord(
    mem,
    data,
    kvm_luo_ser.size,
    `VM ${hex(token)} record (kvm_luo_ser)`,
    blocks,
  );
  if (typeof bytes === 'string') return { lines: [bytes], blocks };
  const { type } = kvm_luo_ser.read(bytes);
  return {
    lines: [`kvm_luo_ser: type ${type} (${VM_TYPES.get(type) ?? 'unknown VM type'})`],
    blocks,
  };
}

function decodeGmem(mem: PhysMem, data: bigint, token: bigint): RecordView {
  const blocks = new Map<number, string>();
  const who = `guest_memfd ${hex(token)}`;
  const size = guest_memfd_luo_ser.size;
  const bytes = readRecord(mem, data, size, `${who} record (guest_memfd_luo_ser)`, blocks);
  if (typeof bytes === 'string') return { lines: [bytes], blocks };
  const ser = guest_memfd_luo_ser.read(bytes);
  const lines = [
    `guest_memfd_luo_ser: size ${sizeText(ser.size)}, flags ${flagsText(ser.flags, GMEM_FLAGS)}, ` +
      `nr_folios ${ser.nr_folios}, vm_token ${hex(ser.vm_token)}`,
  ];
  if (ser.size === 0n || ser.size % BigInt(PAGE_SIZE) !== 0n)
    lines.push('warning: size is 0 or not page aligned');
  if (ser.vm_token === 0n) lines.push('warning: vm_token is 0 (the LUO freeze did not run)');
  const opened = openFolioArray(
    mem,
    bytes,
    GUEST_MEMFD_LUO_SER_FOLIOS_OFFSET,
    ser.nr_folios,
    lines,
    blocks,
    who,
    'none (no folios)',
  );
  if (opened === null) return { lines, blocks };
  const { w, arr } = opened;
  const pages = w.blocks.length * 2 ** w.desc.order;
  const flags: readonly (readonly [number, string])[] = [
    [GUEST_MEMFD_LUO_FOLIO_UPTODATE, 'UPTODATE'],
  ];
  const end = ser.size / BigInt(PAGE_SIZE);
  lines.push(
    `folios: ${entriesText(mem, arr.entries, flags, end)}; array of ${pages} ${pages === 1 ? 'page' : 'pages'}`,
  );
  closeFolioArray(mem, opened, lines, blocks, who);
  return { lines, blocks };
}

export const kvmVmRecordDecoder: FileRecordDecoder = {
  compatible: KVM_LUO_FH_COMPATIBLE,
  decode: decodeVm,
};

export const guestMemfdRecordDecoder: FileRecordDecoder = {
  compatible: GUEST_MEMFD_LUO_FH_COMPATIBLE,
  decode: decodeGmem,
};
