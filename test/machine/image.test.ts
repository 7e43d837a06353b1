/**
 * Proves that machine images round-trip exactly and that loadImage refuses every damaged or
 * forged file with an ImageError (never another exception, never a hang).
 * How: a round trip with every boot parameter set; a 64 GiB machine whose image holds only its
 * written frames; every truncation of a small image; forged images with a correct checksum, one
 * per rule; and fast-check byte flips, which must give an ImageError or an identical machine.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { ImageError, loadImage, saveImage } from '../../src/machine/image.ts';
import { Machine } from '../../src/machine/machine.ts';
import { GiB, PAGE_SIZE } from '../../src/machine/physmem.ts';

function sample(): Machine {
  const m = new Machine({ memSize: 64 * PAGE_SIZE });
  m.setBootParams({
    khoFdtPhys: 0x3000n,
    scratch: [
      { addr: 0x10000n, size: 0x8000n },
      { addr: 0x20000n, size: 0x1000n },
    ],
    kexecCount: 3,
    cmdline: 'kho=on liveupdate=on — ünïcode',
  });
  m.physmem.write(0x3000, Uint8Array.of(0xd0, 0x0d, 0xfe, 0xed));
  m.physmem.writeU64(5 * PAGE_SIZE - 4, 0xfeed_face_cafe_beefn);
  m.physmem.write(40 * PAGE_SIZE, Uint8Array.of(1));
  m.physmem.write(40 * PAGE_SIZE, Uint8Array.of(0)); // a frame that exists but holds zeros
  return m;
}

function assertSameMachine(a: Machine, b: Machine): void {
  assert.equal(a.memSize, b.memSize);
  assert.deepEqual(a.bootParams, b.bootParams);
  assert.deepEqual(a.physmem.touchedPfns(), b.physmem.touchedPfns());
  for (const pfn of a.physmem.touchedPfns()) {
    assert.deepEqual(a.physmem.pageBytes(pfn), b.physmem.pageBytes(pfn));
  }
}

/** loadImage must fail with an ImageError whose one-line message matches `re`. */
function assertRejected(bytes: Uint8Array, re: RegExp): void {
  assert.throws(
    () => loadImage(bytes),
    (e: unknown) => e instanceof ImageError && re.test(e.message) && !e.message.includes('\n'),
  );
}

/** Patches `image` with `edit`, then writes a correct checksum, as a forger would. */
function forge(image: Uint8Array, edit: (dv: DataView) => void): Uint8Array {
  const out = image.slice();
  const dv = new DataView(out.buffer);
  edit(dv);
  dv.setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)), true);
  return out;
}

test('saveImage then loadImage gives back an identical machine', () => {
  const m = sample();
  const image = saveImage(m);
  assertSameMachine(loadImage(image), m);
  assert.deepEqual(saveImage(loadImage(image)), image, 'the format is canonical');
  assert.equal(new TextDecoder().decode(image.subarray(0, 8)), 'LUOSIMG\0');
  assertSameMachine(
    loadImage(saveImage(new Machine({ memSize: PAGE_SIZE }))),
    new Machine({ memSize: PAGE_SIZE }),
  );
});

test('a 64 GiB machine with three written pages makes a three-page image', () => {
  const m = new Machine({ memSize: 64 * GiB });
  for (const addr of [0, 33 * GiB, 64 * GiB - PAGE_SIZE]) m.physmem.writeU64(addr, 7n);
  const image = saveImage(m);
  assert.ok(image.length < 4 * PAGE_SIZE, `${image.length} bytes`);
  const back = loadImage(image);
  assert.equal(back.memSize, 64 * GiB);
  assert.equal(back.physmem.touchedCount, 3);
  assertSameMachine(back, m);
});

test('every truncation of a small image is an ImageError', () => {
  const image = saveImage(sample());
  for (let len = 0; len < image.length; len++) {
    assertRejected(image.subarray(0, len), /truncated|checksum/);
  }
});

// Offsets in the sample image: 2 scratch areas, a 34-byte command line padded to 40.
const PAGES_AT = 48 + 32 + 40;
const FIRST_PFN_AT = PAGES_AT + 8;
const SECOND_PFN_AT = FIRST_PFN_AT + 8 + PAGE_SIZE;

test('forged and damaged images are rejected with a message that names the problem', () => {
  const image = saveImage(sample());
  assert.equal(new DataView(image.buffer).getBigUint64(FIRST_PFN_AT, true), 3n);
  const cases: Array<[Uint8Array, RegExp]> = [
    [Uint8Array.of(0x4c, 0x55, 0x4f), /truncated/],
    [Uint8Array.of(0x7f, 0x45, 0x4c, 0x46), /bad magic/],
    [
      forge(image, (dv) => {
        dv.setUint8(0, 0x6c);
      }),
      /bad magic/,
    ],
    [
      forge(image, (dv) => {
        dv.setUint32(8, 2, true);
      }),
      /unsupported image version 2/,
    ],
    [Uint8Array.from([...image, 0]), /1 trailing bytes/],
    [image.map((b, i) => (i === 300 ? b ^ 4 : b)), /checksum mismatch/],
    [
      forge(image, (dv) => {
        dv.setUint32(12, 3, true);
      }),
      /flags/,
    ],
    [
      forge(image, (dv) => {
        dv.setUint32(44, 1, true);
      }),
      /reserved/,
    ],
    [
      forge(image, (dv) => {
        dv.setBigUint64(16, 0n, true);
      }),
      /memory size/,
    ],
    [
      forge(image, (dv) => {
        dv.setBigUint64(16, 4097n, true);
      }),
      /memory size/,
    ],
    [
      forge(image, (dv) => {
        dv.setBigUint64(16, 1n << 60n, true);
      }),
      /memory size/,
    ],
    [
      forge(image, (dv) => {
        dv.setUint32(12, 0, true);
      }),
      /without its flag/,
    ],
    [
      forge(image, (dv) => {
        dv.setBigUint64(24, 64n * 4096n, true);
      }),
      /KHO FDT address/,
    ],
    [
      forge(image, (dv) => {
        dv.setBigUint64(48, 63n * 4096n, true);
      }),
      /scratch area 0/,
    ],
    [
      forge(image, (dv) => {
        dv.setUint8(PAGES_AT - 8, 0xff);
      }),
      /UTF-8/,
    ],
    [
      forge(image, (dv) => {
        dv.setUint8(PAGES_AT - 1, 1);
      }),
      /padding/,
    ],
    [
      forge(image, (dv) => {
        dv.setBigUint64(FIRST_PFN_AT, 64n, true);
      }),
      /pfn 64 is outside memory/,
    ],
    [
      forge(image, (dv) => {
        dv.setBigUint64(FIRST_PFN_AT, 1n << 63n, true);
      }),
      /outside memory/,
    ],
    [
      forge(image, (dv) => {
        dv.setBigUint64(SECOND_PFN_AT, 3n, true);
      }),
      /duplicate pfn 3/,
    ],
    [
      forge(image, (dv) => {
        dv.setBigUint64(SECOND_PFN_AT, 2n, true);
      }),
      /out of order/,
    ],
    [
      forge(image, (dv) => {
        dv.setBigUint64(PAGES_AT, 1n << 62n, true);
      }),
      /truncated/,
    ],
    [
      forge(image, (dv) => {
        dv.setUint32(36, 0xffff_ffff, true);
      }),
      /truncated/,
    ],
    [
      forge(image, (dv) => {
        dv.setUint32(40, 0xffff_ffff, true);
      }),
      /truncated/,
    ],
  ];
  for (const [bytes, re] of cases) assertRejected(bytes, re);
});

test('random byte flips give an ImageError or an identical machine', () => {
  const m = sample();
  const image = saveImage(m);
  const flips = fc.array(
    fc.tuple(fc.nat({ max: image.length - 1 }), fc.integer({ min: 0, max: 255 })),
    {
      minLength: 1,
      maxLength: 3,
    },
  );
  fc.assert(
    fc.property(flips, (edits) => {
      const bytes = image.slice();
      for (const [at, xor] of edits) bytes[at] = (bytes[at] ?? 0) ^ xor;
      let loaded: Machine;
      try {
        loaded = loadImage(bytes);
      } catch (e) {
        assert.ok(e instanceof ImageError, String(e));
        return;
      }
      assertSameMachine(loaded, m);
    }),
    { numRuns: 500 },
  );
});
