/**
 * Port of tools/testing/selftests/liveupdate/luo_stress_files.c (v7.2-era mainline, 2026): one
 * session with 500 memfds survives a kexec, which takes a file chain of many blocks (63 per
 * block).
 *
 * Stage 1: state session "kexec_many_files_state" (token 9999); session "many_files_session"
 * with memfds of tokens 0 … 499 holding "file-data-<i>"; close the device; daemonize. Stage 2:
 * retrieve the session, verify all 500 memfds, FINISH and close it, then the state session.
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

const NUM_FILES = 500;
const STATE_SESSION_NAME = 'kexec_many_files_state';
const STATE_MEMFD_TOKEN = 9999n;
const TEST_SESSION_NAME = 'many_files_session';

function* run_stage_1(ctx: ProgramContext, luo_fd: number): Sched {
  const { t, sys } = ctx;
  t.print_msg('[STAGE 1] Creating state file for next stage (2)...');
  yield* create_state_file_or_exit(ctx, luo_fd, STATE_SESSION_NAME, STATE_MEMFD_TOKEN, 2);
  t.print_msg(`[STAGE 1] Creating test session '${TEST_SESSION_NAME}'...`);
  const session_fd = yield* luo_create_session(sys, luo_fd, TEST_SESSION_NAME);
  if (session_fd < 0) t.fail_exit('luo_create_session');
  t.print_msg(`[STAGE 1] Preserving ${NUM_FILES} files...`);
  for (let i = 0; i < NUM_FILES; i++)
    yield* create_and_preserve_memfd_or_exit(ctx, session_fd, BigInt(i), `file-data-${i}`);
  t.print_msg(`[STAGE 1] Successfully preserved ${NUM_FILES} files.`);
  yield* sys.close(luo_fd);
  yield* daemonize_and_wait(ctx);
}

function* run_stage_2(ctx: ProgramContext, luo_fd: number, state_session_fd: number): Sched {
  const { t, sys } = ctx;
  t.print_msg('[STAGE 2] Starting post-kexec verification...');
  yield* expect_stage_2(ctx, state_session_fd, STATE_MEMFD_TOKEN);
  t.print_msg(`[STAGE 2] Retrieving test session '${TEST_SESSION_NAME}'...`);
  const session_fd = yield* luo_retrieve_session(sys, luo_fd, TEST_SESSION_NAME);
  if (session_fd < 0) t.fail_exit('luo_retrieve_session');
  t.print_msg(`[STAGE 2] Verifying ${NUM_FILES} files...`);
  for (let i = 0; i < NUM_FILES; i++)
    yield* restore_verify_and_close(ctx, session_fd, BigInt(i), `file-data-${i}`);
  t.print_msg('[STAGE 2] Finishing test session...');
  yield* finish_and_close(ctx, session_fd, 'test session');
  t.print_msg('[STAGE 2] Finalizing state session...');
  yield* finish_and_close(ctx, state_session_fd, 'state session');
  t.print_msg(`--- MANY-FILES KEXEC TEST PASSED (${NUM_FILES} files) ---`);
}

export default defineKexecSelftest({
  name: 'luo_stress_files',
  description: `luo_stress_files.c: a session of ${NUM_FILES} memfds survives a kexec (multi-block file chain)`,
  stateSessionName: STATE_SESSION_NAME,
  stage1: run_stage_1,
  stage2: run_stage_2,
  steps: 500_000,
});
