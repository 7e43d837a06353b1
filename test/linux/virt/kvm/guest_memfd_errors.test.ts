/**
 * Appendix A, the rows about KVM_CREATE_GUEST_MEMFD, fallocate, memslots and host mmap: each
 * row is one call through the syscall layer on a fresh kernel and VM, compared with the exact
 * errno (or signal). Frozen rows freeze the inode with kvm_gmem_freeze, as a preserve would.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Sched } from '../../../../src/sim/index.ts';
import * as E from '../../../../src/linux/include/uapi/asm-generic/errno.ts';
import {
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_READ,
} from '../../../../src/linux/include/uapi/asm-generic/mman.ts';
import {
  FALLOC_FL_KEEP_SIZE as KEEP,
  FALLOC_FL_PUNCH_HOLE as PUNCH,
  FALLOC_FL_ZERO_RANGE,
} from '../../../../src/linux/include/uapi/linux/falloc.ts';
import * as K from '../../../../src/linux/include/uapi/linux/kvm.ts';
import { kvm_gmem_freeze } from '../../../../src/linux/virt/kvm/guest_memfd.ts';
import {
  vm_create,
  vm_create_guest_memfd,
  vm_set_user_memory_region2,
  type KvmVm,
} from '../../../../src/user/kvm_util.ts';
import { signal_set_pending } from '../../../../src/linux/include/linux/sched/signal.ts';
import { gmemInode, gmemVm, GPA, GMEM_SIZE, must, SHARED, withKvm } from '../../../helpers/kvm.ts';
import type { Kernel } from '../../../../src/linux/kernel.ts';
import type { Process } from '../../../../src/user/process.ts';

const P = 4096;
const SIGBUS = 7;

test('KVM_CREATE_GUEST_MEMFD validation', () => {
  const rows: [string, number, bigint | number, bigint, number][] = [
    ['ok, MMAP|INIT_SHARED', K.KVM_X86_DEFAULT_VM, GMEM_SIZE, SHARED, 0],
    ['ok, MMAP only', K.KVM_X86_DEFAULT_VM, P, K.GUEST_MEMFD_FLAG_MMAP, 0],
    ['unknown flag bit 2', K.KVM_X86_DEFAULT_VM, P, 1n << 2n, -E.EINVAL],
    ['FROZEN is not a uAPI bit', K.KVM_X86_DEFAULT_VM, P, 1n << 63n, -E.EINVAL],
    [
      'INIT_SHARED on a VM with private memory',
      K.KVM_X86_SW_PROTECTED_VM,
      P,
      K.GUEST_MEMFD_FLAG_INIT_SHARED,
      -E.EINVAL,
    ],
    ['size 0', K.KVM_X86_DEFAULT_VM, 0, 0n, -E.EINVAL],
    ['size not page aligned', K.KVM_X86_DEFAULT_VM, P + 1, 0n, -E.EINVAL],
    ['negative loff_t size', K.KVM_X86_DEFAULT_VM, 2n ** 64n - BigInt(P), 0n, -E.EINVAL],
  ];
  for (const [what, type, size, flags, want] of rows) {
    withKvm(function* (_k, p) {
      const vm = yield* must(vm_create(p, type), 'vm_create');
      const r = yield* vm_create_guest_memfd(vm, size, flags);
      if (want === 0) assert.ok(r >= 0, `${what}: ${r}`);
      else assert.equal(r, want, what);
    });
  }
  withKvm(function* (_k, p) {
    const vm = yield* must(vm_create(p), 'vm_create');
    assert.equal(yield* p.sys.ioctl(vm.fd, K.KVM_CREATE_GUEST_MEMFD, null), -E.EFAULT);
  });
});

type Row = [string, number, number, number, number, number];

/** [what, mode, offset, len, errno unfrozen, errno frozen]: frozen wins over every other error. */
const FALLOCATE_ROWS: Row[] = [
  ['allocate', KEEP, 0, 2 * P, 0, -E.EPERM],
  ['punch hole', KEEP | PUNCH, 0, P, 0, -E.EPERM],
  ['no KEEP_SIZE', 0, 0, P, -E.EOPNOTSUPP, -E.EPERM],
  ['ZERO_RANGE', KEEP | FALLOC_FL_ZERO_RANGE, 0, P, -E.EOPNOTSUPP, -E.EPERM],
  ['unaligned offset', KEEP, 1, P, -E.EINVAL, -E.EPERM],
  ['unaligned len', KEEP | PUNCH, 0, P + 1, -E.EINVAL, -E.EPERM],
  ['allocate past the size', KEEP, GMEM_SIZE - P, 2 * P, -E.EINVAL, -E.EPERM],
];

test('fallocate errors, unfrozen and frozen (-EPERM first)', () => {
  for (const frozen of [false, true])
    for (const [what, mode, off, len, want, wantFrozen] of FALLOCATE_ROWS) {
      withKvm(function* (k, p) {
        const { gmem_fd } = yield* gmemVm(p);
        if (frozen) yield* kvm_gmem_freeze(k, gmemInode(p, gmem_fd), true);
        const r = yield* p.sys.fallocate(gmem_fd, mode, off, len);
        assert.equal(r, frozen ? wantFrozen : want, `${what}${frozen ? ' (frozen)' : ''}`);
      });
    }
});

test('fallocate: a signal ends allocation with -EINTR; unfreeze allows it again', () => {
  withKvm(function* (k, p, sim) {
    const { gmem_fd } = yield* gmemVm(p);
    const gi = gmemInode(p, gmem_fd);
    yield* kvm_gmem_freeze(k, gi, true);
    yield* kvm_gmem_freeze(k, gi, false);
    assert.equal(yield* p.sys.fallocate(gmem_fd, KEEP, 0, P), 0);
    assert.equal(gi.i_mapping_of().nrpages, 1);
    signal_set_pending(sim, sim.current ?? 0);
    assert.equal(yield* p.sys.fallocate(gmem_fd, KEEP, P, P), -E.EINTR);
    assert.equal(gi.i_mapping_of().nrpages, 1);
  });
});

type SlotRow = [string, (k: Kernel, p: Process, ctx: SlotCtx) => Sched<number>, number];
interface SlotCtx {
  vm: KvmVm;
  gmem_fd: number;
}

const G = K.KVM_MEM_GUEST_MEMFD;
const SLOT_ROWS: SlotRow[] = [
  ['ok', (_k, _p, c) => vm_set_user_memory_region2(c.vm, 1, G, GPA, GMEM_SIZE, 0, c.gmem_fd, 0), 0],
  [
    'slot id too large',
    (_k, _p, c) =>
      vm_set_user_memory_region2(c.vm, K.KVM_USER_MEM_SLOTS, G, GPA, P, 0, c.gmem_fd, 0),
    -E.EINVAL,
  ],
  [
    'unknown flag',
    (_k, _p, c) => vm_set_user_memory_region2(c.vm, 1, 1 << 5, GPA, P, 0, -1, 0),
    -E.EINVAL,
  ],
  [
    'GUEST_MEMFD with LOG_DIRTY',
    (_k, _p, c) =>
      vm_set_user_memory_region2(c.vm, 1, G | K.KVM_MEM_LOG_DIRTY_PAGES, GPA, P, 0, c.gmem_fd, 0),
    -E.EINVAL,
  ],
  [
    'GUEST_MEMFD with READONLY',
    (_k, _p, c) =>
      vm_set_user_memory_region2(c.vm, 1, G | K.KVM_MEM_READONLY, GPA, P, 0, c.gmem_fd, 0),
    -E.EINVAL,
  ],
  [
    'size unaligned',
    (_k, _p, c) => vm_set_user_memory_region2(c.vm, 1, G, GPA, P + 1, 0, c.gmem_fd, 0),
    -E.EINVAL,
  ],
  [
    'gpa unaligned',
    (_k, _p, c) => vm_set_user_memory_region2(c.vm, 1, G, GPA + 1, P, 0, c.gmem_fd, 0),
    -E.EINVAL,
  ],
  [
    'hva unaligned',
    (_k, _p, c) => vm_set_user_memory_region2(c.vm, 1, G, GPA, P, 1, c.gmem_fd, 0),
    -E.EINVAL,
  ],
  [
    'gmem offset unaligned',
    (_k, _p, c) => vm_set_user_memory_region2(c.vm, 1, G, GPA, P, 0, c.gmem_fd, 1),
    -E.EINVAL,
  ],
  [
    'delete an empty slot',
    (_k, _p, c) => vm_set_user_memory_region2(c.vm, 1, 0, GPA, 0, 0, -1, 0),
    -E.EINVAL,
  ],
  [
    'bad guest_memfd fd',
    (_k, _p, c) => vm_set_user_memory_region2(c.vm, 1, G, GPA, P, 0, 99, 0),
    -E.EBADF,
  ],
  [
    'not a guest_memfd',
    (_k, _p, c) => vm_set_user_memory_region2(c.vm, 1, G, GPA, P, 0, c.vm.fd, 0),
    -E.EINVAL,
  ],
  [
    'range past the guest_memfd size',
    (_k, _p, c) => vm_set_user_memory_region2(c.vm, 1, G, GPA, P, 0, c.gmem_fd, GMEM_SIZE),
    -E.EINVAL,
  ],
  [
    "another VM's guest_memfd",
    function* (_k, p, c) {
      const other = yield* must(vm_create(p), 'vm_create');
      const fd = yield* vm_create_guest_memfd(other, P, SHARED);
      return yield* vm_set_user_memory_region2(c.vm, 1, G, GPA, P, 0, fd, 0);
    },
    -E.EINVAL,
  ],
  [
    'overlapping gpa',
    function* (_k, _p, c) {
      yield* vm_set_user_memory_region2(c.vm, 1, G, GPA, P, 0, c.gmem_fd, 0);
      return yield* vm_set_user_memory_region2(c.vm, 2, G, GPA, P, 0, c.gmem_fd, P);
    },
    -E.EEXIST,
  ],
  [
    'guest_memfd range bound twice',
    function* (_k, _p, c) {
      yield* vm_set_user_memory_region2(c.vm, 1, G, GPA, P, 0, c.gmem_fd, 0);
      return yield* vm_set_user_memory_region2(c.vm, 2, G, GPA + P, P, 0, c.gmem_fd, 0);
    },
    -E.EEXIST,
  ],
  [
    'changing a guest_memfd slot',
    function* (_k, _p, c) {
      yield* vm_set_user_memory_region2(c.vm, 1, G, GPA, P, 0, c.gmem_fd, 0);
      return yield* vm_set_user_memory_region2(c.vm, 1, G, GPA + P, P, 0, c.gmem_fd, P);
    },
    -E.EINVAL,
  ],
  [
    'delete then rebind',
    function* (_k, _p, c) {
      yield* vm_set_user_memory_region2(c.vm, 1, G, GPA, P, 0, c.gmem_fd, 0);
      assert.equal(yield* vm_set_user_memory_region2(c.vm, 1, 0, GPA, 0, 0, 0, 0), 0);
      return yield* vm_set_user_memory_region2(c.vm, 2, G, GPA, P, 0, c.gmem_fd, 0);
    },
    0,
  ],
  [
    'v1 ioctl with GUEST_MEMFD',
    function* (_k, p, c) {
      const arg = K.kvm_userspace_memory_region.encode({
        slot: 1,
        flags: G,
        guest_phys_addr: BigInt(GPA),
        memory_size: BigInt(P),
        userspace_addr: 0n,
      });
      return yield* p.sys.ioctl(c.vm.fd, K.KVM_SET_USER_MEMORY_REGION, arg);
    },
    -E.EINVAL,
  ],
];

test('KVM_SET_USER_MEMORY_REGION2 validation', () => {
  for (const [what, call, want] of SLOT_ROWS) {
    withKvm(function* (k, p) {
      const vm = yield* must(vm_create(p), 'vm_create');
      const gmem_fd = yield* vm_create_guest_memfd(vm, GMEM_SIZE, SHARED);
      assert.equal(yield* call(k, p, { vm, gmem_fd }), want, what);
    });
  }
});

test('host mmap of a guest_memfd: -ENODEV, -EINVAL and the SIGBUS cases', () => {
  withKvm(function* (k, p) {
    const vm = yield* must(vm_create(p), 'vm_create');
    const none = yield* vm_create_guest_memfd(vm, P, 0n);
    assert.equal(yield* p.sys.mmap(0, P, PROT_READ, MAP_SHARED, none, 0), -E.ENODEV);
    const mmapOnly = yield* vm_create_guest_memfd(vm, P, K.GUEST_MEMFD_FLAG_MMAP);
    assert.equal(yield* p.sys.mmap(0, P, PROT_READ, MAP_PRIVATE, mmapOnly, 0), -E.EINVAL);
    const a = yield* p.sys.mmap(0, P, PROT_READ, MAP_SHARED, mmapOnly, 0);
    assert.ok(a >= 0);
    const noInit = yield* p.sys.load(a, 1);
    assert.ok(!noInit.ok && noInit.signal === SIGBUS, 'no INIT_SHARED: SIGBUS');
    const shared = yield* vm_create_guest_memfd(vm, 2 * P, SHARED);
    const b = yield* p.sys.mmap(0, 3 * P, PROT_READ | 2, MAP_SHARED, shared, 0);
    assert.ok(b >= 0);
    const beyond = yield* p.sys.load(b + 2 * P, 1);
    assert.ok(!beyond.ok && beyond.signal === SIGBUS, 'beyond the size: SIGBUS');
    assert.ok((yield* p.sys.store(b, new Uint8Array([0x5a]))).ok);
    yield* kvm_gmem_freeze(k, gmemInode(p, shared), true);
    const present = yield* p.sys.load(b, 1);
    assert.ok(present.ok && present.bytes[0] === 0x5a, 'a present page stays readable when frozen');
    const absent = yield* p.sys.load(b + P, 1);
    assert.ok(!absent.ok && absent.signal === SIGBUS, 'an absent page when frozen: SIGBUS');
  });
});
