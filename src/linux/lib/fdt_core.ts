/**
 * Flattened device tree: the format itself (types, tokens, errors, name rules).
 *
 * **Models:** scripts/dtc/libfdt/fdt.h and the error codes of libfdt.h, v7.2-era mainline (the
 * copy the kernel links for KHO). The writer is in fdt_sw.ts, the reader in fdt_ro.ts; fdt.ts is
 * the module callers import.
 *
 * **Abstracted:** a tree is a plain ordered value instead of a buffer addressed by offsets.
 * Names are restricted to printable ASCII without '/', which every name KHO uses satisfies and
 * which keeps path lookups unambiguous; the root node's name is always empty.
 */

export interface FdtProp {
  name: string;
  value: Uint8Array;
}

/** A node; properties and children keep their order, which decides the blob's bytes. */
export interface FdtNode {
  name: string;
  props: FdtProp[];
  children: FdtNode[];
}

/** libfdt error names, so that callers can map a failure to an errno as the kernel does. */
export type FdtErrorCode =
  | 'NOSPACE'
  | 'TRUNCATED'
  | 'BADMAGIC'
  | 'BADVERSION'
  | 'BADLAYOUT'
  | 'BADSTRUCTURE'
  | 'BADVALUE'
  | 'BADPATH';

/** Every failure of the codec: a malformed blob, an unencodable tree, a bad path or value. */
export class FdtError extends Error {
  override readonly name = 'FdtError';
  readonly code: FdtErrorCode;

  constructor(message: string, code: FdtErrorCode = 'BADSTRUCTURE') {
    super(message);
    this.code = code;
  }
}

export const FDT_MAGIC = 0xd00dfeed;
export const FDT_BEGIN_NODE = 1;
export const FDT_END_NODE = 2;
export const FDT_PROP = 3;
export const FDT_NOP = 4;
export const FDT_END = 9;
export const FDT_VERSION = 17;
export const FDT_LAST_COMP_VERSION = 16;
/** Size of the version 17 header: ten big-endian u32. */
export const FDT_HEADER_SIZE = 40;
/** One memory reservation entry: big-endian u64 address and size. */
export const FDT_RSV_ENTRY_SIZE = 16;
/** Deepest nesting accepted, counting the root as 1. KHO trees have depth 2. */
export const FDT_MAX_DEPTH = 64;

/** Rounds up to a multiple of 4 (FDT_TAGALIGN); right for any safe integer, as only the low bits
 * take part in the bitwise step. */
export const fdtTagAlign = (n: number): number => n + (-n & 3);

/** Why `name` cannot be a node or property name, or null if it can. */
export function fdtNameProblem(name: string, what: 'node' | 'property'): string | null {
  if (name.length === 0) return `empty ${what} name`;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x21 || c > 0x7e || c === 0x2f) {
      return `${what} name ${JSON.stringify(name)} has a byte outside printable ASCII, or a '/'`;
    }
  }
  return null;
}
