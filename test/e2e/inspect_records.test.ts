/**
 * The per-handler record decoders of `luosim inspect`, through the CLI as a user runs it:
 * `run guest_memfd_preservation --save-image F` then `inspect F` shows the guest_memfd record
 * (16 MiB, flags 0x3 MMAP|INIT_SHARED, 1280 folio entries, vm_token 0x1001), the VM record
 * (type 0) and the memfd state record, and every preserved block is claimed by a decoder.
 * Then records corrupted inside a valid image (checksum rewritten, so only the record is wrong):
 * a chunk chain that loops, a count past the end of memory, a record pointer outside memory and
 * an array pointer outside memory, a memfd count past its array. Inspect still shows everything
 * that decodes and says what is wrong in its output, then exits 2 with one line on stderr (the
 * image is bad input); `run --stage 2 --image` refuses such an image the same way.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { crc32 } from 'node:zlib';

const PAGE = 4096;

function luosim(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/luosim.mjs', ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'luosim-records-'));
const image = join(dir, 'gmem.img');
let good = '';
before(() => {
  const r = luosim('run', 'guest_memfd_preservation', '--save-image', image);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const i = luosim('inspect', image);
  assert.equal(i.code, 0, i.stderr);
  good = i.stdout;
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

test('inspect decodes the guest_memfd, VM and memfd records and claims every block', () => {
  assert.match(
    good,
    /token 0x1002 {2}handler "guest_memfd_luo_v1".*\n +guest_memfd_luo_ser: size 16 MiB \(0x1000000\), flags 0x3 \(MMAP\|INIT_SHARED\), nr_folios 1280, vm_token 0x1001\n/,
  );
  assert.match(good, /folios: 1280 entries, index 0\.\.1279, 1280 UPTODATE; array of 5 pages/);
  assert.match(good, /total_pages 5, order 0, flags 0x1 \(ALLOC\); 1 chunk/);
  assert.match(
    good,
    /token 0x1001 {2}handler "kvm_vm_luo_v1".*\n +kvm_luo_ser: type 0 \(KVM_X86_DEFAULT_VM\)\n/,
  );
  assert.match(good, /token 0x999 {2}handler "memfd-v2".*\n +memfd_luo_ser: pos 0, size 4 KiB/);
  assert.match(
    good,
    /memfd_luo_ser: .*nr_folios 1\n.*\n +folios: 1 entry, index 0\.\.0, 1 UPTODATE/,
  );
  assert.match(good, /5 MiB total +guest_memfd 0x1002 folio ×1280/);
  assert.match(good, /guest_memfd 0x1002 folio array page ×5/);
  assert.match(good, /VM 0x1001 record \(kvm_luo_ser\)/);
  assert.match(good, /memfd 0x999 record \(memfd_luo_ser\)/);
  assert.doesNotMatch(good, /no decoder claims it/);
  assert.doesNotMatch(good, /no record decoder registered/);
  assert.doesNotMatch(good, /error:|warning:/);
});

/** Physical address named in the good output by `re`'s first group. */
function addr(re: RegExp): number {
  const m = re.exec(good);
  assert.ok(m?.[1], `${String(re)} in the inspect output`);
  return Number.parseInt(m[1], 16);
}

/** A copy of the image with the u64 at physical address `pa` set to `value`, checksum fixed. */
function patched(bytes: Uint8Array, pa: number, value: bigint): Uint8Array {
  const out = Uint8Array.from(bytes);
  const dv = new DataView(out.buffer);
  const pagesAt = 48 + 16 * dv.getUint32(36, true) + ((dv.getUint32(40, true) + 7) & ~7);
  const count = Number(dv.getBigUint64(pagesAt, true));
  let at = -1;
  for (let i = 0; i < count && at < 0; i++) {
    const rec = pagesAt + 8 + (8 + PAGE) * i;
    if (Number(dv.getBigUint64(rec, true)) === Math.floor(pa / PAGE)) at = rec + 8 + (pa % PAGE);
  }
  assert.ok(at >= 0, `page of ${pa.toString(16)} is stored in the image`);
  dv.setBigUint64(at, value, true);
  dv.setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)), true);
  return out;
}

const gmemRecord = (): number =>
  addr(/token 0x1002 {2}handler "guest_memfd_luo_v1" {2}data (0x[0-9a-f]+)/);
const gmemChunk = (): number =>
  addr(/guest_memfd_luo_ser[^\n]*\n +folio array: kho_vmalloc first (0x[0-9a-f]+)/);
const memfdRecord = (): number => addr(/token 0x999 {2}handler "memfd-v2" {2}data (0x[0-9a-f]+)/);
const fileBlock = (): number =>
  addr(/session "gmem_vm_preservation_session": 2 files \(chain at (0x[0-9a-f]+)\)/);

const corruptions: [string, () => [number, bigint], RegExp][] = [
  [
    'a chunk chain that loops',
    () => [gmemChunk(), BigInt(gmemChunk())],
    /error: folio array: the chunk chain loops back to 0x/,
  ],
  [
    'nr_folios past the end of memory',
    () => [gmemRecord() + 16, 1n << 60n],
    /error: folio array: nr_folios 1152921504606846976 is more than the \d+ pages of memory/,
  ],
  [
    'a folio array outside memory',
    () => [gmemRecord() + 32, 1n << 50n],
    /error: folio array: chunk 1 at 0x4000000000000 is not a page of memory/,
  ],
  // The second file entry of the session block (16-byte header, 64-byte entries): its data.
  [
    'a record pointer outside memory',
    () => [fileBlock() + 16 + 64 + 48, 1n << 52n],
    /handler "guest_memfd_luo_v1" {2}data 0x10000000000000\n +error: record at 0x10000000000000 is outside memory/,
  ],
  [
    'a chunk entry outside memory',
    () => [gmemChunk() + 8, 1n << 45n],
    /error: folio array: chunk 1 entry 0 \(0x200000000000\) is not a block of memory/,
  ],
];

corruptions.push([
  'a memfd count past its one-page array',
  () => [memfdRecord() + 24, 300n],
  /error: folio array: nr_folios 300 needs 4800 bytes, the array's pages hold 4096/,
]);

for (const [what, where, message] of corruptions) {
  test(`a record with ${what}: inspect says so and exits 2, and stage 2 will not boot it`, () => {
    const [pa, value] = where();
    const file = join(dir, `${what.replace(/\W+/g, '-')}.img`);
    writeFileSync(file, patched(readFileSync(image), pa, value));
    const r = luosim('inspect', file);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /1 problem\(s\) in the handover; first: session "[^"]+" file \d+ \(/);
    assert.match(r.stdout, message);
    assert.match(
      r.stdout,
      /kvm_luo_ser: type 0 \(KVM_X86_DEFAULT_VM\)/,
      'other records still decode',
    );
    const boot = luosim('run', 'guest_memfd_preservation', '--stage', '2', '--image', file);
    assert.equal(boot.code, 2, boot.stdout + boot.stderr);
    assert.equal(boot.stdout, '');
    assert.equal(boot.stderr.trim().split('\n').length, 1, boot.stderr);
    assert.match(boot.stderr, /problem\(s\) in the handover \(see luosim inspect\)/);
  });
}
