/**
 * The extension point of `luosim inspect` for file records: a preserved file's `data` (the
 * handler's serialized_data, usually the physical address of its own record) means something
 * only to the handler whose compatible the file carries. Each handler's record format is
 * decoded by a module of its own, registered here by compatible:
 *
 * - "memfd-v2" (mm/memfd_luo.c, `struct memfd_luo_ser` and its folio array): ./memfd.ts;
 * - "kvm_vm_luo_v1" and "guest_memfd_luo_v1" of the guest_memfd preservation series: ./kvm.ts.
 *
 * A decoder reads bytes only (the image's memory) and must never throw on garbage: it reports
 * what it cannot decode as a line of text beginning with `error: ` (which makes `inspect` and
 * `run --image` treat the image as corrupt, exit 2). It may also claim preserved blocks so that the block
 * list can say which file they belong to. As a last line of defence, a decoder that throws
 * anyway (a range error from a read it failed to check) is reported as such in its lines.
 */
import type { PhysMem } from '../../machine/physmem.ts';
import { guestMemfdRecordDecoder, kvmVmRecordDecoder } from './kvm.ts';
import { memfdRecordDecoder } from './memfd.ts';

export interface RecordView {
  /** Lines describing the record, shown under the file. */
  readonly lines: readonly string[];
  /** Preserved blocks that belong to this record: physical address → label. */
  readonly blocks: ReadonlyMap<number, string>;
}

export interface FileRecordDecoder {
  readonly compatible: string;
  decode(mem: PhysMem, data: bigint, token: bigint): RecordView;
}

/** Registered decoders; a file whose compatible has none is shown with its raw data. */
export const FILE_RECORD_DECODERS: readonly FileRecordDecoder[] = [
  memfdRecordDecoder,
  kvmVmRecordDecoder,
  guestMemfdRecordDecoder,
];

export function findRecordDecoder(compatible: string): FileRecordDecoder | undefined {
  const d = FILE_RECORD_DECODERS.find((x) => x.compatible === compatible);
  if (d === undefined) return undefined;
  return {
    compatible: d.compatible,
    decode(mem, data, token) {
      try {
        return d.decode(mem, data, token);
      } catch (e) {
        const why = e instanceof Error ? e.message : String(e);
        return { lines: [`error: the record could not be decoded: ${why}`], blocks: new Map() };
      }
    },
  };
}
