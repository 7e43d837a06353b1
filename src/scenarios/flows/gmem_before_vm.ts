/**
 * Flow: the guest_memfd is retrieved before its VM (spec §2.4 retrieve step 5, §5.4, Appendix
 * B.6–B.7).
 *
 * Stage 1: a VM whose guest wrote 16 pages of its 1 MiB guest_memfd; session
 * "gmem_flow_session" preserves the guest_memfd (0x1002) first and the VM (0x1001) second
 * (preservation order is free); daemonize; init kexecs (the LUO freeze callback binds the
 * guest_memfd's record to the VM's token).
 *
 * Stage 2: retrieving 0x1002 succeeds although nobody asked for the VM: its retrieve fetched the
 * VM internally by token. Retrieving 0x1001 afterwards returns that same VM: a second retrieve
 * of it is the same open file (kcmp KCMP_FILE = 0), the guest_memfd binds to it as a memslot
 * (KVM_SET_USER_MEMORY_REGION2 = 0, which is -EINVAL for a guest_memfd of another VM), and a
 * guest on it reads every byte back. The retrieved guest_memfd is not frozen: fallocate and new
 * host faults work. FINISH returns 0.
 */
import type { Sched } from '../../sim/index.ts';
import { kcmp_file } from '../../user/introspect.ts';
import { kvm_vm_free, vm_create_from_fd } from '../../user/kvm_util.ts';
import {
  luo_create_session,
  luo_retrieve_session,
  luo_session_finish,
  luo_session_preserve_fd,
  luo_session_retrieve_fd,
} from '../../user/libliveupdate.ts';
import { daemonize_and_wait, type ProgramContext } from '../../user/two_stage.ts';
import {
  create_state_file_or_exit,
  expect_stage_2,
  finish_and_close,
} from '../selftests/kexec_common.ts';
import {
  bind_gmem,
  defineKexecFlow,
  FLOW_SESSION,
  FLOW_STATE_SESSION,
  FLOW_STATE_TOKEN,
  GMEM_TOKEN,
  run_pattern_guest,
  vm_with_guest_data,
  VM_TOKEN,
} from './common.ts';
import { expect_unfrozen } from './gmem_host.ts';

function* stage1(ctx: ProgramContext, luo_fd: number): Sched {
  const { t, sys } = ctx;
  yield* create_state_file_or_exit(ctx, luo_fd, FLOW_STATE_SESSION, FLOW_STATE_TOKEN, 2);
  const { vm, gmem_fd } = yield* vm_with_guest_data(ctx);
  const session_fd = yield* luo_create_session(sys, luo_fd, FLOW_SESSION);
  t.ASSERT_GE(session_fd, 0, 'luo_create_session');
  t.ASSERT_EQ(yield* luo_session_preserve_fd(sys, session_fd, gmem_fd, GMEM_TOKEN), 0, 'gmem');
  t.ASSERT_EQ(yield* luo_session_preserve_fd(sys, session_fd, vm.fd, VM_TOKEN), 0, 'VM');
  yield* sys.close(luo_fd);
  yield* daemonize_and_wait(ctx);
}

function* stage2(ctx: ProgramContext, luo_fd: number, state_fd: number): Sched {
  const { t, sys, proc } = ctx;
  yield* expect_stage_2(ctx, state_fd, FLOW_STATE_TOKEN);
  const session_fd = yield* luo_retrieve_session(sys, luo_fd, FLOW_SESSION);
  t.ASSERT_GE(session_fd, 0, 'luo_retrieve_session');
  const gmem_fd = yield* luo_session_retrieve_fd(sys, session_fd, GMEM_TOKEN);
  t.ASSERT_GE(gmem_fd, 0, 'retrieve guest_memfd before its VM');
  const vm_fd = yield* luo_session_retrieve_fd(sys, session_fd, VM_TOKEN);
  t.ASSERT_GE(vm_fd, 0, 'retrieve the VM after its guest_memfd');
  const again = yield* luo_session_retrieve_fd(sys, session_fd, VM_TOKEN);
  t.ASSERT_GE(again, 0, 'retrieve the VM a second time');
  t.EXPECT_EQ(kcmp_file(proc, vm_fd, again), 0, 'kcmp(KCMP_FILE): one VM file');
  yield* sys.close(again);
  const vm = yield* vm_create_from_fd(proc, vm_fd);
  if (typeof vm === 'number') return t.fail_exit(`vm_create_from_fd: ${vm}`);
  t.ASSERT_EQ(yield* bind_gmem(vm, gmem_fd), 0, 'bind the guest_memfd to the retrieved VM');
  yield* run_pattern_guest(ctx, vm, 0, 'check');
  yield* expect_unfrozen(ctx, gmem_fd, 'retrieved guest_memfd');
  t.EXPECT_EQ(yield* luo_session_finish(sys, session_fd), 0, 'FINISH');
  yield* sys.close(session_fd);
  yield* finish_and_close(ctx, state_fd, 'state session');
  yield* kvm_vm_free(vm);
  yield* sys.close(gmem_fd);
  yield* sys.close(luo_fd);
}

export default defineKexecFlow({
  name: 'flow.gmem_retrieved_before_vm',
  description:
    'guest_memfd retrieved before its VM: the VM is retrieved internally, and the later ' +
    'userspace retrieve of the VM returns that same VM file (guest data intact)',
  stateSessionName: FLOW_STATE_SESSION,
  stage1,
  stage2,
});
