/**
 * The KVM core objects: struct kvm, struct kvm_vcpu, struct kvm_memory_slot, and the guest
 * program a vCPU executes.
 *
 * **Models:** include/linux/kvm_host.h (v7.2-era mainline plus patch 03 of the guest_memfd
 * preservation series, RFC v2: the weak `vm_file` back-pointer): the fields the model reads,
 * kvm_arch_has_private_mem (x86: every type but KVM_X86_DEFAULT_VM), gfn/gpa helpers,
 * KVM_MEMSLOT_GMEM_ONLY, kvm_slot_has_gmem, kvm_memslot_is_gmem_only, __gfn_to_memslot.
 *
 * **Abstracted:**
 * 1. One address space (as_id 0); memslots are a Map by id, not the two-set RCU-swapped trees.
 *    Readers (vCPU faults) and writers (KVM_SET_USER_MEMORY_REGION2 under slots_lock) do not
 *    race in the model because kvm->srcu is not modelled: a memslot update is atomic with
 *    respect to a vCPU's fault.
 * 2. The secondary MMU is a map gfn → pfn (`spte`) filled by faults and zapped by guest_memfd
 *    invalidation and memslot deletion. KVM_MMU_LOCK is one shared object (`mmu`): an
 *    invalidation's begin (count in progress, range, zap) and end (sequence bump) are each one
 *    visible write of it, and a fault reads it when it samples the sequence and when it maps
 *    the pfn (mmu_invalidate_retry_gfn). A fault that must retry while an invalidation covers its
 *    gfn waits for the invalidation's end instead of re-entering the guest in a loop (the same
 *    outcomes without the spinning).
 * 3. The guest's code is a generator of guest operations (`GuestCode`); where the selftests
 *    load the test ELF into guest memory and point RIP at a function, the model points RIP at an
 *    entry of the per-execution guest text table (arch/x86/kvm/x86.ts).
 */
import type { ObjectId, Sim } from '../../../sim/index.ts';
import { Mutex, Refcount, Shared } from '../../../sync/index.ts';
import type { file } from '../../fs/file.ts';
import type { Kernel } from '../../kernel.ts';
import type { Page } from './mm_types.ts';
import { PAGE_SHIFT } from '../asm-generic/page.ts';
import { KVM_MEM_GUEST_MEMFD, KVM_X86_DEFAULT_VM } from '../uapi/linux/kvm.ts';

/** An invalid gfn: the invalidation range is empty. */
const INVALID_GPA = -1;

/** Internal memslot flag: guest_memfd backs shared memory too (MMAP-capable guest_memfd). */
export const KVM_MEMSLOT_GMEM_ONLY = 1 << 17;
export const KVM_MAX_VCPUS = 1024;
export const KVM_MAX_VCPU_IDS = 4096;
/** KVM_MEM_MAX_NR_PAGES: memslot sizes are capped for the dirty bitmap (u32 index). */
export const KVM_MEM_MAX_NR_PAGES = 2 ** 31 - 1;

/** One guest operation; the vCPU resumes the guest with the bytes a load read. */
export type GuestOp =
  | { readonly kind: 'load'; readonly gpa: number; readonly len: number }
  | { readonly kind: 'store'; readonly gpa: number; readonly bytes: Uint8Array }
  | {
      readonly kind: 'ucall';
      readonly cmd: number;
      readonly args: readonly bigint[];
      readonly message: string;
    }
  | { readonly kind: 'hlt' };

/** The guest's code: a generator of guest operations (loads resume with their bytes). */
export type GuestCode = () => Generator<GuestOp, void, Uint8Array>;

/** The selftests' x86 ucall: an IN from this port (tools/testing/selftests/kvm/lib/x86). */
export const UCALL_PIO_PORT = 0x1000;
export const UCALL_MAX_ARGS = 7;
export const UCALL_BUFFER_LEN = 1024;
/** struct ucall {u64 cmd; u64 args[7]; char buffer[1024]; struct ucall *hva;}: 1096 bytes. */
export const UCALL_SIZE = 8 + 8 * UCALL_MAX_ARGS + UCALL_BUFFER_LEN + 8;
const UCALL_BUFFER_OFFSET = 8 + 8 * UCALL_MAX_ARGS;

const utf8 = new TextEncoder();

/** The bytes of the struct ucall a guest ucall op carries. */
export function ucall_encode(op: {
  cmd: number;
  args: readonly bigint[];
  message: string;
}): Uint8Array {
  const out = new Uint8Array(UCALL_SIZE);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(op.cmd), true);
  op.args.slice(0, UCALL_MAX_ARGS).forEach((a, i) => {
    dv.setBigUint64(8 + 8 * i, BigInt.asUintN(64, a), true);
  });
  out.set(utf8.encode(op.message).subarray(0, UCALL_BUFFER_LEN - 1), UCALL_BUFFER_OFFSET);
  return out;
}

/** Decodes a struct ucall. */
export function ucall_decode(bytes: Uint8Array): { cmd: number; args: bigint[]; message: string } {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const args: bigint[] = [];
  for (let i = 0; i < UCALL_MAX_ARGS; i++) args.push(dv.getBigUint64(8 + 8 * i, true));
  const buf = bytes.subarray(UCALL_BUFFER_OFFSET, UCALL_BUFFER_OFFSET + UCALL_BUFFER_LEN);
  const end = buf.indexOf(0);
  const message = new TextDecoder().decode(buf.subarray(0, end < 0 ? buf.length : end));
  return { cmd: Number(dv.getBigUint64(0, true)), args, message };
}

/** struct kvm_memory_slot (the gmem part is slot->gmem). */
export class kvm_memory_slot {
  readonly id: number;
  readonly as_id = 0;
  readonly base_gfn: number;
  readonly npages: number;
  flags: number;
  readonly userspace_addr: bigint;
  /** slot->gmem.file: the bound guest_memfd file (no reference; cleared on release/unbind). */
  readonly gmem_file: Shared<file | null>;
  /** slot->gmem.pgoff: file page index of base_gfn. */
  gmem_pgoff = 0;

  constructor(
    sim: Sim,
    id: number,
    base_gfn: number,
    npages: number,
    flags: number,
    uaddr: bigint,
  ) {
    this.id = id;
    this.base_gfn = base_gfn;
    this.npages = npages;
    this.flags = flags;
    this.userspace_addr = uaddr;
    this.gmem_file = new Shared<file | null>(sim, `slot${id}.gmem.file`, null);
  }
}

/** struct kvm_vcpu with the parts of struct kvm_vcpu_arch the model runs. */
export class kvm_vcpu {
  readonly kvm: kvm;
  readonly vcpu_id: number;
  readonly mutex: Mutex;
  /** vcpu->run and the PIO data page: what userspace mmaps from the vCPU fd. */
  readonly run_page: Page;
  readonly pio_page: Page;
  /** RIP: an entry of the guest text table, 0 = none. */
  rip = 0n;
  /** The running guest and the operation it is stopped at (retried on the next KVM_RUN). */
  guest: Generator<GuestOp, void, Uint8Array> | null = null;
  pending: GuestOp | null = null;
  /** The guest ran off its end: every KVM_RUN exits with HLT. */
  halted = false;

  constructor(kvm: kvm, id: number, run_page: Page, pio_page: Page) {
    this.kvm = kvm;
    this.vcpu_id = id;
    this.mutex = new Mutex(kvm.sim, `vcpu${id}.mutex`);
    this.run_page = run_page;
    this.pio_page = pio_page;
  }
}

/** struct kvm. */
export class kvm {
  readonly sim: Sim;
  readonly k: Kernel;
  /** kvm->arch.vm_type. */
  readonly type: number;
  readonly users_count: Refcount;
  readonly lock: Mutex;
  readonly slots_lock: Mutex;
  readonly memslots = new Map<number, kvm_memory_slot>();
  nr_memslot_pages = 0;
  readonly vcpus: kvm_vcpu[] = [];
  created_vcpus = 0;
  vm_dead = false;
  vm_bugged = false;
  /** Weak back-pointer to the VM file (patch 03): set by kvm_create_vm_file, cleared on release. */
  readonly vm_file: Shared<file | null>;
  /** "<pid>-<fdname>" in the kernel; the model has no pids, so just the fdname. */
  readonly stats_id: string;
  /** The secondary MMU: gfn → pfn mapped for the guest. */
  readonly spte = new Map<number, number>();
  /** What KVM_MMU_LOCK protects, as one object of the explorer (abstraction 2). */
  readonly mmu: ObjectId;
  /** mmu_invalidate_seq: bumped by every invalidation's end, so an in-flight fault re-faults. */
  mmu_invalidate_seq = 0;
  /** Invalidations between begin and end, and the gfn range [start, end) they cover. */
  mmu_invalidate_in_progress = 0;
  mmu_invalidate_range_start = INVALID_GPA;
  mmu_invalidate_range_end = INVALID_GPA;

  constructor(k: Kernel, type: number, fdname: string) {
    this.sim = k.sim;
    this.k = k;
    this.type = type;
    this.stats_id = fdname;
    this.users_count = new Refcount(k.sim, `kvm(${fdname}).users_count`, 1);
    this.lock = new Mutex(k.sim, `kvm(${fdname}).lock`);
    this.slots_lock = new Mutex(k.sim, `kvm(${fdname}).slots_lock`);
    this.vm_file = new Shared<file | null>(k.sim, `kvm(${fdname}).vm_file`, null);
    this.mmu = k.sim.newObject(`kvm(${fdname}).mmu_lock`);
  }
}

/** kvm_arch_has_private_mem (x86): the VM may have private memory. */
export const kvm_arch_has_private_mem = (kvm: kvm): boolean => kvm.type !== KVM_X86_DEFAULT_VM;

export const gpa_to_gfn = (gpa: number): number => Math.floor(gpa / 2 ** PAGE_SHIFT);
export const gfn_to_gpa = (gfn: number): number => gfn * 2 ** PAGE_SHIFT;

export const kvm_slot_has_gmem = (slot: kvm_memory_slot): boolean =>
  (slot.flags & KVM_MEM_GUEST_MEMFD) !== 0;
export const kvm_memslot_is_gmem_only = (slot: kvm_memory_slot): boolean =>
  (slot.flags & KVM_MEMSLOT_GMEM_ONLY) !== 0;

/** __gfn_to_memslot: the slot containing `gfn`, or null. */
export function gfn_to_memslot(kvm: kvm, gfn: number): kvm_memory_slot | null {
  for (const slot of kvm.memslots.values())
    if (gfn >= slot.base_gfn && gfn < slot.base_gfn + slot.npages) return slot;
  return null;
}

/** kvm_vm_dead: the VM is unusable; every further VM or vCPU ioctl fails with -EIO. */
export function kvm_vm_dead(kvm: kvm): void {
  kvm.vm_dead = true;
}

/** kvm_vm_bugged (KVM_BUG_ON): a KVM bug was detected; the VM is bugged and dead. */
export function kvm_vm_bugged(kvm: kvm): void {
  kvm.vm_bugged = true;
  kvm_vm_dead(kvm);
}

/** kvm_mmu_invalidate_begin (kvm_main.c), under KVM_MMU_LOCK: one more invalidation running. */
export function kvm_mmu_invalidate_begin(v: kvm): void {
  v.mmu_invalidate_in_progress++;
  if (v.mmu_invalidate_in_progress === 1) {
    v.mmu_invalidate_range_start = INVALID_GPA;
    v.mmu_invalidate_range_end = INVALID_GPA;
  }
}

/** kvm_mmu_invalidate_range_add: widens the range in progress to cover [start, end). */
export function kvm_mmu_invalidate_range_add(v: kvm, start: number, end: number): void {
  if (v.mmu_invalidate_range_start === INVALID_GPA) {
    v.mmu_invalidate_range_start = start;
    v.mmu_invalidate_range_end = end;
  } else {
    v.mmu_invalidate_range_start = Math.min(v.mmu_invalidate_range_start, start);
    v.mmu_invalidate_range_end = Math.max(v.mmu_invalidate_range_end, end);
  }
}

/** kvm_mmu_invalidate_end: the sequence moves (in-flight faults retry), one fewer running. */
export function kvm_mmu_invalidate_end(v: kvm): void {
  v.mmu_invalidate_seq++;
  v.mmu_invalidate_in_progress--;
}

/** An invalidation in progress covers `gfn`. */
export function mmu_invalidate_covers(v: kvm, gfn: number): boolean {
  return (
    v.mmu_invalidate_in_progress > 0 &&
    gfn >= v.mmu_invalidate_range_start &&
    gfn < v.mmu_invalidate_range_end
  );
}

/** mmu_invalidate_retry_gfn: a fault that sampled `seq` must not map `gfn` now. */
export function mmu_invalidate_retry_gfn(v: kvm, seq: number, gfn: number): boolean {
  return mmu_invalidate_covers(v, gfn) || v.mmu_invalidate_seq !== seq;
}
