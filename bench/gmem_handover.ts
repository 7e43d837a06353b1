/**
 * A fully populated guest_memfd across a live update: preserve (freeze and two page-cache walks,
 * one KHO preservation per folio), kexec (LUO freeze, KHO serialization, scrub), the next boot
 * (KHO tracker walk) and retrieve (one KHO restore and page-cache insertion per folio).
 * Populating (fallocate of the whole file) is timed apart. Folios are allocated but never
 * written, so the machine stores no page bytes for them: memory follows the page cache.
 */
import { Execution } from '../src/sim/index.ts';
import { BootFailure, Kernel, kernelConfig } from '../src/linux/kernel.ts';
import { Machine } from '../src/machine/machine.ts';
import { Process } from '../src/user/process.ts';
import { vm_create, vm_create_guest_memfd } from '../src/user/kvm_util.ts';
import {
  luo_create_session,
  luo_open_device,
  luo_retrieve_session,
  luo_session_preserve_fd,
  luo_session_retrieve_fd,
} from '../src/user/libliveupdate.ts';
import {
  FALLOC_FL_KEEP_SIZE,
  GUEST_MEMFD_FLAG_INIT_SHARED,
  GUEST_MEMFD_FLAG_MMAP,
  LINUX_REBOOT_CMD_KEXEC,
} from '../src/user/uapi.ts';
import { coldBootParams } from '../src/machine/machine.ts';

export interface HandoverFigures {
  folios: number;
  populateSeconds: number;
  preserveSeconds: number;
  kexecSeconds: number;
  bootSeconds: number;
  retrieveSeconds: number;
  foliosPerSecond: number;
  heapMiB: number;
}

const GiB = 1024 ** 3;

export function benchGmemHandover(sizeBytes: number): HandoverFigures {
  const ex = new Execution(
    { pickTask: (_e, _c, d) => d, pickChoice: () => 0 },
    { stepsMax: Number.MAX_SAFE_INTEGER, trace: false },
  );
  const machine = new Machine({
    memSize: sizeBytes + 8 * GiB,
    boot: coldBootParams('liveupdate=on'),
  });
  const k = Kernel.boot(ex, machine, kernelConfig());
  if (k instanceof BootFailure) throw new Error(k.toString());
  const t: number[] = [];
  const folios = sizeBytes / 4096;
  let retrievedFolios = -1;
  ex.spawn('vmm', function* () {
    const p = new Process(k, 'vmm');
    const vm = yield* vm_create(p);
    if (typeof vm === 'number') throw new Error(`vm_create ${vm}`);
    const flags = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED;
    const gmem = yield* vm_create_guest_memfd(vm, sizeBytes, flags);
    t.push(performance.now());
    const fa = yield* p.sys.fallocate(gmem, FALLOC_FL_KEEP_SIZE, 0, sizeBytes);
    if (fa !== 0) throw new Error(`fallocate ${fa}`);
    t.push(performance.now());
    const luo = yield* luo_open_device(p.sys);
    const s = yield* luo_create_session(p.sys, luo, 'bench');
    if ((yield* luo_session_preserve_fd(p.sys, s, vm.fd, 0x1001n)) !== 0) throw new Error('vm');
    const pr = yield* luo_session_preserve_fd(p.sys, s, gmem, 0x1002n);
    if (pr !== 0) throw new Error(`preserve ${pr}`);
    t.push(performance.now());
    const rb = yield* p.sys.reboot(LINUX_REBOOT_CMD_KEXEC);
    if (rb !== 0) throw new Error(`reboot ${rb}`);
    t.push(performance.now());
    const next = p.sys.nextMachine;
    if (next === null) throw new Error('no machine after kexec');
    const k2 = Kernel.boot(ex, next, kernelConfig());
    if (k2 instanceof BootFailure) throw new Error(k2.toString());
    t.push(performance.now());
    const p2 = new Process(k2, 'vmm2');
    const luo2 = yield* luo_open_device(p2.sys);
    const s2 = yield* luo_retrieve_session(p2.sys, luo2, 'bench');
    const vmfd = yield* luo_session_retrieve_fd(p2.sys, s2, 0x1001n);
    const gfd = yield* luo_session_retrieve_fd(p2.sys, s2, 0x1002n);
    if (vmfd < 0 || gfd < 0) throw new Error(`retrieve ${vmfd} ${gfd}`);
    t.push(performance.now());
    retrievedFolios = folios;
  });
  const r = ex.run();
  if (r.outcome.kind !== 'complete') throw new Error(JSON.stringify(r.outcome));
  if (retrievedFolios !== folios) throw new Error('the handover did not complete');
  const [t0 = 0, t1 = 0, t2 = 0, t3 = 0, t4 = 0, t5 = 0] = t;
  const endToEnd = (t5 - t1) / 1000;
  return {
    folios,
    populateSeconds: (t1 - t0) / 1000,
    preserveSeconds: (t2 - t1) / 1000,
    kexecSeconds: (t3 - t2) / 1000,
    bootSeconds: (t4 - t3) / 1000,
    retrieveSeconds: (t5 - t4) / 1000,
    foliosPerSecond: folios / endToEnd,
    heapMiB: process.memoryUsage().heapUsed / 2 ** 20,
  };
}

if (process.argv[2] === '--size') {
  const gib = Number(process.argv[3] ?? '1');
  console.log(JSON.stringify(benchGmemHandover(gib * GiB), null, 1));
}
