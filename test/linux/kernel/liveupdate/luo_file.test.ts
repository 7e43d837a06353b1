/**
 * File handlers and the file lifecycle before the kexec: registration errors, preserve with its
 * rollback, the global preserved-files registry (-EBUSY), unpreserve order on close, and a
 * failed freeze in reboot(KEXEC) that unfreezes in spec §3.3's order and leaves the system
 * running. A test handler (helpers/luo.ts) records every callback and fails on demand.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Sched } from '../../../../src/sim/index.ts';
import { Machine } from '../../../../src/machine/machine.ts';
import {
  EBUSY,
  EEXIST,
  EINVAL,
  EOPNOTSUPP,
} from '../../../../src/linux/include/uapi/asm-generic/errno.ts';
import { LINUX_REBOOT_CMD_KEXEC } from '../../../../src/linux/include/uapi/linux/reboot.ts';
import { liveupdate_register_file_handler } from '../../../../src/linux/kernel/liveupdate/luo_file.ts';
import { luo_of } from '../../../../src/linux/kernel/liveupdate/luo_core.ts';
import {
  luo_create_session,
  luo_open_device,
  luo_session_preserve_fd,
} from '../../../../src/user/libliveupdate.ts';
import type { Syscalls } from '../../../../src/user/syscalls.ts';
import { luotest_handler, newCtl, setup_luotest, withKernel } from '../../../helpers/luo.ts';

function* luotest(sys: Syscalls, payload: string): Sched<number> {
  const fd = yield* sys.open('/dev/luotest');
  assert.equal(yield* sys.ioctl(fd, 1, new TextEncoder().encode(payload)), 0);
  return fd;
}

test('handler registration: -EINVAL, -EEXIST, and -EOPNOTSUPP with LUO off', () => {
  withKernel(function* (k) {
    const luo = luo_of(k);
    const h = luotest_handler(k, newCtl());
    assert.equal(yield* liveupdate_register_file_handler(luo, h), 0);
    assert.equal(
      yield* liveupdate_register_file_handler(luo, luotest_handler(k, newCtl())),
      -EEXIST,
    );
    for (const op of ['preserve', 'unpreserve', 'retrieve', 'finish', 'can_preserve'] as const) {
      const ops = { ...h.ops };
      // eslint-disable-next-line @typescript-eslint/no-dynamic-delete
      delete ops[op];
      const bad = { compatible: `no-${op}`, ops };
      assert.equal(yield* liveupdate_register_file_handler(luo, bad), -EINVAL, op);
    }
  });
  const off = new Machine({ boot: { khoFdtPhys: null, scratch: [], kexecCount: 0, cmdline: '' } });
  withKernel(function* (k, p) {
    const h = luotest_handler(k, newCtl());
    assert.equal(yield* liveupdate_register_file_handler(luo_of(k), h), -EOPNOTSUPP);
    assert.ok((yield* luo_open_device(p.sys)) < 0, 'no /dev/liveupdate when LUO is off');
  }, off);
});

test('preserve: -EEXIST token, -EBUSY for a file in any session, rollback of a failed preserve', () => {
  const ctl = newCtl();
  withKernel(function* (k, p) {
    yield* setup_luotest(k, ctl);
    const dev = yield* luo_open_device(p.sys);
    const s1 = yield* luo_create_session(p.sys, dev, 's1');
    const s2 = yield* luo_create_session(p.sys, dev, 's2');
    const a = yield* luotest(p.sys, 'a');
    const b = yield* luotest(p.sys, 'b');
    assert.equal(yield* luo_session_preserve_fd(p.sys, s1, a, 1n), 0);
    assert.equal(yield* luo_session_preserve_fd(p.sys, s1, b, 1n), -EEXIST);
    assert.equal(yield* luo_session_preserve_fd(p.sys, s1, a, 2n), -EBUSY);
    assert.equal(yield* luo_session_preserve_fd(p.sys, s2, a, 1n), -EBUSY);
    ctl.failPreserve.add('b');
    assert.equal(yield* luo_session_preserve_fd(p.sys, s2, b, 5n), -EINVAL);
    assert.equal(luo_of(k).preserved_files.size, 1, 'the failed preserve left no registry entry');
    ctl.failPreserve.clear();
    assert.equal(yield* luo_session_preserve_fd(p.sys, s2, b, 5n), 0);
    const c = yield* luotest(p.sys, 'c');
    assert.equal(yield* luo_session_preserve_fd(p.sys, s1, c, 3n), 0);
    // Closing s1 unpreserves its files newest first and frees the name and the ids.
    assert.equal(yield* p.sys.close(s1), 0);
    assert.equal(luo_of(k).preserved_files.size, 1);
    assert.equal(yield* luo_session_preserve_fd(p.sys, s2, a, 9n), 0);
    assert.ok((yield* luo_create_session(p.sys, dev, 's1')) >= 0);
  });
  assert.deepEqual(ctl.log, [
    'preserve a',
    'preserve b',
    'preserve b',
    'preserve c',
    'unpreserve c priv:c',
    'unpreserve a priv:a',
    'preserve a',
  ]);
});

test('a failed freeze unfreezes in order, returns the error, and a later reboot succeeds', () => {
  const ctl = newCtl();
  withKernel(function* (k, p) {
    yield* setup_luotest(k, ctl);
    const dev = yield* luo_open_device(p.sys);
    const plan: Array<[string, string[]]> = [
      ['s1', ['a1', 'a2']],
      ['s2', ['b1']],
      ['s3', ['c1', 'c2', 'c3']],
    ];
    let token = 0n;
    for (const [name, files] of plan) {
      const sfd = yield* luo_create_session(p.sys, dev, name);
      for (const f of files) {
        const fd = yield* luotest(p.sys, f);
        assert.equal(yield* luo_session_preserve_fd(p.sys, sfd, fd, token++), 0);
        assert.equal(yield* p.sys.close(fd), 0);
      }
    }
    ctl.log.length = 0;
    ctl.failFreeze.add('c3');
    assert.equal(yield* p.sys.reboot(LINUX_REBOOT_CMD_KEXEC), -EINVAL);
    assert.equal(k.dead, false);
    assert.deepEqual(ctl.log, [
      'freeze a1',
      'freeze a2',
      'freeze b1',
      'freeze c1',
      'freeze c2',
      'freeze c3',
      'unfreeze c1',
      'unfreeze c2',
      'unfreeze b1',
      'unfreeze a1',
      'unfreeze a2',
    ]);
    // Still usable: a new session can be created, and the next reboot goes through.
    assert.ok((yield* luo_create_session(p.sys, dev, 's4')) >= 0);
    ctl.failFreeze.clear();
    assert.equal(yield* p.sys.reboot(LINUX_REBOOT_CMD_KEXEC), 0);
    assert.ok(k.dead);
  });
});

test('many sessions and files span several KHO blocks', () => {
  withKernel(function* (k, p) {
    yield* setup_luotest(k, newCtl());
    const dev = yield* luo_open_device(p.sys);
    const first = yield* luo_create_session(p.sys, dev, 'big');
    for (let i = 0; i < 130; i++) {
      const fd = yield* luotest(p.sys, `f${i}`);
      assert.equal(yield* luo_session_preserve_fd(p.sys, first, fd, BigInt(i)), 0);
      assert.equal(yield* p.sys.close(fd), 0);
    }
    for (let i = 0; i < 60; i++) assert.ok((yield* luo_create_session(p.sys, dev, `s${i}`)) >= 0);
    const luo = luo_of(k);
    assert.equal(luo.outgoing.block_set.blocks.length, 2, '61 sessions need 2 blocks of 51');
    assert.equal(luo.outgoing.list[0]?.file_set.block_set.blocks.length, 3, '130 files, 63/block');
  });
});
