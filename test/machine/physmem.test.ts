/**
 * Proves that PhysMem behaves as flat little-endian memory while storing only written frames.
 * How: direct cases for page-crossing accesses, zero-write sparsity, scrub and bounds; a 64 GiB
 * machine that must hold only the frames written; and a fast-check comparison of random writes
 * against a plain Uint8Array.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { GiB, PAGE_SIZE, PhysMem, physToAddr } from '../../src/machine/physmem.ts';

test('a fresh memory is 4 GiB of zeros and holds no frames', () => {
  const mem = new PhysMem();
  assert.equal(mem.size, 4 * GiB);
  assert.equal(mem.pageCount, 1 << 20);
  assert.deepEqual(mem.read(4 * GiB - 16, 16), new Uint8Array(16));
  assert.equal(mem.readU64(12345), 0n);
  assert.equal(mem.touchedCount, 0);
  assert.equal(mem.pageBytes(7), null);
});

test('accesses cross page boundaries; u64 values are little-endian', () => {
  const mem = new PhysMem(4 * PAGE_SIZE);
  mem.writeU64(PAGE_SIZE - 4, 0x1122_3344_5566_7788n);
  assert.deepEqual(
    [...mem.read(PAGE_SIZE - 4, 8)],
    [0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11],
  );
  assert.equal(mem.readU64(PAGE_SIZE - 4), 0x1122_3344_5566_7788n);
  assert.deepEqual(mem.touchedPfns(), [0, 1]);
  assert.throws(() => {
    mem.writeU64(0, -1n);
  }, RangeError);
  assert.throws(() => {
    mem.writeU64(0, 1n << 64n);
  }, RangeError);
});

test('zeros allocate nothing, but overwrite a frame that exists', () => {
  const mem = new PhysMem(4 * PAGE_SIZE);
  mem.write(0, new Uint8Array(3 * PAGE_SIZE));
  assert.equal(mem.touchedCount, 0);
  mem.write(PAGE_SIZE + 10, Uint8Array.of(9));
  mem.write(PAGE_SIZE + 10, Uint8Array.of(0));
  assert.deepEqual(mem.touchedPfns(), [1]);
  assert.deepEqual(mem.pageBytes(1), new Uint8Array(PAGE_SIZE));
});

test('pageBytes is a copy; zeroPage and scrub drop frames', () => {
  const mem = new PhysMem(8 * PAGE_SIZE);
  for (const pfn of [5, 1, 3, 7]) mem.write(pfn * PAGE_SIZE, Uint8Array.of(pfn));
  assert.deepEqual(mem.touchedPfns(), [1, 3, 5, 7]);
  const copy = mem.pageBytes(3);
  assert.ok(copy);
  copy[0] = 99;
  assert.equal(mem.read(3 * PAGE_SIZE, 1)[0], 3);
  mem.zeroPage(3);
  mem.zeroPage(4);
  assert.equal(mem.pageBytes(3), null);
  mem.scrub((pfn) => pfn === 5);
  assert.deepEqual(mem.touchedPfns(), [5]);
  assert.equal(mem.read(7 * PAGE_SIZE, 1)[0], 0);
  mem.restorePage(2, new Uint8Array(PAGE_SIZE));
  assert.deepEqual(mem.touchedPfns(), [2, 5], 'restorePage installs even an all-zero frame');
});

test('a 64 GiB machine costs only the frames written', () => {
  const mem = new PhysMem(64 * GiB);
  const addrs = [0, 17 * GiB + 123, 64 * GiB - 8];
  for (const a of addrs) mem.writeU64(a, BigInt(a) | 1n);
  for (const a of addrs) assert.equal(mem.readU64(a), BigInt(a) | 1n);
  assert.equal(mem.touchedCount, 3);
  assert.deepEqual(
    mem.touchedPfns(),
    addrs.map((a) => Math.floor(a / PAGE_SIZE)),
  );
});

test('out-of-range addresses, lengths, pfns and sizes are RangeErrors', () => {
  const mem = new PhysMem(2 * PAGE_SIZE);
  const bad: Array<() => unknown> = [
    () => mem.read(2 * PAGE_SIZE - 1, 2),
    () => mem.read(2 * PAGE_SIZE + 1, 0),
    () => mem.read(-1, 1),
    () => mem.read(0.5, 1),
    () => mem.read(0, -1),
    () => mem.read(Number.NaN, 1),
    () => {
      mem.write(2 * PAGE_SIZE - 4, new Uint8Array(8));
    },
    () => mem.readU64(2 * PAGE_SIZE - 7),
    () => {
      mem.zeroPage(2);
    },
    () => mem.pageBytes(-1),
    () => {
      mem.restorePage(0, new Uint8Array(10));
    },
    () => new PhysMem(0),
    () => new PhysMem(PAGE_SIZE + 1),
    () => new PhysMem(2 ** 53),
    () => physToAddr(1n << 53n),
    () => physToAddr(-1n),
  ];
  for (const f of bad) assert.throws(f, RangeError, f.toString());
  assert.deepEqual(mem.read(2 * PAGE_SIZE, 0), new Uint8Array());
  assert.equal(physToAddr(0x1_0000_0000n), 2 ** 32);
});

test('random writes read back as from a flat array, and only written frames exist', () => {
  const size = 6 * PAGE_SIZE;
  const write = fc
    .tuple(fc.nat({ max: size - 1 }), fc.uint8Array({ maxLength: 2 * PAGE_SIZE }))
    .map(([addr, bytes]) => ({ addr, bytes: bytes.subarray(0, size - addr) }));
  fc.assert(
    fc.property(fc.array(write, { maxLength: 8 }), (writes) => {
      const mem = new PhysMem(size);
      const flat = new Uint8Array(size);
      const nonZero = new Set<number>();
      for (const { addr, bytes } of writes) {
        mem.write(addr, bytes);
        flat.set(bytes, addr);
        bytes.forEach((b, i) => {
          if (b !== 0) nonZero.add(Math.floor((addr + i) / PAGE_SIZE));
        });
      }
      assert.deepEqual(mem.read(0, size), flat);
      for (const pfn of mem.touchedPfns()) assert.ok(nonZero.has(pfn));
    }),
    { numRuns: 200 },
  );
});
