/**
 * Port of tools/testing/selftests/kvm/guest_memfd_preservation_test.c (guest_memfd preservation
 * series; spec §6): a VM and its 16 MiB guest_memfd survive a kexec with the guest's data.
 *
 * main() first requires KVM_CAP_GUEST_MEMFD (skip otherwise), in both stages.
 * Stage 1: state session "gmem_preservation_state" (token 0x999, next stage 2); a default VM;
 * a guest_memfd of 16 MiB with MMAP | INIT_SHARED bound as memslot 1 at guest physical 4 GiB; a
 * vCPU whose guest writes byte i = i ^ 0x5A over the first 5 MiB (1280 pages); session
 * "gmem_vm_preservation_session" preserving the VM as 0x1001 and the guest_memfd as 0x1002;
 * close the device; daemonize. init reboots with LINUX_REBOOT_CMD_KEXEC (LUO freeze writes
 * vm_token 0x1001). Stage 2 on the kernel booted from the Machine alone: the state says 2;
 * retrieve the session, the VM (0x1001, first) and the guest_memfd (0x1002); rebuild the memslot
 * and a vCPU; the guest checks every byte of the 5 MiB; FINISH both sessions.
 *
 * Follows the v3 harness (state session and --stage detection, spec §6.6), whose checks are
 * those of v2. Abstracted: guest page tables and slot 0 (the guest's code and ucall area live
 * outside guest memory in the model, see src/user/guest.ts), so phase 2 adds no anonymous slot.
 */
import type { Sched } from '../../sim/index.ts';
import {
  GUEST_DONE,
  UCALL_DONE,
  guest_check_repeating,
  guest_write_repeating,
} from '../../user/guest.ts';
import {
  get_ucall,
  kvm_check_cap,
  kvm_vm_free,
  vcpu_run,
  vm_create,
  vm_create_from_fd,
  vm_create_guest_memfd,
  vm_set_user_memory_region2,
  vm_vcpu_add,
  type KvmVcpu,
  type KvmVm,
} from '../../user/kvm_util.ts';
import {
  luo_create_session,
  luo_retrieve_session,
  luo_session_finish,
  luo_session_preserve_fd,
  luo_session_retrieve_fd,
} from '../../user/libliveupdate.ts';
import { daemonize_and_wait, type ProgramContext } from '../../user/two_stage.ts';
import {
  GUEST_MEMFD_FLAG_INIT_SHARED,
  GUEST_MEMFD_FLAG_MMAP,
  KVM_CAP_GUEST_MEMFD,
  KVM_MEM_GUEST_MEMFD,
} from '../../user/uapi.ts';
import { defineKexecSelftest } from './common.ts';
import { create_state_file_or_exit, expect_stage_2, finish_and_close } from './kexec_common.ts';

export const SESSION_NAME = 'gmem_vm_preservation_session';
export const VM_TOKEN = 0x1001n;
export const GMEM_TOKEN = 0x1002n;
export const GMEM_SIZE = 16 * 1024 * 1024;
export const DATA_SIZE = 5 * 1024 * 1024;
export const GMEM_GPA = 2 ** 32;
const GMEM_SLOT = 1;
const STATE_SESSION_NAME = 'gmem_preservation_state';
const STATE_TOKEN = 0x999n;

/** Byte i of guest memory holds i ^ 0x5A; its period (256) divides a page, so one page image
 * repeats over the whole range. */
const PAGE_IMAGE = Uint8Array.from({ length: 4096 }, (_, i) => (i ^ 0x5a) & 0xff);

/** main(): TEST_REQUIRE(kvm_has_cap(KVM_CAP_GUEST_MEMFD)), in both stages, before luo_test. */
export function* require_guest_memfd(ctx: ProgramContext): Sched {
  // A /dev/kvm that cannot be opened skips the test as well (open_kvm_dev_path_or_exit).
  const cap = yield* kvm_check_cap(ctx.sys, KVM_CAP_GUEST_MEMFD);
  ctx.t.TEST_REQUIRE(cap > 0, 'kvm_has_cap(KVM_CAP_GUEST_MEMFD)');
}

/** vCPU 0 running the guest code of `phase` (phase 1 writes the pattern, phase 2 checks it). */
export function* add_vcpu(ctx: ProgramContext, vm: KvmVm, phase: 1 | 2): Sched<KvmVcpu> {
  const guest =
    phase === 1
      ? function* () {
          yield* guest_write_repeating(GMEM_GPA, DATA_SIZE, PAGE_IMAGE);
          yield* GUEST_DONE();
        }
      : function* () {
          yield* guest_check_repeating(GMEM_GPA, DATA_SIZE, PAGE_IMAGE);
          yield* GUEST_DONE();
        };
  const vcpu = yield* vm_vcpu_add(vm, 0, guest);
  if (typeof vcpu === 'number') return ctx.t.fail_exit(`vm_vcpu_add: ${vcpu}`);
  return vcpu;
}

/** Runs the vCPU once; the test fails unless the guest ended with GUEST_DONE. */
export function* run_guest(ctx: ProgramContext, vcpu: KvmVcpu, phase: 1 | 2): Sched {
  const { t } = ctx;
  const r = yield* vcpu_run(vcpu);
  t.ASSERT_EQ(r, 0, `KVM_RUN (phase ${phase})`);
  const uc = yield* get_ucall(vcpu);
  t.ASSERT_EQ(uc.cmd, UCALL_DONE, `ucall (phase ${phase})${uc.message ? `: ${uc.message}` : ''}`);
}

/** setup_guest_memfd_region: the guest_memfd as memslot 1 at 4 GiB (the test fails if refused). */
export function* bind_gmem(ctx: ProgramContext, vm: KvmVm, gmem_fd: number): Sched {
  const r = yield* vm_set_user_memory_region2(
    vm,
    GMEM_SLOT,
    KVM_MEM_GUEST_MEMFD,
    GMEM_GPA,
    GMEM_SIZE,
    0,
    gmem_fd,
    0,
  );
  ctx.t.ASSERT_EQ(r, 0, 'KVM_SET_USER_MEMORY_REGION2 (guest_memfd slot)');
}

function* run_stage_1(ctx: ProgramContext, luo_fd: number): Sched {
  const { t, sys, proc } = ctx;
  yield* create_state_file_or_exit(ctx, luo_fd, STATE_SESSION_NAME, STATE_TOKEN, 2);
  // __vm_create_shape_with_one_vcpu: the VM and its vCPU first, then the guest_memfd.
  const vm = yield* vm_create(proc);
  if (typeof vm === 'number') return t.fail_exit(`vm_create: ${vm}`);
  const vcpu = yield* add_vcpu(ctx, vm, 1);
  const flags = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED;
  const gmem_fd = yield* vm_create_guest_memfd(vm, GMEM_SIZE, flags);
  t.ASSERT_GE(gmem_fd, 0, 'vm_create_guest_memfd');
  yield* bind_gmem(ctx, vm, gmem_fd);
  yield* run_guest(ctx, vcpu, 1);
  const session_fd = yield* luo_create_session(sys, luo_fd, SESSION_NAME);
  t.ASSERT_GE(session_fd, 0, 'luo_create_session');
  t.ASSERT_EQ(yield* luo_session_preserve_fd(sys, session_fd, vm.fd, VM_TOKEN), 0, 'preserve VM');
  t.ASSERT_EQ(
    yield* luo_session_preserve_fd(sys, session_fd, gmem_fd, GMEM_TOKEN),
    0,
    'preserve guest_memfd',
  );
  t.print_msg('Phase 1 Complete Successfully!');
  t.print_msg(
    `VM token: 0x${VM_TOKEN.toString(16)}, guest_memfd token: 0x${GMEM_TOKEN.toString(16)}`,
  );
  t.print_msg('Machine Size: 16 MB, Data Size: 5 MB');
  yield* sys.close(luo_fd);
  yield* daemonize_and_wait(ctx);
}

function* run_stage_2(ctx: ProgramContext, luo_fd: number, state_session_fd: number): Sched {
  const { t, sys, proc } = ctx;
  yield* expect_stage_2(ctx, state_session_fd, STATE_TOKEN);
  const session_fd = yield* luo_retrieve_session(sys, luo_fd, SESSION_NAME);
  t.ASSERT_GE(session_fd, 0, 'luo_retrieve_session');
  const vm_fd = yield* luo_session_retrieve_fd(sys, session_fd, VM_TOKEN);
  t.ASSERT_GE(vm_fd, 0, 'retrieve VM');
  const gmem_fd = yield* luo_session_retrieve_fd(sys, session_fd, GMEM_TOKEN);
  t.ASSERT_GE(gmem_fd, 0, 'retrieve guest_memfd');
  const vm = yield* vm_create_from_fd(proc, vm_fd);
  if (typeof vm === 'number') return t.fail_exit(`vm_create_from_fd: ${vm}`);
  yield* bind_gmem(ctx, vm, gmem_fd);
  const vcpu = yield* add_vcpu(ctx, vm, 2);
  t.print_msg('Running VM in Phase 2...');
  yield* run_guest(ctx, vcpu, 2);
  t.print_msg('SUCCESS: Phase 2 Complete! All 5MB complex data verified intact!');
  yield* luo_session_finish(sys, session_fd);
  yield* sys.close(session_fd);
  yield* finish_and_close(ctx, state_session_fd, 'state session');
  yield* sys.close(luo_fd);
  yield* kvm_vm_free(vm);
  yield* sys.close(gmem_fd);
}

export default defineKexecSelftest({
  name: 'guest_memfd_preservation',
  description:
    'guest_memfd_preservation_test.c: a VM and its 16 MiB guest_memfd keep 5 MiB of guest data across a kexec',
  stateSessionName: STATE_SESSION_NAME,
  main: require_guest_memfd,
  stage1: run_stage_1,
  stage2: run_stage_2,
  kernel: {},
  steps: 200_000,
});
