/**
 * Failure injection for the Appendix A preserve rows: a per-process /dev/liveupdate session, a
 * guest_memfd preserve run with exactly n free pages left (so that its record, folio array or
 * vmalloc chunk allocation fails), and a DFS exploration of a preserve racing with a punch hole.
 */
import assert from 'node:assert/strict';
import type { Sched } from '../../../../../src/sim/index.ts';
import { Machine } from '../../../../../src/machine/machine.ts';
import { BootFailure, Kernel, kernelConfig } from '../../../../../src/linux/kernel.ts';
import * as E from '../../../../../src/linux/include/uapi/asm-generic/errno.ts';
import {
  FALLOC_FL_KEEP_SIZE as KEEP,
  FALLOC_FL_PUNCH_HOLE as PUNCH,
} from '../../../../../src/linux/include/uapi/linux/falloc.ts';
import type { Page } from '../../../../../src/linux/include/linux/mm_types.ts';
import { __free_pages } from '../../../../../src/linux/mm/page_alloc.ts';
import {
  luo_create_session,
  luo_open_device,
  luo_session_preserve_fd,
} from '../../../../../src/user/libliveupdate.ts';
import { Process } from '../../../../../src/user/process.ts';
import { GMEM_TOKEN, VM_TOKEN, runBoot } from '../../../../helpers/gmem_handover.ts';
import { gmemVm } from '../../../../helpers/kvm.ts';
import { LUO_CMDLINE } from '../../../../helpers/luo.ts';
import { explore } from '../../../../helpers/scenario.ts';

const P = 4096;

/** /dev/liveupdate is exclusive: one open fd per process, kept here. */
const luoFds = new WeakMap<Process, number>();

export function* session(p: Process, name = 's'): Sched<number> {
  const luo = luoFds.get(p) ?? (yield* luo_open_device(p.sys));
  luoFds.set(p, luo);
  const s = yield* luo_create_session(p.sys, luo, name);
  assert.ok(s >= 0, `create session: ${s}`);
  return s;
}

/** Takes every free page; returns them so that a test can give back exactly `n`. */
function drain(k: Kernel): { pages: Page[]; giveBack: (n: number) => void } {
  const pages: Page[] = [];
  for (let o = 10; o >= 0; o--)
    for (let pg = k.page_alloc.alloc(o, 0); pg !== null; pg = k.page_alloc.alloc(o, 0))
      pages.push(pg);
  return {
    pages,
    giveBack(n) {
      // Free the smallest drained block that is large enough, then take back all but n pages.
      const i = pages.findLastIndex((pg) => 2 ** pg.order >= n);
      const block = pages[i];
      assert.ok(block, `a block of ${n} pages to give back`);
      pages.splice(i, 1);
      __free_pages(k, block, block.order);
      while (k.page_alloc.nr_free > n) pages.push(k.page_alloc.alloc(0, 0) as Page);
    },
  };
}

/** The guest_memfd preserve with only `free` pages left: its errno. */
export function preserveWithFreePages(free: number): number {
  let ret = 0;
  runBoot(function* (k, p) {
    const g = yield* gmemVm(p);
    assert.equal(yield* p.sys.fallocate(g.gmem_fd, KEEP, 0, 2 * P), 0);
    const s = yield* session(p);
    assert.equal(yield* luo_session_preserve_fd(p.sys, s, g.vm.fd, VM_TOKEN), 0);
    const d = drain(k);
    d.giveBack(free);
    ret = yield* luo_session_preserve_fd(p.sys, s, g.gmem_fd, GMEM_TOKEN);
    if (ret !== 0) {
      assert.equal(k.page_alloc.nr_free, free, 'the failed preserve freed what it allocated');
      for (const pg of d.pages)
        if (k.page_alloc.pages.get(pg.pfn) === pg) __free_pages(k, pg, pg.order);
      assert.equal(yield* p.sys.fallocate(g.gmem_fd, KEEP, 2 * P, P), 0, 'unfrozen again');
    }
  });
  return ret;
}

/** Preserve racing with a punch hole under `switches`: whether pass 2 can miss a folio. */
export function countMismatch(switches: Record<string, boolean>): string {
  interface S {
    readonly k: Kernel;
    readonly p: Process;
    ret: number | null;
  }
  return explore<S>(
    {
      setup: (sim) => {
        const m = new Machine({
          boot: { khoFdtPhys: null, scratch: [], kexecCount: 0, cmdline: LUO_CMDLINE },
        });
        const k = Kernel.boot(sim, m, kernelConfig({ switches, panic_on_warn: false }));
        if (k instanceof BootFailure) throw new Error(k.toString());
        return { k, p: new Process(k, 'vmm'), ret: null };
      },
      tasks: (s) => [
        {
          name: 'vmm',
          *body() {
            const g = yield* gmemVm(s.p);
            assert.equal(yield* s.p.sys.fallocate(g.gmem_fd, KEEP, 0, 2 * P), 0);
            const sess = yield* session(s.p);
            s.k.sim.spawn('punch', function* () {
              yield* s.p.sys.fallocate(g.gmem_fd, KEEP | PUNCH, P, P);
            });
            s.ret = yield* luo_session_preserve_fd(s.p.sys, sess, g.gmem_fd, GMEM_TOKEN);
          },
        },
      ],
      properties: [
        {
          name: 'no-count-mismatch',
          check: (s) =>
            s.ret !== -E.EINVAL ||
            !s.k.warnings.some((w) => w.includes('folio count changed')) ||
            'pass 2 found fewer folios than pass 1',
        },
      ],
    },
    { preemptions: 1 },
  ).verdict;
}
