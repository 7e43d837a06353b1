/**
 * Decodes what a machine image hands to the next kernel: the KHO root FDT, the preserved blocks
 * of the KHO radix tracker, the kexec metadata, and LUO's blob with its sessions and files.
 *
 * It reads bytes only, as the next kernel would (spec §4.3–§4.6), with the kernel's own layout
 * definitions, and it never trusts them: every pointer is range-checked, every chain is walked
 * with a visited set and the KHO_MAX_BLOCKS bound, and any inconsistency is an InspectError with
 * a one-line message. Nothing here mutates the machine.
 */
import type { Machine } from '../../machine/machine.ts';
import type { PhysMem } from '../../machine/physmem.ts';
import { PAGE_SIZE } from '../../linux/include/asm-generic/page.ts';
import {
  KHO_BLOCK_SIZE,
  KHO_MAX_BLOCKS,
  kho_block_count_per_block,
  kho_block_header_ser,
} from '../../linux/include/linux/kho/abi/block.ts';
import {
  KHO_FDT_COMPATIBLE,
  KHO_FDT_MEMORY_MAP_PROP_NAME,
  KHO_FDT_SUB_TREE_PROP_NAME,
  KHO_FDT_SUB_TREE_SIZE_PROP_NAME,
} from '../../linux/include/linux/kho/abi/kexec_handover.ts';
import {
  KHO_KEXEC_METADATA_SIZEOF,
  KHO_METADATA_NODE_NAME,
  kho_kexec_metadata_decode,
  type kho_kexec_metadata,
} from '../../linux/include/linux/kho/abi/kexec_metadata.ts';
import {
  LIVEUPDATE_HNDL_COMPAT_LENGTH,
  LUO_ABI_COMPAT_LEN,
  LUO_FDT_KHO_ENTRY_NAME,
  LUO_SESSION_NAME_LENGTH,
  abi_get_string,
  luo_file_ser,
  luo_flb_header_ser,
  luo_ser,
  luo_session_ser,
} from '../../linux/include/linux/kho/abi/luo.ts';
import { FdtError, fdtGetProp, fdtParse, type FdtNode } from '../../linux/lib/fdt.ts';
import {
  TrackerCorrupt,
  kho_radix_walk_tree,
} from '../../linux/kernel/liveupdate/kho_radix_tree.ts';
import { findRecordDecoder, type RecordView } from './records.ts';

export class InspectError extends Error {
  override readonly name = 'InspectError';
}

export interface PreservedBlock {
  readonly phys: number;
  readonly order: number;
  label: string;
}

export interface DecodedFile {
  readonly compatible: string;
  readonly data: bigint;
  readonly token: bigint;
  /** The handler module's view of its record, or null if no decoder is registered. */
  readonly record: RecordView | null;
}

export interface DecodedSession {
  readonly name: string;
  readonly filesPa: bigint;
  readonly count: bigint;
  readonly files: readonly DecodedFile[];
}

export interface DecodedLuo {
  readonly phys: number;
  readonly compatible: string;
  readonly liveupdate_num: bigint;
  readonly sessions_pa: bigint;
  readonly flbs_pa: bigint;
  readonly flbCount: bigint;
  readonly sessions: readonly DecodedSession[];
}

export interface DecodedHandover {
  readonly fdtPhys: number;
  /** The root FDT's bytes (its header's totalsize). */
  readonly fdt: Uint8Array;
  readonly root: FdtNode;
  readonly trackerRoot: bigint;
  readonly trackerNodes: number;
  readonly blocks: readonly PreservedBlock[];
  readonly subtrees: readonly { name: string; phys: bigint; size: bigint }[];
  readonly metadata: kho_kexec_metadata | null;
  readonly luo: DecodedLuo | null;
  /** Structures the handover points at that are not the head of a preserved block. */
  readonly unpreserved: readonly string[];
}

const hex = (n: number | bigint): string => `0x${n.toString(16)}`;

function fail(msg: string): never {
  throw new InspectError(msg);
}

function u64Prop(node: FdtNode, name: string, where: string): bigint {
  const v = fdtGetProp(node, name);
  if (v?.length !== 8) fail(`${where}: property ${name} is missing or not a u64`);
  return new DataView(v.buffer, v.byteOffset, 8).getBigUint64(0, true);
}

/** Reads `len` bytes at a physical address taken from the image, checking it first. */
function readAt(mem: PhysMem, pa: bigint, len: number, what: string): Uint8Array {
  if (pa < 0n || pa + BigInt(len) > BigInt(mem.size))
    fail(`${what} at ${hex(pa)} is outside memory (${hex(mem.size)} bytes)`);
  return mem.read(Number(pa), len);
}

/** The FDT at `phys`: its header's totalsize bytes, parsed strictly. */
function readRootFdt(mem: PhysMem, phys: number): { bytes: Uint8Array; root: FdtNode } {
  const page = readAt(mem, BigInt(phys), Math.min(PAGE_SIZE, mem.size - phys), 'root FDT');
  const total = page.length >= 8 ? new DataView(page.buffer, page.byteOffset).getUint32(4) : 0;
  try {
    const root = fdtParse(page);
    if (total > page.length) fail(`root FDT totalsize ${total} exceeds its page`);
    return { bytes: page.slice(0, total), root };
  } catch (e) {
    if (e instanceof FdtError) fail(`root FDT at ${hex(phys)} is invalid: ${e.code}: ${e.message}`);
    throw e;
  }
}

/** Entries of a KHO block chain at `pa`: the bytes of each entry, in order. */
function readChain(mem: PhysMem, pa: bigint, entrySize: number, what: string): Uint8Array[] {
  const perBlock = kho_block_count_per_block(entrySize);
  const seen = new Set<bigint>();
  const out: Uint8Array[] = [];
  for (let at = pa; at !== 0n;) {
    if (seen.has(at)) fail(`${what} chain loops back to ${hex(at)}`);
    if (seen.size >= KHO_MAX_BLOCKS) fail(`${what} chain is longer than ${KHO_MAX_BLOCKS} blocks`);
    if (at % BigInt(KHO_BLOCK_SIZE) !== 0n) fail(`${what} block ${hex(at)} is not page aligned`);
    seen.add(at);
    const page = readAt(mem, at, KHO_BLOCK_SIZE, `${what} block`);
    const hdr = kho_block_header_ser.read(page);
    if (hdr.count < 1n || hdr.count > BigInt(perBlock))
      fail(`${what} block ${hex(at)} holds ${hdr.count} entries (1..${perBlock} allowed)`);
    for (let i = 0; i < Number(hdr.count); i++) {
      const off = kho_block_header_ser.size + i * entrySize;
      out.push(page.subarray(off, off + entrySize));
    }
    at = hdr.next;
  }
  return out;
}

function decodeLuo(
  mem: PhysMem,
  phys: bigint,
  size: bigint,
  labelBlock: (pa: bigint, label: string) => void,
): DecodedLuo {
  if (size < BigInt(luo_ser.size)) fail(`LUO blob of ${size} bytes is smaller than luo_ser`);
  const bytes = readAt(mem, phys, luo_ser.size, 'LUO blob');
  const compatible = abi_get_string(bytes, 0, LUO_ABI_COMPAT_LEN);
  const ser = luo_ser.read(bytes);
  labelBlock(phys, 'LUO blob (struct luo_ser)');
  let flbCount = 0n;
  if (ser.flbs_pa !== 0n) {
    flbCount = luo_flb_header_ser.read(readAt(mem, ser.flbs_pa, 16, 'FLB header')).count;
    labelBlock(ser.flbs_pa, 'LUO FLB page');
  }
  const sessionEntries = readChain(mem, ser.sessions_pa, luo_session_ser.size, 'session');
  labelChain(mem, ser.sessions_pa, 'LUO session block', labelBlock);
  const sessions = sessionEntries.map((entry, i): DecodedSession => {
    const name = abi_get_string(entry, 0, LUO_SESSION_NAME_LENGTH);
    const s = luo_session_ser.read(entry);
    const what = `session ${i} ("${name}") file`;
    const files = readChain(mem, s.files, luo_file_ser.size, what).map((fe): DecodedFile => {
      const f = luo_file_ser.read(fe);
      const compat = abi_get_string(fe, 0, LIVEUPDATE_HNDL_COMPAT_LENGTH);
      const decoder = findRecordDecoder(compat);
      const record = decoder ? decoder.decode(mem, f.data, f.token) : null;
      if (record) for (const [pa, l] of record.blocks) labelBlock(BigInt(pa), l);
      return { compatible: compat, data: f.data, token: f.token, record };
    });
    labelChain(mem, s.files, `file block of "${name}"`, labelBlock);
    return { name, filesPa: s.files, count: s.count, files };
  });
  return {
    phys: Number(phys),
    compatible,
    liveupdate_num: ser.liveupdate_num,
    sessions_pa: ser.sessions_pa,
    flbs_pa: ser.flbs_pa,
    flbCount,
    sessions,
  };
}

/** Labels the blocks of a chain that readChain already validated. */
function labelChain(
  mem: PhysMem,
  pa: bigint,
  label: string,
  labelBlock: (pa: bigint, label: string) => void,
): void {
  let n = 0;
  for (let at = pa; at !== 0n && n < KHO_MAX_BLOCKS; n++) {
    labelBlock(at, `${label} ${n + 1}`);
    at = kho_block_header_ser.read(mem.read(Number(at), kho_block_header_ser.size)).next;
  }
}

/**
 * What makes a handover corrupt although its structure decodes: file records the decoders could
 * not decode (their `error:` lines, as "session "name" file N (compatible): problem"), and
 * structures it points at that the KHO tracker does not preserve (the next kernel could not
 * restore them).
 */
export function handoverProblems(h: DecodedHandover | null): string[] {
  if (h === null) return [];
  const out: string[] = [...h.unpreserved];
  for (const s of h.luo?.sessions ?? [])
    s.files.forEach((f, i) => {
      for (const line of f.record?.lines ?? []) {
        const text = line.trim();
        if (text.startsWith('error: '))
          out.push(`session "${s.name}" file ${i} (${f.compatible}): ${text.slice(7)}`);
      }
    });
  return out;
}

/** Decodes the handover of `machine`; null when it has none (a cold boot's parameters). */
export function decodeHandover(machine: Machine): DecodedHandover | null {
  const fdtPa = machine.bootParams.khoFdtPhys;
  if (fdtPa === null) return null;
  const mem = machine.physmem;
  if (fdtPa % BigInt(PAGE_SIZE) !== 0n) fail(`root FDT address ${hex(fdtPa)} is not page aligned`);
  const fdtPhys = Number(fdtPa);
  const { bytes, root } = readRootFdt(mem, fdtPhys);
  const compat = fdtGetProp(root, 'compatible');
  const compatList = compat ? new TextDecoder().decode(compat).split('\0') : [];
  if (!compatList.includes(KHO_FDT_COMPATIBLE))
    fail(`root FDT is not compatible with "${KHO_FDT_COMPATIBLE}"`);
  const trackerRoot = u64Prop(root, KHO_FDT_MEMORY_MAP_PROP_NAME, 'root FDT');

  const blocks: PreservedBlock[] = [];
  let trackerNodes = 0;
  try {
    kho_radix_walk_tree(mem, trackerRoot, {
      onBlock: (phys, order) => blocks.push({ phys, order, label: '' }),
      onNode: () => trackerNodes++,
    });
  } catch (e) {
    if (e instanceof TrackerCorrupt) fail(`KHO tracker is corrupt: ${e.message}`);
    throw e;
  }
  blocks.sort((a, b) => a.phys - b.phys);
  const byPhys = new Map(blocks.map((b) => [b.phys, b]));
  const unpreserved: string[] = [];
  const labelBlock = (pa: bigint, label: string): void => {
    const b = byPhys.get(Number(pa));
    if (b) b.label = b.label === '' ? label : `${b.label}; ${label}`;
    else unpreserved.push(`${label} at ${hex(pa)} is not a preserved block`);
  };
  labelBlock(BigInt(fdtPhys), 'KHO root FDT');

  const subtrees = root.children.map((c) => ({
    name: c.name,
    phys: u64Prop(c, KHO_FDT_SUB_TREE_PROP_NAME, `/${c.name}`),
    size: u64Prop(c, KHO_FDT_SUB_TREE_SIZE_PROP_NAME, `/${c.name}`),
  }));
  let metadata: kho_kexec_metadata | null = null;
  let luo: DecodedLuo | null = null;
  for (const st of subtrees) {
    if (st.name === KHO_METADATA_NODE_NAME) {
      if (st.size < BigInt(KHO_KEXEC_METADATA_SIZEOF)) fail('kexec-metadata blob is too small');
      metadata = kho_kexec_metadata_decode(
        readAt(mem, st.phys, KHO_KEXEC_METADATA_SIZEOF, 'kexec-metadata'),
      );
      labelBlock(st.phys, 'kexec-metadata blob');
    } else if (st.name === LUO_FDT_KHO_ENTRY_NAME) {
      luo = decodeLuo(mem, st.phys, st.size, labelBlock);
    } else {
      labelBlock(st.phys, `"${st.name}" blob`);
    }
  }
  return {
    fdtPhys,
    fdt: bytes,
    root,
    trackerRoot,
    trackerNodes,
    blocks,
    subtrees,
    metadata,
    luo,
    unpreserved,
  };
}
