/**
 * Flows: a preserved guest_memfd whose VM is not preserved in the same session makes
 * reboot(LINUX_REBOOT_CMD_KEXEC) fail with -ENOENT, and the system keeps running (spec §2.4
 * freeze, §2.5, §3.5, §5.4, §8.6, Appendix B.5).
 *
 * One boot, one program; init calls reboot itself. The program gives a VM's guest 16 pages of
 * data, preserves the guest_memfd in "gmem_flow_session", then:
 *   - vm_not_preserved: the VM is preserved nowhere (the freeze callback's token lookup fails);
 *   - vm_in_other_session: the VM is preserved, but in "gmem_flow_vm_session";
 *   - vm_fd_closed: the VM is preserved nowhere and its fd is closed, so `kvm->vm_file` is NULL
 *     when the freeze callback looks for it (same -ENOENT, earlier in the callback).
 * Checked: the guest_memfd is frozen after preserve (fallocate -EPERM in both modes, the
 * existing page reads, a new page SIGBUS); reboot = -ENOENT; afterwards the program and its VM
 * carry on: still frozen (no unfreeze callback), a guest reads its data, and a guest write to a
 * new page gets KVM_RUN -EPERM with a KVM_EXIT_MEMORY_FAULT exit; closing the guest_memfd's
 * session unpreserves and unfreezes it: the same KVM_RUN now completes, fallocate and new host
 * faults work.
 */
import type { Sched } from '../../sim/index.ts';
import { UCALL_DONE } from '../../user/guest.ts';
import {
  get_ucall,
  kvm_vm_free,
  vcpu_exit_reason,
  vcpu_run,
  type KvmVcpu,
} from '../../user/kvm_util.ts';
import {
  luo_create_session,
  luo_open_device,
  luo_session_preserve_fd,
} from '../../user/libliveupdate.ts';
import { Process } from '../../user/process.ts';
import type { ProgramContext } from '../../user/two_stage.ts';
import { ENOENT, EPERM, KVM_EXIT_MEMORY_FAULT, LINUX_REBOOT_CMD_KEXEC } from '../../user/uapi.ts';
import {
  defineFlow,
  FLOW_SESSION,
  GMEM_TOKEN,
  new_page_writer,
  run_pattern_guest,
  VM_TOKEN,
  vm_with_guest_data,
} from './common.ts';
import { expect_frozen, expect_unfrozen } from './gmem_host.ts';

type Case = 'vm_not_preserved' | 'vm_in_other_session' | 'vm_fd_closed';

const VM_SESSION = 'gmem_flow_vm_session';

function flow(which: Case) {
  return function* (ctx: ProgramContext): Sched {
    const { t, sys, proc } = ctx;
    const luo_fd = yield* luo_open_device(sys);
    if (luo_fd < 0) t.exit_skip('no /dev/liveupdate');
    const { vm, gmem_fd } = yield* vm_with_guest_data(ctx);
    const session_fd = yield* luo_create_session(sys, luo_fd, FLOW_SESSION);
    t.ASSERT_GE(session_fd, 0, 'luo_create_session');
    t.ASSERT_EQ(yield* luo_session_preserve_fd(sys, session_fd, gmem_fd, GMEM_TOKEN), 0, 'gmem');
    let vm_session = -1;
    if (which === 'vm_in_other_session') {
      vm_session = yield* luo_create_session(sys, luo_fd, VM_SESSION);
      t.ASSERT_GE(vm_session, 0, `luo_create_session(${VM_SESSION})`);
      const r = yield* luo_session_preserve_fd(sys, vm_session, vm.fd, VM_TOKEN);
      t.ASSERT_EQ(r, 0, 'preserve the VM in the other session');
    }
    if (which === 'vm_fd_closed') t.ASSERT_EQ(yield* sys.close(vm.fd), 0, 'close the VM fd');
    yield* expect_frozen(ctx, gmem_fd, 'preserved');

    const init = new Process(proc.kernel, 'init');
    const ret = yield* init.sys.reboot(LINUX_REBOOT_CMD_KEXEC);
    t.ASSERT_EQ(ret, -ENOENT, 'reboot(LINUX_REBOOT_CMD_KEXEC)');
    t.print_msg('kexec refused; the system keeps running');

    yield* expect_frozen(ctx, gmem_fd, 'after the failed kexec');
    let writer: KvmVcpu | null = null;
    if (which !== 'vm_fd_closed') {
      yield* run_pattern_guest(ctx, vm, 1, 'check');
      writer = yield* new_page_writer(ctx, vm);
      t.EXPECT_EQ(yield* vcpu_run(writer), -EPERM, 'KVM_RUN: guest write to a new page');
      t.EXPECT_EQ(yield* vcpu_exit_reason(writer), KVM_EXIT_MEMORY_FAULT, 'exit reason');
    }

    t.ASSERT_EQ(yield* sys.close(session_fd), 0, 'close the guest_memfd session');
    if (writer !== null) {
      t.EXPECT_EQ(yield* vcpu_run(writer), 0, 'KVM_RUN again after unpreserve');
      t.EXPECT_EQ((yield* get_ucall(writer)).cmd, UCALL_DONE, 'the new-page write completes');
    }
    yield* expect_unfrozen(ctx, gmem_fd, 'after closing the session');
    if (vm_session >= 0) yield* sys.close(vm_session);
    if (which === 'vm_fd_closed') {
      for (const v of vm.vcpus) yield* sys.close(v.fd);
      yield* sys.close(vm.kvm_fd);
    } else yield* kvm_vm_free(vm);
    yield* sys.close(gmem_fd);
    yield* sys.close(luo_fd);
  };
}

const WHY: Record<Case, string> = {
  vm_not_preserved: 'the VM is not preserved',
  vm_in_other_session: 'the VM is preserved in another session',
  vm_fd_closed: 'the VM is not preserved and its fd was closed (vm_file gone)',
};

function scenario(which: Case) {
  return defineFlow({
    name: `flow.${which}`,
    description:
      `preserved guest_memfd, ${WHY[which]}: reboot(KEXEC) fails with -ENOENT, the system ` +
      'keeps running, the guest_memfd stays frozen until its session is closed',
    body: flow(which),
  });
}

export const VM_NOT_PRESERVED = scenario('vm_not_preserved');
export const VM_IN_OTHER_SESSION = scenario('vm_in_other_session');
export const VM_FD_CLOSED = scenario('vm_fd_closed');
