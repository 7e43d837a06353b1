/**
 * `luosim inspect` decoder for "memfd-v2" records (mm/memfd_luo.c; luo-kho-memfd.md §5.2): the
 * 48-byte `struct memfd_luo_ser` at the file's data address (pos, size, seals, flags,
 * nr_folios) and its folio array behind the `kho_vmalloc` descriptor. Claims the record page,
 * the chunk and array pages, and every preserved folio.
 */
import type { PhysMem } from '../../machine/physmem.ts';
import {
  MEMFD_LUO_FH_COMPATIBLE,
  MEMFD_LUO_FOLIO_DIRTY,
  MEMFD_LUO_FOLIO_UPTODATE,
  MEMFD_LUO_SER_FOLIOS_OFFSET,
  MEMFD_LUO_SER_SIZE,
  memfd_luo_ser,
} from '../../linux/include/linux/kho/abi/memfd.ts';
import {
  F_SEAL_EXEC,
  F_SEAL_FUTURE_WRITE,
  F_SEAL_GROW,
  F_SEAL_SEAL,
  F_SEAL_SHRINK,
  F_SEAL_WRITE,
} from '../../linux/include/uapi/linux/fcntl.ts';
import { PAGE_SIZE } from '../../linux/include/asm-generic/page.ts';
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

const SEALS: readonly (readonly [bigint, string])[] = [
  [BigInt(F_SEAL_SEAL), 'SEAL'],
  [BigInt(F_SEAL_SHRINK), 'SHRINK'],
  [BigInt(F_SEAL_GROW), 'GROW'],
  [BigInt(F_SEAL_WRITE), 'WRITE'],
  [BigInt(F_SEAL_FUTURE_WRITE), 'FUTURE_WRITE'],
  [BigInt(F_SEAL_EXEC), 'EXEC'],
];

const FOLIO_FLAGS: readonly (readonly [number, string])[] = [
  [MEMFD_LUO_FOLIO_UPTODATE, 'UPTODATE'],
  [MEMFD_LUO_FOLIO_DIRTY, 'DIRTY'],
];

const pagesOf = (size: bigint): bigint => (size + BigInt(PAGE_SIZE - 1)) / BigInt(PAGE_SIZE);

function decodeMemfd(mem: PhysMem, data: bigint, token: bigint): RecordView {
  const blocks = new Map<number, string>();
  const who = `memfd ${hex(token)}`;
  if (data === 0n) return { lines: ['error: no record (data is 0)'], blocks };
  if (!inMemory(mem, data, MEMFD_LUO_SER_SIZE))
    return { lines: [`error: record at ${hex(data)} is outside memory`], blocks };
  const pa = Number(data);
  blocks.set(pa - (pa % PAGE_SIZE), `${who} record (memfd_luo_ser)`);
  const bytes = mem.read(pa, MEMFD_LUO_SER_SIZE);
  const ser = memfd_luo_ser.read(bytes);
  const lines = [
    `memfd_luo_ser: pos ${ser.pos}, size ${sizeText(ser.size)}, ` +
      `seals ${flagsText(BigInt(ser.seals), SEALS)}, flags ${hex(ser.flags)}, ` +
      `nr_folios ${ser.nr_folios}`,
  ];
  if (ser.flags !== 0) lines.push(`warning: reserved flags ${hex(ser.flags)} are not 0`);
  const opened = openFolioArray(
    mem,
    bytes,
    MEMFD_LUO_SER_FOLIOS_OFFSET,
    ser.nr_folios,
    lines,
    blocks,
    who,
    'none',
  );
  if (opened === null) return { lines, blocks };
  const { arr } = opened;
  lines.push(`folios: ${entriesText(mem, arr.entries, FOLIO_FLAGS, pagesOf(ser.size))}`);
  closeFolioArray(mem, opened, lines, blocks, who);
  return { lines, blocks };
}

export const memfdRecordDecoder: FileRecordDecoder = {
  compatible: MEMFD_LUO_FH_COMPATIBLE,
  decode: decodeMemfd,
};
