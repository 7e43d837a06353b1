/**
 * What the kexec selftests share beyond libliveupdate: the state-file steps with the C
 * library's fail_exit behaviour (create_state_file and restore_and_read_stage end the program
 * on any error), and the memfd steps of the test sessions with their fail_exit messages.
 */
import type { Sched } from '../../sim/index.ts';
import {
  create_and_preserve_memfd,
  create_state_file,
  luo_session_finish,
  restore_and_read_stage,
  restore_and_verify_memfd,
} from '../../user/libliveupdate.ts';
import type { ProgramContext } from '../../user/two_stage.ts';

const hex = (token: bigint): string => `0x${token.toString(16)}`;

/** create_state_file(): a session holding the next stage's number; its fd stays open. */
export function* create_state_file_or_exit(
  ctx: ProgramContext,
  luo_fd: number,
  name: string,
  token: bigint,
  next_stage: number,
): Sched<number> {
  const sfd = yield* create_state_file(ctx.sys, luo_fd, name, token, next_stage);
  if (sfd < 0) ctx.t.fail_exit(`create_state_file(${name}) = ${sfd}`);
  return sfd;
}

/** restore_and_read_stage() followed by the ports' "Expected stage 2" check. */
export function* expect_stage_2(
  ctx: ProgramContext,
  state_session_fd: number,
  token: bigint,
): Sched {
  const stage = yield* restore_and_read_stage(ctx.sys, state_session_fd, token);
  if (stage < 0) ctx.t.fail_exit(`failed to restore state memfd: ${stage}`);
  if (stage !== 2) ctx.t.fail_exit(`Expected stage 2, but state file contains ${stage}`);
}

export function* create_and_preserve_memfd_or_exit(
  ctx: ProgramContext,
  session_fd: number,
  token: bigint,
  data: string,
): Sched {
  const ret = yield* create_and_preserve_memfd(ctx.sys, session_fd, token, data);
  if (ret < 0) ctx.t.fail_exit(`create_and_preserve_memfd for token ${hex(token)}: ${ret}`);
}

/** restore_and_verify_memfd() then close(), as every stage 2 does. */
export function* restore_verify_and_close(
  ctx: ProgramContext,
  session_fd: number,
  token: bigint,
  data: string,
): Sched {
  const mfd = yield* restore_and_verify_memfd(ctx.sys, session_fd, token, data);
  if (mfd < 0) ctx.t.fail_exit(`restore_and_verify_memfd for token ${hex(token)}: ${mfd}`);
  yield* ctx.sys.close(mfd);
}

/** luo_session_finish() then close(), failing with the C message. */
export function* finish_and_close(ctx: ProgramContext, session_fd: number, what: string): Sched {
  if ((yield* luo_session_finish(ctx.sys, session_fd)) < 0)
    ctx.t.fail_exit(`luo_session_finish for ${what}`);
  yield* ctx.sys.close(session_fd);
}
