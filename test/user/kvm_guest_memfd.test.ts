/**
 * KVM_RUN through guest_memfd, driven like a selftest: a guest writes and reads back bytes in a
 * gmem-only memslot (and the host sees them through its own mmap); a frozen guest_memfd refuses
 * fallocate and faults that must allocate (-EPERM with KVM_EXIT_MEMORY_FAULT) while pages that
 * exist stay usable; the KVM_RUN and VM-lifetime rows of Appendix A and spec §5.2 (vm_file).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fd_file_peek } from '../../src/linux/fs/file.ts';
import type { kvm } from '../../src/linux/include/linux/kvm_host.ts';
import { kvm_vm_dead } from '../../src/linux/include/linux/kvm_host.ts';
import * as E from '../../src/linux/include/uapi/asm-generic/errno.ts';
import {
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
} from '../../src/linux/include/uapi/asm-generic/mman.ts';
import {
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
} from '../../src/linux/include/uapi/linux/falloc.ts';
import * as K from '../../src/linux/include/uapi/linux/kvm.ts';
import { kvm_gmem_freeze } from '../../src/linux/virt/kvm/guest_memfd.ts';
import { get_file_active } from '../../src/linux/virt/kvm/kvm_main.ts';
import {
  GUEST_DONE,
  GUEST_SYNC,
  UCALL_DONE,
  UCALL_SYNC,
  guest_check_pattern,
  guest_load,
  guest_store,
  guest_write_pattern,
} from '../../src/user/guest.ts';
import {
  get_ucall,
  vcpu_exit_reason,
  vcpu_memory_fault,
  vcpu_run,
  vm_create,
  vm_vcpu_add,
} from '../../src/user/kvm_util.ts';
import { GMEM_SIZE, GPA, gmemInode, gmemVm, must, vcpuOf, withKvm } from '../helpers/kvm.ts';

const P = 4096;
const pattern = (i: number): number => (i ^ 0x5a) & 0xff;

test('a guest writes a pattern into guest_memfd and reads it back; the host sees it', () => {
  withKvm(function* (_k, p) {
    const { vm, gmem_fd } = yield* gmemVm(p);
    const len = 5 * P + 123;
    const vcpu = yield* vcpuOf(vm, function* () {
      yield* guest_write_pattern(GPA, len, pattern);
      yield* GUEST_SYNC(1);
      yield* guest_check_pattern(GPA, len, pattern);
      yield* GUEST_DONE();
    });
    assert.equal(yield* vcpu_run(vcpu), 0);
    assert.equal((yield* get_ucall(vcpu)).cmd, UCALL_SYNC);
    assert.equal(yield* vcpu_run(vcpu), 0);
    const uc = yield* get_ucall(vcpu);
    assert.equal(uc.cmd, UCALL_DONE, uc.message);
    assert.equal(gmemInode(p, gmem_fd).i_mapping_of().nrpages, 6);
    const host = yield* p.sys.mmap(0, GMEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, gmem_fd, 0);
    const seen = yield* p.sys.load(host + 2 * P, 16);
    assert.ok(seen.ok);
    assert.deepEqual(
      [...seen.bytes],
      Array.from({ length: 16 }, (_, i) => pattern(2 * P + i)),
    );
  });
});

test('frozen: fallocate -EPERM, new faults exit with KVM_EXIT_MEMORY_FAULT, old pages work', () => {
  withKvm(function* (k, p) {
    const { vm, gmem_fd } = yield* gmemVm(p);
    const vcpu = yield* vcpuOf(vm, function* () {
      yield* guest_store(GPA, new Uint8Array([7]));
      yield* GUEST_SYNC(1);
      const old = yield* guest_load(GPA, 1);
      yield* guest_store(GPA + 1, new Uint8Array([old[0] ?? 0]));
      yield* guest_store(GPA + 3 * P, new Uint8Array([9]));
      yield* GUEST_DONE();
    });
    assert.equal(yield* vcpu_run(vcpu), 0);
    const gi = gmemInode(p, gmem_fd);
    yield* kvm_gmem_freeze(k, gi, true);
    assert.equal(yield* p.sys.fallocate(gmem_fd, FALLOC_FL_KEEP_SIZE, P, P), -E.EPERM);
    const punch = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE;
    assert.equal(yield* p.sys.fallocate(gmem_fd, punch, 0, P), -E.EPERM);
    for (let attempt = 0; attempt < 2; attempt++) {
      assert.equal(yield* vcpu_run(vcpu), -E.EPERM);
      assert.equal(yield* vcpu_exit_reason(vcpu), K.KVM_EXIT_MEMORY_FAULT);
      const mf = yield* vcpu_memory_fault(vcpu);
      assert.deepEqual(mf, { flags: 0n, gpa: BigInt(GPA + 3 * P), size: BigInt(P) });
    }
    assert.equal(gi.i_mapping_of().nrpages, 1, 'no folio was added while frozen');
    const m = yield* p.sys.mmap(0, P, PROT_READ, MAP_SHARED, gmem_fd, 0);
    const existing = yield* p.sys.load(m, 2);
    assert.ok(existing.ok);
    assert.deepEqual([...existing.bytes], [7, 7], 'the guest still wrote to its existing page');
    yield* kvm_gmem_freeze(k, gi, false);
    assert.equal(yield* vcpu_run(vcpu), 0, 'unfrozen: the faulting store is retried');
    assert.equal((yield* get_ucall(vcpu)).cmd, UCALL_DONE);
    assert.equal(gi.i_mapping_of().nrpages, 2);
  });
});

test('KVM_RUN and VM ioctl rows: -EINVAL, MMIO, -EINTR, -EIO, -EEXIST', () => {
  withKvm(function* (_k, p) {
    const { vm } = yield* gmemVm(p);
    const vcpu = yield* vcpuOf(vm, function* () {
      yield* guest_load(0x1000, 4);
      yield* GUEST_DONE();
    });
    assert.equal(yield* p.sys.ioctl(vcpu.fd, K.KVM_RUN, new Uint8Array(8)), -E.EINVAL);
    assert.equal(yield* vcpu_run(vcpu), 0);
    assert.equal(yield* vcpu_exit_reason(vcpu), K.KVM_EXIT_MMIO, 'no memslot: MMIO');
    assert.ok((yield* p.sys.store(vcpu.run + 1, new Uint8Array([1]))).ok, 'immediate_exit = 1');
    assert.equal(yield* vcpu_run(vcpu), -E.EINTR);
    assert.equal(yield* vcpu_exit_reason(vcpu), K.KVM_EXIT_INTR);
    assert.ok((yield* p.sys.store(vcpu.run + 1, new Uint8Array([0]))).ok);
    assert.equal(yield* vcpu_run(vcpu), 0);
    assert.equal((yield* get_ucall(vcpu)).cmd, UCALL_DONE);
    assert.equal(yield* vm_vcpu_add(vm, 0, function* () {}), -E.EEXIST);
    assert.equal(yield* vm_vcpu_add(vm, 4096, function* () {}), -E.EINVAL);
    assert.equal(yield* vm_create(p, 7), -E.EINVAL);
    const v = fd_file_peek(p.files, vm.fd)?.private_data as kvm;
    kvm_vm_dead(v);
    assert.equal(yield* vcpu_run(vcpu), -E.EIO);
    assert.equal(yield* p.sys.ioctl(vm.fd, K.KVM_CREATE_VCPU, null), -E.EIO);
  });
});

test('kvm->vm_file is a weak pointer: set at creation, cleared when the VM file is released', () => {
  withKvm(function* (_k, p) {
    const vm = yield* must(vm_create(p), 'vm_create');
    const f = fd_file_peek(p.files, vm.fd);
    assert.ok(f);
    const v = f.private_data as kvm;
    assert.equal(v.vm_file.value, f);
    assert.equal(f.f_count.refs, 1, 'no reference held by vm_file');
    const strong = yield* get_file_active(v.vm_file);
    assert.equal(strong, f);
    assert.equal(f.f_count.refs, 2);
    yield* p.sys.close(vm.fd);
    assert.equal(v.vm_file.value, f, 'still referenced by get_file_active');
    yield* p.sys.close(vm.kvm_fd);
    const gm = yield* gmemVm(p);
    const other = fd_file_peek(p.files, gm.vm.fd)?.private_data as kvm;
    yield* p.sys.close(gm.vm.fd);
    assert.equal(other.vm_file.value, null, 'released: the weak pointer is cleared');
    assert.equal(yield* get_file_active(other.vm_file), null);
    assert.equal(other.users_count.refs, 1, 'the guest_memfd keeps struct kvm alive');
  });
});
