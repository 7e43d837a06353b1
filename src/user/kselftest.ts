/**
 * The kselftest harness as the selftest programs use it: assertions, skips, messages, exit.
 *
 * Mirrors tools/testing/selftests/kselftest_harness.h and kselftest.h (v7.2-era): ASSERT_* ends
 * the test at the first failure, EXPECT_* records the failure and lets the test go on, SKIP
 * ends it as skipped, ksft_print_msg is a line of the test's log, and fail_exit / exit end the
 * program. Names are the C ones so that a port reads like its source.
 *
 * A test body is a generator that runs in an engine task; ending it early is an exception
 * (KsftStop) that the program runner catches, so no errno or assertion ever escapes as a crash.
 * Negative results are shown with their errno name (`-16 (-EBUSY)`) because the selftests
 * compare `-errno` values.
 */
import type { Sim } from '../sim/index.ts';
import { errnoName } from '../linux/include/uapi/asm-generic/errno.ts';

/** How a program ended early: a failed ASSERT, a skip, or an explicit exit. */
export class KsftStop extends Error {
  override readonly name = 'KsftStop';
  readonly kind: 'assert' | 'skip' | 'exit';
  readonly code: number;

  constructor(kind: 'assert' | 'skip' | 'exit', message: string, code = 0) {
    super(message);
    this.kind = kind;
    this.code = code;
  }
}

export type KsftStatus = 'pass' | 'fail' | 'skip';

type Value = number | bigint | string | boolean | null;

function show(v: Value): string {
  if (typeof v === 'number' && v < 0 && Number.isInteger(v) && v >= -4095)
    return `${v} (-${errnoName(v)})`;
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint') return `0x${v.toString(16)}`;
  return String(v);
}

/** One test's harness: its failures, skip reason and log. */
export class Ksft {
  readonly sim: Sim;
  readonly failures: string[] = [];
  readonly log: string[] = [];
  skipReason: string | null = null;

  constructor(sim: Sim) {
    this.sim = sim;
  }

  get status(): KsftStatus {
    if (this.failures.length > 0) return 'fail';
    return this.skipReason === null ? 'pass' : 'skip';
  }

  /** ksft_print_msg. */
  print_msg(msg: string): void {
    this.log.push(msg);
    this.sim.note(msg);
  }

  private check(ok: boolean, fatal: boolean, what: string, detail: string): void {
    if (ok) return;
    const message = `${fatal ? 'ASSERT' : 'EXPECT'} ${what}: ${detail}`;
    this.failures.push(message);
    this.sim.note(`FAIL ${message}`);
    if (fatal) throw new KsftStop('assert', message);
  }

  ASSERT_EQ(seen: Value, expected: Value, what: string): void {
    this.check(seen === expected, true, what, `got ${show(seen)}, expected ${show(expected)}`);
  }

  EXPECT_EQ(seen: Value, expected: Value, what: string): void {
    this.check(seen === expected, false, what, `got ${show(seen)}, expected ${show(expected)}`);
  }

  ASSERT_NE(seen: Value, unexpected: Value, what: string): void {
    this.check(seen !== unexpected, true, what, `got ${show(seen)}`);
  }

  ASSERT_GE(seen: number, bound: number, what: string): void {
    this.check(seen >= bound, true, what, `got ${show(seen)}, expected >= ${bound}`);
  }

  EXPECT_GE(seen: number, bound: number, what: string): void {
    this.check(seen >= bound, false, what, `got ${show(seen)}, expected >= ${bound}`);
  }

  ASSERT_LT(seen: number, bound: number, what: string): void {
    this.check(seen < bound, true, what, `got ${show(seen)}, expected < ${bound}`);
  }

  EXPECT_LT(seen: number, bound: number, what: string): void {
    this.check(seen < bound, false, what, `got ${show(seen)}, expected < ${bound}`);
  }

  ASSERT_STREQ(seen: string | number, expected: string, what: string): void {
    this.check(seen === expected, true, what, `got ${show(seen)}, expected ${show(expected)}`);
  }

  /** SKIP(return, ...): ends the test as skipped. */
  SKIP(reason: string): never {
    this.skipReason = reason;
    this.sim.note(`SKIP ${reason}`);
    throw new KsftStop('skip', reason);
  }

  /** fail_exit / ksft_exit_fail_msg: a failure that ends the program with status 1. */
  fail_exit(message: string): never {
    this.failures.push(message);
    this.sim.note(`FAIL ${message}`);
    throw new KsftStop('exit', message, 1);
  }

  /** TEST_REQUIRE(f): skips the test unless `ok`; `what` is the condition as written in C. */
  TEST_REQUIRE(ok: boolean, what: string): void {
    if (!ok) this.exit_skip(`- Requirement not met: ${what}`);
  }

  /** ksft_exit_skip. */
  exit_skip(reason: string): never {
    this.SKIP(reason);
  }

  /** exit(code) of the running program (the runner closes its fds). */
  exit(code: number): never {
    throw new KsftStop('exit', `exit(${code})`, code);
  }
}
