/**
 * End to end across a kexec, through syscalls only: sessions and files preserved in boot A are
 * serialized into KHO memory by reboot(KEXEC), boot B rebuilds them from bytes alone, and the
 * retrieve / finish / close rules of spec §1.5 and §1.7 hold. Also the boot-time panics and the
 * sticky -EIO when deserialization fails.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Sched } from '../../src/sim/index.ts';
import type { Machine } from '../../src/machine/machine.ts';
import { BootFailure, Kernel, kernelConfig } from '../../src/linux/kernel.ts';
import {
  EBUSY,
  EEXIST,
  EINVAL,
  EIO,
  ENOENT,
} from '../../src/linux/include/uapi/asm-generic/errno.ts';
import { LINUX_REBOOT_CMD_KEXEC } from '../../src/linux/include/uapi/linux/reboot.ts';
import { luo_of } from '../../src/linux/kernel/liveupdate/luo_core.ts';
import { PAGE_SIZE } from '../../src/linux/include/asm-generic/page.ts';
import { KHO_FDT_SUB_TREE_PROP_NAME } from '../../src/linux/include/linux/kho/abi/kexec_handover.ts';
import { fdtFindNode, fdtGetProp, fdtParse, readU64LE } from '../../src/linux/lib/fdt.ts';
import {
  luo_create_session,
  luo_get_session_name,
  luo_open_device,
  luo_retrieve_session,
  luo_session_finish,
  luo_session_preserve_fd,
  luo_session_retrieve_fd,
} from '../../src/user/libliveupdate.ts';
import { newCtl, setup_luotest, withKernel, type HandlerCtl } from '../helpers/luo.ts';
import { newSim } from '../helpers/kernel.ts';
import type { Syscalls } from '../../src/user/syscalls.ts';

const enc = new TextEncoder();

function* openLuotest(sys: Syscalls, payload: string): Sched<number> {
  const fd = yield* sys.open('/dev/luotest');
  assert.ok(fd >= 0);
  assert.equal(yield* sys.ioctl(fd, 1, enc.encode(payload)), 0);
  return fd;
}

/** Stage 1: two sessions with files and one empty session, then reboot. Returns the machine. */
function stage1(ctl: HandlerCtl): Machine {
  let next: Machine | null = null;
  withKernel(function* (k, p) {
    yield* setup_luotest(k, ctl);
    const luo = yield* luo_open_device(p.sys);
    const a = yield* luo_create_session(p.sys, luo, 'sess-a');
    const b = yield* luo_create_session(p.sys, luo, 'sess-b');
    const empty = yield* luo_create_session(p.sys, luo, 'empty');
    assert.ok(a >= 0 && b >= 0 && empty >= 0);
    for (const [sfd, tok, text] of [
      [a, 1n, 'alpha'],
      [a, 2n, 'beta'],
      [b, 0x1an, 'gamma'],
    ] as const) {
      const fd = yield* openLuotest(p.sys, text);
      assert.equal(yield* luo_session_preserve_fd(p.sys, sfd, fd, tok), 0);
      assert.equal(yield* p.sys.close(fd), 0);
    }
    assert.equal(yield* p.sys.close(luo), 0);
    assert.equal(yield* p.sys.reboot(LINUX_REBOOT_CMD_KEXEC), 0);
    assert.ok(k.dead);
    next = p.sys.nextMachine;
  });
  assert.ok(next);
  assert.deepEqual(ctl.log, [
    'preserve alpha',
    'preserve beta',
    'preserve gamma',
    'freeze alpha',
    'freeze beta',
    'freeze gamma',
  ]);
  return next;
}

test('sessions and files survive a kexec and follow the retrieve/finish rules', () => {
  const machine = stage1(newCtl());
  const ctl = newCtl();
  withKernel(function* (k, p) {
    assert.equal(k.liveupdate_num, 1);
    yield* setup_luotest(k, ctl);
    const luo = yield* luo_open_device(p.sys);
    assert.ok(luo >= 0);
    const a = yield* luo_retrieve_session(p.sys, luo, 'sess-a');
    assert.ok(a >= 0);
    assert.equal(yield* luo_retrieve_session(p.sys, luo, 'sess-a'), -EINVAL);
    assert.equal(yield* luo_retrieve_session(p.sys, luo, 'nope'), -ENOENT);
    assert.equal(yield* luo_get_session_name(p.sys, a), 'sess-a');
    assert.equal(yield* luo_session_preserve_fd(p.sys, a, luo, 9n), -EINVAL);
    const f2 = yield* luo_session_retrieve_fd(p.sys, a, 2n);
    const f2again = yield* luo_session_retrieve_fd(p.sys, a, 2n);
    assert.ok(f2 >= 0 && f2again >= 0 && f2 !== f2again);
    assert.equal(yield* luo_session_retrieve_fd(p.sys, a, 77n), -ENOENT);
    ctl.canFinish = false;
    assert.equal(yield* luo_session_finish(p.sys, a), -EBUSY);
    ctl.canFinish = true;
    assert.equal(yield* luo_session_finish(p.sys, a), 0);
    assert.equal(yield* luo_session_finish(p.sys, a), 0);
    assert.equal(yield* luo_session_retrieve_fd(p.sys, a, 2n), -ENOENT);
    assert.equal(yield* p.sys.close(a), 0);
    assert.equal(yield* luo_retrieve_session(p.sys, luo, 'sess-a'), -ENOENT);
    // Closing a retrieved session without FINISH finishes it implicitly.
    const b = yield* luo_retrieve_session(p.sys, luo, 'sess-b');
    assert.equal(yield* p.sys.close(b), 0);
    assert.equal(yield* luo_retrieve_session(p.sys, luo, 'sess-b'), -ENOENT);
    const e = yield* luo_retrieve_session(p.sys, luo, 'empty');
    assert.ok(e >= 0);
    assert.equal(yield* luo_session_finish(p.sys, e), 0);
    assert.equal(luo_of(k).preserved_files.size, 0, 'finish dropped every file from the registry');
  }, machine);
  assert.deepEqual(ctl.log, [
    'retrieve beta',
    'can_finish 0',
    'can_finish 0',
    'can_finish 1',
    'finish beta 1',
    'finish ? 0',
    'can_finish 0',
    'finish ? 0',
  ]);
});

test('liveupdate_num counts kexecs', () => {
  let machine = stage1(newCtl());
  for (let n = 1; n <= 2; n++) {
    let next: Machine | null = null;
    withKernel(function* (k, p) {
      assert.equal(k.liveupdate_num, n);
      yield* setup_luotest(k, newCtl());
      assert.equal(yield* p.sys.reboot(LINUX_REBOOT_CMD_KEXEC), 0);
      next = p.sys.nextMachine;
    }, machine);
    assert.ok(next);
    machine = next;
  }
});

test('a missing handler makes every open of the next boot fail with a sticky -EIO', () => {
  const machine = stage1(newCtl());
  const sessionsPfn = Number(machine.physmem.readU64(luoBlobPa(machine) + 16)) / PAGE_SIZE;
  const free = (k: Kernel): boolean =>
    k.page_alloc.freeRanges().some(([start, end]) => start <= sessionsPfn && sessionsPfn < end);
  withKernel(function* (k, p) {
    assert.ok(!free(k), 'the session chain is reserved until it is deserialized');
    assert.equal(yield* luo_open_device(p.sys), -EIO);
    assert.equal(yield* luo_open_device(p.sys), -EIO);
    // The failed deserialization released the session chain.
    assert.ok(free(k), 'the session chain block went back to the allocator');
  }, machine);
});

/** The physical address of the incoming "LUO" blob named in the machine's KHO root FDT. */
function luoBlobPa(machine: Machine): number {
  const fdtPa = machine.bootParams.khoFdtPhys;
  assert.ok(fdtPa !== null);
  const root = fdtParse(machine.physmem.read(Number(fdtPa), PAGE_SIZE));
  const node = fdtFindNode(root, '/LUO');
  assert.ok(node);
  const prop = fdtGetProp(node, KHO_FDT_SUB_TREE_PROP_NAME);
  assert.ok(prop);
  return Number(readU64LE(prop));
}

for (const [what, corrupt, reason] of [
  [
    'wrong compatible',
    (m: Machine, pa: number) => {
      m.physmem.write(pa, enc.encode('luo-v4'));
    },
    /incompatible/,
  ],
  [
    'a session chain cycle',
    (m: Machine, pa: number) => {
      const sessions = m.physmem.readU64(pa + 16);
      m.physmem.writeU64(Number(sessions), sessions);
    },
    /session chain/,
  ],
] as const) {
  test(`a LUO blob with ${what} panics the next boot`, () => {
    const machine = stage1(newCtl());
    corrupt(machine, luoBlobPa(machine));
    const k = Kernel.boot(newSim(), machine, kernelConfig());
    assert.ok(k instanceof BootFailure);
    assert.ok(k.fatal);
    assert.match(k.reason, reason);
  });
}

test('exclusive open of /dev/liveupdate', () => {
  withKernel(function* (_k, p) {
    const fd = yield* luo_open_device(p.sys);
    assert.ok(fd >= 0);
    assert.equal(yield* luo_open_device(p.sys), -EBUSY);
    assert.equal(yield* p.sys.close(fd), 0);
    const again = yield* luo_open_device(p.sys);
    assert.ok(again >= 0);
  });
});

test('multi-block session and file chains round-trip through a kexec', () => {
  let machine: Machine | null = null;
  withKernel(function* (k, p) {
    yield* setup_luotest(k, newCtl());
    const luo = yield* luo_open_device(p.sys);
    const big = yield* luo_create_session(p.sys, luo, 'big');
    for (let i = 0; i < 130; i++) {
      const fd = yield* openLuotest(p.sys, `f${i}`);
      assert.equal(yield* luo_session_preserve_fd(p.sys, big, fd, BigInt(i)), 0);
      assert.equal(yield* p.sys.close(fd), 0);
    }
    for (let i = 0; i < 60; i++) assert.ok((yield* luo_create_session(p.sys, luo, `s${i}`)) >= 0);
    assert.equal(yield* p.sys.reboot(LINUX_REBOOT_CMD_KEXEC), 0);
    machine = p.sys.nextMachine;
  });
  assert.ok(machine);
  const ctl = newCtl();
  withKernel(function* (k, p) {
    yield* setup_luotest(k, ctl);
    const luo = yield* luo_open_device(p.sys);
    assert.equal(luo_of(k).incoming.list.length, 61);
    const big = yield* luo_retrieve_session(p.sys, luo, 'big');
    for (const i of [0, 62, 63, 129]) {
      const fd = yield* luo_session_retrieve_fd(p.sys, big, BigInt(i));
      assert.ok(fd >= 0);
    }
    assert.equal(yield* luo_session_finish(p.sys, big), 0);
    for (let i = 0; i < 60; i++) assert.ok((yield* luo_retrieve_session(p.sys, luo, `s${i}`)) >= 0);
  }, machine);
  assert.deepEqual(
    ctl.log.filter((l) => l.startsWith('retrieve')),
    ['retrieve f0', 'retrieve f62', 'retrieve f63', 'retrieve f129'],
  );
});

// Spec §2.4: create grows the session chain before its duplicate check and does not shrink it
// on -EEXIST. When the sessions fill their blocks exactly (51 per block), the failed create
// leaves an empty block linked at the end of the chain; the reboot hands it over with count 0,
// and the next kernel's restore refuses the chain, which LUO cannot boot without.
for (const [sessions, panics] of [
  [51, true],
  [50, false],
] as const) {
  test(`${sessions} sessions, then a duplicate create: the next boot ${panics ? 'panics' : 'is fine'}`, () => {
    let machine: Machine | null = null;
    withKernel(function* (_k, p) {
      const luo = yield* luo_open_device(p.sys);
      for (let i = 0; i < sessions; i++)
        assert.ok((yield* luo_create_session(p.sys, luo, `s${i}`)) >= 0);
      assert.equal(yield* luo_create_session(p.sys, luo, 's0'), -EEXIST);
      assert.equal(yield* p.sys.reboot(LINUX_REBOOT_CMD_KEXEC), 0);
      machine = p.sys.nextMachine;
    });
    assert.ok(machine);
    if (panics) {
      const k = Kernel.boot(newSim(), machine, kernelConfig());
      assert.ok(k instanceof BootFailure);
      assert.ok(k.fatal);
      assert.match(k.reason, /session chain/);
    } else {
      withKernel(function* (k2, p) {
        const luo = yield* luo_open_device(p.sys);
        assert.ok(luo >= 0);
        assert.equal(luo_of(k2).incoming.list.length, sessions);
        assert.ok((yield* luo_retrieve_session(p.sys, luo, 's49')) >= 0);
      }, machine);
    }
  });
}
