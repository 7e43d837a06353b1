/**
 * Selftest programs on a simulated machine: one boot for the plain selftests, and the two-stage
 * live-update flow (spec §6.2) for the kexec selftests, all inside one engine execution.
 *
 * Models the userspace side of tools/testing/selftests/liveupdate: the kselftest harness's
 * one process per test, libliveupdate's `luo_test` stage detection and `daemonize_and_wait`, and
 * the VM harness's init (init.c), which runs the test binary, waits for it, and then calls
 * `reboot(LINUX_REBOOT_CMD_KEXEC)` in stage 1 (or stops on any failure). The next kernel is booted
 * from the Machine alone, exactly as after a real kexec, and runs stage 2 as a new program.
 *
 * Everything runs in the task that `TestSystem.runSingle` / `runTwoStage` is the body of: the
 * programs are generators, so the same scenario runs straight through (selftest, run) or under
 * the explorer (check). Kernel boots are synchronous and happen inside the task, between two
 * visible operations, as early boot has no scheduler.
 *
 * Outcomes are values on the TestSystem (the harness's failures, skip reason and log, the
 * number of boots and kexecs), which the scenario's properties judge. Hooks let a caller see the
 * machine at the kexec point (to save an image) or start from a saved machine at stage 2.
 */
import type { Sched, Sim } from '../sim/index.ts';
import { Machine, coldBootParams } from '../machine/machine.ts';
import { BootFailure, Kernel, kernelConfig, type KernelConfig } from '../linux/kernel.ts';
import { LINUX_REBOOT_CMD_KEXEC } from '../linux/include/uapi/linux/reboot.ts';
import { errnoName } from '../linux/include/uapi/asm-generic/errno.ts';
import { Ksft, KsftStop } from './kselftest.ts';
import { luo_detect_stage, luo_open_device, LUO_DEVICE } from './libliveupdate.ts';
import { Process } from './process.ts';
import { fork } from './process_control.ts';
import type { Syscalls } from './syscalls.ts';

/** What the selftest VM harness boots with (vmtest.sh: `liveupdate=on panic=-1`). */
export const LIVEUPDATE_CMDLINE = 'liveupdate=on';

/** The kernel-configuration choices a system (and so a scenario) may make. */
export type SystemKernelOptions = Partial<
  Pick<KernelConfig, 'liveupdate_guest_memfd' | 'switches'>
>;

export interface SystemOptions {
  /** Kernel configuration every boot of this system uses (default: kernelConfig()). */
  readonly kernel?: SystemKernelOptions | undefined;
  /** Kernel command line of the cold boot; default LIVEUPDATE_CMDLINE. */
  readonly cmdline?: string;
  /** Memory size in bytes; default the Machine's (4 GiB, sparse). */
  readonly memSize?: number;
  /** The kernel variant (scenario variant); default 'default'. */
  readonly variant?: string;
}

/** What a running program has: its process, syscalls, harness and stage. */
export interface ProgramContext {
  readonly system: TestSystem;
  readonly proc: Process;
  readonly sys: Syscalls;
  readonly t: Ksft;
  /** 0 for a single-boot test, else 1 or 2. */
  readonly stage: number;
}

export type Program = (ctx: ProgramContext) => Sched;
export type Stage1Program = (ctx: ProgramContext, luo_fd: number) => Sched;
export type Stage2Program = (
  ctx: ProgramContext,
  luo_fd: number,
  state_session_fd: number,
) => Sched;

export interface TwoStageTest {
  /** Program name (the selftest binary), e.g. "luo_kexec_simple". */
  readonly name: string;
  /** The state session whose presence tells stage 2 from stage 1. */
  readonly stateSessionName: string;
  readonly stage1: Stage1Program;
  readonly stage2: Stage2Program;
  /** What the program's main() does before luo_test, in both stages (e.g. TEST_REQUIRE). */
  readonly main?: Program;
}

/** One simulated machine across its boots, and what the programs on it reported. */
export class TestSystem {
  readonly sim: Sim;
  readonly ksft: Ksft;
  readonly variant: string;
  readonly kernelOptions: SystemKernelOptions;
  machine: Machine;
  /** The kernel running now (null before the first boot or after a failed one). */
  kernel: Kernel | null = null;
  boots = 0;
  kexecs = 0;
  /** True once the flow ran to its end (it may still have failed). */
  finished = false;
  /** Processes that outlive their program (daemonize_and_wait's child), newest last. */
  readonly holders: Process[] = [];
  /** Called with the machine at the kexec point, before the next kernel boots. */
  onKexec: ((machine: Machine) => void) | null = null;
  /** Start at stage 2, booting this machine (e.g. a saved image) instead of running stage 1. */
  resumeFrom: Machine | null = null;
  /** End the flow right after the kexec, without booting the next kernel. */
  stopAfterKexec = false;
  /** True once a two-stage flow started (the only kind that resumeFrom and stopAfterKexec mean
   * anything to). */
  twoStage = false;

  constructor(sim: Sim, options: SystemOptions = {}) {
    this.sim = sim;
    this.ksft = new Ksft(sim);
    this.variant = options.variant ?? 'default';
    this.kernelOptions = options.kernel ?? {};
    const boot = coldBootParams(options.cmdline ?? LIVEUPDATE_CMDLINE);
    this.machine =
      options.memSize === undefined
        ? new Machine({ boot })
        : new Machine({ boot, memSize: options.memSize });
  }

  /** The property every selftest scenario states: the test passed. */
  verdict(): true | string {
    const t = this.ksft;
    if (t.status === 'fail') return t.failures.join('; ');
    if (t.status === 'skip') return `skipped: ${t.skipReason ?? ''}`;
    if (!this.finished) return 'the test did not run to its end';
    return true;
  }

  /** Boots the current machine; a panic is a test failure (null). */
  bootKernel(): Kernel | null {
    this.boots++;
    const config = kernelConfig({ variant: this.variant, ...this.kernelOptions });
    const k = Kernel.boot(this.sim, this.machine, config);
    if (k instanceof BootFailure) {
      this.kernel = null;
      this.ksft.failures.push(`boot ${this.boots}: ${k.toString()}`);
      this.sim.note(`boot ${this.boots}: ${k.toString()}`);
      return null;
    }
    if (k.bootFailure !== null)
      this.ksft.print_msg(`boot ${this.boots}: ${k.bootFailure.toString()}`);
    this.kernel = k;
    return k;
  }

  /**
   * Runs `body` as a new process on `k` until it returns or stops (assert, skip, exit), then
   * exits the process (closing its fds). Returns the exit status.
   */
  *runProgram(k: Kernel, name: string, stage: number, body: Program): Sched<number> {
    const proc = new Process(k, name);
    const ctx: ProgramContext = { system: this, proc, sys: proc.sys, t: this.ksft, stage };
    let code = 0;
    try {
      yield* body(ctx);
    } catch (e) {
      if (!(e instanceof KsftStop)) throw e;
      code = e.kind === 'assert' ? 1 : e.code;
    }
    if (!proc.exited) yield* proc.sys.exit();
    return code;
  }

  /** The task body of a single-boot selftest (liveupdate.c's cases). */
  *runSingle(name: string, program: Program): Sched {
    const k = this.bootKernel();
    if (k === null) return;
    yield* this.runProgram(k, name, 0, program);
    this.finished = true;
  }

  /**
   * The task body of a two-stage selftest: boot, stage 1, init's reboot(KEXEC), boot from the
   * Machine alone, stage 2 (spec §6.2). A failed stage 1 stops the flow before the kexec, as
   * init.c reboots normally then.
   */
  *runTwoStage(test: TwoStageTest): Sched {
    this.twoStage = true;
    if (this.resumeFrom === null) {
      const a = this.bootKernel();
      if (a === null) return;
      const init = new Process(a, 'init');
      const code = yield* this.runProgram(a, test.name, 1, (ctx) => luo_main(ctx, 1, test));
      if (code !== 0 || this.ksft.status !== 'pass') {
        this.finished = true;
        return;
      }
      const ret = yield* init.sys.reboot(LINUX_REBOOT_CMD_KEXEC);
      const next = init.sys.nextMachine;
      if (ret < 0 || next === null) {
        this.ksft.failures.push(
          `init: reboot(LINUX_REBOOT_CMD_KEXEC) = ${ret} (-${errnoName(ret)})`,
        );
        this.finished = true;
        return;
      }
      this.kexecs++;
      this.machine = next;
      for (const p of this.holders) p.exited = true;
      this.onKexec?.(next);
      if (this.stopAfterKexec) {
        this.finished = true;
        return;
      }
    } else {
      this.machine = this.resumeFrom;
    }
    const b = this.bootKernel();
    if (b === null) return;
    yield* this.runProgram(b, test.name, 2, (ctx) => luo_main(ctx, 2, test));
    this.finished = true;
  }
}

/** The program's main(): its own checks, then luo_test. */
function* luo_main(ctx: ProgramContext, target: 1 | 2, test: TwoStageTest): Sched {
  if (test.main) yield* test.main(ctx);
  yield* luo_test(ctx, target, test);
}

/**
 * luo_test(): opens /dev/liveupdate (failure → skip), detects the stage from the state session
 * (-ENOENT → 1, found → 2, other errors → fail), insists it is the requested one, and runs it.
 */
export function* luo_test(ctx: ProgramContext, target: 1 | 2, test: TwoStageTest): Sched {
  const { t, sys } = ctx;
  const luo_fd = yield* luo_open_device(sys);
  if (luo_fd < 0) t.exit_skip(`Failed to open ${LUO_DEVICE}. Is the luo module loaded?`);
  const detected = yield* luo_detect_stage(sys, luo_fd, test.stateSessionName);
  if ('err' in detected) {
    const e = detected.err;
    return t.fail_exit(`Failed to check for state session: ${e} (-${errnoName(e)})`);
  }
  if (detected.stage !== target) {
    const state = detected.stage === 2 ? 'EXISTS' : 'MISSING';
    return t.fail_exit(
      `Stage mismatch Requested stage ${target}, but system is in stage ${detected.stage}. ` +
        `(State session ${test.stateSessionName}: ${state})`,
    );
  }
  if (detected.stage === 1) yield* test.stage1(ctx, luo_fd);
  else yield* test.stage2(ctx, luo_fd, detected.state_session_fd);
}

/**
 * daemonize_and_wait(): forks a child that keeps every fd of the program (the session fds) and
 * sleeps until the kexec; the parent exits 0. It does not return.
 */
export function* daemonize_and_wait(ctx: ProgramContext): Sched<never> {
  const { t } = ctx;
  t.print_msg('[STAGE 1] Forking persistent child to hold sessions...');
  const child = yield* fork(ctx.proc, `${ctx.proc.name}-daemon`);
  ctx.system.holders.push(child);
  t.print_msg(`[STAGE 1] Child ${child.name}. Resources are pinned.`);
  t.print_msg('[STAGE 1] You may now perform kexec reboot.');
  return t.exit(0);
}
