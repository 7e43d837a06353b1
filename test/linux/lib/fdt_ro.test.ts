/**
 * Proves that fdtParse rejects every malformed blob with an FdtError (one-line message, libfdt
 * error code) and never with another exception or a hang.
 * How: hand-assembled blobs that break one rule each; every truncation of a golden; and
 * fast-check byte flips and header rewrites, whose result must be an FdtError or a tree that the
 * writer accepts and that survives a second round trip.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  FDT_BEGIN_NODE as BEGIN,
  FDT_END as END,
  FDT_END_NODE as END_NODE,
  FDT_NOP as NOP,
  FDT_PROP as PROP,
  FdtError,
  fdtParse,
  fdtSerialize,
  type FdtErrorCode,
  type FdtNode,
} from '../../../src/linux/lib/fdt.ts';

const fixture = (name: string): Uint8Array =>
  new Uint8Array(readFileSync(new URL(`../../fixtures/fdt/${name}`, import.meta.url)));
const goldens = [fixture('kho-sample.dtb'), fixture('edge-sample.dtb')];

/** Parses, turning an FdtError into a value; any other exception fails the test. */
function outcome(bytes: Uint8Array): FdtNode | FdtError {
  try {
    return fdtParse(bytes);
  } catch (e) {
    if (!(e instanceof FdtError)) throw e;
    assert.doesNotMatch(e.message, /\n/);
    return e;
  }
}

type Piece = number | string | Uint8Array;
/** Assembles a dtc-layout blob from struct pieces (word, padded name, padded bytes) and a
 * strings block; `header` overrides header words by index after the fact. */
function blob(struct: Piece[], strings = '', header: Record<number, number> = {}): Uint8Array {
  const words: number[] = [];
  for (const p of struct) {
    const bytes =
      typeof p === 'number'
        ? null
        : typeof p === 'string'
          ? Uint8Array.from(p + '\0', (c) => c.charCodeAt(0))
          : p;
    if (bytes === null) {
      words.push(p as number);
      continue;
    }
    const padded = new Uint8Array((bytes.length + 3) & ~3);
    padded.set(bytes);
    const dv = new DataView(padded.buffer);
    for (let i = 0; i < padded.length; i += 4) words.push(dv.getUint32(i));
  }
  const offStruct = 56;
  const offStrings = offStruct + words.length * 4;
  const out = new Uint8Array(offStrings + strings.length);
  const dv = new DataView(out.buffer);
  const fields = [0xd00dfeed, out.length, offStruct, offStrings, 40, 17, 16, 0, strings.length];
  fields.push(words.length * 4);
  fields.forEach((v, i) => {
    dv.setUint32(i * 4, header[i] ?? v);
  });
  words.forEach((w, i) => {
    dv.setUint32(offStruct + i * 4, w);
  });
  for (let i = 0; i < strings.length; i++) out[offStrings + i] = strings.charCodeAt(i);
  return out;
}

const prop = (len: number, nameoff: number, value: Piece = new Uint8Array(len)): Piece[] => [
  PROP,
  len,
  nameoff,
  value,
];

test('a hand-assembled blob parses, with NOP tokens anywhere and version 16 accepted', () => {
  const struct = [
    NOP,
    BEGIN,
    '',
    NOP,
    ...prop(3, 0, 'hi'),
    BEGIN,
    'c',
    END_NODE,
    NOP,
    END_NODE,
    END,
  ];
  const want: FdtNode = {
    name: '',
    props: [{ name: 'p', value: Uint8Array.of(0x68, 0x69, 0) }],
    children: [{ name: 'c', props: [], children: [] }],
  };
  assert.deepEqual(fdtParse(blob(struct, 'p\0')), want);
  assert.deepEqual(fdtParse(blob(struct, 'p\0', { 5: 16 })), want);
});

const deep = (n: number): Piece[] => [
  BEGIN,
  '',
  ...Array.from({ length: n - 1 }, (): Piece[] => [BEGIN, 'n']).flat(),
  ...Array<number>(n).fill(END_NODE),
  END,
];

const malformed: Array<[string, Uint8Array, FdtErrorCode]> = [
  ['wrong magic', blob([BEGIN, '', END_NODE, END], '', { 0: 0xd00dfeee }), 'BADMAGIC'],
  ['version 15', blob([BEGIN, '', END_NODE, END], '', { 5: 15 }), 'BADVERSION'],
  ['last compatible 18', blob([BEGIN, '', END_NODE, END], '', { 6: 18 }), 'BADVERSION'],
  ['totalsize past the buffer', blob([BEGIN, '', END_NODE, END], '', { 1: 1000 }), 'TRUNCATED'],
  ['struct offset misaligned', blob([BEGIN, '', END_NODE, END], '', { 2: 58 }), 'BADLAYOUT'],
  ['struct offset in the header', blob([BEGIN, '', END_NODE, END], '', { 2: 36 }), 'BADLAYOUT'],
  ['struct size past the end', blob([BEGIN, '', END_NODE, END], '', { 9: 20 }), 'BADLAYOUT'],
  ['struct size not aligned', blob([BEGIN, '', END_NODE, END], '', { 9: 14 }), 'BADLAYOUT'],
  ['strings past the end', blob([BEGIN, '', END_NODE, END], 'p\0', { 8: 3 }), 'BADLAYOUT'],
  ['strings offset huge', blob([BEGIN, '', END_NODE, END], '', { 3: 0xffffffff }), 'BADLAYOUT'],
  ['reservation map misaligned', blob([BEGIN, '', END_NODE, END], '', { 4: 44 }), 'BADLAYOUT'],
  [
    'reservation map unterminated',
    blob([0, 1, 0, 0, BEGIN, '', END_NODE, END], '', { 4: 56, 2: 72, 9: 16 }),
    'TRUNCATED',
  ],
  [
    'reservation map inside the strings block',
    blob([BEGIN, '', END_NODE, END], '\0'.repeat(16), { 4: 72 }),
    'BADLAYOUT',
  ],
  [
    'strings overlap the struct block',
    blob([BEGIN, '', END_NODE, END], '', { 3: 56, 8: 4 }),
    'BADLAYOUT',
  ],
  ['bytes after FDT_END', blob([BEGIN, '', END_NODE, END, NOP]), 'BADSTRUCTURE'],
  ['no FDT_END', blob([BEGIN, '', END_NODE]), 'TRUNCATED'],
  ['unknown token', blob([BEGIN, '', 7, END_NODE, END]), 'BADSTRUCTURE'],
  ['FDT_END_NODE at top level', blob([END_NODE, END]), 'BADSTRUCTURE'],
  ['FDT_END inside a node', blob([BEGIN, '', END]), 'BADSTRUCTURE'],
  ['empty struct block', blob([END]), 'BADSTRUCTURE'],
  ['second root', blob([BEGIN, '', END_NODE, BEGIN, '', END_NODE, END]), 'BADSTRUCTURE'],
  [
    'property outside a node',
    blob([...prop(0, 0), BEGIN, '', END_NODE, END], 'p\0'),
    'BADSTRUCTURE',
  ],
  [
    'property after a subnode',
    blob([BEGIN, '', BEGIN, 'c', END_NODE, ...prop(0, 0), END_NODE, END], 'p\0'),
    'BADSTRUCTURE',
  ],
  [
    'duplicate property',
    blob([BEGIN, '', ...prop(0, 0), ...prop(0, 0), END_NODE, END], 'p\0'),
    'BADSTRUCTURE',
  ],
  [
    'duplicate node',
    blob([BEGIN, '', BEGIN, 'c', END_NODE, BEGIN, 'c', END_NODE, END_NODE, END]),
    'BADSTRUCTURE',
  ],
  ['named root', blob([BEGIN, 'r', END_NODE, END]), 'BADSTRUCTURE'],
  ['empty child name', blob([BEGIN, '', BEGIN, '', END_NODE, END_NODE, END]), 'BADSTRUCTURE'],
  [
    'child name with a space',
    blob([BEGIN, '', BEGIN, 'a b', END_NODE, END_NODE, END]),
    'BADSTRUCTURE',
  ],
  [
    'name offset out of range',
    blob([BEGIN, '', ...prop(0, 2), END_NODE, END], 'p\0'),
    'BADSTRUCTURE',
  ],
  ['property name without NUL', blob([BEGIN, '', ...prop(0, 0), END_NODE, END], 'pq'), 'TRUNCATED'],
  ['node name without NUL', blob([BEGIN, Uint8Array.of(0x61, 0x62, 0x63, 0x64)]), 'TRUNCATED'],
  [
    'non-zero padding',
    blob([BEGIN, '', ...prop(1, 0, Uint8Array.of(1, 0, 7)), END_NODE, END], 'p\0'),
    'BADSTRUCTURE',
  ],
  [
    'property length past the block',
    blob([BEGIN, '', ...prop(0xffffffff, 0, new Uint8Array()), END_NODE, END], 'p\0'),
    'TRUNCATED',
  ],
  ['nesting deeper than 64', blob(deep(65)), 'BADSTRUCTURE'],
];

for (const [what, bytes, code] of malformed) {
  test(`rejects: ${what}`, () => {
    const got = outcome(bytes);
    assert.ok(got instanceof FdtError, `parsed: ${JSON.stringify(got)}`);
    assert.equal(got.code, code, got.message);
  });
}

test('64 levels of nesting are accepted', () => {
  assert.ok(!(outcome(blob(deep(64))) instanceof FdtError));
});

test('every truncation of the goldens is an FdtError, with or without a matching totalsize', () => {
  for (const golden of goldens) {
    for (let len = 0; len < golden.length; len++) {
      const cut = golden.slice(0, len);
      assert.ok(outcome(cut) instanceof FdtError, `length ${len}`);
      if (len >= 8) new DataView(cut.buffer).setUint32(4, len);
      assert.ok(outcome(cut) instanceof FdtError, `length ${len}, totalsize ${len}`);
    }
  }
});

/** A corrupted blob either fails cleanly or yields a tree that is valid in every respect. */
function checkCorrupted(bytes: Uint8Array): void {
  const got = outcome(bytes);
  if (got instanceof FdtError) return;
  assert.deepEqual(fdtParse(fdtSerialize(got)), got);
}

test('random byte flips give an FdtError or a valid tree, never another exception', () => {
  const flips = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), {
    minLength: 1,
    maxLength: 4,
  });
  fc.assert(
    fc.property(fc.constantFrom(...goldens), flips, (golden, edits) => {
      const bytes = golden.slice();
      for (const [at, xor] of edits) {
        const i = at % bytes.length;
        bytes[i] = (bytes[i] ?? 0) ^ xor;
      }
      checkCorrupted(bytes);
    }),
    { numRuns: 3000 },
  );
});

test('random header words and random tails give an FdtError or a valid tree', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...goldens),
      fc.integer({ min: 1, max: 9 }),
      fc.nat({ max: 0xffffffff }),
      (golden, field, value) => {
        const bytes = golden.slice();
        new DataView(bytes.buffer).setUint32(field * 4, value);
        checkCorrupted(bytes);
      },
    ),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), (tail) => {
      const bytes = new Uint8Array(40 + tail.length);
      bytes.set(goldens[0]?.subarray(0, 40) ?? []);
      bytes.set(tail, 40);
      checkCorrupted(bytes);
    }),
    { numRuns: 2000 },
  );
});
