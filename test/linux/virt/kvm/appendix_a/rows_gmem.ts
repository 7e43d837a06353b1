/**
 * Appendix A rows of guest_memfd itself: fallocate, the guest fault (kvm_gmem_get_pfn) and the
 * host mmap fault. "Frozen" is reached as userspace reaches it: by preserving the guest_memfd
 * in a LUO session. Rows that need two CPUs are explored with DFS: the property "this outcome
 * never happens" must be violated, i.e. some interleaving reaches the row.
 */
import assert from 'node:assert/strict';
import type { Sched } from '../../../../../src/sim/index.ts';
import { Machine } from '../../../../../src/machine/machine.ts';
import { BootFailure, Kernel, kernelConfig } from '../../../../../src/linux/kernel.ts';
import * as E from '../../../../../src/linux/include/uapi/asm-generic/errno.ts';
import {
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
} from '../../../../../src/linux/include/uapi/asm-generic/mman.ts';
import {
  FALLOC_FL_KEEP_SIZE as KEEP,
  FALLOC_FL_PUNCH_HOLE as PUNCH,
  FALLOC_FL_ZERO_RANGE,
} from '../../../../../src/linux/include/uapi/linux/falloc.ts';
import * as K from '../../../../../src/linux/include/uapi/linux/kvm.ts';
import { signal_set_pending } from '../../../../../src/linux/include/linux/sched/signal.ts';
import { GUEST_DONE, guest_store } from '../../../../../src/user/guest.ts';
import {
  vcpu_exit_reason,
  vcpu_run,
  vm_create_guest_memfd,
  vm_set_user_memory_region2,
} from '../../../../../src/user/kvm_util.ts';
import { Process } from '../../../../../src/user/process.ts';
import {
  luo_create_session,
  luo_open_device,
  luo_session_preserve_fd,
} from '../../../../../src/user/libliveupdate.ts';
import { GMEM_TOKEN, VM_TOKEN, runBoot } from '../../../../helpers/gmem_handover.ts';
import { GMEM_SIZE, GPA, gmemInode, gmemVm, vcpuOf, type GmemVm } from '../../../../helpers/kvm.ts';
import { LUO_CMDLINE } from '../../../../helpers/luo.ts';
import { explore } from '../../../../helpers/scenario.ts';
import { rowName, type Row } from './row.ts';

const P = 4096;
const SIGBUS = 7;
// The -EIO window (bindings gone, file pointer not yet cleared) needs three preemptions.
const PREEMPTIONS = 3;

/** Preserves the VM and its guest_memfd in a new session: the guest_memfd is frozen. */
export function* freeze(p: Process, g: GmemVm): Sched<number> {
  const luo = yield* luo_open_device(p.sys);
  const s = yield* luo_create_session(p.sys, luo, 'freeze');
  assert.ok(s >= 0);
  assert.equal(yield* luo_session_preserve_fd(p.sys, s, g.vm.fd, VM_TOKEN), 0);
  assert.equal(yield* luo_session_preserve_fd(p.sys, s, g.gmem_fd, GMEM_TOKEN), 0);
  return s;
}

function fallocateRow(
  condition: string,
  result: string,
  call: [mode: number, offset: number, len: number],
  want: number,
  frozen = false,
): Row {
  return {
    name: rowName('fallocate(gmem)', condition, result),
    run: () => {
      runBoot(function* (_k, p) {
        const g = yield* gmemVm(p);
        if (frozen) yield* freeze(p, g);
        assert.equal(yield* p.sys.fallocate(g.gmem_fd, ...call), want);
      });
    },
  };
}

/** fallocate of two pages racing with a preserve of the same guest_memfd. */
function fallocateFrozenMidLoop(): void {
  interface S {
    readonly k: Kernel;
    readonly p: Process;
    ret: number | null;
    pages: number;
  }
  const r = explore<S>(
    {
      setup: (sim) => {
        const m = new Machine({
          boot: { khoFdtPhys: null, scratch: [], kexecCount: 0, cmdline: LUO_CMDLINE },
        });
        const k = Kernel.boot(sim, m, kernelConfig());
        if (k instanceof BootFailure) throw new Error(k.toString());
        return { k, p: new Process(k, 'vmm'), ret: null, pages: 0 };
      },
      tasks: (s) => [
        {
          name: 'vmm',
          *body() {
            const g = yield* gmemVm(s.p);
            const gi = gmemInode(s.p, g.gmem_fd);
            s.k.sim.spawn('fallocate', function* () {
              s.ret = yield* s.p.sys.fallocate(g.gmem_fd, KEEP, 0, 2 * P);
              s.pages = gi.i_mapping_of().nrpages;
            });
            yield* freeze(s.p, g);
          },
        },
      ],
      properties: [
        {
          name: 'fallocate-never-stopped-mid-loop',
          check: (s) =>
            !(s.ret === -E.EPERM && s.pages === 1) || 'fallocate -EPERM after allocating page 0',
        },
      ],
    },
    { preemptions: 2 },
  );
  assert.equal(r.verdict, 'violated', 'some interleaving freezes the inode mid-allocation');
}

/** KVM_RUN of a guest that stores to the first page, racing with the deletion of its slot. */
function getPfnRace(want: number): void {
  interface S {
    readonly k: Kernel;
    readonly p: Process;
    ret: number | null;
  }
  const r = explore<S>(
    {
      setup: (sim) => {
        const k = Kernel.boot(sim, new Machine(), kernelConfig({ panic_on_warn: false }));
        if (k instanceof BootFailure) throw new Error(k.toString());
        return { k, p: new Process(k, 'vmm'), ret: null };
      },
      tasks: (s) => [
        {
          name: 'vmm',
          *body() {
            const g = yield* gmemVm(s.p);
            const vcpu = yield* vcpuOf(g.vm, function* () {
              yield* guest_store(GPA, new Uint8Array([1]));
              yield* GUEST_DONE();
            });
            s.k.sim.spawn('vcpu', function* () {
              s.ret = yield* vcpu_run(vcpu);
            });
            yield* vm_set_user_memory_region2(g.vm, 1, 0, GPA, 0, 0, 0, 0);
          },
        },
      ],
      properties: [{ name: 'row-unreached', check: (s) => s.ret !== want || `KVM_RUN ${want}` }],
    },
    { preemptions: PREEMPTIONS },
  );
  assert.equal(r.verdict, 'violated', `some interleaving makes KVM_RUN return ${want}`);
}

const FAULT = 'guest fault / kvm_gmem_get_pfn';
const HOST = 'host mmap fault';

export const GMEM_ROWS: readonly Row[] = [
  fallocateRow('inode frozen (checked first)', '-EPERM', [0, 1, 1], -E.EPERM, true),
  fallocateRow('mode lacks FALLOC_FL_KEEP_SIZE', '-EOPNOTSUPP', [0, 0, P], -E.EOPNOTSUPP),
  fallocateRow(
    'mode has bits other than KEEP_SIZE / PUNCH_HOLE',
    '-EOPNOTSUPP',
    [KEEP | FALLOC_FL_ZERO_RANGE, 0, P],
    -E.EOPNOTSUPP,
  ),
  fallocateRow('offset or len not page aligned', '-EINVAL', [KEEP | PUNCH, 0, P + 1], -E.EINVAL),
  fallocateRow('allocate: offset+len > size', '-EINVAL', [KEEP, GMEM_SIZE - P, 2 * P], -E.EINVAL),
  {
    name: rowName('fallocate(gmem)', 'allocate: signal pending', '-EINTR'),
    run: () => {
      runBoot(function* (_k, p, sim) {
        const g = yield* gmemVm(p);
        signal_set_pending(sim, sim.current ?? 0);
        assert.equal(yield* p.sys.fallocate(g.gmem_fd, KEEP, 0, P), -E.EINTR);
      });
    },
  },
  {
    name: rowName(
      'fallocate(gmem)',
      'allocate: became frozen mid-loop',
      '-EPERM (partial allocation kept)',
    ),
    run: fallocateFrozenMidLoop,
  },
  {
    name: rowName(FAULT, 'page absent and inode frozen', '-EPERM (exit to userspace)'),
    run: () => {
      runBoot(function* (_k, p) {
        const g = yield* gmemVm(p);
        const vcpu = yield* vcpuOf(g.vm, function* () {
          yield* guest_store(GPA + P, new Uint8Array([1]));
          yield* GUEST_DONE();
        });
        yield* freeze(p, g);
        assert.equal(yield* vcpu_run(vcpu), -E.EPERM);
        assert.equal(yield* vcpu_exit_reason(vcpu), K.KVM_EXIT_MEMORY_FAULT);
      });
    },
  },
  {
    name: rowName(FAULT, '(pre-existing) no file', '-EFAULT'),
    run: () => {
      runBoot(function* (_k, p) {
        const g = yield* gmemVm(p);
        const vcpu = yield* vcpuOf(g.vm, function* () {
          yield* guest_store(GPA, new Uint8Array([1]));
          yield* GUEST_DONE();
        });
        assert.equal(yield* p.sys.close(g.gmem_fd), 0);
        assert.equal(yield* vcpu_run(vcpu), -E.EFAULT);
        assert.equal(yield* vcpu_exit_reason(vcpu), K.KVM_EXIT_MEMORY_FAULT);
      });
    },
  },
  {
    name: rowName(FAULT, '(pre-existing) file mismatch', '-EFAULT'),
    run: () => {
      getPfnRace(-E.EFAULT);
    },
  },
  {
    name: rowName(FAULT, '(pre-existing) binding mismatch', '-EIO'),
    run: () => {
      getPfnRace(-E.EIO);
    },
  },
  {
    name: rowName(FAULT, '(pre-existing) hwpoison', '-EHWPOISON'),
    skip:
      'the model has no memory-failure (hwpoison) state: no folio can be poisoned, so ' +
      'kvm_gmem_get_pfn never returns -EHWPOISON (guest_memfd.ts, Abstracted 2)',
  },
  {
    name: rowName(HOST, 'page absent and frozen', 'SIGBUS'),
    run: () => {
      runBoot(function* (_k, p) {
        const g = yield* gmemVm(p);
        const a = yield* p.sys.mmap(0, GMEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, g.gmem_fd, 0);
        assert.ok((yield* p.sys.store(a, new Uint8Array([7]))).ok);
        yield* freeze(p, g);
        const present = yield* p.sys.load(a, 1);
        assert.ok(present.ok && present.bytes[0] === 7, 'a present page stays readable');
        const absent = yield* p.sys.load(a + P, 1);
        assert.ok(!absent.ok && absent.signal === SIGBUS);
      });
    },
  },
  {
    name: rowName(HOST, 'beyond size, or inode without INIT_SHARED', 'SIGBUS'),
    run: () => {
      runBoot(function* (_k, p) {
        const g = yield* gmemVm(p);
        const a = yield* p.sys.mmap(0, GMEM_SIZE + P, PROT_READ, MAP_SHARED, g.gmem_fd, 0);
        const beyond = yield* p.sys.load(a + GMEM_SIZE, 1);
        assert.ok(!beyond.ok && beyond.signal === SIGBUS, 'beyond the size');
        const fd = yield* vm_create_guest_memfd(g.vm, P, K.GUEST_MEMFD_FLAG_MMAP);
        const b = yield* p.sys.mmap(0, P, PROT_READ, MAP_SHARED, fd, 0);
        const noInit = yield* p.sys.load(b, 1);
        assert.ok(!noInit.ok && noInit.signal === SIGBUS, 'without INIT_SHARED');
      });
    },
  },
];
