/**
 * The machine that outlives kernels: physical memory plus the boot parameters that the previous
 * kernel left for the next one.
 *
 * **Models:** what crosses a kexec besides memory contents, v7.2-era mainline: the KHO root FDT
 * address (x86 `setup_data` of type SETUP_KEXEC_KHO, or `/chosen/linux,kho-fdt` on devicetree
 * arches), the KHO scratch areas (`linux,kho-scratch`, the `struct kho_scratch` array), the
 * kernel command line, and a count of kexecs since the cold boot (spec §4.8).
 *
 * **Abstracted:** the transport itself (setup_data lists, /chosen, kexec segments, purgatory)
 * is reduced to a plain record; a kernel model sets it before the jump and the next one reads it.
 * The root FDT size is left out because it is always one page. The kernel image and initrd are
 * not modelled. A fresh Machine is a cold boot: no KHO FDT, no scratch, count 0.
 *
 * Invalid parameters (a pointer outside memory, a count that is not a u32, a command line with a
 * NUL or longer than COMMAND_LINE_SIZE) are RangeErrors: a boot loader could not pass them.
 */
import { GiB, PhysMem } from './physmem.ts';

/** x86 and arm64 COMMAND_LINE_SIZE, counting the terminating NUL. */
export const COMMAND_LINE_SIZE = 2048;

/** One `struct kho_scratch`: a physically contiguous range that never holds preserved memory. */
export interface KhoScratch {
  addr: bigint;
  size: bigint;
}

export interface BootParams {
  /** Physical address of the incoming KHO root FDT, or null on a cold or non-KHO boot. */
  khoFdtPhys: bigint | null;
  scratch: KhoScratch[];
  /** Kexecs since the cold boot. */
  kexecCount: number;
  cmdline: string;
}

export interface MachineOptions {
  /** Memory size in bytes, a multiple of PAGE_SIZE; default 4 GiB. */
  memSize?: number;
  /** Parameters for the first boot; default a cold boot with an empty command line. */
  boot?: BootParams;
}

export function coldBootParams(cmdline = ''): BootParams {
  return { khoFdtPhys: null, scratch: [], kexecCount: 0, cmdline };
}

/** Why `p` cannot be handed to a kernel on a machine of `memSize` bytes, or null if it can. */
export function bootParamsProblem(p: BootParams, memSize: number): string | null {
  const end = BigInt(memSize);
  if (p.khoFdtPhys !== null && (p.khoFdtPhys < 0n || p.khoFdtPhys >= end)) {
    return `KHO FDT address 0x${p.khoFdtPhys.toString(16)} is outside memory`;
  }
  for (const [i, s] of p.scratch.entries()) {
    if (s.addr < 0n || s.size < 0n || s.addr + s.size > end) {
      return `scratch area ${i} (0x${s.addr.toString(16)}, 0x${s.size.toString(16)}) is outside memory`;
    }
  }
  if (!Number.isSafeInteger(p.kexecCount) || p.kexecCount < 0 || p.kexecCount > 0xffff_ffff) {
    return `kexec count ${p.kexecCount} is not a u32`;
  }
  if (p.cmdline.includes('\0')) return 'command line contains a NUL';
  if (new TextEncoder().encode(p.cmdline).length >= COMMAND_LINE_SIZE) {
    return `command line is longer than ${COMMAND_LINE_SIZE - 1} bytes`;
  }
  return null;
}

const copyParams = (p: BootParams): BootParams => ({
  khoFdtPhys: p.khoFdtPhys,
  scratch: p.scratch.map((s) => ({ addr: s.addr, size: s.size })),
  kexecCount: p.kexecCount,
  cmdline: p.cmdline,
});

export class Machine {
  readonly physmem: PhysMem;
  private params: BootParams;

  constructor(opts: MachineOptions = {}) {
    this.physmem = new PhysMem(opts.memSize ?? 4 * GiB);
    this.params = coldBootParams();
    this.setBootParams(opts.boot ?? this.params);
  }

  /** Memory size in bytes. */
  get memSize(): number {
    return this.physmem.size;
  }

  /** The parameters the next (or current) kernel boots with; a copy, so edits need
   * setBootParams. */
  get bootParams(): BootParams {
    return copyParams(this.params);
  }

  /** Records the parameters for the next boot, as kexec does just before the jump. */
  setBootParams(next: BootParams): void {
    const problem = bootParamsProblem(next, this.memSize);
    if (problem !== null) throw new RangeError(problem);
    this.params = copyParams(next);
  }
}
