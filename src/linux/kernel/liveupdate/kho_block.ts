/**
 * KHO serialization blocks: chains of page-sized, KHO-preserved blocks of fixed-size entries,
 * which LUO uses for its session list and for each session's file list.
 *
 * **Models:** kernel/liveupdate/kho_block.c and include/linux/kho_block.h (v7.2-era mainline,
 * June 2026 series): grow on demand with kho_alloc_preserve, shrink from the tail, clear,
 * destroy, and the validating restore in the next kernel (cycle and length check, per-block
 * count check, free on error).
 * **Abstracted:**
 * 1. No locking of its own (as in the kernel: callers hold the list or session lock).
 * 2. Header `count` fields are written when the chain is committed at serialize time (the
 *    kernel sets them as its iterator reserves entries: the same bytes). Every block stays
 *    linked, as grow links it, so a block left empty by a failed insert (the -EEXIST quirk of
 *    spec §2.4) reaches the next kernel with count 0, and its restore refuses the chain.
 * 3. The cycle check walks the chain with a visited set (same verdict as Floyd's algorithm).
 * Paths: 1. grow past KHO_MAX_BLOCKS → -ENOSPC; 2. grow allocation failure → -ENOMEM;
 * 3. restore of a cycle, a chain of more than KHO_MAX_BLOCKS, an address outside memory or a
 * block with count outside 1..per_block → -EINVAL (the visited blocks are freed).
 */
import {
  KHO_BLOCK_SIZE,
  KHO_MAX_BLOCKS,
  kho_block_count_per_block,
  kho_block_header_ser,
} from '../../include/linux/kho/abi/block.ts';
import { EINVAL, ENOSPC } from '../../include/uapi/asm-generic/errno.ts';
import type { Sched } from '../../../sim/index.ts';
import type { Kernel } from '../../kernel.ts';
import { kho_alloc_preserve, kho_restore_free, kho_unpreserve_free } from './kexec_handover.ts';

/** struct kho_block_set (outgoing side). */
export class kho_block_set {
  readonly entry_size: number;
  readonly per_block: number;
  /** pa of every block, in chain order. */
  readonly blocks: number[] = [];

  constructor(entry_size: number) {
    this.entry_size = entry_size;
    this.per_block = kho_block_count_per_block(entry_size);
  }

  get capacity(): number {
    return this.blocks.length * this.per_block;
  }
}

/**
 * Makes room for `count` entries; 0, -ENOMEM or -ENOSPC. On an error the blocks this call added
 * are freed again.
 */
export function* kho_block_set_grow(k: Kernel, set: kho_block_set, count: number): Sched<number> {
  const had = set.blocks.length;
  while (set.capacity < count) {
    let pa = -ENOSPC;
    if (set.blocks.length < KHO_MAX_BLOCKS) pa = yield* kho_alloc_preserve(k, KHO_BLOCK_SIZE);
    if (pa < 0) {
      yield* kho_block_set_shrink(k, set, had * set.per_block);
      return pa;
    }
    const prev = set.blocks.at(-1);
    if (prev !== undefined)
      k.machine.physmem.writeU64(prev + kho_block_header_ser.fields.next[0], BigInt(pa));
    set.blocks.push(pa);
  }
  return 0;
}

/** Frees tail blocks no longer needed for `count` entries. */
export function* kho_block_set_shrink(k: Kernel, set: kho_block_set, count: number): Sched {
  while (set.blocks.length > 0 && count <= (set.blocks.length - 1) * set.per_block) {
    const pa = set.blocks.pop() as number;
    yield* kho_unpreserve_free(k, pa);
    const prev = set.blocks.at(-1);
    if (prev !== undefined)
      k.machine.physmem.writeU64(prev + kho_block_header_ser.fields.next[0], 0n);
  }
}

/** pa of entry `i` (the caller made room for it). */
export function kho_block_entry_pa(set: kho_block_set, i: number): number {
  const block = set.blocks[Math.floor(i / set.per_block)];
  if (block === undefined) throw new RangeError(`entry ${i} is past the block set's capacity`);
  return block + kho_block_header_ser.size + (i % set.per_block) * set.entry_size;
}

/**
 * Writes the header counts for `count` entries (abstraction 2): full blocks, the last used one,
 * then 0 in any block past it, which stays linked. Returns the pa of the first block, or 0 when
 * count is 0.
 */
export function kho_block_set_commit(k: Kernel, set: kho_block_set, count: number): number {
  set.blocks.forEach((pa, b) => {
    const n = Math.max(0, Math.min(set.per_block, count - b * set.per_block));
    const next = BigInt(set.blocks[b + 1] ?? 0);
    const hdr = kho_block_header_ser.encode({ next, count: BigInt(n) });
    k.machine.physmem.write(pa, hdr);
  });
  return count === 0 ? 0 : (set.blocks[0] as number);
}

/** Zeroes every entry and count, keeping the blocks and their links. */
export function kho_block_set_clear(k: Kernel, set: kho_block_set): void {
  set.blocks.forEach((pa, b) => {
    const next = BigInt(set.blocks[b + 1] ?? 0);
    const page = new Uint8Array(KHO_BLOCK_SIZE);
    kho_block_header_ser.write(page, { next, count: 0n });
    k.machine.physmem.write(pa, page);
  });
}

/** Frees every block (outgoing side). */
export function* kho_block_set_destroy(k: Kernel, set: kho_block_set): Sched {
  while (set.blocks.length > 0) yield* kho_unpreserve_free(k, set.blocks.pop() as number);
}

/** An incoming chain that passed validation: its blocks and their entry counts. */
export interface kho_block_chain {
  readonly entry_size: number;
  readonly blocks: readonly { pa: number; count: number }[];
  readonly count: number;
}

/** Validates the incoming chain at `pa` (0 = empty); the chain, or -EINVAL (path 3). */
export function kho_block_set_restore(
  k: Kernel,
  pa: number,
  entry_size: number,
): kho_block_chain | number {
  const per_block = kho_block_count_per_block(entry_size);
  const blocks: { pa: number; count: number }[] = [];
  const seen = new Set<number>();
  let total = 0;
  let err = 0;
  for (let at = pa; at !== 0;) {
    if (seen.has(at) || blocks.length >= KHO_MAX_BLOCKS) return -EINVAL;
    if (at % KHO_BLOCK_SIZE !== 0 || at + KHO_BLOCK_SIZE > k.machine.physmem.size) return -EINVAL;
    seen.add(at);
    const hdr = kho_block_header_ser.read(k.machine.physmem.read(at, kho_block_header_ser.size));
    const count = Number(hdr.count);
    blocks.push({ pa: at, count });
    if (hdr.count < 1n || hdr.count > BigInt(per_block)) err = -EINVAL;
    if (hdr.next > BigInt(k.machine.physmem.size)) return -EINVAL;
    total += count;
    at = Number(hdr.next);
  }
  if (err < 0) {
    for (const b of blocks) kho_restore_free(k, b.pa);
    return err;
  }
  return { entry_size, blocks, count: total };
}

/** The bytes of incoming entry `i`. */
export function kho_block_chain_entry(k: Kernel, chain: kho_block_chain, i: number): Uint8Array {
  let rest = i;
  for (const b of chain.blocks) {
    if (rest < b.count)
      return k.machine.physmem.read(
        b.pa + kho_block_header_ser.size + rest * chain.entry_size,
        chain.entry_size,
      );
    rest -= b.count;
  }
  throw new RangeError(`entry ${i} is past the chain's ${chain.count} entries`);
}

/** Frees every block of an incoming chain (kho_restore_free). */
export function kho_block_chain_destroy(k: Kernel, chain: kho_block_chain): void {
  for (const b of chain.blocks) kho_restore_free(k, b.pa);
}
