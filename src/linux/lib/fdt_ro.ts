/**
 * Flattened device tree reader with full validation.
 *
 * **Models:** scripts/dtc/libfdt/fdt.c (fdt_check_header, fdt_next_tag), fdt_ro.c and
 * fdt_check_full, v7.2-era mainline: what the next kernel does to the incoming KHO root FDT
 * before trusting it. Any failure there makes the boot a non-KHO boot.
 *
 * **Abstracted:** the blob is decoded into an `FdtNode` value at once instead of being walked
 * through offsets. Reservation entries are checked for a terminator and then dropped. NOP tokens
 * are skipped. Version 16 blobs (no size_dt_struct) are read; older layouts are refused.
 *
 * Stricter than libfdt, because blobs made by fdt_sw, fdt_rw and dtc always satisfy it:
 * non-zero padding, blocks that overlap, bytes after FDT_END inside size_dt_struct, properties
 * after a subnode, duplicate names and names outside fdt_core's rules are all errors.
 *
 * Every failure is an FdtError with a one-line message naming the offset. The token loop moves
 * forward at least 4 bytes per step inside the blob and keeps its own stack, so no input makes it
 * hang or overflow the JS stack.
 */
import {
  FDT_BEGIN_NODE,
  FDT_END,
  FDT_END_NODE,
  FDT_HEADER_SIZE,
  FDT_MAGIC,
  FDT_MAX_DEPTH,
  FDT_NOP,
  FDT_PROP,
  FDT_RSV_ENTRY_SIZE,
  FDT_VERSION,
  FdtError,
  fdtNameProblem,
  fdtTagAlign,
  type FdtErrorCode,
  type FdtNode,
} from './fdt_core.ts';

/** Parses and validates a whole blob; throws FdtError and nothing else. */
export function fdtParse(bytes: Uint8Array): FdtNode {
  if (bytes.length < FDT_HEADER_SIZE) {
    throw new FdtError(`blob of ${bytes.length} bytes is shorter than the header`, 'TRUNCATED');
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const field = (i: number): number => dv.getUint32(i * 4);
  const magic = field(0);
  const total = field(1);
  const offStruct = field(2);
  const offStrings = field(3);
  const offRsv = field(4);
  const version = field(5);
  const lastComp = field(6);
  const sizeStrings = field(8);
  const sizeStruct = field(9);
  const layout = (msg: string): never => {
    throw new FdtError(msg, 'BADLAYOUT');
  };
  if (magic !== FDT_MAGIC) throw new FdtError(`bad magic 0x${magic.toString(16)}`, 'BADMAGIC');
  if (version < 16 || lastComp > FDT_VERSION) {
    throw new FdtError(`unsupported version ${version} (compatible ${lastComp})`, 'BADVERSION');
  }
  if (total > bytes.length) {
    throw new FdtError(`totalsize ${total} exceeds the ${bytes.length}-byte blob`, 'TRUNCATED');
  }
  // Version 16 has no size_dt_struct: its header is 36 bytes and FDT_END ends the struct block.
  const headerSize = version >= 17 ? FDT_HEADER_SIZE : 36;
  const inBlob = (off: number, size: number): boolean =>
    off >= headerSize && off <= total && size <= total - off;
  if (!inBlob(offRsv, 0) || offRsv % 8 !== 0) layout(`bad reservation map offset ${offRsv}`);
  if (!inBlob(offStruct, 0) || offStruct % 4 !== 0) layout(`bad struct offset ${offStruct}`);
  if (!inBlob(offStrings, sizeStrings)) {
    layout(`strings block (offset ${offStrings}, size ${sizeStrings}) is out of bounds`);
  }
  let structLimit = total;
  if (version >= 17) {
    if (sizeStruct % 4 !== 0 || !inBlob(offStruct, sizeStruct)) {
      layout(`struct block (offset ${offStruct}, size ${sizeStruct}) is out of bounds`);
    }
    structLimit = offStruct + sizeStruct;
  }

  // The reservation map: big-endian (address, size) pairs ended by a zero pair.
  let rsvEnd = offRsv;
  do {
    if (rsvEnd + FDT_RSV_ENTRY_SIZE > total) {
      throw new FdtError('reservation map has no terminating entry', 'TRUNCATED');
    }
    rsvEnd += FDT_RSV_ENTRY_SIZE;
  } while (dv.getBigUint64(rsvEnd - 16) !== 0n || dv.getBigUint64(rsvEnd - 8) !== 0n);

  const strings = bytes.subarray(offStrings, offStrings + sizeStrings);
  const { root, end } = parseStruct(bytes, dv, offStruct, structLimit, strings);
  if (version >= 17 && end !== structLimit) {
    throw new FdtError(`${structLimit - end} bytes follow FDT_END in the struct block`);
  }
  const blocks: Array<[string, number, number]> = [
    ['header', 0, headerSize],
    ['reservation map', offRsv, rsvEnd],
    ['struct block', offStruct, end],
    ['strings block', offStrings, offStrings + sizeStrings],
  ];
  blocks.forEach(([nameA, startA, endA], i) => {
    for (const [nameB, startB, endB] of blocks.slice(i + 1)) {
      if (startA < endB && startB < endA) layout(`${nameA} overlaps ${nameB}`);
    }
  });
  return root;
}

interface OpenNode {
  node: FdtNode;
  props: Set<string>;
  kids: Set<string>;
}

/** Decodes the token stream in bytes [start, limit); returns the root and the end of FDT_END. */
function parseStruct(
  bytes: Uint8Array,
  dv: DataView,
  start: number,
  limit: number,
  strings: Uint8Array,
): { root: FdtNode; end: number } {
  const fail = (msg: string, at: number, code: FdtErrorCode = 'BADSTRUCTURE'): never => {
    throw new FdtError(`${msg} at offset ${at}`, code);
  };
  /** The NUL-terminated name at buf[from] (the NUL before `to`) and the index after its NUL. */
  const cstring = (buf: Uint8Array, from: number, to: number, at: number): [string, number] => {
    let s = '';
    for (let i = from; i < to; i++) {
      const c = buf[i] ?? 0;
      if (c === 0) return [s, i + 1];
      s += String.fromCharCode(c);
    }
    return fail('name is not NUL-terminated inside its block', at, 'TRUNCATED');
  };
  const skipPadding = (from: number): number => {
    const to = fdtTagAlign(from);
    if (to > limit) fail('padding runs past the struct block', from, 'TRUNCATED');
    for (let i = from; i < to; i++) if (bytes[i] !== 0) fail('non-zero padding', i);
    return to;
  };

  const stack: OpenNode[] = [];
  let root: FdtNode | null = null;
  let pos = start;
  for (;;) {
    if (pos + 4 > limit) fail('struct block ends without FDT_END', pos, 'TRUNCATED');
    const at = pos;
    const tag = dv.getUint32(pos);
    pos += 4;
    const open = stack.at(-1);
    if (tag === FDT_BEGIN_NODE) {
      if (root !== null && open === undefined) fail('second root node', at);
      if (stack.length >= FDT_MAX_DEPTH) fail(`nesting deeper than ${FDT_MAX_DEPTH}`, at);
      const [name, next] = cstring(bytes, pos, limit, at);
      pos = skipPadding(next);
      const node: FdtNode = { name, props: [], children: [] };
      if (open === undefined) {
        if (name !== '') fail(`root node is named ${JSON.stringify(name)}`, at);
        root = node;
      } else {
        const problem = fdtNameProblem(name, 'node');
        if (problem !== null) fail(problem, at);
        if (open.kids.has(name)) fail(`duplicate node ${JSON.stringify(name)}`, at);
        open.kids.add(name);
        open.node.children.push(node);
      }
      stack.push({ node, props: new Set(), kids: new Set() });
    } else if (tag === FDT_END_NODE) {
      if (open === undefined) fail('FDT_END_NODE outside any node', at);
      stack.pop();
    } else if (tag === FDT_PROP) {
      if (open === undefined) return fail('property outside any node', at);
      if (open.kids.size > 0) fail('property after a subnode', at);
      if (pos + 8 > limit) fail('property header runs past the struct block', at, 'TRUNCATED');
      const len = dv.getUint32(pos);
      const nameoff = dv.getUint32(pos + 4);
      pos += 8;
      if (len > limit - pos) fail(`property value of ${len} bytes is cut off`, at, 'TRUNCATED');
      const value = bytes.slice(pos, pos + len);
      pos = skipPadding(pos + len);
      if (nameoff >= strings.length) fail(`name offset ${nameoff} is past the strings block`, at);
      const [name] = cstring(strings, nameoff, strings.length, at);
      const problem = fdtNameProblem(name, 'property');
      if (problem !== null) fail(problem, at);
      if (open.props.has(name)) fail(`duplicate property ${JSON.stringify(name)}`, at);
      open.props.add(name);
      open.node.props.push({ name, value });
    } else if (tag === FDT_END) {
      if (open !== undefined) fail('FDT_END inside an open node', at);
      if (root === null) return fail('struct block has no root node', at);
      return { root, end: pos };
    } else if (tag !== FDT_NOP) {
      fail(`unknown token 0x${tag.toString(16)}`, at);
    }
  }
}
