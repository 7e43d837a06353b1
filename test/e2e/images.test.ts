/**
 * Machine images through the CLI, as a user drives them: `run luo_kexec_simple --save-image`
 * writes the machine at the kexec point; a fresh process boots stage 2 from that file and the
 * selftest passes; `inspect` shows the handover (root FDT, blocks, LUO sessions and tokens) and
 * `inspect --fdt` writes a root FDT that dtc decodes (skipped only when dtc is absent); corrupt
 * images (truncated, wrong magic, bad offsets, a handover that does not decode, a handover whose
 * structures the KHO tracker does not preserve) exit 2 with one line on stderr and no stack
 * trace. Also `selftest` prints one line per test and a summary.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { crc32 } from 'node:zlib';
import { decodeHandover } from '../../src/cli/inspect/decode.ts';
import { PAGE_SIZE } from '../../src/machine/physmem.ts';
import { loadImage, saveImage } from '../../src/machine/image.ts';

function luosim(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/luosim.mjs', ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const dir = mkdtempSync(join(tmpdir(), 'luosim-images-'));
after(() => {
  rmSync(dir, { recursive: true, force: true });
});
const image = join(dir, 'kexec_simple.img');

function savedImage(): Uint8Array {
  return readFileSync(image);
}

test('run --save-image writes the machine at the kexec point', () => {
  const r = luosim('run', 'luo_kexec_simple', '--save-image', image);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /boots {6}2, kexecs 1/);
  assert.match(r.stdout, /result {5}PASS/);
  assert.equal(Buffer.from(savedImage().subarray(0, 8)).toString('latin1'), 'LUOSIMG\0');
});

test('stage 2 boots from the saved image in a fresh process and passes', () => {
  const r = luosim('run', 'luo_kexec_simple', '--stage', '2', '--image', image);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /boots {6}1, kexecs 0/);
  assert.match(r.stdout, /SIMPLE KEXEC TEST PASSED/);
  assert.doesNotMatch(r.stdout, /\[STAGE 1\]/);
});

test('inspect shows the root FDT, preserved blocks and LUO sessions with tokens', () => {
  const r = luosim('inspect', image);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /compatible = "kho-v4";/);
  assert.match(r.stdout, /^ {4}LUO \{$/m);
  assert.match(r.stdout, /preserved blocks: \d+ blocks/);
  assert.match(r.stdout, /KHO root FDT/);
  assert.match(r.stdout, /compatible "luo-v5", liveupdate_num 1/);
  assert.match(r.stdout, /session "kexec_simple_state": 1 file/);
  assert.match(r.stdout, /session "test-session": 1 file/);
  assert.match(r.stdout, /token 0x1a {2}handler "memfd-v2"/);
  assert.match(r.stdout, /token 0x3e7 {2}handler "memfd-v2"/);
});

const dtc = spawnSync('dtc', ['--version'], { encoding: 'utf8' });
test(
  'inspect --fdt writes a root FDT that dtc decodes',
  { skip: dtc.error ? 'dtc is not installed' : false },
  () => {
    const dtb = join(dir, 'root.dtb');
    const r = luosim('inspect', image, '--fdt', dtb);
    assert.equal(r.code, 0, r.stderr);
    const dts = spawnSync('dtc', ['-I', 'dtb', '-O', 'dts', dtb], { encoding: 'utf8' });
    assert.equal(dts.status, 0, dts.stderr);
    assert.match(dts.stdout, /compatible = "kho-v4";/);
    assert.match(dts.stdout, /^\s*LUO \{$/m);
  },
);

/** Rewrites the checksum so that only the corruption itself is wrong. */
function withCrc(bytes: Uint8Array): Uint8Array {
  const out = Uint8Array.from(bytes);
  new DataView(out.buffer).setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)), true);
  return out;
}

const corruptions: [string, (b: Uint8Array) => Uint8Array, RegExp][] = [
  ['its end cut off', (b) => b.subarray(0, b.length - 100), /truncated image/],
  ['its header cut short', (b) => b.subarray(0, 20), /truncated image/],
  [
    'wrong magic',
    (b) => {
      const out = Uint8Array.from(b);
      out[0] = 0x58;
      return out;
    },
    /bad magic/,
  ],
  [
    'a page count past the end',
    (b) => {
      const out = Uint8Array.from(b);
      const dv = new DataView(out.buffer);
      const pagesAt = 48 + 16 * dv.getUint32(36, true) + ((dv.getUint32(40, true) + 7) & ~7);
      dv.setBigUint64(pagesAt, 1n << 40n, true);
      return out;
    },
    /truncated image: \d+ pages declared/,
  ],
  [
    'a root FDT address outside memory',
    (b) => {
      const out = Uint8Array.from(b);
      new DataView(out.buffer).setBigUint64(24, 1n << 50n, true);
      return withCrc(out);
    },
    /KHO FDT address .* outside memory/,
  ],
  [
    'a root FDT address on a page that holds no FDT',
    (b) => {
      const out = Uint8Array.from(b);
      const dv = new DataView(out.buffer);
      dv.setBigUint64(24, dv.getBigUint64(24, true) + 0x1000n, true);
      return withCrc(out);
    },
    /root FDT at 0x[0-9a-f]+ is invalid/,
  ],
];

for (const [what, corrupt, message] of corruptions) {
  const file = join(dir, `${what.replace(/\W+/g, '-')}.img`);
  test(`an image with ${what}: inspect and boot exit 2 with one line`, () => {
    writeFileSync(file, corrupt(savedImage()));
    for (const args of [
      ['inspect', file],
      ['inspect', file, '--fdt', join(dir, 'never.dtb')],
      ['run', 'luo_kexec_simple', '--stage', '2', '--image', file],
    ]) {
      const r = luosim(...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }
  });
}

test('selftest prints one line per test and a summary; unknown names exit 2', () => {
  const r = luosim('selftest', 'liveupdate', 'luo_kexec_simple');
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const lines = r.stdout.split('\n').filter((l) => /^(PASS|FAIL) /.test(l));
  assert.equal(lines.length, 16);
  assert.match(lines[0] ?? '', /^PASS {2}liveupdate\.basic_open_close +\d+\.\d ms$/);
  assert.match(r.stdout, /^16 passed, 0 failed/m);
  const bad = luosim('selftest', 'no_such_test');
  assert.equal(bad.code, 2);
  assert.equal(bad.stderr.trim().split('\n').length, 1);
  assert.match(bad.stderr, /no selftest named "no_such_test"/);
});

test('an image whose KHO tracker preserves nothing: inspect and boot exit 2 naming the root FDT', () => {
  // A tracker root page of zeros is an empty tracker: the root FDT, the LUO blob and every
  // record are then memory the next kernel would not get back.
  const machine = loadImage(savedImage());
  const h = decodeHandover(machine);
  assert.ok(h !== null && h.blocks.length > 0);
  machine.physmem.write(Number(h.trackerRoot), new Uint8Array(PAGE_SIZE));
  const file = join(dir, 'empty-tracker.img');
  writeFileSync(file, saveImage(machine));
  const inspect = luosim('inspect', file);
  assert.equal(inspect.code, 2, inspect.stderr);
  assert.match(inspect.stdout, /preserved blocks: 0 blocks/);
  assert.equal(inspect.stderr.trim().split('\n').length, 1, inspect.stderr);
  assert.match(inspect.stderr, /first: KHO root FDT at 0x[0-9a-f]+ is not a preserved block/);
  const boot = luosim('run', 'luo_kexec_simple', '--stage', '2', '--image', file);
  assert.equal(boot.code, 2, boot.stdout + boot.stderr);
  assert.equal(boot.stdout, '');
  assert.match(boot.stderr, /KHO root FDT at 0x[0-9a-f]+ is not a preserved block/);
});
