/**
 * The selftests' userspace library for /dev/liveupdate, as generators over a process's syscalls.
 *
 * Mirrors tools/testing/selftests/liveupdate/lib (libliveupdate: lu_utils.c, libliveupdate.h;
 * formerly luo_test_utils.c), v7.2-era: thin ioctl wrappers that return the fd or 0, or -errno,
 * and the two-stage helpers (state session, stage detection). Names are the C ones.
 */
import type { Sched } from '../sim/index.ts';
import { EFAULT, EINVAL, ENOENT } from '../linux/include/uapi/asm-generic/errno.ts';
import { O_RDWR } from '../linux/include/uapi/asm-generic/fcntl.ts';
import { MAP_SHARED, PROT_READ, PROT_WRITE } from '../linux/include/uapi/asm-generic/mman.ts';
import {
  LIVEUPDATE_IOCTL_CREATE_SESSION,
  LIVEUPDATE_IOCTL_RETRIEVE_SESSION,
  LIVEUPDATE_SESSION_FINISH,
  LIVEUPDATE_SESSION_GET_NAME,
  LIVEUPDATE_SESSION_NAME_LENGTH,
  LIVEUPDATE_SESSION_PRESERVE_FD,
  LIVEUPDATE_SESSION_RETRIEVE_FD,
  liveupdate_ioctl_create_session,
  liveupdate_ioctl_retrieve_session,
  liveupdate_name_bytes,
  liveupdate_session_finish,
  liveupdate_session_get_name,
  liveupdate_session_preserve_fd,
  liveupdate_session_retrieve_fd,
} from '../linux/include/uapi/linux/liveupdate.ts';
import type { Process } from './process.ts';
import { getrlimit_nofile, setrlimit_nofile } from './process_control.ts';
import type { Syscalls } from './syscalls.ts';

export const LUO_DEVICE = '/dev/liveupdate';

export function* luo_open_device(sys: Syscalls): Sched<number> {
  return yield* sys.open(LUO_DEVICE, O_RDWR);
}

function nameStruct(size: number, name: string): Uint8Array {
  const buf = new Uint8Array(size);
  new DataView(buf.buffer).setUint32(0, size, true);
  const bytes = new TextEncoder().encode(name).subarray(0, LIVEUPDATE_SESSION_NAME_LENGTH - 1);
  liveupdate_name_bytes(buf).set(bytes);
  return buf;
}

/** CREATE_SESSION; the name is truncated to 63 bytes. The session fd or -errno. */
export function* luo_create_session(sys: Syscalls, luo_fd: number, name: string): Sched<number> {
  const arg = nameStruct(liveupdate_ioctl_create_session.size, name);
  const ret = yield* sys.ioctl(luo_fd, LIVEUPDATE_IOCTL_CREATE_SESSION, arg);
  return ret < 0 ? ret : liveupdate_ioctl_create_session.read(arg).fd;
}

export function* luo_retrieve_session(sys: Syscalls, luo_fd: number, name: string): Sched<number> {
  const arg = nameStruct(liveupdate_ioctl_retrieve_session.size, name);
  const ret = yield* sys.ioctl(luo_fd, LIVEUPDATE_IOCTL_RETRIEVE_SESSION, arg);
  return ret < 0 ? ret : liveupdate_ioctl_retrieve_session.read(arg).fd;
}

export function* luo_session_preserve_fd(
  sys: Syscalls,
  session_fd: number,
  fd: number,
  token: bigint,
): Sched<number> {
  const s = liveupdate_session_preserve_fd;
  const arg = s.encode({ size: s.size, fd, token });
  return yield* sys.ioctl(session_fd, LIVEUPDATE_SESSION_PRESERVE_FD, arg);
}

export function* luo_session_retrieve_fd(
  sys: Syscalls,
  session_fd: number,
  token: bigint,
): Sched<number> {
  const s = liveupdate_session_retrieve_fd;
  const arg = s.encode({ size: s.size, fd: -1, token });
  const ret = yield* sys.ioctl(session_fd, LIVEUPDATE_SESSION_RETRIEVE_FD, arg);
  return ret < 0 ? ret : s.read(arg).fd;
}

export function* luo_session_finish(sys: Syscalls, session_fd: number): Sched<number> {
  const s = liveupdate_session_finish;
  return yield* sys.ioctl(
    session_fd,
    LIVEUPDATE_SESSION_FINISH,
    s.encode({ size: s.size, reserved: 0 }),
  );
}

/** The NUL-terminated string at the start of `bytes` (all of them without a NUL). */
export function cString(bytes: Uint8Array): string {
  const nul = bytes.indexOf(0);
  return new TextDecoder().decode(bytes.subarray(0, nul < 0 ? bytes.length : nul));
}

/** GET_NAME: the session's name, or -errno. */
export function* luo_get_session_name(sys: Syscalls, session_fd: number): Sched<string | number> {
  const s = liveupdate_session_get_name;
  const arg = s.encode({ size: s.size, reserved: 0 });
  const ret = yield* sys.ioctl(session_fd, LIVEUPDATE_SESSION_GET_NAME, arg);
  if (ret < 0) return ret;
  return cString(liveupdate_name_bytes(arg));
}

const MEMFD_PAGE = 4096;

/**
 * A memfd of one page whose mapping gets `data` (NUL-terminated), preserved as `token`, then
 * closed (LUO keeps it): 0 or -errno.
 */
export function* create_and_preserve_memfd(
  sys: Syscalls,
  session_fd: number,
  token: bigint,
  data: string,
): Sched<number> {
  const fd = yield* sys.memfd_create('test_mfd', 0);
  if (fd < 0) return fd;
  let ret = yield* sys.ftruncate(fd, MEMFD_PAGE);
  if (ret >= 0) {
    const map = yield* sys.mmap(0, MEMFD_PAGE, PROT_WRITE, MAP_SHARED, fd, 0);
    if (map < 0) ret = map;
    else {
      // snprintf(map, page_size, "%s", data)
      const text = new TextEncoder().encode(data).subarray(0, MEMFD_PAGE - 1);
      const stored = yield* sys.store(map, Uint8Array.of(...text, 0));
      yield* sys.munmap(map, MEMFD_PAGE);
      if (!stored.ok) ret = -EFAULT;
    }
  }
  if (ret >= 0) ret = yield* luo_session_preserve_fd(sys, session_fd, fd, token);
  yield* sys.close(fd);
  return ret < 0 ? ret : 0;
}

/**
 * restore_and_verify_memfd(): retrieves `token`, maps its first page read-only and compares the
 * NUL-terminated text there with `expected` (null = no comparison). The fd, or -errno; a
 * mismatch is -EINVAL (the fd is closed).
 */
export function* restore_and_verify_memfd(
  sys: Syscalls,
  session_fd: number,
  token: bigint,
  expected: string | null,
): Sched<number> {
  const fd = yield* luo_session_retrieve_fd(sys, session_fd, token);
  if (fd < 0) return fd;
  let ret = fd;
  const map = yield* sys.mmap(0, MEMFD_PAGE, PROT_READ, MAP_SHARED, fd, 0);
  if (map < 0) ret = map;
  else {
    const page = yield* sys.load(map, MEMFD_PAGE);
    if (!page.ok) ret = -EFAULT;
    else if (expected !== null && cString(page.bytes) !== expected) ret = -EINVAL;
    yield* sys.munmap(map, MEMFD_PAGE);
  }
  if (ret < 0) yield* sys.close(fd);
  return ret;
}

/**
 * Retrieves `token` (restore_and_verify_memfd without a comparison) and read()s up to `max`
 * bytes at the file position (31, as restore_and_read_stage does): the fd and the
 * NUL-terminated text, or -errno.
 */
export function* restore_and_read_memfd(
  sys: Syscalls,
  session_fd: number,
  token: bigint,
  max = 31,
): Sched<{ fd: number; text: string } | number> {
  const fd = yield* restore_and_verify_memfd(sys, session_fd, token, null);
  if (fd < 0) return fd;
  const buf = new Uint8Array(max);
  const n = yield* sys.read(fd, buf);
  if (n < 0) {
    yield* sys.close(fd);
    return n;
  }
  return { fd, text: cString(buf.subarray(0, n)) };
}

/** A session `name` holding a memfd whose text is `next_stage`; the session fd stays open. */
export function* create_state_file(
  sys: Syscalls,
  luo_fd: number,
  name: string,
  token: bigint,
  next_stage: number,
): Sched<number> {
  const sfd = yield* luo_create_session(sys, luo_fd, name);
  if (sfd < 0) return sfd;
  const ret = yield* create_and_preserve_memfd(sys, sfd, token, String(next_stage));
  return ret < 0 ? ret : sfd;
}

/** Reads the stage number back from the state session. */
export function* restore_and_read_stage(
  sys: Syscalls,
  state_session_fd: number,
  token: bigint,
): Sched<number> {
  const r = yield* restore_and_read_memfd(sys, state_session_fd, token);
  if (typeof r === 'number') return r;
  yield* sys.close(r.fd);
  return Number.parseInt(r.text, 10);
}

export type DetectedStage = { stage: 1 } | { stage: 2; state_session_fd: number } | { err: number };

/** luo_test's stage detection: the state session exists only after the kexec. */
export function* luo_detect_stage(
  sys: Syscalls,
  luo_fd: number,
  state_session_name: string,
): Sched<DetectedStage> {
  const sfd = yield* luo_retrieve_session(sys, luo_fd, state_session_name);
  if (sfd === -ENOENT) return { stage: 1 };
  if (sfd < 0) return { err: sfd };
  return { stage: 2, state_session_fd: sfd };
}

/** luo_ensure_nofile_limit(): makes RLIMIT_NOFILE at least `min_limit` + 32; 0 or -errno. */
export function luo_ensure_nofile_limit(proc: Process, min_limit: number): number {
  const want = min_limit + 32;
  if (getrlimit_nofile(proc) >= want) return 0;
  return setrlimit_nofile(proc, want);
}
