/**
 * Proves that defineStruct encodes packed little-endian structs exactly and refuses bad layouts,
 * bad positions and bad values.
 * How: known byte images of two KHO ABI structs (spec §4.4, §4.8), a fast-check round trip over
 * every field type at random positions, and one case per error.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { defineStruct } from '../../../src/linux/lib/struct.ts';

// struct kho_vmalloc: natural layout, 16 bytes.
const khoVmalloc = defineStruct('kho_vmalloc', 16, {
  first: [0, 'u64'],
  total_pages: [8, 'u32'],
  flags: [12, 'u16'],
  order: [14, 'u16'],
});

// struct kho_kexec_metadata: packed, 73 bytes; previous_release (char[65] at 4) is a gap.
const kexecMetadata = defineStruct('kho_kexec_metadata', 73, {
  version: [0, 'u32'],
  kexec_count: [69, 'u32'],
});

const all = defineStruct('all', 32, {
  a: [0, 'u8'],
  b: [1, 'u16'],
  c: [3, 'u32'],
  d: [7, 'u64'],
  e: [15, 's32'],
  f: [19, 's64'],
});

test('encode lays fields out little-endian at their offsets', () => {
  const bytes = khoVmalloc.encode({
    first: 0x0102_0304_0506_0708n,
    total_pages: 0x0a0b0c0d,
    flags: 0x0003,
    order: 9,
  });
  assert.deepEqual([...bytes], [8, 7, 6, 5, 4, 3, 2, 1, 0x0d, 0x0c, 0x0b, 0x0a, 3, 0, 9, 0]);
  assert.equal(khoVmalloc.size, 16);
  assert.equal(kexecMetadata.encode({ version: 1, kexec_count: 0x01020304 })[69], 4);
});

test('write touches only the declared fields; read decodes them back', () => {
  const buf = new Uint8Array(100).fill(0xee);
  kexecMetadata.write(buf, { version: 1, kexec_count: 7 }, 20);
  assert.equal(buf[19], 0xee);
  assert.equal(buf[24], 0xee, 'the char[65] gap keeps its bytes');
  assert.equal(buf[20 + 73], 0xee);
  assert.deepEqual(kexecMetadata.read(buf, 20), { version: 1, kexec_count: 7 });
});

test('read(write(v)) === v for every field type, at any position, in any view', () => {
  const value = fc.record(
    {
      a: fc.integer({ min: 0, max: 0xff }),
      b: fc.integer({ min: 0, max: 0xffff }),
      c: fc.nat({ max: 0xffff_ffff }),
      d: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      e: fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff }),
      f: fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }),
    },
    { noNullPrototype: true },
  );
  fc.assert(
    fc.property(value, fc.nat({ max: 40 }), fc.nat({ max: 7 }), (v, at, viewStart) => {
      const whole = new Uint8Array(viewStart + at + all.size);
      const view = whole.subarray(viewStart);
      all.write(view, v, at);
      assert.deepEqual(all.read(view, at), v);
      assert.deepEqual(all.read(all.encode(v)), v);
    }),
  );
});

test('a layout whose fields do not fit or overlap is a RangeError at definition', () => {
  assert.throws(() => defineStruct('s', 8, { x: [1, 'u64'] }), RangeError);
  assert.throws(() => defineStruct('s', 8, { x: [-1, 'u8'] }), RangeError);
  assert.throws(() => defineStruct('s', 8, { x: [0.5, 'u8'] }), RangeError);
  assert.throws(() => defineStruct('s', 0, {}), RangeError);
  assert.throws(() => defineStruct('s', 8, { x: [0, 'u32'], y: [3, 'u8'] }), /x overlaps y/);
  assert.throws(() => defineStruct('s', 8, { y: [4, 'u32'], x: [0, 'u64'] }), RangeError);
  assert.doesNotThrow(() => defineStruct('s', 8, { x: [0, 'u32'], y: [4, 'u32'] }));
});

test('a struct placed outside the buffer is a RangeError', () => {
  const buf = new Uint8Array(20);
  for (const at of [5, -1, 0.5, Number.NaN, 2 ** 53]) {
    assert.throws(() => khoVmalloc.read(buf, at), RangeError, String(at));
    assert.throws(
      () => {
        khoVmalloc.write(buf, khoVmalloc.read(buf), at);
      },
      RangeError,
      String(at),
    );
  }
  assert.throws(() => khoVmalloc.read(new Uint8Array(15)), RangeError);
  assert.doesNotThrow(() => khoVmalloc.read(buf, 4));
});

test('out-of-range values are RangeErrors, wrong JS types TypeErrors; nothing is written', () => {
  const good = { a: 0, b: 0, c: 0, d: 0n, e: 0, f: 0n };
  const buf = new Uint8Array(all.size).fill(0x55);
  for (const bad of [
    { a: 256 },
    { a: -1 },
    { b: 1.5 },
    { c: 2 ** 32 },
    { d: 1n << 64n },
    { d: -1n },
    { e: 2 ** 31 },
    { f: 1n << 63n },
  ]) {
    assert.throws(
      () => {
        all.write(buf, { ...good, ...bad });
      },
      RangeError,
      JSON.stringify(bad, (_k, v: unknown) => String(v)),
    );
  }
  const wrongType: unknown = { ...good, d: 1 };
  assert.throws(() => {
    all.write(buf, wrongType as typeof good);
  }, TypeError);
  assert.ok(buf.every((b) => b === 0x55));
});
