/**
 * Helpers for KVM and guest_memfd tests: a booted kernel with one process, a VM with a
 * guest_memfd bound at a guest physical address, and a vCPU running a guest program.
 */
import assert from 'node:assert/strict';
import type { Sched, Sim } from '../../src/sim/index.ts';
import { fd_file_peek } from '../../src/linux/fs/file.ts';
import type { Kernel } from '../../src/linux/kernel.ts';
import { GMEM_I, type gmem_inode } from '../../src/linux/virt/kvm/guest_memfd.ts';
import {
  GUEST_MEMFD_FLAG_INIT_SHARED,
  GUEST_MEMFD_FLAG_MMAP,
  KVM_MEM_GUEST_MEMFD,
} from '../../src/linux/include/uapi/linux/kvm.ts';
import type { Process } from '../../src/user/process.ts';
import {
  vm_create,
  vm_create_guest_memfd,
  vm_set_user_memory_region2,
  vm_vcpu_add,
  type KvmVcpu,
  type KvmVm,
} from '../../src/user/kvm_util.ts';
import type { GuestCode } from '../../src/user/guest.ts';
import { withKernel } from './luo.ts';

export const GPA = 0x1_0000_0000;
export const GMEM_SIZE = 16 * 4096;
export const SHARED = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED;

export interface GmemVm {
  readonly vm: KvmVm;
  readonly gmem_fd: number;
}

/** Runs `body` in one task on a fresh kernel with a process (see withKernel). */
export function withKvm(body: (k: Kernel, p: Process, sim: Sim) => Sched): void {
  withKernel(body);
}

export function* must<T>(g: Sched<T | number>, what: string): Sched<T> {
  const r = yield* g;
  if (typeof r === 'number') assert.fail(`${what} failed: ${r}`);
  return r;
}

/** A default VM with a guest_memfd of `size` bytes bound as slot 1 at GPA. */
export function* gmemVm(p: Process, size = GMEM_SIZE, flags = SHARED): Sched<GmemVm> {
  const vm = yield* must(vm_create(p), 'vm_create');
  const gmem_fd = yield* vm_create_guest_memfd(vm, size, flags);
  assert.ok(gmem_fd >= 0, `vm_create_guest_memfd: ${gmem_fd}`);
  const r = yield* vm_set_user_memory_region2(vm, 1, KVM_MEM_GUEST_MEMFD, GPA, size, 0, gmem_fd, 0);
  assert.equal(r, 0);
  return { vm, gmem_fd };
}

export function* vcpuOf(vm: KvmVm, code: GuestCode, id = 0): Sched<KvmVcpu> {
  return yield* must(vm_vcpu_add(vm, id, code), 'vm_vcpu_add');
}

/** The guest_memfd inode behind `fd` in `p`. */
export function gmemInode(p: Process, fd: number): gmem_inode {
  const f = fd_file_peek(p.files, fd);
  assert.ok(f);
  const gi = GMEM_I(f.f_inode);
  assert.ok(gi);
  return gi;
}
