/**
 * Flow: the VM cannot be retrieved, so neither can its guest_memfd, and the guest memory is
 * gone (spec §2.3 retrieve step 3, §2.4 retrieve step 5 and its cleanup, §2.1 step 6, Appendix
 * A "LUO retrieve ioctl: previous attempt failed", Appendix B.8).
 *
 * Stage 1: a VM whose guest wrote 16 pages of its guest_memfd; the pfns of three of them go to
 * the state session; session "gmem_flow_session" preserves the VM (0x1001) and the guest_memfd
 * (0x1002). Fault injection: at the kexec the VM's handed-over record is rewritten to say
 * KVM_X86_SNP_VM, a type the next kernel (no SEV hardware) rejects, as a host without SEV would
 * see an SNP VM's record.
 *
 * Stage 2: before any retrieve the three pfns are KHO-reserved. Retrieving the guest_memfd runs
 * the VM's retrieve internally, which fails: -EINVAL; retrying the guest_memfd gives the stored
 * -EINVAL again, and so does retrieving the VM itself. The guest memory was discarded by the
 * failed retrieve, before any FINISH: the pfns are free pages. FINISH then returns 0.
 */
import type { Sched } from '../../sim/index.ts';
import { rewrite_vm_record_type_at_kexec } from '../../user/handover_fault.ts';
import { luo_outgoing_files } from '../../user/introspect.ts';
import {
  luo_create_session,
  luo_retrieve_session,
  luo_session_finish,
  luo_session_preserve_fd,
  luo_session_retrieve_fd,
} from '../../user/libliveupdate.ts';
import { daemonize_and_wait, type ProgramContext } from '../../user/two_stage.ts';
import { EINVAL, KVM_X86_SNP_VM } from '../../user/uapi.ts';
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
  VM_TOKEN,
  vm_with_guest_data,
} from './common.ts';
import { expect_pages, load_pfns, sample_pfns, save_pfns } from './gmem_host.ts';

function* stage1(ctx: ProgramContext, luo_fd: number): Sched {
  const { t, sys, proc } = ctx;
  const state_fd = yield* create_state_file_or_exit(
    ctx,
    luo_fd,
    FLOW_STATE_SESSION,
    FLOW_STATE_TOKEN,
    2,
  );
  const { vm, gmem_fd } = yield* vm_with_guest_data(ctx);
  yield* save_pfns(ctx, state_fd, yield* sample_pfns(ctx, gmem_fd));
  const session_fd = yield* luo_create_session(sys, luo_fd, FLOW_SESSION);
  t.ASSERT_GE(session_fd, 0, 'luo_create_session');
  t.ASSERT_EQ(yield* luo_session_preserve_fd(sys, session_fd, vm.fd, VM_TOKEN), 0, 'VM');
  t.ASSERT_EQ(yield* luo_session_preserve_fd(sys, session_fd, gmem_fd, GMEM_TOKEN), 0, 'gmem');
  const record = luo_outgoing_files(proc).find(
    (f) => f.session === FLOW_SESSION && f.token === VM_TOKEN,
  );
  if (record === undefined) return t.fail_exit('the VM record is not listed');
  rewrite_vm_record_type_at_kexec(ctx.system, Number(record.serialized_data), KVM_X86_SNP_VM);
  yield* sys.close(luo_fd);
  yield* daemonize_and_wait(ctx);
}

function* stage2(ctx: ProgramContext, luo_fd: number, state_fd: number): Sched {
  const { t, sys } = ctx;
  yield* expect_stage_2(ctx, state_fd, FLOW_STATE_TOKEN);
  const pfns = yield* load_pfns(ctx, state_fd);
  const session_fd = yield* luo_retrieve_session(sys, luo_fd, FLOW_SESSION);
  t.ASSERT_GE(session_fd, 0, 'luo_retrieve_session');
  expect_pages(ctx, pfns, 'reserved', 'before retrieving');
  const first = yield* luo_session_retrieve_fd(sys, session_fd, GMEM_TOKEN);
  t.EXPECT_EQ(first, -EINVAL, 'retrieve the guest_memfd (its VM cannot be created)');
  const retry = yield* luo_session_retrieve_fd(sys, session_fd, GMEM_TOKEN);
  t.EXPECT_EQ(retry, -EINVAL, 'retrieve the guest_memfd again (the stored error)');
  const vm = yield* luo_session_retrieve_fd(sys, session_fd, VM_TOKEN);
  t.EXPECT_EQ(vm, -EINVAL, 'retrieve the VM (the stored error of its internal retrieve)');
  expect_pages(ctx, pfns, 'free', 'after the failed retrieve');
  t.EXPECT_EQ(yield* luo_session_finish(sys, session_fd), 0, 'FINISH');
  yield* sys.close(session_fd);
  yield* finish_and_close(ctx, state_fd, 'state session');
  yield* sys.close(luo_fd);
}

export default defineKexecFlow({
  name: 'flow.failed_retrieve',
  description:
    'the VM record is unrecoverable (an SNP VM type the next kernel rejects): the guest_memfd ' +
    'retrieve returns -EINVAL, the same -EINVAL on retry, and its memory is already freed',
  stateSessionName: FLOW_STATE_SESSION,
  stage1,
  stage2,
});
