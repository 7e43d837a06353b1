/**
 * The extension point of `luosim inspect` for file records: a preserved file's `data` (the
 * handler's serialized_data, usually the physical address of its own record) means something
 * only to the handler whose compatible the file carries. Each handler's record format is
 * decoded by a module of its own, registered here by compatible:
 *
 * - "memfd-v2" (mm/memfd_luo.c, `struct memfd_luo_ser` and its folio array): ./memfd.ts, to be
 *   added with the memfd model;
 * - the guest_memfd handler of the preservation series: ./guest_memfd.ts, likewise.
 *
 * A decoder reads bytes only (the image's memory) and must never throw on garbage: it reports
 * what it cannot decode as a line of text. It may also claim preserved blocks so that the block
 * list can say which file they belong to.
 */
import type { PhysMem } from '../../machine/physmem.ts';

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
export const FILE_RECORD_DECODERS: readonly FileRecordDecoder[] = [];

export function findRecordDecoder(compatible: string): FileRecordDecoder | undefined {
  return FILE_RECORD_DECODERS.find((d) => d.compatible === compatible);
}
