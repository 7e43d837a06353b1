/**
 * Punch hole on an unfrozen guest_memfd: the folios it removes disappear from every mapping of
 * them, the guest's (the SPTEs, kvm_gmem_invalidate) and the host's (truncate_inode_pages_range
 * unmaps what it removes), also at offsets past 2 GiB, where page indices no longer fit a 32-bit
 * shift.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fd_file_peek } from '../../../../src/linux/fs/file.ts';
import type { kvm } from '../../../../src/linux/include/linux/kvm_host.ts';
import {
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
} from '../../../../src/linux/include/uapi/asm-generic/mman.ts';
import {
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
} from '../../../../src/linux/include/uapi/linux/falloc.ts';
import { GUEST_DONE, guest_store } from '../../../../src/user/guest.ts';
import { vcpu_run } from '../../../../src/user/kvm_util.ts';
import { GMEM_SIZE, GPA, gmemInode, gmemVm, vcpuOf, withKvm } from '../../../helpers/kvm.ts';

const PAGE = 4096;
const PUNCH = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE;

test('punch hole past 2 GiB zaps the guest mapping of the page it frees', () => {
  withKvm(function* (_k, p) {
    const offset = 2 ** 31;
    const { vm, gmem_fd } = yield* gmemVm(p, offset + 2 * PAGE);
    const vcpu = yield* vcpuOf(vm, function* () {
      yield* guest_store(GPA + offset, new Uint8Array([0x11]));
      yield* GUEST_DONE();
    });
    assert.equal(yield* vcpu_run(vcpu), 0);
    const v = fd_file_peek(p.files, vm.fd)?.private_data as kvm;
    const gfn = (GPA + offset) / PAGE;
    const m = gmemInode(p, gmem_fd).i_mapping_of();
    assert.equal(v.spte.get(gfn), m.i_pages.get(offset / PAGE)?.pfn, 'the guest maps the folio');
    assert.equal(yield* p.sys.fallocate(gmem_fd, PUNCH, offset, PAGE), 0);
    assert.equal(m.nrpages, 0);
    assert.equal(v.spte.get(gfn), undefined, 'no SPTE left to the freed page');
  });
});

test('punch hole unmaps the page from the host mapping: it reads back as zero', () => {
  withKvm(function* (_k, p) {
    const { gmem_fd } = yield* gmemVm(p);
    const host = yield* p.sys.mmap(0, GMEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, gmem_fd, 0);
    assert.ok(host >= 0);
    assert.ok((yield* p.sys.store(host, new Uint8Array([0x77]))).ok);
    assert.equal(yield* p.sys.fallocate(gmem_fd, PUNCH, 0, PAGE), 0);
    const m = gmemInode(p, gmem_fd).i_mapping_of();
    assert.equal(m.nrpages, 0);
    // The next access faults a new, zeroed folio in.
    const after = yield* p.sys.load(host, 1);
    assert.ok(after.ok);
    assert.equal(after.bytes[0], 0);
    assert.equal(m.nrpages, 1);
  });
});
