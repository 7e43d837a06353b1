/**
 * Machine images: a Machine (memory and boot parameters) saved to bytes and loaded back, so a
 * run can stop at a kexec and another process can boot the next kernel from the file.
 *
 * **Models:** no kernel file; this is luosim's own format. It holds exactly what survives a
 * kexec in the model (physmem.ts, machine.ts, v7.2-era mainline semantics).
 *
 * **Abstracted:** no compression; pages are stored whole. Memory that was never written is not
 * stored, so a 64 GiB machine with three written pages makes a file of about 12 KiB.
 *
 * Format, all integers little-endian:
 *
 * | Offset | Size | Field |
 * |---|---|---|
 * | 0 | 8 | magic "LUOSIMG\0" |
 * | 8 | 4 | version, u32 = 1 |
 * | 12 | 4 | flags, u32: bit 0 = a KHO FDT address is present; other bits 0 |
 * | 16 | 8 | memory size in bytes, u64, a non-zero multiple of 4096 below 2^53 |
 * | 24 | 8 | KHO FDT physical address, u64 (0 when flag bit 0 is clear) |
 * | 32 | 4 | kexec count, u32 |
 * | 36 | 4 | number of scratch areas S, u32 |
 * | 40 | 4 | command line length L in bytes, u32 |
 * | 44 | 4 | reserved, 0 |
 * | 48 | 16 × S | scratch areas: address u64, size u64 |
 * | | L, then 0-7 zero bytes to a multiple of 8 | command line, UTF-8, no NUL |
 * | | 8 | number of pages P, u64 |
 * | | 4104 × P | pages in strictly ascending pfn order: pfn u64, then 4096 bytes |
 * | | 4 | CRC-32 (zlib's) of every byte before it |
 *
 * loadImage checks, in order: magic, version, that every counted part is present (truncation)
 * and nothing follows the checksum, the checksum, then the values: flags and reserved fields,
 * memory size, boot parameters (machine.ts rules), UTF-8, pfns inside memory, and pfns in
 * ascending order without duplicates. Any failure is an ImageError with a one-line message; work
 * is bounded by the file length, so no input makes it hang.
 */
import { crc32 } from 'node:zlib';
import { bootParamsProblem, Machine, type BootParams } from './machine.ts';
import { PAGE_SIZE } from './physmem.ts';

export class ImageError extends Error {
  override readonly name = 'ImageError';
}

export const IMAGE_MAGIC = 'LUOSIMG\0';
export const IMAGE_VERSION = 1;
const HEADER_SIZE = 48;
const FLAG_KHO_FDT = 1;
const PAGE_RECORD_SIZE = 8 + PAGE_SIZE;
const magicBytes = Uint8Array.from(IMAGE_MAGIC, (c) => c.charCodeAt(0));
const pad8 = (n: number): number => n + (-n & 7);

export function saveImage(machine: Machine): Uint8Array {
  const boot = machine.bootParams;
  const cmdline = new TextEncoder().encode(boot.cmdline);
  const pfns = machine.physmem.touchedPfns();
  const pagesAt = HEADER_SIZE + 16 * boot.scratch.length + pad8(cmdline.length);
  const out = new Uint8Array(pagesAt + 8 + PAGE_RECORD_SIZE * pfns.length + 4);
  const dv = new DataView(out.buffer);
  out.set(magicBytes);
  dv.setUint32(8, IMAGE_VERSION, true);
  dv.setUint32(12, boot.khoFdtPhys === null ? 0 : FLAG_KHO_FDT, true);
  dv.setBigUint64(16, BigInt(machine.memSize), true);
  dv.setBigUint64(24, boot.khoFdtPhys ?? 0n, true);
  dv.setUint32(32, boot.kexecCount, true);
  dv.setUint32(36, boot.scratch.length, true);
  dv.setUint32(40, cmdline.length, true);
  boot.scratch.forEach((s, i) => {
    dv.setBigUint64(HEADER_SIZE + 16 * i, s.addr, true);
    dv.setBigUint64(HEADER_SIZE + 16 * i + 8, s.size, true);
  });
  out.set(cmdline, HEADER_SIZE + 16 * boot.scratch.length);
  dv.setBigUint64(pagesAt, BigInt(pfns.length), true);
  pfns.forEach((pfn, i) => {
    const at = pagesAt + 8 + PAGE_RECORD_SIZE * i;
    dv.setBigUint64(at, BigInt(pfn), true);
    out.set(machine.physmem.pageBytes(pfn) ?? new Uint8Array(PAGE_SIZE), at + 8);
  });
  dv.setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)), true);
  return out;
}

export function loadImage(bytes: Uint8Array): Machine {
  const fail = (msg: string): never => {
    throw new ImageError(msg);
  };
  const prefix = Math.min(bytes.length, magicBytes.length);
  if (magicBytes.subarray(0, prefix).some((b, i) => bytes[i] !== b)) {
    fail('not a luosim machine image (bad magic)');
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length >= 12 && dv.getUint32(8, true) !== IMAGE_VERSION) {
    fail(`unsupported image version ${dv.getUint32(8, true)} (this build reads ${IMAGE_VERSION})`);
  }
  const need = (at: number, n: number, what: string): void => {
    if (n > bytes.length - at) fail(`truncated image: ${what} needs ${n} bytes at offset ${at}`);
  };
  need(0, HEADER_SIZE, 'the header');
  const u32 = (at: number): number => dv.getUint32(at, true);
  const u64 = (at: number): bigint => dv.getBigUint64(at, true);

  // Structure: locate every part from the counts; each step is bounded by the file length.
  const scratchCount = u32(36);
  const cmdlineLen = u32(40);
  need(HEADER_SIZE, 16 * scratchCount, `${scratchCount} scratch areas`);
  const cmdlineAt = HEADER_SIZE + 16 * scratchCount;
  need(cmdlineAt, pad8(cmdlineLen), 'the command line');
  const pagesAt = cmdlineAt + pad8(cmdlineLen);
  need(pagesAt, 8, 'the page count');
  const pageCount = u64(pagesAt);
  const room = BigInt(bytes.length - pagesAt - 8) / BigInt(PAGE_RECORD_SIZE);
  if (pageCount > room) fail(`truncated image: ${pageCount} pages declared, room for ${room}`);
  const crcAt = pagesAt + 8 + PAGE_RECORD_SIZE * Number(pageCount);
  need(crcAt, 4, 'the checksum');
  if (bytes.length > crcAt + 4)
    fail(`${bytes.length - crcAt - 4} trailing bytes after the checksum`);
  if (crc32(bytes.subarray(0, crcAt)) !== u32(crcAt))
    fail('checksum mismatch: the image is corrupt');

  // Values.
  const flags = u32(12);
  if ((flags & ~FLAG_KHO_FDT) !== 0 || u32(44) !== 0) fail('unknown flags or reserved bits set');
  const memSize = u64(16);
  if (memSize === 0n || memSize % BigInt(PAGE_SIZE) !== 0n || memSize > Number.MAX_SAFE_INTEGER) {
    fail(`unsupported memory size ${memSize}`);
  }
  const khoFdtPhys = (flags & FLAG_KHO_FDT) !== 0 ? u64(24) : null;
  if (khoFdtPhys === null && u64(24) !== 0n) fail('KHO FDT address set without its flag');
  let cmdline = '';
  try {
    cmdline = new TextDecoder('utf-8', { fatal: true }).decode(
      bytes.subarray(cmdlineAt, cmdlineAt + cmdlineLen),
    );
  } catch {
    fail('command line is not valid UTF-8');
  }
  if (bytes.subarray(cmdlineAt + cmdlineLen, pagesAt).some((b) => b !== 0))
    fail('non-zero padding after the command line');
  const scratch = Array.from({ length: scratchCount }, (_, i) => ({
    addr: u64(HEADER_SIZE + 16 * i),
    size: u64(HEADER_SIZE + 16 * i + 8),
  }));
  const boot: BootParams = { khoFdtPhys, scratch, kexecCount: u32(32), cmdline };
  const problem = bootParamsProblem(boot, Number(memSize));
  if (problem !== null) fail(`bad boot parameters: ${problem}`);

  const machine = new Machine({ memSize: Number(memSize), boot });
  const pfnLimit = machine.physmem.pageCount;
  let previous = -1;
  for (let i = 0; i < Number(pageCount); i++) {
    const at = pagesAt + 8 + PAGE_RECORD_SIZE * i;
    const pfn = u64(at);
    if (pfn >= BigInt(pfnLimit)) fail(`pfn ${pfn} is outside memory (${pfnLimit} pages)`);
    if (Number(pfn) === previous) fail(`duplicate pfn ${pfn}`);
    if (Number(pfn) < previous) fail(`pfn ${pfn} is out of order (after ${previous})`);
    previous = Number(pfn);
    machine.physmem.restorePage(previous, bytes.subarray(at + 8, at + PAGE_RECORD_SIZE));
  }
  return machine;
}
