/**
 * Building blocks of the race scenarios that cross a kexec: a system booted in the scenario's
 * setup, a VM with a guest_memfd bound as one memslot and written by a guest, a session holding
 * both, and init's reboot(KEXEC) followed by the next boot, all from syscalls (spec §2.5, §6.3).
 *
 * The racing parts stay small (two or three threads, a few pages) so that DPOR proves each
 * scenario exhaustively; the single-threaded parts (building the VM, the kexec, the checks) run
 * in the scenario's one setup task and cost few scheduling decisions.
 */
import { trackedPfns } from '../../checkers/preserved_pages.ts';
import type { Property } from '../../explore/scenario.ts';
import type { Sched, Sim } from '../../sim/index.ts';
import { GUEST_DONE, guest_store } from '../../user/guest.ts';
import {
  vcpu_run,
  vm_create,
  vm_create_guest_memfd,
  vm_set_user_memory_region2,
  vm_vcpu_add,
  type KvmVm,
} from '../../user/kvm_util.ts';
import {
  luo_create_session,
  luo_open_device,
  luo_session_preserve_fd,
} from '../../user/libliveupdate.ts';
import { Process } from '../../user/process.ts';
import { variantSwitches } from '../../user/kernel_variants.ts';
import { TestSystem, type SystemKernelOptions } from '../../user/two_stage.ts';
import {
  GUEST_MEMFD_FLAG_INIT_SHARED,
  GUEST_MEMFD_FLAG_MMAP,
  KVM_MEM_GUEST_MEMFD,
  LINUX_REBOOT_CMD_KEXEC,
  MAP_SHARED,
  PROT_READ,
} from '../../user/uapi.ts';

/** The kernel a process runs on (scenarios name it only through user/). */
export type Kernel = Process['kernel'];

export const PAGE = 4096;
export const GPA = 2 ** 32;
export const SLOT = 1;
export const VM_TOKEN = 0x1001n;
export const GMEM_TOKEN = 0x1002n;
export const SHARED_FLAGS = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED;

/** The byte the setup guest writes at the start of page `i`. */
export const pageByte = (i: number): number => 0x40 + i;

/** A system booted once, in the scenario's setup (boot is not a scheduling point). */
/** What every live-update race scenario's state starts with: the engine, the system, its kernel. */
export interface SystemState {
  readonly sim: Sim;
  readonly system: TestSystem;
  readonly kernel: Kernel;
  /** The pages the booted kernel preserved before any session (KHO and LUO metadata). */
  readonly baseline: ReadonlySet<number>;
}

export function bootSystem(
  sim: Sim,
  variant: string,
  kernel: SystemKernelOptions = { switches: variantSwitches(variant) },
): SystemState {
  const system = new TestSystem(sim, { variant, kernel });
  const k = system.bootKernel();
  if (k === null) throw new Error(`boot failed: ${system.ksft.failures.join('; ')}`);
  return { sim, system, kernel: k, baseline: trackedPfns(k) };
}

/** Fails the scenario's run (a model problem, not a property): the setup could not proceed. */
export function must(what: string, r: number): number {
  if (r < 0) throw new Error(`${what} = ${r}`);
  return r;
}

/** A default VM with a guest_memfd of `pages` pages bound at GPA. */
export function* vmWithGmem(proc: Process, pages: number): Sched<{ vm: KvmVm; gmem_fd: number }> {
  const vm = yield* vm_create(proc);
  if (typeof vm === 'number') throw new Error(`vm_create = ${vm}`);
  const gmem_fd = must(
    'KVM_CREATE_GUEST_MEMFD',
    yield* vm_create_guest_memfd(vm, pages * PAGE, SHARED_FLAGS),
  );
  must(
    'KVM_SET_USER_MEMORY_REGION2',
    yield* vm_set_user_memory_region2(
      vm,
      SLOT,
      KVM_MEM_GUEST_MEMFD,
      GPA,
      pages * PAGE,
      0,
      gmem_fd,
      0,
    ),
  );
  return { vm, gmem_fd };
}

/** Runs vCPU `id` once over a guest that writes pageByte(i) at the start of each listed page. */
export function* guestWritesPages(vm: KvmVm, id: number, pages: readonly number[]): Sched {
  const vcpu = yield* vm_vcpu_add(vm, id, function* () {
    for (const i of pages) yield* guest_store(GPA + i * PAGE, new Uint8Array([pageByte(i)]));
    yield* GUEST_DONE();
  });
  if (typeof vcpu === 'number') throw new Error(`vm_vcpu_add = ${vcpu}`);
  must('KVM_RUN (setup guest)', yield* vcpu_run(vcpu));
}

/** Opens /dev/liveupdate, creates session `name` and preserves each [fd, token]; the fds. */
export function* preserveSession(
  proc: Process,
  name: string,
  files: ReadonlyArray<readonly [number, bigint]>,
): Sched<{ luo_fd: number; session_fd: number }> {
  const sys = proc.sys;
  const luo_fd = must('open(/dev/liveupdate)', yield* luo_open_device(sys));
  const session_fd = must('CREATE_SESSION', yield* luo_create_session(sys, luo_fd, name));
  for (const [fd, token] of files)
    must(
      `PRESERVE_FD 0x${token.toString(16)}`,
      yield* luo_session_preserve_fd(sys, session_fd, fd, token),
    );
  return { luo_fd, session_fd };
}

/**
 * init's reboot(LINUX_REBOOT_CMD_KEXEC) on the running kernel: on success the next kernel,
 * booted from the machine alone; on failure the errno (everything keeps running).
 */
export function* rebootKexec(system: TestSystem, k: Kernel): Sched<Kernel | number> {
  const init = new Process(k, 'init');
  const ret = yield* init.sys.reboot(LINUX_REBOOT_CMD_KEXEC);
  const next = init.sys.nextMachine;
  if (ret < 0 || next === null) return ret < 0 ? ret : -1;
  system.kexecs++;
  system.machine = next;
  const k2 = system.bootKernel();
  if (k2 === null) throw new Error(`next boot failed: ${system.ksft.failures.join('; ')}`);
  return k2;
}

/** The first byte of page `page` of a guest_memfd, read through a shared mapping; -1 on a
 * signal. */
export function* readGmemByte(
  proc: Process,
  fd: number,
  pages: number,
  page: number,
): Sched<number> {
  const sys = proc.sys;
  const addr = must(
    'mmap(guest_memfd)',
    yield* sys.mmap(0, pages * PAGE, PROT_READ, MAP_SHARED, fd, 0),
  );
  const r = yield* sys.load(addr + page * PAGE, 1);
  must('munmap', yield* sys.munmap(addr, pages * PAGE));
  return r.ok ? (r.bytes[0] ?? 0) : -1;
}

/** A scenario state in which its tasks record the verdicts of their checks, by name. */
export interface RecordedChecks {
  readonly checks: Readonly<Record<string, true | string>>;
}

/**
 * A property whose verdict the scenario's tasks recorded in `checks` under `keys`: the first
 * failure among them, and "not checked" for a key no task recorded (the check was not reached).
 */
export function recordedProperty<S extends RecordedChecks>(
  name: string,
  description: string,
  ...keys: readonly string[]
): Property<S> {
  return {
    name,
    description,
    check: (s) => {
      for (const key of keys) {
        const r = s.checks[key] ?? 'not checked';
        if (r !== true) return r;
      }
      return true;
    },
  };
}
