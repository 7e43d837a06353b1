/**
 * Building blocks of the flow scenarios: userspace programs that walk one path of the
 * guest_memfd preservation series (spec §2.5, §3.5, §5.4) straight through, judged by the
 * kselftest harness like the selftest ports, with every errno compared exactly.
 *
 * A flow is one task (the program; for a two-stage flow also init's reboot and the next boot),
 * so `check` proves its single schedule. Every flow has the revision variants of
 * guest_memfd_luo.c: 'default' (RFC v2 as posted), 'v3' and 'post-v3'.
 *
 * The guest data of a flow is smaller than the selftest's (1 MiB guest_memfd, 16 pages written)
 * so that `luosim check` stays quick; the selftest port itself keeps the 16 MiB / 5 MiB sizes.
 */
import { defineScenario, type Property, type Scenario } from '../../explore/scenario.ts';
import type { Sched } from '../../sim/index.ts';
import {
  GUEST_DONE,
  UCALL_DONE,
  guest_check_pattern,
  guest_store,
  guest_write_pattern,
} from '../../user/guest.ts';
import {
  get_ucall,
  vcpu_run,
  vm_create,
  vm_create_guest_memfd,
  vm_set_user_memory_region2,
  vm_vcpu_add,
  type KvmVcpu,
  type KvmVm,
} from '../../user/kvm_util.ts';
import {
  TestSystem,
  type Program,
  type ProgramContext,
  type SystemKernelOptions,
  type TwoStageTest,
} from '../../user/two_stage.ts';
import {
  GUEST_MEMFD_FLAG_INIT_SHARED,
  GUEST_MEMFD_FLAG_MMAP,
  KVM_MEM_GUEST_MEMFD,
} from '../../user/uapi.ts';

/** The revisions of guest_memfd_luo.c a flow runs under ('default' = RFC v2). */
export const REVISION_VARIANTS = {
  v3:
    'v3 of guest_memfd_luo.c (kernel switch gmem-luo-v3): can_preserve checks the ' +
    'superblock magic and private_data first and requires GUEST_MEMFD_FLAG_INIT_SHARED',
  'post-v3':
    'the later tree (kernel switch gmem-luo-post-v3): v3 plus retrieve validation of size ' +
    'and flags, and a preserve rollback that skips pfn 0',
} as const;

/** The kernel configuration of a revision variant. */
export function revisionKernel(variant: string): SystemKernelOptions {
  if (variant === 'v3') return { switches: { 'gmem-luo-v3': true } };
  if (variant === 'post-v3') return { switches: { 'gmem-luo-post-v3': true } };
  return {};
}

const passes: Property<TestSystem> = {
  name: 'flow-passes',
  description: 'the flow runs to its end and every ASSERT and EXPECT of it holds',
  check: (s) => s.verdict(),
};

interface FlowCommon {
  readonly name: string;
  readonly description: string;
  /** Step limit of the one execution (default 60000). */
  readonly steps?: number;
  /** What `luosim check` expects of the default variant (default 'holds'). */
  readonly expect?: 'holds' | 'violated';
}

function flowScenario(
  spec: FlowCommon,
  body: (s: TestSystem) => Sched,
  observe: (s: TestSystem) => string,
): Scenario<TestSystem> {
  return defineScenario({
    name: spec.name,
    description: spec.description,
    variants: REVISION_VARIANTS,
    setup: (sim, args) =>
      new TestSystem(sim, { variant: args.variant, kernel: revisionKernel(args.variant) }),
    tasks: (s) => [{ name: 'init', body: () => body(s) }],
    properties: [passes],
    defaults: { expect: spec.expect ?? 'holds', strategy: 'dfs', steps: spec.steps ?? 60_000 },
    observe,
  });
}

/** A flow on one boot: the program runs as one process (it may call reboot itself). */
export function defineFlow(spec: FlowCommon & { readonly body: Program }): Scenario<TestSystem> {
  return flowScenario(
    spec,
    (s) => s.runSingle(spec.name, spec.body),
    (s) => s.ksft.status,
  );
}

/** A flow across a kexec: stage 1, init's reboot(KEXEC), stage 2 on the next kernel. */
export function defineKexecFlow(
  spec: FlowCommon & Omit<TwoStageTest, 'name'>,
): Scenario<TestSystem> {
  return flowScenario(
    spec,
    (s) => s.runTwoStage({ ...spec }),
    (s) => `${s.ksft.status} boots=${s.boots} kexecs=${s.kexecs}`,
  );
}

/** The flows' session, state session and tokens (those of the selftest where it has one). */
export const FLOW_SESSION = 'gmem_flow_session';
export const FLOW_STATE_SESSION = 'gmem_flow_state';
export const FLOW_STATE_TOKEN = 0x999n;
export const VM_TOKEN = 0x1001n;
export const GMEM_TOKEN = 0x1002n;

export const PAGE = 4096;
export const FLOW_GMEM_SIZE = 1024 * 1024;
/** Bytes the guest writes from the start of the guest_memfd: 16 pages. */
export const FLOW_DATA_SIZE = 16 * PAGE;
export const FLOW_GPA = 2 ** 32;
export const FLOW_SLOT = 1;
export const SHARED_FLAGS = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED;

export const pattern = (i: number): number => (i ^ 0x5a) & 0xff;

/** Binds `gmem_fd` as the flow's memslot of `size` bytes; the KVM_SET_USER_MEMORY_REGION2 result. */
export function* bind_gmem(vm: KvmVm, gmem_fd: number, size = FLOW_GMEM_SIZE): Sched<number> {
  return yield* vm_set_user_memory_region2(
    vm,
    FLOW_SLOT,
    KVM_MEM_GUEST_MEMFD,
    FLOW_GPA,
    size,
    0,
    gmem_fd,
    0,
  );
}

/**
 * Adds vCPU `id` and runs it once over [gpa, gpa + len): writing the pattern, or checking it.
 * ASSERTs that KVM_RUN returned 0 and the guest said GUEST_DONE.
 */
export function* run_pattern_guest(
  ctx: ProgramContext,
  vm: KvmVm,
  id: number,
  mode: 'write' | 'check',
  gpa = FLOW_GPA,
  len = FLOW_DATA_SIZE,
): Sched {
  const { t } = ctx;
  const guest = function* () {
    if (mode === 'write') yield* guest_write_pattern(gpa, len, pattern);
    else yield* guest_check_pattern(gpa, len, pattern);
    yield* GUEST_DONE();
  };
  const vcpu = yield* vm_vcpu_add(vm, id, guest);
  if (typeof vcpu === 'number') return t.fail_exit(`vm_vcpu_add(${id}): ${vcpu}`);
  t.ASSERT_EQ(yield* vcpu_run(vcpu), 0, `KVM_RUN (vcpu ${id}, ${mode})`);
  const uc = yield* get_ucall(vcpu);
  t.ASSERT_EQ(
    uc.cmd,
    UCALL_DONE,
    `ucall (vcpu ${id}, ${mode})${uc.message ? `: ${uc.message}` : ''}`,
  );
}

/** A default VM with a 1 MiB MMAP | INIT_SHARED guest_memfd bound at FLOW_GPA whose first
 * FLOW_DATA_SIZE bytes the guest has written. */
export function* vm_with_guest_data(ctx: ProgramContext): Sched<{ vm: KvmVm; gmem_fd: number }> {
  const { t, proc } = ctx;
  const vm = yield* vm_create(proc);
  if (typeof vm === 'number') return t.fail_exit(`vm_create: ${vm}`);
  const gmem_fd = yield* vm_create_guest_memfd(vm, FLOW_GMEM_SIZE, SHARED_FLAGS);
  t.ASSERT_GE(gmem_fd, 0, 'vm_create_guest_memfd');
  t.ASSERT_EQ(yield* bind_gmem(vm, gmem_fd), 0, 'KVM_SET_USER_MEMORY_REGION2');
  yield* run_pattern_guest(ctx, vm, 0, 'write');
  return { vm, gmem_fd };
}

/** vCPU 2, whose guest stores one byte in the first page the pattern guest never wrote (a
 * fault that must allocate); not run yet. */
export function* new_page_writer(ctx: ProgramContext, vm: KvmVm): Sched<KvmVcpu> {
  const vcpu = yield* vm_vcpu_add(vm, 2, function* () {
    yield* guest_store(FLOW_GPA + FLOW_DATA_SIZE, new Uint8Array([0xa5]));
    yield* GUEST_DONE();
  });
  if (typeof vcpu === 'number') return ctx.t.fail_exit(`vm_vcpu_add(2): ${vcpu}`);
  return vcpu;
}
