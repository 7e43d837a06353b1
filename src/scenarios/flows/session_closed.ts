/**
 * Flow: the session is closed before the kexec, which unpreserves the guest_memfd and unfreezes
 * it (spec §2.1 step 2, §2.4 unpreserve, §3.5 PRESERVED_FROZEN → ACTIVE, Appendix B.1).
 *
 * Stage 1: a VM whose guest wrote 16 pages of its guest_memfd; session "gmem_flow_session"
 * preserves the VM (0x1001) and the guest_memfd (0x1002); the guest_memfd is frozen
 * (fallocate -EPERM in both modes, existing page readable, new page SIGBUS, a guest write to a
 * new page gets KVM_RUN -EPERM / KVM_EXIT_MEMORY_FAULT). Closing the session fd unfreezes it:
 * the same KVM_RUN completes, fallocate and new host faults work, the old data is still there.
 * Then the program daemonizes and init kexecs: only the state session is handed over.
 *
 * Stage 2: the state says 2 and "gmem_flow_session" does not exist (-ENOENT).
 */
import type { Sched } from '../../sim/index.ts';
import { UCALL_DONE } from '../../user/guest.ts';
import { get_ucall, vcpu_exit_reason, vcpu_run } from '../../user/kvm_util.ts';
import {
  luo_create_session,
  luo_retrieve_session,
  luo_session_preserve_fd,
} from '../../user/libliveupdate.ts';
import { daemonize_and_wait, type ProgramContext } from '../../user/two_stage.ts';
import { ENOENT, EPERM, KVM_EXIT_MEMORY_FAULT } from '../../user/uapi.ts';
import {
  create_state_file_or_exit,
  expect_stage_2,
  finish_and_close,
} from '../selftests/kexec_common.ts';
import {
  defineKexecFlow,
  FLOW_SESSION,
  FLOW_STATE_SESSION,
  FLOW_STATE_TOKEN,
  GMEM_TOKEN,
  new_page_writer,
  run_pattern_guest,
  VM_TOKEN,
  vm_with_guest_data,
} from './common.ts';
import { expect_frozen, expect_unfrozen } from './gmem_host.ts';

function* stage1(ctx: ProgramContext, luo_fd: number): Sched {
  const { t, sys } = ctx;
  yield* create_state_file_or_exit(ctx, luo_fd, FLOW_STATE_SESSION, FLOW_STATE_TOKEN, 2);
  const { vm, gmem_fd } = yield* vm_with_guest_data(ctx);
  const session_fd = yield* luo_create_session(sys, luo_fd, FLOW_SESSION);
  t.ASSERT_GE(session_fd, 0, 'luo_create_session');
  t.ASSERT_EQ(yield* luo_session_preserve_fd(sys, session_fd, vm.fd, VM_TOKEN), 0, 'VM');
  t.ASSERT_EQ(yield* luo_session_preserve_fd(sys, session_fd, gmem_fd, GMEM_TOKEN), 0, 'gmem');
  yield* expect_frozen(ctx, gmem_fd, 'preserved');
  const writer = yield* new_page_writer(ctx, vm);
  t.EXPECT_EQ(yield* vcpu_run(writer), -EPERM, 'KVM_RUN: guest write to a new page (frozen)');
  t.EXPECT_EQ(yield* vcpu_exit_reason(writer), KVM_EXIT_MEMORY_FAULT, 'exit reason (frozen)');

  t.ASSERT_EQ(yield* sys.close(session_fd), 0, 'close the session before the kexec');
  t.EXPECT_EQ(yield* vcpu_run(writer), 0, 'KVM_RUN again after the session is closed');
  t.EXPECT_EQ((yield* get_ucall(writer)).cmd, UCALL_DONE, 'the new-page write completes');
  yield* expect_unfrozen(ctx, gmem_fd, 'session closed');
  yield* run_pattern_guest(ctx, vm, 1, 'check');
  yield* sys.close(luo_fd);
  yield* daemonize_and_wait(ctx);
}

function* stage2(ctx: ProgramContext, luo_fd: number, state_fd: number): Sched {
  const { t, sys } = ctx;
  yield* expect_stage_2(ctx, state_fd, FLOW_STATE_TOKEN);
  const gone = yield* luo_retrieve_session(sys, luo_fd, FLOW_SESSION);
  t.EXPECT_EQ(gone, -ENOENT, 'retrieve the session closed before the kexec');
  yield* finish_and_close(ctx, state_fd, 'state session');
  yield* sys.close(luo_fd);
}

export default defineKexecFlow({
  name: 'flow.session_closed_before_kexec',
  description:
    'the session is closed before the kexec: the guest_memfd is unpreserved and unfrozen ' +
    '(fallocate, host and guest faults work again) and nothing of it is handed over',
  stateSessionName: FLOW_STATE_SESSION,
  stage1,
  stage2,
});
