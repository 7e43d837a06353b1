/**
 * One boot of the kernel: its globals, its boot sequence, and the kexec that ends it.
 *
 * **Models:** init/main.c (start_kernel: setup_arch → mm_core_init → initcall levels), the
 * panic()/WARN() reporting of kernel/panic.c, and where each KHO boot step runs (spec §1.3),
 * v7.2-era mainline. kernel_kexec itself is in kernel/kexec_core.ts.
 *
 * **Abstracted:**
 * 1. Boot is synchronous and single-threaded (as early boot is): while `booting`, KHO's mutexes
 *    are not taken (see guard_mutex) and boot code must not reach a visible operation; run_boot
 *    asserts it. Once Kernel.boot returns, all kernel paths are tasks of the engine.
 * 2. A Kernel is built from the Machine alone: everything else (tracker, root FDT, blobs) is
 *    decoded from physical memory and the boot parameters.
 * 3. printk is a list of lines on the kernel (`log`); WARNs are also kept in `warnings`.
 *
 * Boot outcomes: 1. success; 2. degraded: the incoming KHO data is ignored or KHO is disabled,
 * the boot goes on and `bootFailure` says why (non-fatal); 3. panic: Kernel.boot returns a fatal
 * BootFailure instead of a kernel (e.g. tracker pointers the kernel would fault on).
 */
import type { Machine } from '../machine/machine.ts';
import { ModelAssertion, type Sched, type Sim } from '../sim/index.ts';
import { run_boot } from './include/linux/cleanup.ts';
import { KernelPanic } from './kernel/panic.ts';
import { Memblock } from './mm/mm_init.ts';
import { kernel_kexec } from './kernel/kexec_core.ts';
import { Kho } from './kernel/liveupdate/kexec_handover.ts';
import {
  kho_init,
  kho_memory_init,
  kho_populate,
} from './kernel/liveupdate/kexec_handover_init.ts';
import {
  liveupdate_ioctl_init,
  luo_early_startup,
  luo_late_startup,
} from './kernel/liveupdate/luo_core.ts';
import type { Luo } from './kernel/liveupdate/luo_internal.ts';
import { memfd_luo_init } from './mm/memfd_luo.ts';
import { PageAlloc } from './mm/page_alloc.ts';
import { mem_init } from './mm/mm_init.ts';
import { VmallocState } from './mm/vmalloc.ts';
import type { SrcuStruct } from '../sync/index.ts';
import { kvm_init, type KvmGlobals } from './virt/kvm/kvm_main.ts';

export interface KernelConfig {
  /** The design variant this kernel models (see the scenario's variants); 'default' = as posted. */
  readonly variant: string;
  /** Named switches of the variant (seeded bugs, alternatives); absent = off. */
  readonly switches: Readonly<Record<string, boolean>>;
  /** CONFIG_KEXEC_HANDOVER_ENABLE_DEFAULT; `kho=` on the command line overrides it. */
  readonly kho_enable_default: boolean;
  /** CONFIG_KEXEC_HANDOVER_DEBUG: preserve calls check for scratch overlap. */
  readonly kexec_handover_debug: boolean;
  /** A WARN is a model assertion (the architecture's rule); false records it and goes on. */
  readonly panic_on_warn: boolean;
  /** `uname -r`, written into the kexec-metadata blob. */
  readonly release: string;
  /** Bytes of each cold-boot scratch area (lowmem, global, node 0). */
  readonly kho_scratch_size: number;
  /**
   * CONFIG_LIVEUPDATE_GUEST_MEMFD: KVM registers its LUO handlers (kvm_vm_luo_v1,
   * guest_memfd_luo_v1). Off = the mainline kernel the upstream LUO selftests target.
   */
  readonly liveupdate_guest_memfd: boolean;
}

export function kernelConfig(overrides: Partial<KernelConfig> = {}): KernelConfig {
  return {
    variant: 'default',
    switches: {},
    kho_enable_default: true,
    kexec_handover_debug: false,
    panic_on_warn: true,
    release: '7.2.0-luosim',
    kho_scratch_size: 4 * 1024 * 1024,
    liveupdate_guest_memfd: true,
    ...overrides,
  };
}

/** A boot that did not produce a working kernel (fatal) or lost its handover (non-fatal). */
export class BootFailure {
  readonly fatal: boolean;
  readonly stage: string;
  readonly reason: string;

  constructor(fatal: boolean, stage: string, reason: string) {
    this.fatal = fatal;
    this.stage = stage;
    this.reason = reason;
  }

  toString(): string {
    return `${this.fatal ? 'Kernel panic' : 'boot degraded'} in ${this.stage}: ${this.reason}`;
  }
}

export { KernelPanic, panic } from './kernel/panic.ts';

export interface Initcall {
  readonly level: 'early' | 'fs' | 'device' | 'late';
  readonly name: string;
  readonly fn: (k: Kernel) => Sched<number>;
}

/** Initcalls in level order, then table order. LUO adds its own here (early: luo_early_startup;
 * late: luo_late_startup, liveupdate_ioctl_init, memfd_luo_init). */
const INITCALLS: readonly Initcall[] = [
  { level: 'early', name: 'luo_early_startup', fn: luo_early_startup },
  { level: 'fs', name: 'kho_init', fn: kho_init },
  { level: 'late', name: 'luo_late_startup', fn: luo_late_startup },
  { level: 'late', name: 'liveupdate_ioctl_init', fn: liveupdate_ioctl_init },
  { level: 'late', name: 'memfd_luo_init', fn: memfd_luo_init },
  // kvm.ko's module_init: loaded after the built-in initcalls, so its LUO handlers follow memfd's.
  { level: 'late', name: 'kvm_init', fn: kvm_init },
];
const LEVELS = ['early', 'fs', 'device', 'late'] as const;

export class Kernel {
  readonly sim: Sim;
  readonly machine: Machine;
  readonly config: KernelConfig;
  readonly cmdline: string;
  readonly page_alloc: PageAlloc;
  readonly kho: Kho;
  readonly vmalloc: VmallocState;
  readonly memblock = new Memblock();
  /** Live updates that preceded this boot (0 on a cold boot); LUO refines it from its blob. */
  liveupdate_num = 0;
  /** Why the boot lost its handover data or KHO, if it did (non-fatal). */
  bootFailure: BootFailure | null = null;
  /** LUO's per-boot state, owned by kernel/liveupdate/luo_core. */
  luo: Luo | null = null;
  /** kvm_main.c's globals (vm_list, /dev/kvm, fops), owned by virt/kvm/kvm_main. */
  kvm: KvmGlobals | null = null;
  /** kvm_gmem_freeze_srcu: the ONE guest_memfd freeze SRCU domain of this boot (patch 06). */
  kvm_gmem_freeze_srcu: SrcuStruct | null = null;
  /** True until Kernel.boot returns. */
  booting = true;
  /** True once kernel_kexec has handed the machine on; the kernel must not run again. */
  dead = false;
  readonly log: string[] = [];
  readonly warnings: string[] = [];
  private readonly warnedOnce = new Set<string>();

  private constructor(sim: Sim, machine: Machine, config: KernelConfig) {
    this.sim = sim;
    this.machine = machine;
    this.config = config;
    this.cmdline = machine.bootParams.cmdline;
    this.page_alloc = new PageAlloc(machine.physmem);
    this.kho = new Kho(sim);
    this.vmalloc = new VmallocState();
  }

  /** Boots a kernel on `machine` from its bytes and boot parameters alone. */
  static boot(sim: Sim, machine: Machine, config: KernelConfig): Kernel | BootFailure {
    const k = new Kernel(sim, machine, config);
    let stage = 'setup_arch';
    try {
      kho_populate(k);
      stage = 'mm_core_init';
      kho_memory_init(k);
      mem_init(k);
      for (const level of LEVELS) {
        for (const call of INITCALLS.filter((c) => c.level === level)) {
          stage = `${level}_initcall ${call.name}`;
          run_boot(call.fn(k));
        }
      }
    } catch (e) {
      if (e instanceof KernelPanic) return new BootFailure(true, stage, e.message);
      throw e;
    }
    k.booting = false;
    return k;
  }

  /** kernel_kexec(): serializes the handover and returns the machine for the next boot. */
  kexec(opts: { cmdline?: string } = {}): Machine {
    return kernel_kexec(this, opts);
  }

  /** Records a non-fatal boot failure (the first one wins). */
  degrade(stage: string, reason: string): void {
    this.pr_warn(`${stage}: ${reason}`);
    this.bootFailure ??= new BootFailure(false, stage, reason);
  }

  pr_info(msg: string): void {
    this.log.push(msg);
    this.sim.note(msg);
  }

  pr_warn(msg: string): void {
    this.log.push(`warning: ${msg}`);
    this.sim.note(`warning: ${msg}`);
  }

  /** WARN_ON(cond): returns cond; a true cond is a model assertion unless panic_on_warn is off. */
  WARN_ON(cond: boolean, msg: string): boolean {
    if (!cond) return false;
    this.warnings.push(msg);
    this.pr_warn(`WARNING: ${msg}`);
    if (this.config.panic_on_warn) throw new ModelAssertion(`WARNING: ${msg}`);
    return true;
  }

  /** WARN_ON_ONCE(cond): as WARN_ON, reported once per `site` per boot. */
  WARN_ON_ONCE(cond: boolean, site: string, msg: string): boolean {
    if (!cond) return false;
    if (this.warnedOnce.has(site)) return true;
    this.warnedOnce.add(site);
    return this.WARN_ON(true, msg);
  }
}
