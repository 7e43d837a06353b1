/**
 * The freeze invariant of spec §3.4, checked by the explorer: a vCPU faults on an absent page
 * of a guest_memfd while another task freezes the inode. Under every interleaving (DFS, no
 * preemption bound) of the default variant, the page cache never gains a folio after
 * kvm_gmem_freeze returned. With `no-sync-on-freeze` the fault can pass its frozen check,
 * the freeze return without waiting, and the folio appear afterwards: DFS finds it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Machine } from '../../../../src/machine/machine.ts';
import { BootFailure, Kernel, kernelConfig } from '../../../../src/linux/kernel.ts';
import { kvm_gmem_freeze, type gmem_inode } from '../../../../src/linux/virt/kvm/guest_memfd.ts';
import { Process } from '../../../../src/user/process.ts';
import { GUEST_DONE, guest_store } from '../../../../src/user/guest.ts';
import { vcpu_run } from '../../../../src/user/kvm_util.ts';
import { explore } from '../../../helpers/scenario.ts';
import { boot, newSim } from '../../../helpers/kernel.ts';
import { EPERM } from '../../../../src/linux/include/uapi/asm-generic/errno.ts';
import {
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
} from '../../../../src/linux/include/uapi/linux/falloc.ts';
import { GPA, gmemInode, gmemVm, vcpuOf } from '../../../helpers/kvm.ts';

interface State {
  readonly k: Kernel;
  readonly p: Process;
  gi: gmem_inode | null;
  /** Page-cache size when kvm_gmem_freeze returned; null before. */
  atFreeze: number | null;
  runResult: number | null;
}

function race(switches: Record<string, boolean>) {
  return explore<State>({
    setup: (sim) => {
      const k = Kernel.boot(sim, new Machine(), kernelConfig({ switches }));
      if (k instanceof BootFailure) throw new Error(k.toString());
      return { k, p: new Process(k, 'vmm'), gi: null, atFreeze: null, runResult: null };
    },
    tasks: (s) => [
      {
        name: 'vmm',
        *body() {
          const { vm, gmem_fd } = yield* gmemVm(s.p);
          const vcpu = yield* vcpuOf(vm, function* () {
            yield* guest_store(GPA, new Uint8Array([1]));
            yield* GUEST_DONE();
          });
          const gi = gmemInode(s.p, gmem_fd);
          s.gi = gi;
          s.k.sim.spawn('vcpu', function* () {
            s.runResult = yield* vcpu_run(vcpu);
          });
          yield* kvm_gmem_freeze(s.k, gi, true);
          s.atFreeze = gi.i_mapping_of().nrpages;
        },
      },
    ],
    properties: [
      {
        name: 'no-folio-after-freeze',
        check: (s) => {
          const now = s.gi?.i_mapping_of().nrpages ?? 0;
          return now === s.atFreeze || `${now} folio(s) cached, ${s.atFreeze} when freeze returned`;
        },
      },
    ],
  });
}

test('default (RFC v2): no new folio after freeze returns, under every interleaving', () => {
  const r = race({});
  assert.equal(r.verdict, 'holds', JSON.stringify(r.counterexample?.message));
  assert.equal(r.coverage.kind, 'exhaustive');
  assert.ok(r.executions > 1);
});

test('no-sync-on-freeze: a fault in flight inserts a folio after freeze returned', () => {
  const r = race({ 'no-sync-on-freeze': true });
  assert.equal(r.verdict, 'violated');
  assert.equal(r.counterexample?.property, 'no-folio-after-freeze');
});

test('the other freeze variants that lose the invariant, and the one that keeps it', () => {
  for (const v of ['frozen-check-outside-read-section', 'freeze-under-invalidate-lock'])
    assert.equal(race({ [v]: true }).verdict, 'violated', v);
  assert.equal(race({ 'per-inode-srcu': true }).verdict, 'holds');
});

test('no-frozen-check-in-fallocate: punch hole removes a folio from a frozen inode', () => {
  for (const [switches, want, left] of [
    [{}, -EPERM, 1],
    [{ 'no-frozen-check-in-fallocate': true }, 0, 0],
  ] as const) {
    const sim = newSim();
    const k = boot(sim, new Machine(), { switches });
    const p = new Process(k, 'vmm');
    sim.spawn('vmm', function* () {
      const { gmem_fd } = yield* gmemVm(p);
      assert.equal(yield* p.sys.fallocate(gmem_fd, FALLOC_FL_KEEP_SIZE, 0, 4096), 0);
      const gi = gmemInode(p, gmem_fd);
      yield* kvm_gmem_freeze(k, gi, true);
      const punch = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE;
      assert.equal(yield* p.sys.fallocate(gmem_fd, punch, 0, 4096), want);
      assert.equal(gi.i_mapping_of().nrpages, left);
    });
    assert.equal(sim.run().outcome.kind, 'complete');
  }
});
