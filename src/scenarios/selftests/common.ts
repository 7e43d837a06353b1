/**
 * Building blocks of the selftest ports: a scenario for a single-boot selftest case and one for
 * a two-stage kexec selftest, both judged by the kselftest harness's verdict.
 *
 * Each port is one task (the test program, and for the kexec tests also init's reboot and the
 * second boot), so a run is deterministic: the explorer's DFS finds exactly one schedule, and
 * "holds (exhaustive)" means that this one schedule passes. The ports are acceptance tests of
 * the model's uAPI behaviour, not race scenarios.
 */
import { defineScenario, type Property, type Scenario } from '../../explore/scenario.ts';
import {
  TestSystem,
  type Program,
  type SystemKernelOptions,
  type TwoStageTest,
} from '../../user/two_stage.ts';

const passes: Property<TestSystem> = {
  name: 'selftest-passes',
  description: 'the selftest passes: every ASSERT and EXPECT holds and nothing is skipped',
  check: (s) => s.verdict(),
};

export interface SelftestSpec {
  /** Scenario name, e.g. "liveupdate.basic_open_close". */
  readonly name: string;
  readonly description: string;
  /** The program's name as a process (the selftest binary). */
  readonly program: string;
  readonly body: Program;
  /** Step limit of the one execution (default 10000). */
  readonly steps?: number;
  /** Kernel configuration; default MAINLINE_LUO_KERNEL. */
  readonly kernel?: SystemKernelOptions;
}

function defaults(steps: number | undefined) {
  return {
    expect: 'holds' as const,
    strategy: 'dfs' as const,
    ...(steps === undefined ? {} : { steps }),
  };
}

/**
 * The kernel the upstream LUO selftests target: mainline, without the guest_memfd series' KVM
 * handlers (CONFIG_LIVEUPDATE_GUEST_MEMFD=n). With RFC v2's handlers registered,
 * liveupdate.preserve_unsupported_fd (which preserves /dev/null) would crash the kernel in
 * guest_memfd's can_preserve: the flow `guest_memfd_preservation.later_tests` (its TEST 3) and
 * the Appendix A row "no handler's can_preserve accepts the file" show it (docs/findings.md).
 */
export const MAINLINE_LUO_KERNEL: SystemKernelOptions = { liveupdate_guest_memfd: false };

/** A selftest case that runs on one boot, as a process of its own (the harness forks one). */
export function defineSelftest(spec: SelftestSpec): Scenario<TestSystem> {
  return defineScenario({
    name: spec.name,
    description: spec.description,
    setup: (sim, args) =>
      new TestSystem(sim, { variant: args.variant, kernel: spec.kernel ?? MAINLINE_LUO_KERNEL }),
    tasks: (s) => [{ name: 'test', body: () => s.runSingle(spec.program, spec.body) }],
    properties: [passes],
    defaults: defaults(spec.steps),
    observe: (s) => s.ksft.status,
  });
}

export interface KexecSelftestSpec extends TwoStageTest {
  readonly description: string;
  readonly steps?: number;
  /** Kernel configuration; default MAINLINE_LUO_KERNEL. */
  readonly kernel?: SystemKernelOptions;
}

/** A two-stage selftest: stage 1, kexec, stage 2 (spec §6.2), in one task. */
export function defineKexecSelftest(spec: KexecSelftestSpec): Scenario<TestSystem> {
  return defineScenario({
    name: spec.name,
    description: spec.description,
    setup: (sim, args) =>
      new TestSystem(sim, { variant: args.variant, kernel: spec.kernel ?? MAINLINE_LUO_KERNEL }),
    tasks: (s) => [{ name: 'init', body: () => s.runTwoStage(spec) }],
    properties: [passes],
    defaults: defaults(spec.steps),
    observe: (s) => `${s.ksft.status} boots=${s.boots} kexecs=${s.kexecs}`,
  });
}
