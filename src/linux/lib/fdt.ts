/**
 * Flattened device tree (FDT) codec: the libfdt subset that KHO uses, as one module.
 *
 * **Models:** scripts/dtc/libfdt (fdt.h, fdt_sw.c, fdt_ro.c, fdt_check_full) as linked by
 * kernel/liveupdate/kexec_handover.c for the KHO root FDT (`kho-v4`), v7.2-era mainline.
 * The format is in fdt_core.ts, the writer in fdt_sw.ts (bytes identical to libfdt's fdt_sw,
 * checked against pylibfdt goldens), the strict reader in fdt_ro.ts; this file re-exports them and
 * adds lookups and the value encodings KHO uses.
 *
 * **Abstracted:** a tree is a plain value; the read-write API (fdt_rw: fdt_add_subnode,
 * fdt_setprop, fdt_del_node) is modelled by editing the value and serializing again, so the bytes
 * after such an edit are those of a fresh fdt_sw build, not of an in-place splice. Memory
 * reservation entries, phandles, aliases and unit-address shorthand in lookups are not modelled.
 *
 * KHO's framing is big-endian (it is an FDT) but its u64 payloads are CPU-native, little-endian on
 * x86-64 and arm64: use propU64LE/readU64LE, never big-endian cells.
 */
import { FdtError, type FdtNode } from './fdt_core.ts';

export * from './fdt_core.ts';
export { fdtSerialize, type FdtSerializeOptions } from './fdt_sw.ts';
export { fdtParse } from './fdt_ro.ts';

/** The node at an absolute path ('/' is the root, '/LUO' its child), or null if absent. Names
 * match exactly; a malformed path is an FdtError BADPATH. */
export function fdtFindNode(root: FdtNode, path: string): FdtNode | null {
  const bad = (): never => {
    throw new FdtError(`bad path ${JSON.stringify(path)}`, 'BADPATH');
  };
  if (!path.startsWith('/')) bad();
  if (path === '/') return root;
  let node: FdtNode | undefined = root;
  for (const part of path.slice(1).split('/')) {
    if (part === '') bad();
    node = node.children.find((c) => c.name === part);
    if (node === undefined) return null;
  }
  return node;
}

/** The value of property `name` of `node`, or null if the node has no such property. */
export function fdtGetProp(node: FdtNode, name: string): Uint8Array | null {
  return node.props.find((p) => p.name === name)?.value ?? null;
}

/** A KHO u64 value: 8 raw little-endian bytes. A value outside u64 is a RangeError. */
export function propU64LE(value: bigint): Uint8Array {
  if (value < 0n || value > 0xffff_ffff_ffff_ffffn) throw new RangeError(`${value} is not a u64`);
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, value, true);
  return out;
}

/** Reads a KHO u64 value. Any length but 8 is an FdtError BADVALUE (kho_retrieve_subtree says
 * -EINVAL for it). */
export function readU64LE(value: Uint8Array): bigint {
  if (value.length !== 8) {
    throw new FdtError(`u64 property has ${value.length} bytes, not 8`, 'BADVALUE');
  }
  return new DataView(value.buffer, value.byteOffset, 8).getBigUint64(0, true);
}

/** A string property value: the UTF-8 bytes of `s` and a NUL (as fdt_property_string). */
export function propString(s: string): Uint8Array {
  if (s.includes('\0')) throw new FdtError('string value contains a NUL', 'BADVALUE');
  const bytes = new TextEncoder().encode(s);
  const out = new Uint8Array(bytes.length + 1);
  out.set(bytes);
  return out;
}

/** Reads a value holding exactly one NUL-terminated UTF-8 string, else FdtError BADVALUE. */
export function readString(value: Uint8Array): string {
  const nul = value.indexOf(0);
  if (nul < 0 || nul !== value.length - 1) {
    throw new FdtError('value is not one NUL-terminated string', 'BADVALUE');
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(value.subarray(0, nul));
  } catch {
    throw new FdtError('string value is not valid UTF-8', 'BADVALUE');
  }
}
