/**
 * Port of tools/testing/selftests/liveupdate/liveupdate.c (v7.2-era mainline): the 15 cases of
 * the `liveupdate_device` fixture, one scenario each, named `liveupdate.<case>`.
 *
 * Each case runs as its own process on a fresh boot with `liveupdate=on` (the kselftest harness
 * forks a child per case; here every case also gets its own kernel, which only removes
 * cross-test leftovers). The fixture holds two device fds, closed by the teardown if still
 * open. Steps, session names, tokens, data and expected errno values are those of the C file;
 * every negative case asserts its exact errno. preserve_unsupported_fd opens /dev/null, as
 * the C file does (drivers/char/mem.ts).
 */
import type { Sched } from '../../sim/index.ts';
import type { Scenario } from '../../explore/scenario.ts';
import {
  cString,
  luo_create_session,
  luo_ensure_nofile_limit,
  luo_get_session_name,
  luo_session_preserve_fd,
  LUO_DEVICE,
} from '../../user/libliveupdate.ts';
import type { ProgramContext } from '../../user/two_stage.ts';
import type { TestSystem } from '../../user/two_stage.ts';
import {
  EBUSY,
  EEXIST,
  EINVAL,
  ENOENT,
  EPERM,
  LIVEUPDATE_IOCTL_CREATE_SESSION,
  LIVEUPDATE_SESSION_NAME_LENGTH,
  O_RDWR,
  SEEK_SET,
  liveupdate_ioctl_create_session,
  liveupdate_name_bytes,
} from '../../user/uapi.ts';
import { defineSelftest } from './common.ts';

/** FIXTURE(liveupdate_device). */
interface Fixture {
  fd1: number;
  fd2: number;
}

type Case = (self: Fixture, ctx: ProgramContext) => Sched;

/** TEST_F(liveupdate_device, name): fixture setup, the body, then the teardown. */
function TEST_F(name: string, description: string, body: Case, steps?: number) {
  return defineSelftest({
    name: `liveupdate.${name}`,
    description: `liveupdate.c ${name}: ${description}`,
    program: 'liveupdate',
    ...(steps === undefined ? {} : { steps }),
    *body(ctx) {
      const self: Fixture = { fd1: -1, fd2: -1 };
      try {
        yield* body(self, ctx);
      } finally {
        if (self.fd1 >= 0) yield* ctx.sys.close(self.fd1);
        if (self.fd2 >= 0) yield* ctx.sys.close(self.fd2);
      }
    },
  });
}

/** self->fd1 = open(LIVEUPDATE_DEV, O_RDWR), skipping when the device does not exist. */
function* openDevice(self: Fixture, ctx: ProgramContext): Sched {
  self.fd1 = yield* ctx.sys.open(LUO_DEVICE, O_RDWR);
  if (self.fd1 === -ENOENT) ctx.t.SKIP(`${LUO_DEVICE} does not exist`);
  ctx.t.ASSERT_GE(self.fd1, 0, 'open(/dev/liveupdate)');
}

const basic_open_close = TEST_F(
  'basic_open_close',
  'the device opens and closes',
  function* (self, ctx) {
    yield* openDevice(self, ctx);
    ctx.t.ASSERT_EQ(yield* ctx.sys.close(self.fd1), 0, 'close(fd1)');
    self.fd1 = -1;
  },
);

const exclusive_open = TEST_F(
  'exclusive_open',
  'a second open fails with EBUSY',
  function* (self, ctx) {
    yield* openDevice(self, ctx);
    self.fd2 = yield* ctx.sys.open(LUO_DEVICE, O_RDWR);
    ctx.t.EXPECT_LT(self.fd2, 0, 'second open');
    ctx.t.EXPECT_EQ(self.fd2, -EBUSY, 'errno of the second open');
  },
);

const create_duplicate_session = TEST_F(
  'create_duplicate_session',
  'a second session of the same name fails with EEXIST',
  function* (self, ctx) {
    const { t, sys } = ctx;
    yield* openDevice(self, ctx);
    const session_fd1 = yield* luo_create_session(sys, self.fd1, 'duplicate-session-test');
    t.ASSERT_GE(session_fd1, 0, 'luo_create_session');
    const session_fd2 = yield* luo_create_session(sys, self.fd1, 'duplicate-session-test');
    t.EXPECT_LT(session_fd2, 0, 'duplicate luo_create_session');
    t.EXPECT_EQ(-session_fd2, EEXIST, 'errno of the duplicate');
    t.ASSERT_EQ(yield* sys.close(session_fd1), 0, 'close(session_fd1)');
  },
);

const create_distinct_sessions = TEST_F(
  'create_distinct_sessions',
  'two sessions with different names',
  function* (self, ctx) {
    const { t, sys } = ctx;
    yield* openDevice(self, ctx);
    const session_fd1 = yield* luo_create_session(sys, self.fd1, 'distinct-session-1');
    t.ASSERT_GE(session_fd1, 0, 'luo_create_session(distinct-session-1)');
    const session_fd2 = yield* luo_create_session(sys, self.fd1, 'distinct-session-2');
    t.ASSERT_GE(session_fd2, 0, 'luo_create_session(distinct-session-2)');
    t.ASSERT_EQ(yield* sys.close(session_fd1), 0, 'close(session_fd1)');
    t.ASSERT_EQ(yield* sys.close(session_fd2), 0, 'close(session_fd2)');
  },
);

const enc = new TextEncoder();

/** write(fd, s, strlen(s)) == strlen(s). */
function* writeString(ctx: ProgramContext, fd: number, text: string, what: string): Sched {
  const bytes = enc.encode(text);
  ctx.t.ASSERT_EQ(yield* ctx.sys.write(fd, bytes), bytes.length, what);
}

/** lseek(fd, 0, SEEK_SET) == 0, then read(fd, read_buf, 64) == strlen(expected), and the text. */
function* readBack(ctx: ProgramContext, fd: number, expected: string, what: string): Sched {
  const { t, sys } = ctx;
  t.ASSERT_EQ(yield* sys.lseek(fd, 0, SEEK_SET), 0, `lseek(${what})`);
  const read_buf = new Uint8Array(64);
  const n = yield* sys.read(fd, read_buf);
  t.ASSERT_EQ(n, enc.encode(expected).length, `read(${what})`);
  if (expected !== '') {
    t.ASSERT_STREQ(cString(read_buf), expected, `contents of ${what}`);
  }
}

function* memfd(ctx: ProgramContext, name: string): Sched<number> {
  const fd = yield* ctx.sys.memfd_create(name, 0);
  ctx.t.ASSERT_GE(fd, 0, `memfd_create(${name})`);
  return fd;
}

const preserve_memfd = TEST_F(
  'preserve_memfd',
  'a preserved memfd keeps its data after the session is closed',
  function* (self, ctx) {
    const { t, sys } = ctx;
    const test_str = 'hello liveupdate';
    yield* openDevice(self, ctx);
    const session_fd = yield* luo_create_session(sys, self.fd1, 'preserve-memfd-test');
    t.ASSERT_GE(session_fd, 0, 'luo_create_session');
    const mem_fd = yield* memfd(ctx, 'test-memfd');
    yield* writeString(ctx, mem_fd, test_str, 'write(mem_fd)');
    t.ASSERT_EQ(yield* luo_session_preserve_fd(sys, session_fd, mem_fd, 0x1234n), 0, 'preserve');
    t.ASSERT_EQ(yield* sys.close(session_fd), 0, 'close(session_fd)');
    yield* readBack(ctx, mem_fd, test_str, 'mem_fd');
    t.ASSERT_EQ(yield* sys.close(mem_fd), 0, 'close(mem_fd)');
  },
);

const preserve_multiple_memfds = TEST_F(
  'preserve_multiple_memfds',
  'two memfds in one session keep their own data',
  function* (self, ctx) {
    const { t, sys } = ctx;
    const test_str1 = 'data for memfd one';
    const test_str2 = 'data for memfd two';
    yield* openDevice(self, ctx);
    const session_fd = yield* luo_create_session(sys, self.fd1, 'preserve-multi-memfd-test');
    t.ASSERT_GE(session_fd, 0, 'luo_create_session');
    const mem_fd1 = yield* memfd(ctx, 'test-memfd-1');
    const mem_fd2 = yield* memfd(ctx, 'test-memfd-2');
    yield* writeString(ctx, mem_fd1, test_str1, 'write(mem_fd1)');
    yield* writeString(ctx, mem_fd2, test_str2, 'write(mem_fd2)');
    t.ASSERT_EQ(yield* luo_session_preserve_fd(sys, session_fd, mem_fd1, 0xaaaan), 0, 'preserve 1');
    t.ASSERT_EQ(yield* luo_session_preserve_fd(sys, session_fd, mem_fd2, 0xbbbbn), 0, 'preserve 2');
    yield* readBack(ctx, mem_fd1, test_str1, 'mem_fd1');
    yield* readBack(ctx, mem_fd2, test_str2, 'mem_fd2');
    t.ASSERT_EQ(yield* sys.close(mem_fd1), 0, 'close(mem_fd1)');
    t.ASSERT_EQ(yield* sys.close(mem_fd2), 0, 'close(mem_fd2)');
    t.ASSERT_EQ(yield* sys.close(session_fd), 0, 'close(session_fd)');
  },
);

const preserve_complex_scenario = TEST_F(
  'preserve_complex_scenario',
  'two sessions with a mix of empty and non-empty memfds',
  function* (self, ctx) {
    const { t, sys } = ctx;
    const data1 = 'data for session 1';
    const data2 = 'data for session 2';
    yield* openDevice(self, ctx);
    const session_fd1 = yield* luo_create_session(sys, self.fd1, 'complex-session-1');
    t.ASSERT_GE(session_fd1, 0, 'luo_create_session(complex-session-1)');
    const session_fd2 = yield* luo_create_session(sys, self.fd1, 'complex-session-2');
    t.ASSERT_GE(session_fd2, 0, 'luo_create_session(complex-session-2)');
    const mem_fd_data1 = yield* memfd(ctx, 'data1');
    yield* writeString(ctx, mem_fd_data1, data1, 'write(mem_fd_data1)');
    const mem_fd_empty1 = yield* memfd(ctx, 'empty1');
    const mem_fd_data2 = yield* memfd(ctx, 'data2');
    yield* writeString(ctx, mem_fd_data2, data2, 'write(mem_fd_data2)');
    const mem_fd_empty2 = yield* memfd(ctx, 'empty2');
    for (const [sfd, fd, token] of [
      [session_fd1, mem_fd_data1, 0x1111n],
      [session_fd1, mem_fd_empty1, 0x2222n],
      [session_fd2, mem_fd_data2, 0x3333n],
      [session_fd2, mem_fd_empty2, 0x4444n],
    ] as const)
      t.ASSERT_EQ(yield* luo_session_preserve_fd(sys, sfd, fd, token), 0, `preserve ${token}`);
    yield* readBack(ctx, mem_fd_data1, data1, 'mem_fd_data1');
    yield* readBack(ctx, mem_fd_data2, data2, 'mem_fd_data2');
    yield* readBack(ctx, mem_fd_empty1, '', 'mem_fd_empty1');
    yield* readBack(ctx, mem_fd_empty2, '', 'mem_fd_empty2');
    for (const fd of [mem_fd_data1, mem_fd_empty1, mem_fd_data2, mem_fd_empty2])
      t.ASSERT_EQ(yield* sys.close(fd), 0, `close(${fd})`);
    t.ASSERT_EQ(yield* sys.close(session_fd1), 0, 'close(session_fd1)');
    t.ASSERT_EQ(yield* sys.close(session_fd2), 0, 'close(session_fd2)');
  },
);

const preserve_unsupported_fd = TEST_F(
  'preserve_unsupported_fd',
  'a file without a LUO handler (/dev/null) fails with ENOENT',
  function* (self, ctx) {
    const { t, sys } = ctx;
    yield* openDevice(self, ctx);
    const session_fd = yield* luo_create_session(sys, self.fd1, 'unsupported-fd-test');
    t.ASSERT_GE(session_fd, 0, 'luo_create_session');
    const unsupported_fd = yield* sys.open('/dev/null', O_RDWR);
    t.ASSERT_GE(unsupported_fd, 0, 'open(/dev/null)');
    const ret = yield* luo_session_preserve_fd(sys, session_fd, unsupported_fd, 0xdeadn);
    t.EXPECT_EQ(ret, -ENOENT, 'preserve of an unsupported fd');
    t.ASSERT_EQ(yield* sys.close(unsupported_fd), 0, 'close(unsupported_fd)');
    t.ASSERT_EQ(yield* sys.close(session_fd), 0, 'close(session_fd)');
  },
);

const prevent_double_preservation = TEST_F(
  'prevent_double_preservation',
  'a memfd preserved once fails with EBUSY in another session and again in its own',
  function* (self, ctx) {
    const { t, sys } = ctx;
    yield* openDevice(self, ctx);
    const session_fd1 = yield* luo_create_session(sys, self.fd1, 'double-preserve-session-1');
    t.ASSERT_GE(session_fd1, 0, 'luo_create_session(double-preserve-session-1)');
    const session_fd2 = yield* luo_create_session(sys, self.fd1, 'double-preserve-session-2');
    t.ASSERT_GE(session_fd2, 0, 'luo_create_session(double-preserve-session-2)');
    const mem_fd = yield* memfd(ctx, 'test-memfd');
    t.ASSERT_EQ(yield* luo_session_preserve_fd(sys, session_fd1, mem_fd, 0x1111n), 0, 'first');
    let ret = yield* luo_session_preserve_fd(sys, session_fd2, mem_fd, 0x2222n);
    t.EXPECT_EQ(ret, -EBUSY, 'preserve in a different session');
    ret = yield* luo_session_preserve_fd(sys, session_fd1, mem_fd, 0x3333n);
    t.EXPECT_EQ(ret, -EBUSY, 'preserve again in the same session, another token');
    t.ASSERT_EQ(yield* sys.close(mem_fd), 0, 'close(mem_fd)');
    t.ASSERT_EQ(yield* sys.close(session_fd1), 0, 'close(session_fd1)');
    t.ASSERT_EQ(yield* sys.close(session_fd2), 0, 'close(session_fd2)');
  },
);

const create_session_no_null_termination = TEST_F(
  'create_session_no_null_termination',
  'a 64-byte name without a NUL fails with EINVAL',
  function* (self, ctx) {
    yield* openDevice(self, ctx);
    const args = liveupdate_ioctl_create_session.encode({
      size: liveupdate_ioctl_create_session.size,
      fd: 0,
    });
    liveupdate_name_bytes(args).fill('X'.charCodeAt(0));
    const ret = yield* ctx.sys.ioctl(self.fd1, LIVEUPDATE_IOCTL_CREATE_SESSION, args);
    ctx.t.EXPECT_LT(ret, 0, 'CREATE_SESSION without a NUL');
    ctx.t.EXPECT_EQ(ret, -EINVAL, 'errno of CREATE_SESSION without a NUL');
  },
);

const create_session_empty_name = TEST_F(
  'create_session_empty_name',
  'an empty name fails with EINVAL',
  function* (self, ctx) {
    yield* openDevice(self, ctx);
    const session_fd = yield* luo_create_session(ctx.sys, self.fd1, '');
    ctx.t.EXPECT_EQ(session_fd, -EINVAL, 'luo_create_session("")');
  },
);

function* getNameCase(self: Fixture, ctx: ProgramContext, session_name: string): Sched {
  const { t, sys } = ctx;
  yield* openDevice(self, ctx);
  const session_fd = yield* luo_create_session(sys, self.fd1, session_name);
  t.ASSERT_GE(session_fd, 0, 'luo_create_session');
  const name_buf = yield* luo_get_session_name(sys, session_fd);
  t.ASSERT_EQ(typeof name_buf === 'string' ? 0 : name_buf, 0, 'luo_get_session_name');
  t.ASSERT_STREQ(name_buf, session_name, 'the session name');
  t.ASSERT_EQ(yield* sys.close(session_fd), 0, 'close(session_fd)');
}

const get_session_name = TEST_F(
  'get_session_name',
  'GET_NAME returns the full name',
  function* (self, ctx) {
    yield* getNameCase(self, ctx, 'get-name-test-session');
  },
);

const get_session_name_max_length = TEST_F(
  'get_session_name_max_length',
  'GET_NAME returns a name of 63 characters',
  function* (self, ctx) {
    yield* getNameCase(self, ctx, 'A'.repeat(LIVEUPDATE_SESSION_NAME_LENGTH - 1));
  },
);

const MANY_SESSIONS = 2000;

const preserve_many_sessions = TEST_F(
  'preserve_many_sessions',
  `${MANY_SESSIONS} sessions are created and closed (multi-block session chain)`,
  function* (self, ctx) {
    const { t, sys } = ctx;
    yield* openDevice(self, ctx);
    const ret = luo_ensure_nofile_limit(ctx.proc, MANY_SESSIONS);
    if (ret === -EPERM) t.SKIP('Insufficient privileges to set RLIMIT_NOFILE');
    t.ASSERT_EQ(ret, 0, 'luo_ensure_nofile_limit');
    const session_fds: number[] = [];
    for (let i = 0; i < MANY_SESSIONS; i++) {
      const fd = yield* luo_create_session(sys, self.fd1, `many-session-${i}`);
      t.ASSERT_GE(fd, 0, `luo_create_session(many-session-${i})`);
      session_fds.push(fd);
    }
    for (const fd of session_fds) t.ASSERT_EQ(yield* sys.close(fd), 0, `close(${fd})`);
  },
  200_000,
);

const MANY_FILES = 500;

const preserve_many_files = TEST_F(
  'preserve_many_files',
  `${MANY_FILES} memfds are preserved in one session and released (multi-block file chain)`,
  function* (self, ctx) {
    const { t, sys } = ctx;
    yield* openDevice(self, ctx);
    const session_fd = yield* luo_create_session(sys, self.fd1, 'many-files-test');
    t.ASSERT_GE(session_fd, 0, 'luo_create_session');
    const ret = luo_ensure_nofile_limit(ctx.proc, MANY_FILES + 10);
    if (ret === -EPERM) t.SKIP('Insufficient privileges to set RLIMIT_NOFILE');
    t.ASSERT_EQ(ret, 0, 'luo_ensure_nofile_limit');
    const mem_fds: number[] = [];
    for (let i = 0; i < MANY_FILES; i++) {
      const fd = yield* memfd(ctx, 'test-memfd');
      mem_fds.push(fd);
      t.ASSERT_EQ(
        yield* luo_session_preserve_fd(sys, session_fd, fd, BigInt(i)),
        0,
        `preserve ${i}`,
      );
    }
    for (const fd of mem_fds) t.ASSERT_EQ(yield* sys.close(fd), 0, `close(${fd})`);
    t.ASSERT_EQ(yield* sys.close(session_fd), 0, 'close(session_fd)');
  },
  200_000,
);

/** Every case, by name, in the order of liveupdate.c. */
export const LIVEUPDATE_CASES: Readonly<Record<string, Scenario<TestSystem>>> = {
  basic_open_close,
  exclusive_open,
  create_duplicate_session,
  create_distinct_sessions,
  preserve_memfd,
  preserve_multiple_memfds,
  preserve_complex_scenario,
  preserve_unsupported_fd,
  prevent_double_preservation,
  create_session_no_null_termination,
  create_session_empty_name,
  get_session_name,
  get_session_name_max_length,
  preserve_many_sessions,
  preserve_many_files,
};
