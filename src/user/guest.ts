/**
 * Guest programs: what a vCPU executes, written like the selftests' guest_code functions.
 *
 * A guest program is a generator function of guest operations (GuestOp of the kernel model's
 * kvm_host): loads and stores at guest physical addresses, and ucalls to the host. `yield*`
 * the helpers below; a load gives back the bytes read. The ucall commands and GUEST_* macros
 * mirror tools/testing/selftests/kvm/include/ucall_common.h (v7.2-era): GUEST_SYNC, GUEST_DONE,
 * GUEST_ASSERT (an abort ucall carrying the message), GUEST_FAIL.
 *
 * A guest access to a page that must be allocated in a frozen guest_memfd makes KVM_RUN return
 * -EPERM with a KVM_EXIT_MEMORY_FAULT exit; the next KVM_RUN retries that same access, as the
 * faulting instruction would be re-executed.
 */
import type { GuestCode, GuestOp } from '../linux/include/linux/kvm_host.ts';

export type { GuestCode, GuestOp };

/** A guest helper: yields guest operations and returns T. */
export type Guest<T = void> = Generator<GuestOp, T, Uint8Array>;

export const UCALL_NONE = 0;
export const UCALL_SYNC = 1;
export const UCALL_ABORT = 2;
export const UCALL_PRINTF = 3;
export const UCALL_DONE = 4;

/** Reads `len` bytes of guest memory at `gpa`. */
export function* guest_load(gpa: number, len: number): Guest<Uint8Array> {
  return yield { kind: 'load', gpa, len };
}

/** Writes `bytes` to guest memory at `gpa`. */
export function* guest_store(gpa: number, bytes: Uint8Array): Guest {
  yield { kind: 'store', gpa, bytes };
}

export function* ucall(cmd: number, args: readonly bigint[] = [], message = ''): Guest {
  yield { kind: 'ucall', cmd, args, message };
}

/** GUEST_SYNC(stage). */
export function* GUEST_SYNC(stage: number | bigint): Guest {
  yield* ucall(UCALL_SYNC, [BigInt(stage)]);
}

/** GUEST_DONE(). */
export function* GUEST_DONE(): Guest {
  yield* ucall(UCALL_DONE);
}

/** GUEST_FAIL(message): an abort ucall. */
export function* GUEST_FAIL(message: string): Guest {
  yield* ucall(UCALL_ABORT, [], message);
}

/** __GUEST_ASSERT(cond, message): aborts (and stops at hlt) when `cond` is false. */
export function* GUEST_ASSERT(cond: boolean, message = 'guest assertion failed'): Guest {
  if (cond) return;
  yield* GUEST_FAIL(message);
  for (;;) yield { kind: 'hlt' };
}

/** Stores `pattern(i)` for i in [0, len) at gpa, page-sized chunks at a time. */
export function* guest_write_pattern(
  gpa: number,
  len: number,
  pattern: (i: number) => number,
  chunk = 4096,
): Guest {
  for (let at = 0; at < len; at += chunk) {
    const n = Math.min(chunk, len - at);
    const bytes = new Uint8Array(n);
    for (let i = 0; i < n; i++) bytes[i] = pattern(at + i) & 0xff;
    yield* guest_store(gpa + at, bytes);
  }
}

/** Checks `pattern(i)` for i in [0, len) at gpa; aborts with the selftest's message on the first
 * mismatch. */
export function* guest_check_pattern(
  gpa: number,
  len: number,
  pattern: (i: number) => number,
  chunk = 4096,
): Guest {
  for (let at = 0; at < len; at += chunk) {
    const bytes = yield* guest_load(gpa + at, Math.min(chunk, len - at));
    const bad = bytes.findIndex((b, i) => b !== (pattern(at + i) & 0xff));
    if (bad >= 0) {
      const want = pattern(at + bad) & 0xff;
      const got = bytes[bad] ?? 0;
      yield* GUEST_ASSERT(
        false,
        `Data mismatch at offset ${at + bad}! Expected 0x${want.toString(16)}, got 0x${got.toString(16)}`,
      );
    }
  }
}

/**
 * Stores a repeating page image over [gpa, gpa + len): the fast form of guest_write_pattern for
 * patterns that repeat every page (like the selftests' `i ^ 0x5A`, whose period is 256 bytes).
 */
export function* guest_write_repeating(gpa: number, len: number, image: Uint8Array): Guest {
  for (let at = 0; at < len; at += image.length) {
    const n = Math.min(image.length, len - at);
    yield* guest_store(gpa + at, n === image.length ? image : image.subarray(0, n));
  }
}

/** Checks a repeating page image over [gpa, gpa + len), aborting with the selftest's message. */
export function* guest_check_repeating(gpa: number, len: number, image: Uint8Array): Guest {
  for (let at = 0; at < len; at += image.length) {
    const n = Math.min(image.length, len - at);
    const bytes = yield* guest_load(gpa + at, n);
    const want = n === image.length ? image : image.subarray(0, n);
    if (Buffer.compare(bytes, want) === 0) continue;
    for (let i = 0; i < n; i++) {
      if (bytes[i] !== image[i]) {
        const want = image[i] ?? 0;
        const got = bytes[i] ?? 0;
        yield* GUEST_ASSERT(
          false,
          `Data mismatch at offset ${at + i}! Expected 0x${want.toString(16)}, got 0x${got.toString(16)}`,
        );
      }
    }
  }
}
