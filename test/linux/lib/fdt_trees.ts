/**
 * Shared fixtures for the FDT tests: the trees of test/fixtures/fdt/make-golden.py, rebuilt in
 * TypeScript, and a fast-check arbitrary of valid trees.
 */
import fc from 'fast-check';
import { propString, propU64LE, type FdtNode, type FdtProp } from '../../../src/linux/lib/fdt.ts';

const prop = (name: string, value: Uint8Array): FdtProp => ({ name, value });
const node = (name: string, props: FdtProp[], children: FdtNode[] = []): FdtNode => ({
  name,
  props,
  children,
});

/** kho-sample.dtb: a kho-v4 root FDT with the LUO and kexec-metadata subtrees. */
export function khoSampleTree(): FdtNode {
  return node(
    '',
    [
      prop('compatible', propString('kho-v4')),
      prop('preserved-memory-map', propU64LE(0x1_2345_6000n)),
    ],
    [
      node('LUO', [
        prop('preserved-data', propU64LE(0x1_0000_2000n)),
        prop('blob-size', propU64LE(32n)),
      ]),
      node('kexec-metadata', [
        prop('preserved-data', propU64LE(0x1_0000_3000n)),
        prop('blob-size', propU64LE(73n)),
      ]),
    ],
  );
}

/** edge-sample.dtb: suffix-shared names, empty and odd-length values, unit address, nesting. */
export function edgeSampleTree(): FdtNode {
  return node(
    '',
    [prop('blob-size', propU64LE(1n)), prop('empty', new Uint8Array())],
    [
      node(
        'memblock',
        [prop('compatible', propString('memblock-v1'))],
        [
          node('region@1000', [
            prop('compatible', propString('reserve-mem-v1')),
            prop('start', propU64LE(0x1000n)),
            prop('size', propU64LE(0x2000n)),
            prop('odd', Uint8Array.of(1, 2, 3, 4, 5)),
          ]),
        ],
      ),
      node('b', [], [node('c', [prop('data', Uint8Array.of(0x78))])]),
    ],
  );
}

// The parser builds ordinary objects; fast-check's default records have a null prototype.
const plain = { noNullPrototype: true } as const;
// Few distinct characters, so that names collide, share suffixes and exercise deduplication.
const nameChar = fc.constantFrom(
  'a',
  'b',
  'z',
  '-',
  ',',
  '.',
  '_',
  '+',
  '@',
  '#',
  '?',
  'A',
  'Z',
  '0',
  '9',
);
const nameArb = fc.string({ unit: nameChar, minLength: 1, maxLength: 6 });
const propsArb = fc.uniqueArray(
  fc.record({ name: nameArb, value: fc.uint8Array({ maxLength: 13 }) }, plain),
  { selector: (p) => p.name, maxLength: 5 },
);

/** Valid trees: unique names per node, at most 5 levels below the root, small fan-out. */
export const treeArb: fc.Arbitrary<FdtNode> = fc
  .letrec<{ node: FdtNode }>((tie) => ({
    node: fc.oneof(
      { depthIdentifier: 'fdt', maxDepth: 5 },
      fc.record(
        { name: nameArb, props: propsArb, children: fc.constant(null).map((): FdtNode[] => []) },
        plain,
      ),
      fc.record(
        {
          name: nameArb,
          props: propsArb,
          children: fc.uniqueArray(tie('node'), { selector: (c) => c.name, maxLength: 3 }),
        },
        plain,
      ),
    ),
  }))
  .node.map((root) => ({ ...root, name: '' }));
