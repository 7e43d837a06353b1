/**
 * The freeze race of patch 06 (spec §3, §7.1): a VMM preserves guest_memfd A through LUO (the
 * handler's preserve calls kvm_gmem_freeze, then walks the page cache twice) and then closes
 * the session (unpreserve unfreezes A), while a vCPU faults on an absent page of A, a thread
 * fallocates a page of another guest_memfd B of the same VM, and a thread punches a hole in a
 * populated page of A.
 *
 * Properties (Appendix B): while A is preserved its page cache equals what preserve recorded
 * (B.2/B.4: nothing allocated or removed after the freeze; an invariant, checked after every
 * step); A is frozen exactly while preserved (B.1); a freeze waits for every allocation already
 * in a read section, on any inode, and an unfreeze never blocks (B.3); every racing call returns
 * 0 or the documented -EPERM; built in: no deadlock, no model assertion (a pass-2 overflow or a
 * count WARN is one). Variants are the freeze design alternatives of the review.
 */
import { defineScenario, type ScenarioTask } from '../../explore/scenario.ts';
import type { Sched, Sim } from '../../sim/index.ts';
import { frozenMatchesPreserve } from '../../checkers/gmem_frozen.ts';
import {
  freezeWaitedForAllocations,
  unfreezeNeverBlocked,
} from '../../checkers/gmem_freeze_waits.ts';
import {
  observeRecordedEntries,
  pageCacheEntries,
} from '../../checkers/gmem_preserved_matches_cache.ts';
import { GUEST_DONE, guest_store } from '../../user/guest.ts';
import { GMEM_FREEZE_VARIANTS } from '../../user/kernel_variants.ts';
import {
  vcpu_run,
  vm_create,
  vm_create_guest_memfd,
  vm_set_user_memory_region2,
  vm_vcpu_add,
  type KvmVcpu,
} from '../../user/kvm_util.ts';
import {
  luo_create_session,
  luo_open_device,
  luo_session_preserve_fd,
} from '../../user/libliveupdate.ts';
import { Process } from '../../user/process.ts';
import { TestSystem } from '../../user/two_stage.ts';
import {
  EPERM,
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  GUEST_MEMFD_FLAG_INIT_SHARED,
  GUEST_MEMFD_FLAG_MMAP,
  KVM_MEM_GUEST_MEMFD,
} from '../../user/uapi.ts';

const PAGE = 4096;
const GPA = 2 ** 32;
const TOKEN = 0x1002n;
/** Page 0 of A: faulted by the guest; page 2 of A: present, punched; page 0 of B: fallocated. */
const PAGES = 4;

interface State {
  readonly sim: Sim;
  readonly proc: Process;
  gmem_a: number;
  gmem_b: number;
  vcpu: KvmVcpu | null;
  session_fd: number;
  preserve: number | null;
  /** What the record held when preserve returned; null when not preserved (or closed). */
  recorded: string | null;
  frozenAtPreserve: true | string;
  frozenAfterClose: true | string;
  results: Record<string, number>;
  unexpected: string[];
}

function* racer(s: State, name: string, body: () => Sched<number>): Sched {
  const r = yield* body();
  s.results[name] = r;
  if (r !== 0 && r !== -EPERM) s.unexpected.push(`${name} returned ${r}`);
}

export default defineScenario<State>({
  name: 'gmem-freeze-race',
  description:
    'LUO preserve then session close of a guest_memfd against a guest fault, a fallocate on ' +
    'another guest_memfd and a punch hole',
  params: {
    fault: { default: true, description: 'a vCPU faults on an absent page of A' },
    alloc: { default: true, description: 'a thread fallocates a page' },
    alloc_same: { default: false, description: 'the fallocate targets A instead of B' },
    punch: { default: true, description: 'a thread punches a hole in a present page of A' },
    close: { default: true, description: 'the VMM closes the session after the preserve' },
  },
  variants: GMEM_FREEZE_VARIANTS,
  setup: (sim, { variant }) => {
    const switches = variant === 'default' ? {} : { [variant]: true };
    const sys = new TestSystem(sim, { variant, kernel: { switches } });
    const k = sys.bootKernel();
    if (k === null) throw new Error(`boot failed: ${sys.ksft.failures.join('; ')}`);
    return {
      sim,
      proc: new Process(k, 'vmm'),
      gmem_a: -1,
      gmem_b: -1,
      vcpu: null,
      session_fd: -1,
      preserve: null,
      recorded: null,
      frozenAtPreserve: true,
      frozenAfterClose: true,
      results: {},
      unexpected: [],
    };
  },
  // Everything before the race is deterministic: the explorer runs it once and starts every
  // execution from a snapshot of its end state.
  *prologue(s, { params }) {
    const sys = s.proc.sys;
    const vm = yield* vm_create(s.proc);
    if (typeof vm === 'number') throw new Error(`vm_create: ${vm}`);
    const flags = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED;
    const a = yield* vm_create_guest_memfd(vm, PAGES * PAGE, flags);
    s.gmem_a = a;
    s.gmem_b =
      params.alloc_same === true ? a : yield* vm_create_guest_memfd(vm, PAGES * PAGE, flags);
    yield* vm_set_user_memory_region2(vm, 1, KVM_MEM_GUEST_MEMFD, GPA, PAGES * PAGE, 0, a, 0);
    yield* sys.fallocate(a, FALLOC_FL_KEEP_SIZE, 2 * PAGE, PAGE);
    if (params.fault === true) {
      const v = yield* vm_vcpu_add(vm, 0, function* () {
        yield* guest_store(GPA, new Uint8Array([0x5a]));
        yield* GUEST_DONE();
      });
      if (typeof v === 'number') throw new Error(`vm_vcpu_add: ${v}`);
      s.vcpu = v;
    }
    const luo_fd = yield* luo_open_device(sys);
    s.session_fd = yield* luo_create_session(sys, luo_fd, 'race');
  },
  // The racers start together; the VMM is the preserving thread.
  tasks: (s, { params }) => {
    const sys = s.proc.sys;
    const a = s.gmem_a;
    const tasks: ScenarioTask[] = [
      {
        name: 'vmm',
        *body() {
          s.preserve = yield* luo_session_preserve_fd(sys, s.session_fd, a, TOKEN);
          if (s.preserve !== 0) s.unexpected.push(`preserve returned ${s.preserve}`);
          else s.recorded = yield* observeRecordedEntries(s.proc, a, TOKEN);
          s.frozenAtPreserve = frozenMatchesPreserve(s.proc, a, s.preserve === 0);
          if (params.close === true) {
            yield* sys.close(s.session_fd);
            s.recorded = null;
            s.frozenAfterClose = frozenMatchesPreserve(s.proc, a, false);
          }
        },
      },
    ];
    const cpu = s.vcpu;
    if (cpu !== null)
      tasks.push({ name: 'vcpu0', body: () => racer(s, 'KVM_RUN', () => vcpu_run(cpu)) });
    const allocAt = params.alloc_same === true ? PAGE : 0;
    if (params.alloc === true)
      tasks.push({
        name: 'falloc',
        body: () =>
          racer(s, 'fallocate', () => sys.fallocate(s.gmem_b, FALLOC_FL_KEEP_SIZE, allocAt, PAGE)),
      });
    if (params.punch === true)
      tasks.push({
        name: 'punch',
        body: () =>
          racer(s, 'punch hole', () =>
            sys.fallocate(a, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE, 2 * PAGE, PAGE),
          ),
      });
    return tasks;
  },
  invariants: [
    {
      name: 'frozen-page-cache-stable',
      description: 'while preserved, the page cache of A equals the preserved record',
      check: (s) => {
        // Until the unpreserve's unfreeze: after it, changes are allowed again.
        if (s.recorded === null || frozenMatchesPreserve(s.proc, s.gmem_a, true) !== true)
          return true;
        const now = pageCacheEntries(s.proc, s.gmem_a);
        return (
          now === s.recorded ||
          `the page cache of A changed after preserve (index:pfn): recorded [${s.recorded}], now [${now}]`
        );
      },
    },
  ],
  properties: [
    {
      name: 'frozen-iff-preserved',
      description: 'A is frozen after its preserve succeeded and unfrozen after the session closed',
      check: (s) =>
        s.frozenAtPreserve !== true
          ? s.frozenAtPreserve
          : s.frozenAfterClose !== true
            ? s.frozenAfterClose
            : true,
    },
    {
      name: 'freeze-waits-for-allocations',
      description: 'a freeze returns only after every allocation already in a read section ended',
      check: (s) => freezeWaitedForAllocations(s.proc),
    },
    {
      name: 'unfreeze-never-blocks',
      description: 'an unfreeze never waits for a reader',
      check: (s) => unfreezeNeverBlocked(s.proc),
    },
    {
      name: 'documented-results',
      description: 'preserve succeeds; every racing call returns 0 or the documented -EPERM',
      check: (s) => s.unexpected.length === 0 || s.unexpected.join('; '),
    },
  ],
  observe: (s) => `preserve=${s.preserve} ${JSON.stringify(s.results)}`,
  // per-inode-srcu needs 101,155 executions to be exhaustive: the default budget covers it.
  defaults: { strategy: 'dpor', expect: 'holds', executions: 150_000 },
});
