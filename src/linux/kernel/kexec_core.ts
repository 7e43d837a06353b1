/**
 * The kexec jump: hand the machine to the next kernel with nothing but bytes.
 *
 * **Models:** kernel/kexec_core.c — kernel_kexec() for a kexec_file_load image — with KHO's part
 * of loading it (kho_fill_kimage: the root FDT address and the scratch list go into the image),
 * v7.2-era mainline; spec §4.8, §4.9. There is no KHO finalize step: the tracker and the root
 * FDT are already current in memory, so the jump passes their addresses as they are.
 *
 * **Abstracted:** the image, purgatory and segments: the boot parameters are set on the Machine
 * directly. Memory that is neither preserved nor KHO metadata (tracker node pages) is scrubbed:
 * the next kernel, its image and its early allocations would overwrite it, and the model makes
 * that loss certain. Scratch contents are scrubbed too (the next image is loaded there).
 *
 * Paths: 1. KHO enabled: next boot gets the FDT and scratch, preserved blocks keep their bytes;
 * 2. KHO disabled: a plain kexec, every page is scrubbed; 3. kexec of a kernel that already
 * jumped: model assertion.
 */
import type { Machine } from '../../machine/machine.ts';
import { ModelAssertion } from '../../sim/index.ts';
import { PAGE_SIZE, PHYS_PFN } from '../include/asm-generic/page.ts';
import type { Kernel } from '../kernel.ts';
import { kho_radix_walk_tree } from './liveupdate/kho_radix_tree.ts';

/** Sorted, merged pfn ranges of the outgoing tracker's blocks and node pages. */
export function kho_handover_ranges(k: Kernel): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  if (k.kho.radix_root === 0) return ranges;
  // The walk reports the blocks of each order in address order: a block that starts inside or
  // right after the last range extends it (the merge below would join them anyway).
  let last: [number, number] = [-1, -1];
  const add = (s: number, e: number): void => {
    if (s >= last[0] && s <= last[1]) {
      if (e > last[1]) last[1] = e;
    } else {
      last = [s, e];
      ranges.push(last);
    }
  };
  kho_radix_walk_tree(k.machine.physmem, BigInt(k.kho.radix_root), {
    onBlock: (phys, order) => {
      add(PHYS_PFN(phys), PHYS_PFN(phys) + 2 ** order);
    },
    onNode: (phys) => {
      add(PHYS_PFN(phys), PHYS_PFN(phys) + 1);
    },
  });
  ranges.sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number]> = [];
  for (const [s, e] of ranges) {
    const last = out[out.length - 1];
    if (last && s <= last[1]) last[1] = Math.max(last[1], e);
    else out.push([s, e]);
  }
  return out;
}

function inRanges(ranges: ReadonlyArray<readonly [number, number]>, pfn: number): boolean {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const [s, e] = ranges[mid] as readonly [number, number];
    if (pfn < s) hi = mid - 1;
    else if (pfn >= e) lo = mid + 1;
    else return true;
  }
  return false;
}

/**
 * kernel_kexec(): writes the next boot's parameters, scrubs every page that does not survive,
 * and returns the machine. The kernel is dead afterwards.
 */
export function kernel_kexec(k: Kernel, opts: { cmdline?: string } = {}): Machine {
  if (k.dead) throw new ModelAssertion('kernel_kexec on a kernel that already jumped');
  if (k.booting) throw new ModelAssertion('kernel_kexec during boot');
  const kho = k.kho.enabled && k.kho.out_fdt !== 0;
  const keep = kho ? kho_handover_ranges(k) : [];
  const prev = k.machine.bootParams;
  k.machine.physmem.scrub((pfn) => inRanges(keep, pfn));
  k.machine.setBootParams({
    khoFdtPhys: kho ? BigInt(k.kho.out_fdt) : null,
    scratch: kho ? k.kho.scratch.map((s) => ({ addr: BigInt(s.addr), size: BigInt(s.size) })) : [],
    kexecCount: prev.kexecCount + 1,
    cmdline: opts.cmdline ?? prev.cmdline,
  });
  k.pr_info(
    `kexec: jumping, ${keep.reduce((n, [s, e]) => n + e - s, 0)} pages handed over (${PAGE_SIZE}-byte pages)`,
  );
  k.dead = true;
  return k.machine;
}
