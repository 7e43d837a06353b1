/**
 * Port of tools/testing/selftests/liveupdate/luo_kexec_simple.c (v7.2-era mainline): one
 * session with one memfd survives a kexec.
 *
 * Stage 1: state session "kexec_simple_state" (token 999, next stage 2); session "test-session"
 * with a memfd holding "hello kexec world" as token 0x1A; close the device; daemonize. init then
 * reboots with LINUX_REBOOT_CMD_KEXEC. Stage 2, on the kernel booted from the Machine alone:
 * the state says 2; retrieve the session; restore and verify the memfd; FINISH and close the
 * test session, then the state session.
 */
import type { Sched } from '../../sim/index.ts';
import { luo_create_session, luo_retrieve_session } from '../../user/libliveupdate.ts';
import { daemonize_and_wait, type ProgramContext } from '../../user/two_stage.ts';
import { defineKexecSelftest } from './common.ts';
import {
  create_and_preserve_memfd_or_exit,
  create_state_file_or_exit,
  expect_stage_2,
  finish_and_close,
  restore_verify_and_close,
} from './kexec_common.ts';

const TEST_SESSION_NAME = 'test-session';
const TEST_MEMFD_TOKEN = 0x1an;
const TEST_MEMFD_DATA = 'hello kexec world';
const STATE_SESSION_NAME = 'kexec_simple_state';
const STATE_MEMFD_TOKEN = 999n;

function* run_stage_1(ctx: ProgramContext, luo_fd: number): Sched {
  const { t, sys } = ctx;
  t.print_msg('[STAGE 1] Starting pre-kexec setup...');
  t.print_msg('[STAGE 1] Creating state file for next stage (2)...');
  yield* create_state_file_or_exit(ctx, luo_fd, STATE_SESSION_NAME, STATE_MEMFD_TOKEN, 2);
  t.print_msg(`[STAGE 1] Creating session '${TEST_SESSION_NAME}' and preserving memfd...`);
  const session_fd = yield* luo_create_session(sys, luo_fd, TEST_SESSION_NAME);
  if (session_fd < 0) t.fail_exit(`luo_create_session for '${TEST_SESSION_NAME}'`);
  yield* create_and_preserve_memfd_or_exit(ctx, session_fd, TEST_MEMFD_TOKEN, TEST_MEMFD_DATA);
  yield* sys.close(luo_fd);
  yield* daemonize_and_wait(ctx);
}

function* run_stage_2(ctx: ProgramContext, luo_fd: number, state_session_fd: number): Sched {
  const { t, sys } = ctx;
  t.print_msg('[STAGE 2] Starting post-kexec verification...');
  yield* expect_stage_2(ctx, state_session_fd, STATE_MEMFD_TOKEN);
  t.print_msg(`[STAGE 2] Retrieving session '${TEST_SESSION_NAME}'...`);
  const session_fd = yield* luo_retrieve_session(sys, luo_fd, TEST_SESSION_NAME);
  if (session_fd < 0) t.fail_exit(`luo_retrieve_session for '${TEST_SESSION_NAME}'`);
  t.print_msg('[STAGE 2] Restoring and verifying memfd (token 0x1a)...');
  yield* restore_verify_and_close(ctx, session_fd, TEST_MEMFD_TOKEN, TEST_MEMFD_DATA);
  t.print_msg('[STAGE 2] Test data verified successfully.');
  t.print_msg('[STAGE 2] Finalizing test session...');
  yield* finish_and_close(ctx, session_fd, 'test session');
  t.print_msg('[STAGE 2] Finalizing state session...');
  yield* finish_and_close(ctx, state_session_fd, 'state session');
  t.print_msg('--- SIMPLE KEXEC TEST PASSED ---');
}

export default defineKexecSelftest({
  name: 'luo_kexec_simple',
  description: 'luo_kexec_simple.c: one session with one memfd survives a kexec',
  stateSessionName: STATE_SESSION_NAME,
  stage1: run_stage_1,
  stage2: run_stage_2,
});
