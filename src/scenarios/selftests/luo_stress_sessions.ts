/**
 * Port of tools/testing/selftests/liveupdate/luo_stress_sessions.c (v7.2-era mainline, 2026):
 * 2000 sessions survive a kexec, which takes a session chain of many blocks (51 per block).
 *
 * Stage 1: raise RLIMIT_NOFILE (skip on EPERM); state session "kexec_many_state" (token 999);
 * sessions "many-test-0" … "many-test-1999"; close the device; daemonize. Stage 2: retrieve,
 * FINISH and close every session, then the state session.
 */
import type { Sched } from '../../sim/index.ts';
import {
  luo_create_session,
  luo_ensure_nofile_limit,
  luo_retrieve_session,
  luo_session_finish,
} from '../../user/libliveupdate.ts';
import { daemonize_and_wait, type ProgramContext } from '../../user/two_stage.ts';
import { EPERM, errnoName } from '../../user/uapi.ts';
import { defineKexecSelftest } from './common.ts';
import { create_state_file_or_exit, expect_stage_2, finish_and_close } from './kexec_common.ts';

const NUM_SESSIONS = 2000;
const STATE_SESSION_NAME = 'kexec_many_state';
const STATE_MEMFD_TOKEN = 999n;

function* run_stage_1(ctx: ProgramContext, luo_fd: number): Sched {
  const { t, sys } = ctx;
  t.print_msg('[STAGE 1] Increasing ulimit for open files...');
  const ret = luo_ensure_nofile_limit(ctx.proc, NUM_SESSIONS);
  if (ret === -EPERM) t.exit_skip('Insufficient privileges to set RLIMIT_NOFILE');
  if (ret < 0) t.fail_exit(`luo_ensure_nofile_limit failed: ${errnoName(ret)}`);
  t.print_msg('[STAGE 1] Creating state file for next stage (2)...');
  yield* create_state_file_or_exit(ctx, luo_fd, STATE_SESSION_NAME, STATE_MEMFD_TOKEN, 2);
  t.print_msg(`[STAGE 1] Creating ${NUM_SESSIONS} sessions...`);
  for (let i = 0; i < NUM_SESSIONS; i++) {
    const name = `many-test-${i}`;
    const s_fd = yield* luo_create_session(sys, luo_fd, name);
    if (s_fd < 0) t.fail_exit(`luo_create_session for '${name}' at index ${i}`);
  }
  t.print_msg(`[STAGE 1] Successfully created ${NUM_SESSIONS} sessions.`);
  yield* sys.close(luo_fd);
  yield* daemonize_and_wait(ctx);
}

function* run_stage_2(ctx: ProgramContext, luo_fd: number, state_session_fd: number): Sched {
  const { t, sys } = ctx;
  t.print_msg('[STAGE 2] Starting post-kexec verification...');
  yield* expect_stage_2(ctx, state_session_fd, STATE_MEMFD_TOKEN);
  t.print_msg(`[STAGE 2] Retrieving and finishing ${NUM_SESSIONS} sessions...`);
  for (let i = 0; i < NUM_SESSIONS; i++) {
    const name = `many-test-${i}`;
    const s_fd = yield* luo_retrieve_session(sys, luo_fd, name);
    if (s_fd < 0) t.fail_exit(`luo_retrieve_session for '${name}' at index ${i}`);
    if ((yield* luo_session_finish(sys, s_fd)) < 0)
      t.fail_exit(`luo_session_finish for '${name}' at index ${i}`);
    yield* sys.close(s_fd);
  }
  t.print_msg('[STAGE 2] Finalizing state session...');
  yield* finish_and_close(ctx, state_session_fd, 'state session');
  t.print_msg(`--- MANY-SESSIONS KEXEC TEST PASSED (${NUM_SESSIONS} sessions) ---`);
}

export default defineKexecSelftest({
  name: 'luo_stress_sessions',
  description: `luo_stress_sessions.c: ${NUM_SESSIONS} sessions survive a kexec (multi-block session chain)`,
  stateSessionName: STATE_SESSION_NAME,
  stage1: run_stage_1,
  stage2: run_stage_2,
  steps: 500_000,
});
