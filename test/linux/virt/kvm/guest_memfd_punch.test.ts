/**
 * Punch hole on an unfrozen guest_memfd: the folios it removes disappear from every mapping of
 * them, the guest's (the SPTEs, kvm_gmem_invalidate_begin) and the host's
 * (truncate_inode_pages_range unmaps what it removes), also at offsets past 2 GiB, where page
 * indices no longer fit a 32-bit shift; and in every interleaving with a guest fault on the
 * same page, no SPTE is left pointing at the folio the punch frees (a fault during the
 * invalidation retries until it ends).
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
import { check } from '../../../../src/explore/check.ts';
import { defineScenario } from '../../../../src/explore/scenario.ts';
import type { Kernel } from '../../../../src/linux/kernel.ts';
import { Machine } from '../../../../src/machine/machine.ts';
import { Process } from '../../../../src/user/process.ts';
import type { KvmVcpu } from '../../../../src/user/kvm_util.ts';
import { GUEST_SYNC } from '../../../../src/user/guest.ts';
import { boot } from '../../../helpers/kernel.ts';
import { LUO_CMDLINE } from '../../../helpers/luo.ts';
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

interface RaceState {
  readonly k: Kernel;
  readonly p: Process;
  gmem_fd: number;
  v: kvm | null;
  vcpu: KvmVcpu | null;
}

/** A guest that mapped page 0 stores to it again while a thread punches page 0 out. */
const punchVsFault = defineScenario<RaceState>({
  name: 'punch-vs-fault',
  description: 'a punch hole of page 0 against a guest store to page 0',
  setup: (sim) => {
    const machine = new Machine({
      boot: { khoFdtPhys: null, scratch: [], kexecCount: 0, cmdline: LUO_CMDLINE },
    });
    const k = boot(sim, machine);
    return { k, p: new Process(k, 'vmm'), gmem_fd: -1, v: null, vcpu: null };
  },
  *prologue(s) {
    const { vm, gmem_fd } = yield* gmemVm(s.p);
    s.gmem_fd = gmem_fd;
    s.v = fd_file_peek(s.p.files, vm.fd)?.private_data as kvm;
    s.vcpu = yield* vcpuOf(vm, function* () {
      yield* guest_store(GPA, new Uint8Array([0x11]));
      yield* GUEST_SYNC(1);
      yield* guest_store(GPA, new Uint8Array([0x22]));
      yield* GUEST_DONE();
    });
    yield* vcpu_run(s.vcpu); // maps page 0, stops at the sync
  },
  tasks: (s) => [
    {
      name: 'vcpu',
      *body() {
        yield* vcpu_run(s.vcpu as KvmVcpu);
      },
    },
    {
      name: 'punch',
      *body() {
        yield* s.p.sys.fallocate(s.gmem_fd, PUNCH, 0, PAGE);
      },
    },
  ],
  properties: [
    {
      name: 'no-stale-spte',
      description: 'page 0 is mapped only to the folio the page cache holds',
      check: (s) => {
        const mapped = s.v?.spte.get(GPA / PAGE);
        const cached = gmemInode(s.p, s.gmem_fd).i_mapping_of().i_pages.get(0)?.pfn;
        return mapped === undefined || mapped === cached || `SPTE ${mapped}, page cache ${cached}`;
      },
    },
  ],
  observe: (s) => {
    const cached = gmemInode(s.p, s.gmem_fd).i_mapping_of().i_pages.get(0);
    return `mapped=${s.v?.spte.has(GPA / PAGE) ?? false} cached=${cached !== undefined}`;
  },
});

test('punch hole against a guest fault on the same page: no SPTE to a freed folio', () => {
  const r = check(punchVsFault, {
    scenarioRef: 'punch-vs-fault',
    strategy: 'dpor',
    seed: 1,
    exploreAll: true,
  });
  assert.equal(r.verdict, 'holds', r.counterexample?.message);
  assert.deepEqual(r.coverage, { kind: 'exhaustive', bound: null });
  // The store before the punch (page gone, unmapped) and after it (a new folio, mapped).
  assert.deepEqual(r.terminalStates, [
    'complete:mapped=false cached=false',
    'complete:mapped=true cached=true',
  ]);
});
