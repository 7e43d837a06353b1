/**
 * Appendix A rows of reboot(KEXEC) (the guest_memfd LUO freeze callback, which records the VM
 * token) and of handler registration in kvm_init. A failed freeze aborts the kexec: the reboot
 * syscall returns the error and the kernel keeps running. A record LUO lost (serialized_data 0)
 * cannot happen through syscalls and is injected into LUO's outgoing file entry.
 */
import assert from 'node:assert/strict';
import type { Sched } from '../../../../../src/sim/index.ts';
import type { Process } from '../../../../../src/user/process.ts';
import * as E from '../../../../../src/linux/include/uapi/asm-generic/errno.ts';
import { LINUX_REBOOT_CMD_KEXEC } from '../../../../../src/linux/include/uapi/linux/reboot.ts';
import type {
  liveupdate_file_handler,
  liveupdate_file_ops,
} from '../../../../../src/linux/include/linux/liveupdate.ts';
import type { Kernel } from '../../../../../src/linux/kernel.ts';
import { luo_of } from '../../../../../src/linux/kernel/liveupdate/luo_core.ts';
import {
  liveupdate_register_file_handler,
  liveupdate_unregister_file_handler,
} from '../../../../../src/linux/kernel/liveupdate/luo_file.ts';
import { kvm_init } from '../../../../../src/linux/virt/kvm/kvm_main.ts';
import { kvm_luo_handler } from '../../../../../src/linux/virt/kvm/kvm_luo.ts';
import { vm_create } from '../../../../../src/user/kvm_util.ts';
import {
  luo_create_session,
  luo_open_device,
  luo_session_preserve_fd,
} from '../../../../../src/user/libliveupdate.ts';
import { GMEM_TOKEN, VM_TOKEN, preserveGmem, runBoot } from '../../../../helpers/gmem_handover.ts';
import { gmemVm, must } from '../../../../helpers/kvm.ts';
import { rowName, type Row } from './row.ts';

const REBOOT = 'reboot/kexec (gmem freeze cb)';
const REG = 'handler registration';

/** reboot(KEXEC) must fail with `want`, leaving the kernel alive. */
function rebootRow(
  condition: string,
  result: string,
  setup: (k: Kernel, p: Process) => Sched,
  want: number,
  warns = false,
): Row {
  return {
    name: rowName(REBOOT, condition, result),
    run: () => {
      runBoot(
        function* (k, p) {
          yield* setup(k, p);
          assert.equal(yield* p.sys.reboot(LINUX_REBOOT_CMD_KEXEC), want);
          assert.ok(!k.dead, 'the kexec was aborted');
          assert.equal(k.warnings.length > 0, warns, k.warnings.join('; '));
        },
        { panic_on_warn: false },
      );
    },
  };
}

function handlersOf(k: Kernel, compatible: string): liveupdate_file_handler[] {
  return luo_of(k).file_handlers.filter((h) => h.compatible === compatible);
}

export const REBOOT_ROWS: readonly Row[] = [
  rebootRow(
    'no serialized data',
    '-EINVAL (+WARN)',
    function* (k, p) {
      yield* preserveGmem(p);
      const files = luo_of(k).outgoing.list.flatMap((s) => s.file_set.files_list);
      const lf = files.find((f) => f.token === GMEM_TOKEN);
      assert.ok(lf);
      lf.serialized_data = 0n;
    },
    -E.EINVAL,
    true,
  ),
  rebootRow(
    'VM file gone (`vm_file` NULL/inactive)',
    '-ENOENT',
    function* (_k, p) {
      const g = yield* gmemVm(p);
      const luo = yield* luo_open_device(p.sys);
      const s = yield* luo_create_session(p.sys, luo, 'gmem-only');
      assert.equal(yield* luo_session_preserve_fd(p.sys, s, g.gmem_fd, GMEM_TOKEN), 0);
      assert.equal(yield* p.sys.close(g.vm.fd), 0);
    },
    -E.ENOENT,
  ),
  rebootRow(
    'VM file not preserved in the same session',
    '-ENOENT',
    function* (_k, p) {
      const g = yield* gmemVm(p);
      const luo = yield* luo_open_device(p.sys);
      const a = yield* luo_create_session(p.sys, luo, 'a');
      const b = yield* luo_create_session(p.sys, luo, 'b');
      assert.equal(yield* luo_session_preserve_fd(p.sys, a, g.gmem_fd, GMEM_TOKEN), 0);
      assert.equal(yield* luo_session_preserve_fd(p.sys, b, g.vm.fd, VM_TOKEN), 0);
    },
    -E.ENOENT,
  ),
  {
    name: rowName(REG, 'LUO disabled', '-EOPNOTSUPP (ignored by KVM)'),
    run: () => {
      runBoot(
        function* (k, p) {
          assert.equal(
            yield* liveupdate_register_file_handler(luo_of(k), kvm_luo_handler(k)),
            -E.EOPNOTSUPP,
          );
          assert.equal(luo_of(k).file_handlers.length, 0);
          assert.ok(k.kvm !== null, 'KVM initialised anyway');
          yield* must(vm_create(p), 'vm_create');
        },
        { cmdline: '' },
      );
    },
  },
  {
    name: rowName(REG, 'duplicate compatible', '-EEXIST (fails KVM init)'),
    run: () => {
      runBoot(function* (k) {
        // kvm_init again on a kernel whose LUO already has both KVM handlers.
        assert.equal(yield* kvm_init(k), -E.EEXIST);
        assert.ok(k.log.some((l) => l.includes('Could not register kvm_vm_luo handler')));
        assert.equal(k.kvm, null, 'KVM init failed');
        // Without the VM handler, the VM handler registers and the guest_memfd one collides:
        // the unwind unregisters the VM handler again.
        const [vm] = handlersOf(k, 'kvm_vm_luo_v1');
        assert.ok(vm);
        yield* liveupdate_unregister_file_handler(luo_of(k), vm);
        assert.equal(yield* kvm_init(k), -E.EEXIST);
        assert.ok(k.log.some((l) => l.includes('Could not register luo filesystem handler')));
        assert.equal(handlersOf(k, 'kvm_vm_luo_v1').length, 0);
        assert.equal(k.kvm, null);
      });
    },
  },
  {
    name: rowName(REG, '/dev/kvm cannot be registered', 'its error; both handlers unregistered'),
    run: () => {
      runBoot(function* (k) {
        // kvm_init again once both handlers are gone: they register, /dev/kvm is taken (-EBUSY),
        // and the unwind unregisters the guest_memfd handler, then the VM handler.
        for (const c of ['guest_memfd_luo_v1', 'kvm_vm_luo_v1']) {
          const [h] = handlersOf(k, c);
          assert.ok(h, c);
          yield* liveupdate_unregister_file_handler(luo_of(k), h);
        }
        assert.equal(yield* kvm_init(k), -E.EBUSY);
        assert.ok(k.log.some((l) => l.includes('misc device register failed')));
        assert.equal(handlersOf(k, 'kvm_vm_luo_v1').length, 0);
        assert.equal(handlersOf(k, 'guest_memfd_luo_v1').length, 0);
        assert.equal(k.kvm, null, 'KVM init failed');
      });
    },
  },
  {
    name: rowName(REG, 'missing ops', '-EINVAL'),
    run: () => {
      runBoot(function* (k) {
        const ops: liveupdate_file_ops = { ...kvm_luo_handler(k).ops };
        delete ops.retrieve;
        const h = { compatible: 'kvm_vm_luo_v1-missing', ops };
        assert.equal(yield* liveupdate_register_file_handler(luo_of(k), h), -E.EINVAL);
      });
    },
  },
];
