/**
 * Text rendering of a decoded image for a person: the machine's parameters, the root FDT as a
 * tree in dts syntax, the preserved blocks (runs of like blocks folded into one line), the
 * kexec metadata, and LUO's sessions and files with their handler compatibles and tokens.
 */
import type { Machine } from '../../machine/machine.ts';
import { PAGE_SIZE } from '../../machine/physmem.ts';
import type { FdtNode } from '../../linux/lib/fdt.ts';
import type { DecodedHandover, DecodedLuo, PreservedBlock } from './decode.ts';

const hex = (n: number | bigint): string => `0x${n.toString(16)}`;

function size(bytes: number): string {
  if (bytes >= 1 << 30 && bytes % (1 << 30) === 0) return `${bytes / (1 << 30)} GiB`;
  if (bytes >= 1 << 20 && bytes % (1 << 20) === 0) return `${bytes / (1 << 20)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}

const byteList = (value: Uint8Array): string =>
  `[${[...value].map((b) => b.toString(16).padStart(2, '0')).join(' ')}]`;

/** A property as dts would show it, with KHO's little-endian u64s decoded in a comment. */
function propLine(name: string, value: Uint8Array): string {
  if (value.length === 0) return `${name};`;
  const text = new TextDecoder('utf-8', { fatal: false }).decode(value);
  if (/^([\x20-\x7e]+\0)+$/.test(text)) {
    const parts = text.slice(0, -1).split('\0');
    return `${name} = ${parts.map((p) => JSON.stringify(p)).join(', ')};`;
  }
  if (value.length === 8) {
    const v = new DataView(value.buffer, value.byteOffset, 8).getBigUint64(0, true);
    return `${name} = ${byteList(value)};  /* u64 LE ${hex(v)} */`;
  }
  return `${name} = ${byteList(value)};`;
}

export function renderFdt(node: FdtNode, depth = 0): string[] {
  const pad = '    '.repeat(depth);
  const out = [`${pad}${depth === 0 ? '/' : node.name} {`];
  for (const p of node.props) out.push(`${pad}    ${propLine(p.name, p.value)}`);
  for (const c of node.children) out.push(...renderFdt(c, depth + 1));
  out.push(`${pad}};`);
  return out;
}

/** Blocks sorted by address, with contiguous runs of the same order and kind folded. */
function renderBlocks(blocks: readonly PreservedBlock[]): string[] {
  const kind = (b: PreservedBlock): string =>
    b.label === '' ? '(no decoder claims it)' : b.label.replace(/ \d+$/, '');
  const out: string[] = [];
  for (let i = 0; i < blocks.length;) {
    const first = blocks[i] as PreservedBlock;
    let j = i + 1;
    let end = first.phys + PAGE_SIZE * 2 ** first.order;
    while (j < blocks.length) {
      const b = blocks[j] as PreservedBlock;
      if (b.phys !== end || b.order !== first.order || kind(b) !== kind(first)) break;
      end += PAGE_SIZE * 2 ** b.order;
      j++;
    }
    const n = j - i;
    const what = n === 1 ? first.label || kind(first) : `${kind(first)} ×${n}`;
    const span = n === 1 ? size(PAGE_SIZE * 2 ** first.order) : `${size(end - first.phys)} total`;
    out.push(
      `  ${hex(first.phys).padEnd(12)} order ${String(first.order).padEnd(2)} ${span.padEnd(14)} ${what}`,
    );
    i = j;
  }
  return out;
}

function renderLuo(luo: DecodedLuo): string[] {
  const out = [
    `LUO blob at ${hex(luo.phys)}: compatible "${luo.compatible}", liveupdate_num ${luo.liveupdate_num}, ` +
      `FLB entries ${luo.flbCount}`,
    `  ${luo.sessions.length} session(s)` +
      (luo.sessions_pa === 0n ? '' : `, session chain at ${hex(luo.sessions_pa)}`),
  ];
  const undecoded = new Set<string>();
  for (const s of luo.sessions) {
    const files = s.files.length === 1 ? '1 file' : `${s.files.length} files`;
    out.push(
      `  session "${s.name}": ${files}` + (s.filesPa === 0n ? '' : ` (chain at ${hex(s.filesPa)})`),
    );
    if (BigInt(s.files.length) !== s.count)
      out.push(`    warning: the session says ${s.count} files, its chain holds ${s.files.length}`);
    for (const f of s.files) {
      out.push(`    token ${hex(f.token)}  handler "${f.compatible}"  data ${hex(f.data)}`);
      if (f.record === null) undecoded.add(f.compatible);
      else for (const line of f.record.lines) out.push(`      ${line}`);
    }
  }
  for (const c of undecoded)
    out.push(`  no record decoder registered for handler "${c}": its data is shown raw`);
  return out;
}

export function renderImage(
  path: string,
  fileSize: number,
  machine: Machine,
  h: DecodedHandover | null,
): string {
  const boot = machine.bootParams;
  const out = [
    `image      ${path} (${fileSize} bytes)`,
    `machine    ${size(machine.memSize)} memory, ${machine.physmem.touchedCount} pages stored, ` +
      `kexec count ${boot.kexecCount}`,
    `cmdline    ${JSON.stringify(boot.cmdline)}`,
    `scratch    ${boot.scratch.length === 0 ? 'none' : boot.scratch.map((s) => `${hex(s.addr)}+${hex(s.size)}`).join(', ')}`,
  ];
  if (h === null) {
    out.push('handover   none (cold-boot parameters: no KHO root FDT)');
    return `${out.join('\n')}\n`;
  }
  out.push(`root FDT   at ${hex(h.fdtPhys)}, ${h.fdt.length} bytes`, '', ...renderFdt(h.root), '');
  if (h.metadata !== null) {
    const m = h.metadata;
    out.push(
      `kexec metadata: version ${m.version}, previous release "${m.previous_release}", kexec count ${m.kexec_count}`,
      '',
    );
  }
  const pages = h.blocks.reduce((n, b) => n + 2 ** b.order, 0);
  out.push(
    `preserved blocks: ${h.blocks.length} blocks, ${pages} pages ` +
      `(KHO tracker at ${hex(h.trackerRoot)}, ${h.trackerNodes} node pages)`,
    ...renderBlocks(h.blocks),
    '',
  );
  out.push(...(h.luo === null ? ['LUO: no "LUO" subtree'] : renderLuo(h.luo)));
  return `${out.join('\n')}\n`;
}
