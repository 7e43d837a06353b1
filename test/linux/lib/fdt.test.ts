/**
 * Proves that the FDT writer produces libfdt's exact bytes and that the reader inverts it.
 * How: byte comparison with pylibfdt FdtSw goldens (test/fixtures/fdt, made by make-golden.py);
 * a fast-check round trip over random trees in both layouts; and, when dtc is installed, dtc
 * decompiling our blob and re-emitting the golden in its own layout, which must match ours.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  FdtError,
  fdtFindNode,
  fdtGetProp,
  fdtParse,
  fdtSerialize,
  propString,
  propU64LE,
  readString,
  readU64LE,
  type FdtNode,
} from '../../../src/linux/lib/fdt.ts';
import { edgeSampleTree, khoSampleTree, treeArb } from './fdt_trees.ts';

const fixture = (name: string): Uint8Array =>
  new Uint8Array(readFileSync(new URL(`../../fixtures/fdt/${name}`, import.meta.url)));

function hasDtc(): boolean {
  try {
    execFileSync('which', ['dtc'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Runs dtc on a blob given on stdin; returns stdout. */
const dtc = (blob: Uint8Array, out: 'dts' | 'dtb'): Buffer =>
  execFileSync('dtc', ['-q', '-I', 'dtb', '-O', out, '-'], { input: blob });

for (const [file, tree] of [
  ['kho-sample.dtb', khoSampleTree],
  ['edge-sample.dtb', edgeSampleTree],
] as const) {
  test(`fdtSerialize matches the pylibfdt FdtSw golden ${file} byte for byte`, () => {
    assert.deepEqual(fdtSerialize(tree()), fixture(file));
  });

  test(`fdtParse reads the golden ${file} back into its tree`, () => {
    assert.deepEqual(fdtParse(fixture(file)), tree());
  });

  test(`layout 'dtc' matches what dtc emits for ${file}`, (t) => {
    if (!hasDtc()) {
      t.skip('dtc is not installed');
      return;
    }
    assert.deepEqual(
      fdtSerialize(tree(), { layout: 'dtc' }),
      new Uint8Array(dtc(fixture(file), 'dtb')),
    );
  });
}

test('the fdt_sw layout puts the reservation map at 48 and the struct block at 64', () => {
  const dv = new DataView(fdtSerialize(khoSampleTree()).buffer);
  assert.equal(dv.getUint32(16), 48);
  assert.equal(dv.getUint32(8), 64);
  const dtcLayout = new DataView(fdtSerialize(khoSampleTree(), { layout: 'dtc' }).buffer);
  assert.equal(dtcLayout.getUint32(16), 40);
});

test('parse(serialize(t)) deep-equals t for random trees, in both layouts', () => {
  fc.assert(
    fc.property(treeArb, fc.constantFrom('fdt_sw' as const, 'dtc' as const), (tree, layout) => {
      assert.deepEqual(fdtParse(fdtSerialize(tree, { layout })), tree);
    }),
    { numRuns: 300 },
  );
});

test('dtc decompiles a KHO blob: compatible, the LUO node and its u64 property', (t) => {
  if (!hasDtc()) {
    t.skip('dtc is not installed');
    return;
  }
  const root: FdtNode = {
    name: '',
    props: [{ name: 'compatible', value: propString('kho-v4') }],
    children: [
      { name: 'LUO', props: [{ name: 'preserved-data', value: propU64LE(0x1000n) }], children: [] },
    ],
  };
  const dts = dtc(fdtSerialize(root), 'dts').toString();
  assert.match(dts, /compatible = "kho-v4";/);
  assert.match(dts, /LUO \{/);
  // dtc shows the little-endian u64 as two byte-swapped big-endian cells.
  assert.match(dts, /preserved-data = <0x100000 0x00>;/);
});

test('fdtFindNode walks absolute paths and rejects malformed ones', () => {
  const root = khoSampleTree();
  assert.equal(fdtFindNode(root, '/'), root);
  assert.equal(fdtFindNode(root, '/LUO')?.name, 'LUO');
  assert.equal(fdtFindNode(root, '/LUO/nothing'), null);
  assert.equal(fdtFindNode(root, '/luo'), null);
  for (const bad of ['', 'LUO', '/LUO/', '//LUO']) {
    assert.throws(() => fdtFindNode(root, bad), FdtError);
  }
});

test('KHO value helpers: u64 little-endian and NUL-terminated strings', () => {
  const luo = fdtFindNode(fdtParse(fdtSerialize(khoSampleTree())), '/LUO');
  assert.ok(luo);
  const data = fdtGetProp(luo, 'preserved-data');
  assert.ok(data);
  assert.deepEqual([...data], [0x00, 0x20, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00]);
  assert.equal(readU64LE(data), 0x1_0000_2000n);
  assert.equal(fdtGetProp(luo, 'missing'), null);
  assert.equal(readU64LE(propU64LE(0xffff_ffff_ffff_ffffn)), 0xffff_ffff_ffff_ffffn);
  assert.throws(() => propU64LE(-1n), RangeError);
  assert.throws(() => propU64LE(1n << 64n), RangeError);
  assert.throws(() => readU64LE(new Uint8Array(4)), FdtError);
  assert.equal(readString(propString('kho-v4')), 'kho-v4');
  assert.equal(readString(propString('é')), 'é');
  assert.throws(() => propString('a\0b'), FdtError);
  for (const bad of [[], [0x61], [0x61, 0, 0x62, 0], [0xff, 0]]) {
    assert.throws(() => readString(Uint8Array.from(bad)), FdtError);
  }
});

test('fdtSerialize refuses trees the reader would refuse, and honours bufferSize', () => {
  const leaf = (name: string): FdtNode => ({ name, props: [], children: [] });
  const bad: FdtNode[] = [
    leaf('x'),
    { name: '', props: [], children: [leaf('a'), leaf('a')] },
    { name: '', props: [], children: [leaf('a/b')] },
    { name: '', props: [], children: [leaf('')] },
    { name: '', props: [], children: [leaf('sp ace')] },
    {
      name: '',
      props: [
        { name: 'p', value: new Uint8Array() },
        { name: 'p', value: new Uint8Array() },
      ],
      children: [],
    },
    { name: '', props: [{ name: 'ü', value: new Uint8Array() }], children: [] },
  ];
  for (const tree of bad)
    assert.throws(() => fdtSerialize(tree), { name: 'FdtError', code: 'BADVALUE' });

  const size = fdtSerialize(khoSampleTree()).length;
  assert.equal(fdtSerialize(khoSampleTree(), { bufferSize: size }).length, size);
  assert.throws(() => fdtSerialize(khoSampleTree(), { bufferSize: size - 1 }), {
    name: 'FdtError',
    code: 'NOSPACE',
  });
});

test('nesting is limited to FDT_MAX_DEPTH levels in both directions', () => {
  const chain = (depth: number): FdtNode => {
    let n: FdtNode = { name: 'n', props: [], children: [] };
    for (let d = 2; d < depth; d++) n = { name: 'n', props: [], children: [n] };
    return { name: '', props: [], children: [n] };
  };
  assert.deepEqual(fdtParse(fdtSerialize(chain(64))), chain(64));
  assert.throws(() => fdtSerialize(chain(65)), FdtError);
});
