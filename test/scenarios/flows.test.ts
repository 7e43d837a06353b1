/**
 * The flow scenarios: every flow under every revision variant (RFC v2 = default, v3, post-v3)
 * runs straight through with the verdict it is expected to have, and `check` with the
 * scenario's defaults (what `luosim check` runs with no argument) agrees with
 * `defaults.expect`. The one expected violation, the later tree's selftest on RFC v2, fails for
 * the documented reason: TEST 1's guest_memfd without INIT_SHARED is preserved, and the fatal
 * assertion stops the test there, as in C.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { check } from '../../src/explore/check.ts';
import { runScenarioOnce } from '../../src/explore/run.ts';
import { resolveArgs, type Scenario } from '../../src/explore/scenario.ts';
import { flows } from '../../src/scenarios/registry.ts';
import type { Decider } from '../../src/sim/index.ts';
import {
  defineKexecFlow,
  FLOW_SESSION,
  FLOW_STATE_SESSION,
  FLOW_STATE_TOKEN,
  GMEM_TOKEN,
  VM_TOKEN,
  vm_with_guest_data,
} from '../../src/scenarios/flows/common.ts';
import { create_state_file_or_exit } from '../../src/scenarios/selftests/kexec_common.ts';
import {
  luo_create_session,
  luo_retrieve_session,
  luo_session_finish,
  luo_session_preserve_fd,
  luo_session_retrieve_fd,
} from '../../src/user/libliveupdate.ts';
import { daemonize_and_wait, type TestSystem } from '../../src/user/two_stage.ts';

type Verdict = 'holds' | 'violated';
type Variant = 'default' | 'v3' | 'post-v3';

const ALL_HOLD: Record<Variant, Verdict> = { default: 'holds', v3: 'holds', 'post-v3': 'holds' };

/** Expected verdict per flow and variant, with the boots and kexecs of a passing run. */
const EXPECTED: Record<string, { verdicts: Record<Variant, Verdict>; kexecs: number }> = {
  'guest_memfd_preservation.later_tests': {
    verdicts: { default: 'violated', v3: 'holds', 'post-v3': 'holds' },
    kexecs: 1,
  },
  'flow.gmem_retrieved_before_vm': { verdicts: ALL_HOLD, kexecs: 1 },
  'flow.finish_without_retrieve': { verdicts: ALL_HOLD, kexecs: 1 },
  'flow.vm_not_preserved': { verdicts: ALL_HOLD, kexecs: 0 },
  'flow.vm_in_other_session': { verdicts: ALL_HOLD, kexecs: 0 },
  'flow.vm_fd_closed': { verdicts: ALL_HOLD, kexecs: 0 },
  'flow.failed_retrieve': { verdicts: ALL_HOLD, kexecs: 1 },
  'flow.session_closed_before_kexec': { verdicts: ALL_HOLD, kexecs: 1 },
};

const straight: Decider = { pickTask: (_e, _c, dflt) => dflt, pickChoice: () => 0 };

function runStraight(s: Scenario<TestSystem>, variant: Variant) {
  const states: TestSystem[] = [];
  const observed: Scenario<TestSystem> = {
    ...s,
    setup: (sim, args) => {
      const state = s.setup(sim, args);
      states.push(state);
      return state;
    },
  };
  const judged = runScenarioOnce(observed, resolveArgs(s, {}, variant), straight, {
    stepsMax: s.defaults?.steps ?? 10_000,
    trace: false,
  });
  assert.equal(states.length, 1);
  return { judged, state: states[0] as TestSystem };
}

test('the registry lists exactly the expected flows, all in group "flow"', () => {
  assert.deepEqual(
    flows()
      .map((b) => b.name)
      .sort(),
    Object.keys(EXPECTED).sort(),
  );
});

for (const b of flows()) {
  const expected = EXPECTED[b.name];
  for (const variant of ['default', 'v3', 'post-v3'] as const) {
    const verdict = expected?.verdicts[variant] ?? 'holds';
    test(`${b.name} [${variant}] ${verdict}`, async () => {
      assert.ok(expected, `no expectation for ${b.name}`);
      const s = (await b.load()) as unknown as Scenario<TestSystem>;
      assert.ok(variant in s.variants);
      const { judged, state } = runStraight(s, variant);
      if (verdict === 'holds') {
        assert.equal(judged.violation, null, JSON.stringify(judged.violation));
        assert.equal(state.ksft.status, 'pass', state.ksft.failures.join('; '));
        assert.equal(state.kexecs, expected.kexecs);
        assert.equal(state.boots, expected.kexecs + 1);
      } else {
        assert.notEqual(judged.violation, null);
      }
    });
  }
}

for (const b of flows()) {
  test(`check ${b.name} with its defaults gives defaults.expect`, async () => {
    const s = await b.load();
    const r = check(s, {
      scenarioRef: b.name,
      strategy: s.defaults?.strategy ?? 'dfs',
      seed: 1,
      limits: { stepsMax: s.defaults?.steps ?? 10_000 },
    });
    assert.equal(s.defaults?.expect, EXPECTED[b.name]?.verdicts.default);
    assert.equal(r.verdict, s.defaults?.expect);
    assert.equal(r.executions, 1);
  });
}

test('later_tests on RFC v2 stops at TEST 1: the guest_memfd without INIT_SHARED is preserved', async () => {
  const b = flows().find((f) => f.name === 'guest_memfd_preservation.later_tests');
  assert.ok(b);
  const s = (await b.load()) as unknown as Scenario<TestSystem>;
  const { judged, state } = runStraight(s, 'default');
  assert.equal(judged.violation?.property, 'flow-passes');
  assert.deepEqual(state.ksft.failures, [
    'ASSERT preserve guest_memfd without INIT_SHARED must fail: got 0, expected < 0',
  ]);
  // A fatal assertion, as TEST_ASSERT in C: nothing after it ran.
  assert.deepEqual(
    state.ksft.log.filter((l) => l.startsWith('TEST: ')),
    ['TEST: Preserving guest_memfd without INIT_SHARED'],
  );
  assert.equal(state.kexecs, 0);
});

test('later_tests on post-v3 runs all five tests in order', async () => {
  const b = flows().find((f) => f.name === 'guest_memfd_preservation.later_tests');
  assert.ok(b);
  const s = (await b.load()) as unknown as Scenario<TestSystem>;
  const { state } = runStraight(s, 'post-v3');
  const tests = state.ksft.log.filter((l) => l.startsWith('TEST: '));
  assert.deepEqual(tests, [
    'TEST: Preserving guest_memfd without INIT_SHARED',
    'TEST: Preserving guest_memfd MMAP only',
    'TEST: Preserving a non-guest_memfd FD',
    'TEST: Operations on frozen guest_memfd',
    'TEST: Preserve, kexec and verify',
  ]);
  assert.match(state.ksft.log.at(-1) ?? '', /Phase 2 Complete/);
});

test('contrast to flow.vm_fd_closed: closing the fd of a preserved VM does not stop the kexec', () => {
  // LUO holds its own reference to a preserved VM file, so kvm->vm_file stays set (spec §2.4
  // freeze, note) and the guest_memfd's freeze callback finds the VM's token.
  const flow = defineKexecFlow({
    name: 'preserved-vm-fd-closed',
    description: 'VM and guest_memfd preserved, VM fd closed, kexec',
    stateSessionName: FLOW_STATE_SESSION,
    *stage1(ctx, luo_fd) {
      const { t, sys } = ctx;
      yield* create_state_file_or_exit(ctx, luo_fd, FLOW_STATE_SESSION, FLOW_STATE_TOKEN, 2);
      const { vm, gmem_fd } = yield* vm_with_guest_data(ctx);
      const sfd = yield* luo_create_session(sys, luo_fd, FLOW_SESSION);
      t.ASSERT_EQ(yield* luo_session_preserve_fd(sys, sfd, vm.fd, VM_TOKEN), 0, 'VM');
      t.ASSERT_EQ(yield* luo_session_preserve_fd(sys, sfd, gmem_fd, GMEM_TOKEN), 0, 'gmem');
      t.ASSERT_EQ(yield* sys.close(vm.fd), 0, 'close the VM fd');
      yield* sys.close(luo_fd);
      yield* daemonize_and_wait(ctx);
    },
    *stage2(ctx, luo_fd, state_fd) {
      const { t, sys } = ctx;
      const sfd = yield* luo_retrieve_session(sys, luo_fd, FLOW_SESSION);
      t.ASSERT_GE(yield* luo_session_retrieve_fd(sys, sfd, GMEM_TOKEN), 0, 'gmem');
      t.ASSERT_EQ(yield* luo_session_finish(sys, sfd), 0, 'FINISH');
      t.ASSERT_EQ(yield* luo_session_finish(sys, state_fd), 0, 'FINISH state');
    },
  });
  const { judged, state } = runStraight(flow, 'default');
  assert.equal(judged.violation, null, JSON.stringify(judged.violation));
  assert.equal(state.kexecs, 1);
});
