/**
 * Helpers for guest_memfd preservation tests across a kexec, through syscalls: boot a kernel of
 * a chosen revision (config switches), preserve a VM (token 0x1001), its guest_memfd (0x1002)
 * and optionally a memfd (0x1003) in session "gmem", reboot into the next machine, locate the
 * handover records from the bytes alone (with the `luosim inspect` decoder), and boot stage 2.
 */
import assert from 'node:assert/strict';
import type { Sched, Sim } from '../../src/sim/index.ts';
import { Machine } from '../../src/machine/machine.ts';
import { PAGE_SIZE } from '../../src/linux/include/asm-generic/page.ts';
import {
  KHO_VMALLOC_CHUNK_OFF_PHYS,
  kho_vmalloc_decode,
} from '../../src/linux/include/linux/kho/abi/kexec_handover.ts';
import { GUEST_MEMFD_LUO_SER_FOLIOS_OFFSET } from '../../src/linux/include/linux/kho/abi/kvm.ts';
import { FALLOC_FL_KEEP_SIZE } from '../../src/linux/include/uapi/linux/falloc.ts';
import { LINUX_REBOOT_CMD_KEXEC } from '../../src/linux/include/uapi/linux/reboot.ts';
import type { Kernel } from '../../src/linux/kernel.ts';
import { Process } from '../../src/user/process.ts';
import { vm_create, vm_create_guest_memfd, type KvmVm } from '../../src/user/kvm_util.ts';
import {
  create_and_preserve_memfd,
  luo_create_session,
  luo_open_device,
  luo_retrieve_session,
  luo_session_preserve_fd,
} from '../../src/user/libliveupdate.ts';
import { decodeHandover } from '../../src/cli/inspect/decode.ts';
import { boot, newSim } from './kernel.ts';
import { SHARED, must } from './kvm.ts';
import { LUO_CMDLINE } from './luo.ts';

export const VM_TOKEN = 0x1001n;
export const GMEM_TOKEN = 0x1002n;
export const MEMFD_TOKEN = 0x1003n;
export const SESSION = 'gmem';
export const GMEM_PAGES = 16;

/** Kernel revision and options of one boot. */
export interface BootOpts {
  readonly switches?: Readonly<Record<string, boolean>>;
  /** false: a WARN is recorded in k.warnings instead of failing the run. */
  readonly panic_on_warn?: boolean;
  readonly kexec_handover_debug?: boolean;
  readonly cmdline?: string;
}

export const REVISIONS: readonly { name: string; switches: Record<string, boolean> }[] = [
  { name: 'rfc-v2', switches: {} },
  { name: 'v3', switches: { 'gmem-luo-v3': true } },
  { name: 'post-v3', switches: { 'gmem-luo-post-v3': true } },
];

/** Boots `machine` (a cold one by default) and runs `body` as one process in one task. */
export function runBoot(
  body: (k: Kernel, p: Process, sim: Sim) => Sched,
  opts: BootOpts = {},
  machine: Machine | null = null,
): void {
  const m =
    machine ??
    new Machine({
      boot: { khoFdtPhys: null, scratch: [], kexecCount: 0, cmdline: opts.cmdline ?? LUO_CMDLINE },
    });
  const sim = newSim();
  const k = boot(sim, m, {
    switches: opts.switches ?? {},
    panic_on_warn: opts.panic_on_warn ?? true,
    kexec_handover_debug: opts.kexec_handover_debug ?? false,
  });
  sim.spawn('prog', () => body(k, new Process(k, 'prog'), sim));
  const r = sim.run();
  if (r.outcome.kind !== 'complete') assert.fail(`run ended with ${JSON.stringify(r.outcome)}`);
}

export interface Preserved {
  readonly vm: KvmVm;
  readonly gmem_fd: number;
  readonly session: number;
}

/** A VM of `vmType` and its guest_memfd with `pages` pages allocated, both preserved. */
export function* preserveGmem(
  p: Process,
  opts: { vmType?: number; flags?: bigint; pages?: number; memfd?: boolean } = {},
): Sched<Preserved> {
  const vm = yield* must(vm_create(p, opts.vmType), 'vm_create');
  const gmem_fd = yield* vm_create_guest_memfd(vm, GMEM_PAGES * PAGE_SIZE, opts.flags ?? SHARED);
  assert.ok(gmem_fd >= 0, `vm_create_guest_memfd: ${gmem_fd}`);
  const pages = opts.pages ?? 3;
  if (pages > 0)
    assert.equal(yield* p.sys.fallocate(gmem_fd, FALLOC_FL_KEEP_SIZE, 0, pages * PAGE_SIZE), 0);
  const luo = yield* luo_open_device(p.sys);
  assert.ok(luo >= 0, `open /dev/liveupdate: ${luo}`);
  const session = yield* luo_create_session(p.sys, luo, SESSION);
  assert.ok(session >= 0, `create session: ${session}`);
  assert.equal(yield* luo_session_preserve_fd(p.sys, session, vm.fd, VM_TOKEN), 0);
  assert.equal(yield* luo_session_preserve_fd(p.sys, session, gmem_fd, GMEM_TOKEN), 0);
  if (opts.memfd === true)
    assert.equal(yield* create_and_preserve_memfd(p.sys, session, MEMFD_TOKEN, 'state'), 0);
  return { vm, gmem_fd, session };
}

/** Stage 1: preserve (see preserveGmem) and kexec; the next machine. */
export function kexecWithGmem(
  opts: BootOpts & { vmType?: number; pages?: number; memfd?: boolean } = {},
): Machine {
  let next: Machine | null = null;
  runBoot(function* (_k, p) {
    yield* preserveGmem(p, opts);
    assert.equal(yield* p.sys.reboot(LINUX_REBOOT_CMD_KEXEC), 0);
    next = p.sys.nextMachine;
  }, opts);
  assert.ok(next);
  return next;
}

/** Where the handover put each thing, found from the bytes as the next kernel would. */
export interface Handover {
  /** Physical address of each file's `luo_file_ser.data`, by token. */
  readonly dataField: ReadonlyMap<bigint, number>;
  readonly vmSer: number;
  readonly gmemSer: number;
  /** The first chunk of the guest_memfd folio array and its first array page. */
  readonly gmemChunk: number;
  readonly gmemArray: number;
}

export function locate(machine: Machine): Handover {
  const h = decodeHandover(machine);
  const session = h?.luo?.sessions.find((s) => s.name === SESSION);
  assert.ok(session, `session "${SESSION}" in the handover`);
  const dataField = new Map<bigint, number>();
  // One file block: a 16-byte header, then 64-byte luo_file_ser entries with data at 48.
  session.files.forEach((f, i) =>
    dataField.set(f.token, Number(session.filesPa) + 16 + 64 * i + 48),
  );
  const ser = (token: bigint): number => {
    const f = session.files.find((x) => x.token === token);
    assert.ok(f, `token ${token} in the handover`);
    return Number(f.data);
  };
  const mem = machine.physmem;
  const gmemSer = ser(GMEM_TOKEN);
  const desc = kho_vmalloc_decode(mem.read(gmemSer + GUEST_MEMFD_LUO_SER_FOLIOS_OFFSET, 16));
  const gmemArray = Number(mem.readU64(desc.first + KHO_VMALLOC_CHUNK_OFF_PHYS));
  return { dataField, vmSer: ser(VM_TOKEN), gmemSer, gmemChunk: desc.first, gmemArray };
}

/** Stage 2: boots `machine`, retrieves session "gmem" and runs `body` with its fd. */
export function afterKexec(
  machine: Machine,
  opts: BootOpts,
  body: (k: Kernel, p: Process, session: number) => Sched,
): void {
  runBoot(
    function* (k, p) {
      const luo = yield* luo_open_device(p.sys);
      assert.ok(luo >= 0, `open /dev/liveupdate: ${luo}`);
      const session = yield* luo_retrieve_session(p.sys, luo, SESSION);
      assert.ok(session >= 0, `retrieve session: ${session}`);
      yield* body(k, p, session);
    },
    opts,
    machine,
  );
}
