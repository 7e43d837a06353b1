/**
 * The selftest ports: every one passes straight through and under `check` (one task, so DFS
 * proves its single schedule), the kexec ports really cross a kexec (two boots, one kexec), and
 * the harness fails a test whenever the program misbehaves: a skipped daemonize loses every
 * session at the kexec and stage 2 reports the stage mismatch, a wrong errno fails its EXPECT,
 * and a machine resumed at stage 2 runs stage 2 only.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { check } from '../../src/explore/check.ts';
import { runScenarioOnce } from '../../src/explore/run.ts';
import { resolveArgs, type Scenario } from '../../src/explore/scenario.ts';
import type { Machine } from '../../src/machine/machine.ts';
import { selftests } from '../../src/scenarios/registry.ts';
import { defineKexecSelftest, defineSelftest } from '../../src/scenarios/selftests/common.ts';
import type { Decider } from '../../src/sim/index.ts';
import {
  luo_create_session,
  luo_open_device,
  luo_retrieve_session,
} from '../../src/user/libliveupdate.ts';
import { kvm_check_cap } from '../../src/user/kvm_util.ts';
import { daemonize_and_wait, TestSystem } from '../../src/user/two_stage.ts';
import { EEXIST } from '../../src/user/uapi.ts';

const straight: Decider = { pickTask: (_e, _c, dflt) => dflt, pickChoice: () => 0 };

function runStraight<S>(s: Scenario<S>, onSetup?: (state: S) => void) {
  const states: S[] = [];
  const observed: Scenario<S> = {
    ...s,
    setup: (sim, args) => {
      const state = s.setup(sim, args);
      states.push(state);
      onSetup?.(state);
      return state;
    },
  };
  const judged = runScenarioOnce(observed, resolveArgs(s), straight, {
    stepsMax: s.defaults?.steps ?? 10_000,
    trace: false,
  });
  assert.equal(states.length, 1);
  return { judged, state: states[0] as S };
}

const ports = selftests();

test('there are 20 ports: 15 liveupdate.c cases, 4 LUO kexec selftests and guest_memfd', () => {
  assert.equal(ports.length, 20);
  assert.equal(ports.filter((b) => b.name.startsWith('liveupdate.')).length, 15);
});

for (const b of ports) {
  test(`${b.name} passes`, async () => {
    const s = (await b.load()) as unknown as Scenario<TestSystem>;
    assert.equal(s.defaults?.expect, 'holds');
    const { judged, state } = runStraight(s);
    assert.equal(judged.violation, null, JSON.stringify(judged.violation));
    assert.equal(judged.result.outcome.kind, 'complete');
    assert.equal(state.ksft.status, 'pass');
    if (!b.name.startsWith('liveupdate.')) {
      assert.equal(state.boots, 2);
      assert.equal(state.kexecs, 1);
      assert.match(state.ksft.log.at(-1) ?? '', /TEST PASSED|Phase 2 Complete/);
    }
  });
}

test('check proves a kexec port: one task, one schedule', async () => {
  const b = ports.find((p) => p.name === 'luo_multi_session');
  assert.ok(b);
  const s = await b.load();
  const r = check(s, {
    scenarioRef: b.name,
    strategy: 'dfs',
    seed: 1,
    limits: { stepsMax: s.defaults?.steps ?? 10_000 },
  });
  assert.equal(r.verdict, 'holds');
  assert.equal(r.executions, 1);
  assert.deepEqual(r.coverage, { kind: 'exhaustive', bound: null });
});

test('without daemonize_and_wait the sessions die with the program: stage 2 sees stage 1', () => {
  const broken = defineKexecSelftest({
    name: 'no-daemon',
    description: 'stage 1 exits without a process holding the session fds',
    stateSessionName: 'state',
    *stage1(ctx, luo_fd) {
      ctx.t.ASSERT_GE(yield* luo_create_session(ctx.sys, luo_fd, 'state'), 0, 'create');
    },
    // eslint-disable-next-line require-yield
    *stage2(ctx) {
      ctx.t.fail_exit('stage 2 must not run');
    },
  });
  const { judged, state } = runStraight(broken);
  assert.equal(state.kexecs, 1);
  assert.equal(judged.violation?.property, 'selftest-passes');
  assert.match(
    judged.violation.message,
    /Stage mismatch Requested stage 2, but system is in stage 1/,
  );
  assert.match(judged.violation.message, /MISSING/);
});

test('a wrong expected errno fails the EXPECT with both values', () => {
  const wrong = defineSelftest({
    name: 'wrong-errno',
    description: 'expects EEXIST where the kernel says EINVAL',
    program: 'wrong',
    *body(ctx) {
      const fd = yield* luo_open_device(ctx.sys);
      ctx.t.EXPECT_EQ(yield* luo_create_session(ctx.sys, fd, ''), -EEXIST, 'empty name');
    },
  });
  const { judged } = runStraight(wrong);
  assert.match(judged.violation?.message ?? '', /empty name: got -22 \(-EINVAL\), expected -17/);
});

test('the kexec hook sees the machine once, and a resumed machine runs stage 2 only', async () => {
  const b = ports.find((p) => p.name === 'luo_kexec_simple');
  assert.ok(b);
  const s = (await b.load()) as unknown as Scenario<TestSystem>;
  const seen: Machine[] = [];
  const first = runStraight(s, (st) => {
    st.onKexec = (m) => seen.push(m);
    st.stopAfterKexec = true;
  });
  assert.equal(first.judged.violation, null);
  assert.equal(seen.length, 1);
  assert.equal(first.state.boots, 1);
  const machine = seen[0] as Machine;
  const second = runStraight(s, (st) => {
    st.resumeFrom = machine;
  });
  assert.equal(second.judged.violation, null, JSON.stringify(second.judged.violation));
  assert.equal(second.state.boots, 1);
  assert.equal(second.state.kexecs, 0);
  assert.ok(second.state.ksft.log.every((l) => !l.startsWith('[STAGE 1]')));
});

test('stage detection: the state session exists only after the kexec', () => {
  const probe = defineKexecSelftest({
    name: 'probe',
    description: 'stage 2 finds the state session and nothing retrieves it twice',
    stateSessionName: 'probe-state',
    *stage1(ctx, luo_fd) {
      ctx.t.ASSERT_GE(yield* luo_create_session(ctx.sys, luo_fd, 'probe-state'), 0, 'create');
      yield* ctx.sys.close(luo_fd);
      yield* daemonize_and_wait(ctx);
    },
    *stage2(ctx, luo_fd, state_fd) {
      ctx.t.ASSERT_GE(state_fd, 0, 'state session fd');
      const again = yield* luo_retrieve_session(ctx.sys, luo_fd, 'probe-state');
      ctx.t.ASSERT_LT(again, 0, 'second retrieve');
    },
  });
  const { judged, state } = runStraight(probe);
  assert.equal(judged.violation, null, JSON.stringify(judged.violation));
  assert.equal(state.holders.length, 1);
});

test("main's TEST_REQUIRE runs first in both stages; an absent capability skips the test", async () => {
  const b = ports.find((p) => p.name === 'guest_memfd_preservation');
  assert.ok(b);
  const gmem = (await b.load()) as unknown as Scenario<TestSystem>;
  const traced = runScenarioOnce(gmem, resolveArgs(gmem), straight, {
    stepsMax: gmem.defaults?.steps ?? 10_000,
    trace: true,
  });
  const syscalls = traced.result.events.flatMap((e) => (e.kind === 'note' ? [e.text] : []));
  // Each stage: /dev/kvm opened for KVM_CHECK_EXTENSION(KVM_CAP_GUEST_MEMFD) and closed before
  // luo_test opens /dev/liveupdate.
  const starts = syscalls.flatMap((text, i) => (text.startsWith('open("/dev/kvm")') ? [i] : []));
  const stageStarts = starts.filter((i) => syscalls[i + 3]?.startsWith('open("/dev/liveupdate")'));
  assert.equal(stageStarts.length, 2, syscalls.slice(0, 8).join('\n'));
  for (const i of stageStarts) {
    assert.match(syscalls[i + 1] ?? '', /^ioctl\(\d+, 0xae03\) = 1$/);
    assert.match(syscalls[i + 2] ?? '', /^close\(\d+\) = 0$/);
  }

  const unmet = defineKexecSelftest({
    name: 'needs-a-cap',
    description: 'requires a capability KVM does not have',
    stateSessionName: 'state',
    *main(ctx) {
      ctx.t.TEST_REQUIRE((yield* kvm_check_cap(ctx.sys, 0x7fff)) > 0, 'kvm_has_cap(0x7fff)');
    },
    // eslint-disable-next-line require-yield
    *stage1(ctx) {
      ctx.t.fail_exit('stage 1 must not run');
    },
    // eslint-disable-next-line require-yield
    *stage2(ctx) {
      ctx.t.fail_exit('stage 2 must not run');
    },
  });
  const { judged, state } = runStraight(unmet);
  assert.equal(state.ksft.status, 'skip');
  assert.equal(state.ksft.skipReason, '- Requirement not met: kvm_has_cap(0x7fff)');
  assert.equal(state.kexecs, 0);
  assert.equal(judged.violation?.property, 'selftest-passes');
});
