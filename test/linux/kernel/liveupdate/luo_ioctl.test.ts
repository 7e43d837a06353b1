/**
 * The ioctl dispatch of /dev/liveupdate and of session fds, table driven: every row is a raw
 * ioctl with a hand-built buffer and the errno (or success) that spec §2.2's order gives — nr
 * range, size read, full command match (-ENOTTY), direction, min size, the zero-tail rule
 * (-E2BIG), then the command's own checks (§2.4).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { _IO, _IOWR } from '../../../../src/linux/include/uapi/asm-generic/ioctl.ts';
import {
  E2BIG,
  EBADF,
  EBUSY,
  EEXIST,
  EFAULT,
  EINVAL,
  ENOENT,
  ENOTTY,
} from '../../../../src/linux/include/uapi/asm-generic/errno.ts';
import {
  LIVEUPDATE_IOCTL_CREATE_SESSION as CREATE,
  LIVEUPDATE_IOCTL_RETRIEVE_SESSION as RETRIEVE,
  LIVEUPDATE_SESSION_FINISH as FINISH,
  LIVEUPDATE_SESSION_GET_NAME as GET_NAME,
  LIVEUPDATE_SESSION_PRESERVE_FD as PRESERVE,
  LIVEUPDATE_SESSION_RETRIEVE_FD as RETRIEVE_FD,
} from '../../../../src/linux/include/uapi/linux/liveupdate.ts';
import { luo_create_session, luo_open_device } from '../../../../src/user/libliveupdate.ts';
import { newCtl, setup_luotest, withKernel } from '../../../helpers/luo.ts';

/** A struct buffer of `len` bytes whose size field says `size`; `name` at offset 8 if given. */
function buf(len: number, size: number, name?: string, extra: Record<number, number> = {}) {
  const b = new Uint8Array(len);
  if (len >= 4) new DataView(b.buffer).setUint32(0, size, true);
  if (name !== undefined) b.set(new TextEncoder().encode(name), 8);
  for (const [at, v] of Object.entries(extra)) b[Number(at)] = v;
  return b;
}

test('command numbers are _IO(0xBA, nr)', () => {
  assert.deepEqual(
    [CREATE, RETRIEVE, PRESERVE, RETRIEVE_FD, FINISH, GET_NAME],
    [0xba00, 0xba01, 0xba40, 0xba41, 0xba42, 0xba43],
  );
});

type Row = readonly [
  what: string,
  on: 'dev' | 'out' | 'bad',
  cmd: number,
  arg: Uint8Array | null,
  want: number | 'ok',
];

const rows: readonly Row[] = [
  ['nr past the device table', 'dev', _IO(0xba, 0x02), buf(72, 72, 'x'), -EINVAL],
  ['session command on the device', 'dev', PRESERVE, buf(16, 16), -EINVAL],
  ['NULL argument', 'dev', CREATE, null, -EFAULT],
  ['argument too short for size', 'dev', CREATE, buf(2, 0), -EFAULT],
  ['wrong type byte', 'dev', _IO(0xbb, 0x00), buf(72, 72, 'x'), -ENOTTY],
  ['size bits in the command', 'dev', _IOWR(0xba, 0x00, 72), buf(72, 72, 'x'), -ENOTTY],
  ['bad nr beats a bad size field', 'dev', _IO(0xba, 0x05), null, -EINVAL],
  ['size below min', 'dev', CREATE, buf(72, 71, 'x'), -EINVAL],
  ['longer struct, nonzero tail', 'dev', CREATE, buf(80, 80, 'x', { 75: 1 }), -E2BIG],
  ['longer struct, zero tail', 'dev', CREATE, buf(80, 80, 'long-ok'), 'ok'],
  ['size larger than the buffer', 'dev', CREATE, buf(72, 80, 'x'), -EFAULT],
  ['empty name', 'dev', CREATE, buf(72, 72, ''), -EINVAL],
  ['name without NUL', 'dev', CREATE, buf(72, 72, 'X'.repeat(64)), -EINVAL],
  ['63-byte name', 'dev', CREATE, buf(72, 72, 'A'.repeat(63)), 'ok'],
  ['duplicate name', 'dev', CREATE, buf(72, 72, 'taken'), -EEXIST],
  ['retrieve unknown', 'dev', RETRIEVE, buf(72, 72, 'taken'), -ENOENT],
  ['device command on a session', 'out', CREATE, buf(72, 72, 'y'), -EINVAL],
  ['RETRIEVE_FD on outgoing', 'out', RETRIEVE_FD, buf(16, 16), -EINVAL],
  ['FINISH on outgoing', 'out', FINISH, buf(8, 8), -EINVAL],
  ['direction beats min size', 'out', FINISH, buf(4, 4), -EINVAL],
  ['PRESERVE_FD below min', 'out', PRESERVE, buf(16, 8), -EINVAL],
  ['GET_NAME with the old 16-byte size', 'out', GET_NAME, buf(72, 16), -EINVAL],
  ['GET_NAME reserved set', 'out', GET_NAME, buf(72, 72, undefined, { 4: 1 }), -EINVAL],
  ['GET_NAME', 'out', GET_NAME, buf(72, 72), 'ok'],
  ['PRESERVE_FD of a closed fd', 'out', PRESERVE, buf(16, 16, undefined, { 4: 99 }), -EBADF],
  ['PRESERVE_FD with no handler', 'out', PRESERVE, buf(16, 16, undefined, { 4: 0 }), -ENOENT],
  ['ioctl on a closed fd', 'bad', CREATE, buf(72, 72, 'z'), -EBADF],
];

test('ioctl dispatch order and errnos', () => {
  withKernel(function* (k, p) {
    yield* setup_luotest(k, newCtl());
    const dev: number = yield* luo_open_device(p.sys);
    assert.equal(dev, 0);
    assert.ok((yield* luo_create_session(p.sys, dev, 'taken')) >= 0);
    const out: number = yield* luo_create_session(p.sys, dev, 'outgoing');
    assert.ok(out >= 0);
    for (const [what, on, cmd, arg, want] of rows) {
      const fd: number = on === 'dev' ? dev : on === 'out' ? out : 77;
      const ret: number = yield* p.sys.ioctl(fd, cmd, arg);
      if (want === 'ok') assert.equal(ret, 0, what);
      else assert.equal(ret, want, what);
    }
  });
});

test('replies echo min(size, kernel size) bytes; GET_NAME returns the name', () => {
  withKernel(function* (_k, p) {
    const dev: number = yield* luo_open_device(p.sys);
    const arg = buf(80, 80, 'echo');
    assert.equal(yield* p.sys.ioctl(dev, CREATE, arg), 0);
    const sfd = new DataView(arg.buffer).getInt32(4, true);
    assert.ok(sfd > dev);
    const name = buf(72, 72);
    assert.equal(yield* p.sys.ioctl(sfd, GET_NAME, name), 0);
    assert.equal(new TextDecoder().decode(name.subarray(8, 12)), 'echo');
    assert.equal(name[12], 0);
    assert.equal(yield* luo_open_device(p.sys), -EBUSY);
  });
});
