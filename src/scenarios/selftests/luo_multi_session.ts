/**
 * Port of tools/testing/selftests/liveupdate/luo_multi_session.c (v7.2-era mainline): empty
 * sessions and sessions with several files survive a kexec together.
 *
 * Stage 1: state session "kexec_multi_state" (token 998); empty sessions "multi-test-empty-1"
 * and "-2"; "multi-test-files-1" with one memfd (0x1001); "multi-test-files-2" with two (0x2002,
 * 0x3003); close the device; daemonize. Stage 2: retrieve all four sessions, verify the three
 * memfds, FINISH and close every session, then the state session.
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

const SESSION_EMPTY_1 = 'multi-test-empty-1';
const SESSION_EMPTY_2 = 'multi-test-empty-2';
const SESSION_FILES_1 = 'multi-test-files-1';
const SESSION_FILES_2 = 'multi-test-files-2';
const MFD1_TOKEN = 0x1001n;
const MFD2_TOKEN = 0x2002n;
const MFD3_TOKEN = 0x3003n;
const MFD1_DATA = 'Data for session files 1';
const MFD2_DATA = 'First file for session files 2';
const MFD3_DATA = 'Second file for session files 2';
const STATE_SESSION_NAME = 'kexec_multi_state';
const STATE_MEMFD_TOKEN = 998n;

function* create_or_exit(ctx: ProgramContext, luo_fd: number, name: string): Sched<number> {
  const fd = yield* luo_create_session(ctx.sys, luo_fd, name);
  if (fd < 0) ctx.t.fail_exit(`luo_create_session for '${name}'`);
  return fd;
}

function* retrieve_or_exit(ctx: ProgramContext, luo_fd: number, name: string): Sched<number> {
  const fd = yield* luo_retrieve_session(ctx.sys, luo_fd, name);
  if (fd < 0) ctx.t.fail_exit(`luo_retrieve_session for '${name}'`);
  return fd;
}

function* run_stage_1(ctx: ProgramContext, luo_fd: number): Sched {
  const { t, sys } = ctx;
  t.print_msg('[STAGE 1] Starting pre-kexec setup for multi-session test...');
  t.print_msg('[STAGE 1] Creating state file for next stage (2)...');
  yield* create_state_file_or_exit(ctx, luo_fd, STATE_SESSION_NAME, STATE_MEMFD_TOKEN, 2);
  t.print_msg(`[STAGE 1] Creating empty sessions '${SESSION_EMPTY_1}' and '${SESSION_EMPTY_2}'...`);
  yield* create_or_exit(ctx, luo_fd, SESSION_EMPTY_1);
  yield* create_or_exit(ctx, luo_fd, SESSION_EMPTY_2);
  t.print_msg(`[STAGE 1] Creating session '${SESSION_FILES_1}' with one memfd...`);
  const s_files1_fd = yield* create_or_exit(ctx, luo_fd, SESSION_FILES_1);
  yield* create_and_preserve_memfd_or_exit(ctx, s_files1_fd, MFD1_TOKEN, MFD1_DATA);
  t.print_msg(`[STAGE 1] Creating session '${SESSION_FILES_2}' with two memfds...`);
  const s_files2_fd = yield* create_or_exit(ctx, luo_fd, SESSION_FILES_2);
  yield* create_and_preserve_memfd_or_exit(ctx, s_files2_fd, MFD2_TOKEN, MFD2_DATA);
  yield* create_and_preserve_memfd_or_exit(ctx, s_files2_fd, MFD3_TOKEN, MFD3_DATA);
  yield* sys.close(luo_fd);
  yield* daemonize_and_wait(ctx);
}

function* run_stage_2(ctx: ProgramContext, luo_fd: number, state_session_fd: number): Sched {
  const { t } = ctx;
  t.print_msg('[STAGE 2] Starting post-kexec verification...');
  yield* expect_stage_2(ctx, state_session_fd, STATE_MEMFD_TOKEN);
  t.print_msg('[STAGE 2] Retrieving all sessions...');
  const s_empty1_fd = yield* retrieve_or_exit(ctx, luo_fd, SESSION_EMPTY_1);
  const s_empty2_fd = yield* retrieve_or_exit(ctx, luo_fd, SESSION_EMPTY_2);
  const s_files1_fd = yield* retrieve_or_exit(ctx, luo_fd, SESSION_FILES_1);
  const s_files2_fd = yield* retrieve_or_exit(ctx, luo_fd, SESSION_FILES_2);
  t.print_msg(`[STAGE 2] Verifying contents of session '${SESSION_FILES_1}'...`);
  yield* restore_verify_and_close(ctx, s_files1_fd, MFD1_TOKEN, MFD1_DATA);
  t.print_msg(`[STAGE 2] Verifying contents of session '${SESSION_FILES_2}'...`);
  yield* restore_verify_and_close(ctx, s_files2_fd, MFD2_TOKEN, MFD2_DATA);
  yield* restore_verify_and_close(ctx, s_files2_fd, MFD3_TOKEN, MFD3_DATA);
  t.print_msg('[STAGE 2] Test data verified successfully.');
  t.print_msg('[STAGE 2] Finalizing all test sessions...');
  yield* finish_and_close(ctx, s_empty1_fd, `'${SESSION_EMPTY_1}'`);
  yield* finish_and_close(ctx, s_empty2_fd, `'${SESSION_EMPTY_2}'`);
  yield* finish_and_close(ctx, s_files1_fd, `'${SESSION_FILES_1}'`);
  yield* finish_and_close(ctx, s_files2_fd, `'${SESSION_FILES_2}'`);
  t.print_msg('[STAGE 2] Finalizing state session...');
  yield* finish_and_close(ctx, state_session_fd, 'state session');
  t.print_msg('--- MULTI-SESSION KEXEC TEST PASSED ---');
}

export default defineKexecSelftest({
  name: 'luo_multi_session',
  description: 'luo_multi_session.c: empty and multi-file sessions survive a kexec together',
  stateSessionName: STATE_SESSION_NAME,
  stage1: run_stage_1,
  stage2: run_stage_2,
});
