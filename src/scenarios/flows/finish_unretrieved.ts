/**
 * Flow: FINISH without retrieving anything releases the preserved guest memory (spec §2.4
 * finish, §3.5 incoming states, Appendix B.9).
 *
 * Stage 1: a VM whose guest wrote 16 pages of its guest_memfd; the program reads the pfns of
 * three of those pages through pagemap and keeps them in the state session; session
 * "gmem_flow_session" preserves the VM (0x1001) and the guest_memfd (0x1002); kexec.
 *
 * Stage 2: the session is retrieved but neither file is. Before FINISH the three pfns are still
 * reserved by KHO (kpageflags KPF_RESERVED); FINISH returns 0; after it they are free pages
 * (KPF_BUDDY) and MemFree grew by at least the 16 pages; retrieving the guest_memfd afterwards
 * finds no such token (-ENOENT).
 */
import type { Sched } from '../../sim/index.ts';
import { meminfo } from '../../user/introspect.ts';
import {
  luo_create_session,
  luo_retrieve_session,
  luo_session_finish,
  luo_session_preserve_fd,
  luo_session_retrieve_fd,
} from '../../user/libliveupdate.ts';
import { daemonize_and_wait, type ProgramContext } from '../../user/two_stage.ts';
import { ENOENT } from '../../user/uapi.ts';
import {
  create_state_file_or_exit,
  expect_stage_2,
  finish_and_close,
} from '../selftests/kexec_common.ts';
import {
  defineKexecFlow,
  FLOW_DATA_SIZE,
  FLOW_SESSION,
  FLOW_STATE_SESSION,
  FLOW_STATE_TOKEN,
  GMEM_TOKEN,
  VM_TOKEN,
  vm_with_guest_data,
} from './common.ts';
import { expect_pages, load_pfns, sample_pfns, save_pfns } from './gmem_host.ts';

function* stage1(ctx: ProgramContext, luo_fd: number): Sched {
  const { t, sys } = ctx;
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
  yield* sys.close(luo_fd);
  yield* daemonize_and_wait(ctx);
}

function* stage2(ctx: ProgramContext, luo_fd: number, state_fd: number): Sched {
  const { t, sys, proc } = ctx;
  yield* expect_stage_2(ctx, state_fd, FLOW_STATE_TOKEN);
  const pfns = yield* load_pfns(ctx, state_fd);
  const session_fd = yield* luo_retrieve_session(sys, luo_fd, FLOW_SESSION);
  t.ASSERT_GE(session_fd, 0, 'luo_retrieve_session');
  expect_pages(ctx, pfns, 'reserved', 'before FINISH');
  const before = meminfo(proc).MemFree;
  t.ASSERT_EQ(yield* luo_session_finish(sys, session_fd), 0, 'FINISH without retrieving');
  expect_pages(ctx, pfns, 'free', 'after FINISH');
  const freed = meminfo(proc).MemFree - before;
  t.print_msg(`FINISH freed ${freed / 4096} pages (pfns ${pfns.join(', ')} among them)`);
  t.EXPECT_GE(freed, FLOW_DATA_SIZE, 'MemFree growth at FINISH (bytes)');
  const late = yield* luo_session_retrieve_fd(sys, session_fd, GMEM_TOKEN);
  t.EXPECT_EQ(late, -ENOENT, 'retrieve the guest_memfd after FINISH');
  yield* sys.close(session_fd);
  yield* finish_and_close(ctx, state_fd, 'state session');
  yield* sys.close(luo_fd);
}

export default defineKexecFlow({
  name: 'flow.finish_without_retrieve',
  description:
    'FINISH of a session whose VM and guest_memfd were never retrieved: the preserved folios ' +
    'go from KHO-reserved to free pages (kpageflags), MemFree grows by at least the guest data',
  stateSessionName: FLOW_STATE_SESSION,
  stage1,
  stage2,
});
