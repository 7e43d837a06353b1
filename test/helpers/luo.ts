/**
 * Helpers for LUO tests: a boot with `liveupdate=on`, a process in one task, and a test file
 * type with a LUO handler that records every callback and fails on demand.
 *
 * The test file type is the misc device /dev/luotest: every open makes a new file; ioctl(fd, 1,
 * text) sets its payload. Its handler "luotest-v1" preserves the payload in a KHO page (the
 * serialized_data is that page's address), and retrieve rebuilds a file from it.
 */
import assert from 'node:assert/strict';
import type { Sched, Sim } from '../../src/sim/index.ts';
import { Machine } from '../../src/machine/machine.ts';
import { misc_lookup, misc_register } from '../../src/linux/drivers/char/misc.ts';
import {
  alloc_file,
  type file,
  type file_operations,
  type inode,
} from '../../src/linux/fs/file.ts';
import type { liveupdate_file_handler } from '../../src/linux/include/linux/liveupdate.ts';
import { EINVAL, ENOTTY } from '../../src/linux/include/uapi/asm-generic/errno.ts';
import { O_RDWR } from '../../src/linux/include/uapi/asm-generic/fcntl.ts';
import type { Kernel } from '../../src/linux/kernel.ts';
import {
  kho_alloc_preserve,
  kho_restore_free,
  kho_unpreserve_free,
} from '../../src/linux/kernel/liveupdate/kexec_handover.ts';
import { liveupdate_register_file_handler } from '../../src/linux/kernel/liveupdate/luo_file.ts';
import { luo_of } from '../../src/linux/kernel/liveupdate/luo_core.ts';
import { Process } from '../../src/user/process.ts';
import { boot, newSim } from './kernel.ts';

export const LUO_CMDLINE = 'liveupdate=on';

/** What the test handler does and saw. */
export interface HandlerCtl {
  log: string[];
  /** Payloads whose preserve / freeze fails with -EINVAL. */
  failPreserve: Set<string>;
  failFreeze: Set<string>;
  canFinish: boolean;
}

export function newCtl(): HandlerCtl {
  return { log: [], failPreserve: new Set(), failFreeze: new Set(), canFinish: true };
}

const payloadOf = (f: file | null): string => (f?.private_data as string | null) ?? '?';

function luotest_fops(k: Kernel): file_operations {
  return {
    // eslint-disable-next-line require-yield
    *unlocked_ioctl(f, cmd, arg) {
      if (cmd !== 1) return -ENOTTY;
      f.private_data = new TextDecoder().decode(arg ?? new Uint8Array());
      k.sim.note(`luotest payload ${String(f.private_data)}`);
      return 0;
    },
  };
}

/** Registers /dev/luotest on `k` (call once per boot). */
export function register_luotest_device(k: Kernel): void {
  assert.equal(misc_register(k, { name: 'luotest', fops: luotest_fops(k) }), 0);
}

/** The "luotest-v1" handler bound to boot `k`. */
export function luotest_handler(
  k: Kernel,
  ctl: HandlerCtl,
  compatible = 'luotest-v1',
): liveupdate_file_handler {
  const enc = new TextEncoder();
  return {
    compatible,
    ops: {
      // eslint-disable-next-line require-yield
      *can_preserve(_h, f) {
        return f.f_path === '/dev/luotest';
      },
      *preserve(args) {
        const p = payloadOf(args.file);
        ctl.log.push(`preserve ${p}`);
        if (ctl.failPreserve.has(p)) return -EINVAL;
        const pa = yield* kho_alloc_preserve(k, 4096);
        if (pa < 0) return pa;
        k.machine.physmem.write(pa, enc.encode(`${p}\0`));
        args.serialized_data = BigInt(pa);
        args.private_data = `priv:${p}`;
        return 0;
      },
      *unpreserve(args) {
        ctl.log.push(`unpreserve ${payloadOf(args.file)} ${String(args.private_data)}`);
        yield* kho_unpreserve_free(k, Number(args.serialized_data));
      },
      // eslint-disable-next-line require-yield
      *freeze(args) {
        const p = payloadOf(args.file);
        ctl.log.push(`freeze ${p}`);
        return ctl.failFreeze.has(p) ? -EINVAL : 0;
      },
      // eslint-disable-next-line require-yield
      *unfreeze(args) {
        ctl.log.push(`unfreeze ${payloadOf(args.file)}`);
      },
      // eslint-disable-next-line require-yield
      *retrieve(args) {
        const pa = Number(args.serialized_data);
        const bytes = k.machine.physmem.read(pa, 4096);
        const text = new TextDecoder().decode(bytes.subarray(0, bytes.indexOf(0)));
        ctl.log.push(`retrieve ${text}`);
        kho_restore_free(k, pa);
        const ino = luotest_inode(k);
        args.file = alloc_file(k.sim, '/dev/luotest', ino, O_RDWR, luotest_fops(k), text);
        return 0;
      },
      // eslint-disable-next-line require-yield
      *can_finish(args) {
        ctl.log.push(`can_finish ${args.retrieve_status}`);
        return ctl.canFinish;
      },
      // eslint-disable-next-line require-yield
      *finish(args) {
        ctl.log.push(`finish ${payloadOf(args.file)} ${args.retrieve_status}`);
        if (args.retrieve_status === 0) kho_restore_free(k, Number(args.serialized_data));
      },
    },
  };
}

function luotest_inode(k: Kernel): inode {
  const dev = misc_lookup(k, 'luotest')?.this_device;
  assert.ok(dev, '/dev/luotest is registered');
  return dev;
}

/** Boots `machine` with liveupdate=on (cmdline from the machine), and runs `body` in one task
 * with a fresh process. */
export function withKernel(
  body: (k: Kernel, p: Process, sim: Sim) => Sched,
  machine = new Machine({
    boot: { khoFdtPhys: null, scratch: [], kexecCount: 0, cmdline: LUO_CMDLINE },
  }),
): void {
  const sim = newSim();
  const k = boot(sim, machine);
  sim.spawn('prog', () => body(k, new Process(k, 'prog'), sim));
  const r = sim.run();
  if (r.outcome.kind !== 'complete') assert.fail(`run ended with ${JSON.stringify(r.outcome)}`);
}

/** Registers the test device and handler on `k` from inside a task. */
export function* setup_luotest(k: Kernel, ctl: HandlerCtl): Sched {
  register_luotest_device(k);
  const err = yield* liveupdate_register_file_handler(luo_of(k), luotest_handler(k, ctl));
  assert.equal(err, 0);
}
