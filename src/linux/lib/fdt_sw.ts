/**
 * Flattened device tree writer, byte for byte as libfdt's sequential-write API.
 *
 * **Models:** scripts/dtc/libfdt/fdt_sw.c (fdt_create, fdt_finish_reservemap, fdt_begin_node,
 * fdt_property, fdt_end_node, fdt_finish), v7.2-era mainline, which kexec_handover.c uses to
 * build the KHO root FDT. test/fixtures/fdt holds pylibfdt FdtSw goldens that prove the bytes.
 *
 * **Abstracted:** the tree is given whole instead of call by call, and fdt_sw's intermediate
 * state (strings growing down from the end of the buffer, negative name offsets, the temporary
 * magic) is not observable. Reservation entries are never written (KHO adds none).
 *
 * Layouts (`layout` option):
 * 1. 'fdt_sw' (default, as the kernel): the reservation map starts at 48, the header size rounded
 *    up to a reservation entry; each name new to the strings block goes in front of it, so the
 *    block lists names in reverse order of first use.
 * 2. 'dtc': the map starts right after the 40-byte header, names are appended in order.
 * Both reuse a stored name whose tail equals the new name plus its NUL ("size" shares the end of
 * "blob-size"), because both search the whole block for that byte sequence.
 *
 * Unhappy paths: 1. a name the reader would reject, a duplicate name, a non-empty root name or
 * nesting past FDT_MAX_DEPTH: FdtError BADVALUE; 2. a blob larger than `bufferSize`: FdtError
 * NOSPACE, which kho_add_subtree reports as -ENOMEM when the root FDT page is full.
 */
import {
  FDT_BEGIN_NODE,
  FDT_END,
  FDT_END_NODE,
  FDT_HEADER_SIZE,
  FDT_LAST_COMP_VERSION,
  FDT_MAGIC,
  FDT_MAX_DEPTH,
  FDT_PROP,
  FDT_RSV_ENTRY_SIZE,
  FDT_VERSION,
  FdtError,
  fdtNameProblem,
  fdtTagAlign,
  type FdtNode,
} from './fdt_core.ts';

export interface FdtSerializeOptions {
  /** Whose byte layout to produce; default 'fdt_sw'. */
  layout?: 'fdt_sw' | 'dtc';
  /** Size of the buffer given to fdt_create(); default unlimited. The blob is compact either
   * way (fdt_finish shrinks totalsize), but one that does not fit fails with NOSPACE. */
  bufferSize?: number;
}

/** Checks names, uniqueness and depth, iteratively so a deep (or cyclic) value cannot hang. */
function checkTree(root: FdtNode): void {
  const bad = (msg: string): never => {
    throw new FdtError(msg, 'BADVALUE');
  };
  if (root.name !== '') bad(`root node name must be empty, not ${JSON.stringify(root.name)}`);
  const stack: Array<[FdtNode, number]> = [[root, 1]];
  for (let item = stack.pop(); item; item = stack.pop()) {
    const [node, depth] = item;
    if (depth > FDT_MAX_DEPTH) bad(`tree deeper than ${FDT_MAX_DEPTH} levels`);
    const seen = new Set<string>();
    for (const p of node.props) {
      const problem = fdtNameProblem(p.name, 'property');
      if (problem !== null) bad(problem);
      if (seen.has(p.name)) bad(`duplicate property ${JSON.stringify(p.name)}`);
      seen.add(p.name);
    }
    seen.clear();
    for (const c of node.children) {
      const problem = fdtNameProblem(c.name, 'node');
      if (problem !== null) bad(problem);
      if (seen.has(c.name)) bad(`duplicate node ${JSON.stringify(c.name)}`);
      seen.add(c.name);
      stack.push([c, depth + 1]);
    }
  }
}

/** Serializes `root` into a complete FDT blob (version 17, empty reservation map). */
export function fdtSerialize(root: FdtNode, opts: FdtSerializeOptions = {}): Uint8Array {
  checkTree(root);
  const sw = (opts.layout ?? 'fdt_sw') === 'fdt_sw';
  const offRsvmap = sw ? 48 : FDT_HEADER_SIZE;
  const offStruct = offRsvmap + FDT_RSV_ENTRY_SIZE;

  // The strings block as one ASCII string of NUL-terminated names. fdt_sw keeps offsets from the
  // end of the block until fdt_finish knows its size; dtc keeps them from the start.
  let strings = '';
  const nameOffset = (name: string): number => {
    const key = name + '\0';
    let at = strings.indexOf(key);
    if (at < 0) {
      strings = sw ? key + strings : strings + key;
      at = sw ? 0 : strings.length - key.length;
    }
    return sw ? at - strings.length : at;
  };

  // Pass 1: the token stream as big-endian words and byte runs (each run padded to 4).
  const chunks: Array<number | Uint8Array> = [];
  const nameoffAt: number[] = [];
  let structSize = 0;
  const walk: Array<FdtNode | null> = [root];
  for (let node = walk.pop(); node !== undefined; node = walk.pop()) {
    if (node === null) {
      chunks.push(FDT_END_NODE);
      structSize += 4;
      continue;
    }
    const name = Uint8Array.from(node.name + '\0', (ch) => ch.charCodeAt(0));
    chunks.push(FDT_BEGIN_NODE, name);
    structSize += 4 + fdtTagAlign(name.length);
    for (const p of node.props) {
      nameoffAt.push(chunks.length + 2);
      chunks.push(FDT_PROP, p.value.length, nameOffset(p.name), p.value);
      structSize += 12 + fdtTagAlign(p.value.length);
    }
    walk.push(null);
    for (let i = node.children.length - 1; i >= 0; i--) walk.push(node.children[i] ?? null);
  }
  chunks.push(FDT_END);
  structSize += 4;

  const offStrings = offStruct + structSize;
  const totalSize = offStrings + strings.length;
  if (opts.bufferSize !== undefined && totalSize > opts.bufferSize) {
    throw new FdtError(`tree needs ${totalSize} bytes, buffer holds ${opts.bufferSize}`, 'NOSPACE');
  }
  if (sw) for (const i of nameoffAt) chunks[i] = (chunks[i] as number) + strings.length;

  // Pass 2: bytes. The zeroed buffer already holds the padding and the empty reservation map.
  const out = new Uint8Array(totalSize);
  const dv = new DataView(out.buffer);
  const header = [
    FDT_MAGIC,
    totalSize,
    offStruct,
    offStrings,
    offRsvmap,
    FDT_VERSION,
    FDT_LAST_COMP_VERSION,
    0, // boot_cpuid_phys
    strings.length,
    structSize,
  ];
  header.forEach((v, i) => {
    dv.setUint32(i * 4, v);
  });
  let pos = offStruct;
  for (const c of chunks) {
    if (typeof c === 'number') {
      dv.setUint32(pos, c);
      pos += 4;
    } else {
      out.set(c, pos);
      pos += fdtTagAlign(c.length);
    }
  }
  for (let i = 0; i < strings.length; i++) out[offStrings + i] = strings.charCodeAt(i);
  return out;
}
