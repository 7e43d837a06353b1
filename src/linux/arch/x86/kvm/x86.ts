/**
 * The vCPU: its file (ioctl, mmap of kvm_run), KVM_RUN executing the guest program, and guest
 * page faults on guest_memfd-only memslots.
 *
 * **Models:** arch/x86/kvm/x86.c (kvm_arch_vcpu_ioctl_run, KVM_GET_REGS/KVM_SET_REGS,
 * complete-then-resume of PIO exits), arch/x86/kvm/mmu/mmu.c (kvm_mmu_faultin_pfn_gmem,
 * kvm_mmu_prepare_memory_fault_exit; a fault on a gmem-only slot goes to guest_memfd, an error
 * prepares KVM_EXIT_MEMORY_FAULT and KVM_RUN returns the error, e.g. -EPERM on a frozen
 * guest_memfd, spec §3.3), and the vCPU half of virt/kvm/kvm_main.c (kvm_vcpu_ioctl with
 * vm_dead → -EIO and vcpu->mutex, kvm_vcpu_mmap/kvm_vcpu_fault), v7.2-era mainline.
 * **Abstracted:**
 * 1. The guest is a generator of GuestOps (kvm_host.ts) found through RIP in the guest text
 *    table; an op that exits to userspace on a fault is retried by the next KVM_RUN, as the
 *    faulting instruction is. A ucall is the selftests' x86 ucall (an IN from port 0x1000), its
 *    struct ucall placed in the PIO data page rather than in guest memory at RDI.
 * 2. Guest accesses to mapped gfns touch physical memory directly, after a visible read of the
 *    VM's MMU state (none while the vCPU's task is alone); faults run the kernel path: sample
 *    the invalidation sequence, get the pfn, map it under KVM_MMU_LOCK unless the fault is stale
 *    (mmu_invalidate_retry_gfn). A fault stale because an invalidation in progress covers its
 *    gfn waits for that invalidation's end, then faults again (the kernel re-enters the guest
 *    and re-faults until then; kvm_host.ts abstraction 2).
 * 3. Memslots backed by host memory (not gmem-only) are not modelled: a fault there prepares a
 *    memory-fault exit and KVM_RUN returns -EFAULT. A gfn in no memslot is an MMIO exit
 *    (at most 8 bytes reported; a load reads zeros).
 * Paths: KVM_RUN: 1. immediate_exit: -EINTR, KVM_EXIT_INTR; 2. no guest code at RIP:
 * KVM_EXIT_SHUTDOWN; 3. ucall: KVM_EXIT_IO; 4. hlt or end of code: KVM_EXIT_HLT; 5. MMIO;
 * 6. gmem fault error: KVM_EXIT_MEMORY_FAULT and the -errno; 7. arg ≠ 0: -EINVAL.
 */
import { guardedOp, op as visible, rebuiltBy } from '../../../../sim/index.ts';
import type { Sched, Sim } from '../../../../sim/index.ts';
import { mutex_lock, mutex_unlock } from '../../../../sync/index.ts';
import type { file_operations } from '../../../fs/file.ts';
import { PAGE_SIZE, PFN_PHYS } from '../../../include/asm-generic/page.ts';
import {
  gfn_to_memslot,
  gfn_to_gpa,
  gpa_to_gfn,
  kvm_memslot_is_gmem_only,
  mmu_invalidate_covers,
  mmu_invalidate_retry_gfn,
  type GuestCode,
  type GuestOp,
  type kvm_vcpu,
  ucall_encode,
  UCALL_PIO_PORT,
} from '../../../include/linux/kvm_host.ts';
import { VM_FAULT_SIGBUS, type vm_operations_struct } from '../../../include/linux/mm.ts';
import { copy_from_user, copy_to_user } from '../../../include/linux/uaccess.ts';
import { EFAULT, EINTR, EINVAL, EIO, ENOTTY } from '../../../include/uapi/asm-generic/errno.ts';
import * as uapi from '../../../include/uapi/linux/kvm.ts';
import type { Kernel } from '../../../kernel.ts';
import { folio_get } from '../../../mm/page_alloc.ts';
import { kvm_gmem_get_pfn, kvm_gmem_put_pfn } from '../../../virt/kvm/guest_memfd_bind.ts';

const TEXT = Symbol('guest text: RIP values of guest programs');

function guest_text(sim: Sim): Map<bigint, GuestCode> {
  return sim.local(TEXT, () => new Map<bigint, GuestCode>());
}

/** Places `code` in the guest text (the test ELF, identical in host and guest) and returns its
 * address, which is what userspace puts in RIP. Stable per execution. */
export function guest_text_address(sim: Sim, code: GuestCode): bigint {
  const text = guest_text(sim);
  for (const [rip, c] of text) if (c === code) return rip;
  const rip = 0x40_1000n + BigInt(text.size) * 0x100n;
  text.set(rip, code);
  return rip;
}

/**
 * Sets exit_reason and the exit union (zeroed, then `union`) of the vCPU's struct kvm_run in its
 * page of physical memory; the rest of kvm_run keeps its bytes.
 */
function edit_run(k: Kernel, vcpu: kvm_vcpu, exit_reason: number, union?: Uint8Array): void {
  const pa = PFN_PHYS(vcpu.run_page.pfn);
  const reason = new Uint8Array(4);
  new DataView(reason.buffer).setUint32(0, exit_reason, true);
  k.machine.physmem.write(pa + uapi.kvm_run.fields.exit_reason[0], reason);
  const bytes = new Uint8Array(256);
  if (union) bytes.set(union);
  k.machine.physmem.write(pa + uapi.KVM_RUN_EXIT_UNION_OFFSET, bytes);
}

/** Completes the pending op with `result` and fetches the next one. */
function advance(vcpu: kvm_vcpu, result: Uint8Array): void {
  const guest = vcpu.guest;
  if (guest === null) return;
  const r = guest.next(result);
  vcpu.pending = r.done === true ? null : r.value;
  if (r.done === true) {
    // A finished guest program holds nothing any more.
    vcpu.guest = null;
    vcpu.halted = true;
  }
}

type Access = { done: true; data: Uint8Array } | { done: false; ret: number };

/** Runs a guest load or store page by page, faulting pages in through guest_memfd. */
function* guest_access(k: Kernel, vcpu: kvm_vcpu, op: GuestOp): Sched<Access> {
  if (op.kind !== 'load' && op.kind !== 'store') return { done: true, data: new Uint8Array() };
  const v = vcpu.kvm;
  const len = op.kind === 'load' ? op.len : op.bytes.length;
  const data = op.kind === 'load' ? new Uint8Array(len) : op.bytes;
  for (let done = 0; done < len;) {
    const gpa = op.gpa + done;
    const gfn = gpa_to_gfn(gpa);
    const n = Math.min(PAGE_SIZE - (gpa % PAGE_SIZE), len - done);
    // The access goes through the guest's mapping of the gfn: a read of the MMU state, which an
    // invalidation changes (skipped when nothing else could run: Sim.solo).
    if (!k.sim.solo)
      yield visible(`guest ${op.kind} gfn ${gfn}`, [{ object: v.mmu, kind: 'read' }]);
    let pfn = v.spte.get(gfn);
    while (pfn === undefined) {
      const slot = gfn_to_memslot(v, gfn);
      if (slot === null) {
        const mmio = uapi.kvm_run_mmio.encode({
          phys_addr: BigInt(gpa),
          data: 0n,
          len: Math.min(8, len - done),
          is_write: op.kind === 'store' ? 1 : 0,
        });
        edit_run(k, vcpu, uapi.KVM_EXIT_MMIO, mmio);
        return { done: false, ret: 0 };
      }
      const fault = (): Uint8Array =>
        uapi.kvm_run_memory_fault.encode({
          flags: 0n,
          gpa: BigInt(gfn_to_gpa(gfn)),
          size: BigInt(PAGE_SIZE),
        });
      if (!kvm_memslot_is_gmem_only(slot)) {
        edit_run(k, vcpu, uapi.KVM_EXIT_MEMORY_FAULT, fault());
        return { done: false, ret: -EFAULT };
      }
      // fault->mmu_seq = kvm->mmu_invalidate_seq, before the pfn is looked up.
      yield visible(`mmu_seq = kvm(${v.stats_id}).mmu_invalidate_seq`, [
        { object: v.mmu, kind: 'read' },
      ]);
      const seq = v.mmu_invalidate_seq;
      const r = yield* kvm_gmem_get_pfn(k, v, slot, gfn);
      if (typeof r === 'number') {
        edit_run(k, vcpu, uapi.KVM_EXIT_MEMORY_FAULT, fault());
        return { done: false, ret: r };
      }
      // Under the MMU lock: map the pfn unless the fault is stale (is_page_fault_stale).
      yield visible(`KVM_MMU_LOCK(kvm(${v.stats_id})): map gfn ${gfn}`, [
        { object: v.mmu, kind: 'read' },
      ]);
      if (!mmu_invalidate_retry_gfn(v, seq, gfn)) {
        v.spte.set(gfn, r.pfn);
        pfn = r.pfn;
      }
      kvm_gmem_put_pfn(k, r);
      // RET_PF_RETRY: the vCPU faults again; while an invalidation covers the gfn it would
      // only spin, so it waits for the invalidation's end (kvm_host.ts abstraction 2).
      if (pfn === undefined && mmu_invalidate_covers(v, gfn))
        yield guardedOp(
          `RET_PF_RETRY(gfn ${gfn})`,
          [{ object: v.mmu, kind: 'read' }],
          () => !mmu_invalidate_covers(v, gfn),
          () => `the invalidation of kvm(${v.stats_id}) covering gfn ${gfn}`,
        );
    }
    const pa = PFN_PHYS(pfn) + (gpa % PAGE_SIZE);
    if (op.kind === 'load') data.set(k.machine.physmem.read(pa, n), done);
    else k.machine.physmem.write(pa, data.subarray(done, done + n));
    done += n;
  }
  return { done: true, data: op.kind === 'load' ? data : new Uint8Array() };
}

/** kvm_arch_vcpu_ioctl_run: runs the guest until an exit to userspace; 0 or -errno. */
export function* kvm_arch_vcpu_ioctl_run(k: Kernel, vcpu: kvm_vcpu): Sched<number> {
  const immediate_exit = PFN_PHYS(vcpu.run_page.pfn) + uapi.kvm_run.fields.immediate_exit[0];
  if (k.machine.physmem.readU8(immediate_exit) !== 0) {
    edit_run(k, vcpu, uapi.KVM_EXIT_INTR);
    return -EINTR;
  }
  if (vcpu.guest === null && !vcpu.halted) {
    const code = guest_text(k.sim).get(vcpu.rip);
    if (code === undefined) {
      edit_run(k, vcpu, uapi.KVM_EXIT_SHUTDOWN);
      return 0;
    }
    vcpu.guest = code();
    const first = vcpu.guest.next(new Uint8Array());
    vcpu.pending = first.done === true ? null : first.value;
    vcpu.halted = first.done === true;
  }
  for (;;) {
    const op = vcpu.pending;
    if (op === null || op.kind === 'hlt') {
      if (op !== null) advance(vcpu, new Uint8Array());
      edit_run(k, vcpu, uapi.KVM_EXIT_HLT);
      return 0;
    }
    if (op.kind === 'ucall') {
      k.machine.physmem.write(PFN_PHYS(vcpu.pio_page.pfn), ucall_encode(op));
      const io = uapi.kvm_run_io.encode({
        direction: uapi.KVM_EXIT_IO_IN,
        size: 1,
        port: UCALL_PIO_PORT,
        count: 1,
        data_offset: BigInt(uapi.KVM_PIO_PAGE_OFFSET * PAGE_SIZE),
      });
      edit_run(k, vcpu, uapi.KVM_EXIT_IO, io);
      advance(vcpu, new Uint8Array());
      return 0;
    }
    const r = yield* guest_access(k, vcpu, op);
    if (!r.done) {
      // MMIO completes the access (a load reads zeros); a fault leaves it to be retried.
      if (r.ret === 0) advance(vcpu, new Uint8Array(op.kind === 'load' ? op.len : 0));
      return r.ret;
    }
    advance(vcpu, r.data);
  }
}

function* kvm_vcpu_ioctl(
  k: Kernel,
  vcpu: kvm_vcpu,
  cmd: number,
  arg: Uint8Array | null,
): Sched<number> {
  if (vcpu.kvm.vm_dead) return -EIO;
  yield* mutex_lock(vcpu.mutex);
  let r: number;
  switch (cmd) {
    case uapi.KVM_RUN:
      r = arg !== null ? -EINVAL : yield* kvm_arch_vcpu_ioctl_run(k, vcpu);
      break;
    case uapi.KVM_SET_REGS: {
      const buf = new Uint8Array(uapi.kvm_regs.size);
      r = copy_from_user(buf, arg, buf.length) !== 0 ? -EFAULT : 0;
      if (r === 0) {
        vcpu.rip = uapi.kvm_regs.read(buf).rip;
        vcpu.guest = null;
        vcpu.pending = null;
        vcpu.halted = false;
      }
      break;
    }
    case uapi.KVM_GET_REGS: {
      const buf = uapi.kvm_regs.encode({ rdi: 0n, rip: vcpu.rip, rflags: 2n });
      r = copy_to_user(arg, buf, buf.length) !== 0 ? -EFAULT : 0;
      break;
    }
    default:
      r = -ENOTTY;
  }
  yield* mutex_unlock(vcpu.mutex);
  return r;
}

function kvm_vcpu_vm_ops(): vm_operations_struct {
  return {
    name: 'kvm_vcpu_vm_ops',
    // eslint-disable-next-line require-yield
    *fault(vmf) {
      const vcpu = vmf.vma.vm_file?.private_data as kvm_vcpu;
      const page =
        vmf.pgoff === 0
          ? vcpu.run_page
          : vmf.pgoff === uapi.KVM_PIO_PAGE_OFFSET
            ? vcpu.pio_page
            : null;
      if (page === null) return VM_FAULT_SIGBUS;
      folio_get(page);
      vmf.page = page;
      return 0;
    },
  };
}

/** The vCPU file operations (ioctl and mmap); kvm_main adds release. */
export function kvm_arch_vcpu_fops(k: Kernel): file_operations {
  const vm_ops = kvm_vcpu_vm_ops();
  return rebuiltBy(
    {
      owner: 'kvm',
      unlocked_ioctl(f, cmd, arg) {
        return kvm_vcpu_ioctl(k, f.private_data as kvm_vcpu, cmd, arg);
      },
      // eslint-disable-next-line require-yield
      *mmap(_f, vma) {
        vma.vm_ops = vm_ops;
        return 0;
      },
    },
    kvm_arch_vcpu_fops,
    k,
  );
}
