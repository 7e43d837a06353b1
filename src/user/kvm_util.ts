/**
 * The KVM selftests' userspace library, as generators over a process's syscalls.
 *
 * Mirrors tools/testing/selftests/kvm/lib/kvm_util.c and ucall_common.c (v7.2-era, with the
 * guest_memfd preservation series' vm_create_from_fd): open /dev/kvm, create a VM, guest_memfd
 * and memslots, add vCPUs running a guest program, run them and decode their exits and ucalls.
 * Names are the C ones. Every helper returns its value or a negative errno (the selftests'
 * `__` variants); none asserts, so a test decides what a failure means.
 *
 * Integer ioctl arguments (KVM_CREATE_VM's type, KVM_CREATE_VCPU's id, KVM_CHECK_EXTENSION's
 * capability) travel as a little-endian u32 in a 4-byte buffer, the model's stand-in for
 * passing an integer in the pointer argument. The vCPU's struct kvm_run is read through its
 * mmap, as a VMM does; the guest's entry point goes into RIP with KVM_SET_REGS.
 */
import type { Sched } from '../sim/index.ts';
import { O_RDWR } from '../linux/include/uapi/asm-generic/fcntl.ts';
import { MAP_SHARED, PROT_READ, PROT_WRITE } from '../linux/include/uapi/asm-generic/mman.ts';
import * as uapi from '../linux/include/uapi/linux/kvm.ts';
import { ucall_decode, UCALL_SIZE } from '../linux/include/linux/kvm_host.ts';
import { guest_text_address } from '../linux/arch/x86/kvm/x86.ts';
import type { GuestCode } from './guest.ts';
import { UCALL_NONE } from './guest.ts';
import type { Process } from './process.ts';
import type { Syscalls } from './syscalls.ts';

export const KVM_DEV_PATH = '/dev/kvm';

/** struct kvm_vm of the selftests: the fds a test holds for one VM. */
export interface KvmVm {
  readonly proc: Process;
  readonly sys: Syscalls;
  readonly kvm_fd: number;
  readonly fd: number;
  readonly type: number;
  readonly vcpus: KvmVcpu[];
}

/** struct kvm_vcpu of the selftests: the vCPU fd and where its kvm_run is mapped. */
export interface KvmVcpu {
  readonly vm: KvmVm;
  readonly id: number;
  readonly fd: number;
  /** User address of the vCPU mmap (struct kvm_run, then the PIO data page). */
  readonly run: number;
}

/** A decoded ucall (get_ucall); cmd UCALL_NONE when the exit was not a ucall. */
export interface Ucall {
  readonly cmd: number;
  readonly args: readonly bigint[];
  readonly message: string;
}

function u32arg(v: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return b;
}

/** open_kvm_dev_path_or_exit without the exit: the /dev/kvm fd or -errno. */
export function* open_kvm_dev_path(sys: Syscalls): Sched<number> {
  return yield* sys.open(KVM_DEV_PATH, O_RDWR);
}

/**
 * kvm_check_cap: KVM_CHECK_EXTENSION on a /dev/kvm fd opened and closed for the purpose. The
 * capability's value (0 = absent), or -errno (of the open, where C exits).
 */
export function* kvm_check_cap(sys: Syscalls, cap: number): Sched<number> {
  const kvm_fd = yield* open_kvm_dev_path(sys);
  if (kvm_fd < 0) return kvm_fd;
  const r = yield* sys.ioctl(kvm_fd, uapi.KVM_CHECK_EXTENSION, u32arg(cap));
  yield* sys.close(kvm_fd);
  return r;
}

/** vm_check_cap: KVM_CHECK_EXTENSION on the VM fd; the capability's value (0 = absent) or -errno. */
export function* vm_check_cap(vm: KvmVm, cap: number): Sched<number> {
  return yield* vm.sys.ioctl(vm.fd, uapi.KVM_CHECK_EXTENSION, u32arg(cap));
}

/** vm_create (no memory, no vCPUs): opens /dev/kvm and creates a VM of `type`. */
export function* vm_create(proc: Process, type = uapi.KVM_X86_DEFAULT_VM): Sched<KvmVm | number> {
  const sys = proc.sys;
  const kvm_fd = yield* open_kvm_dev_path(sys);
  if (kvm_fd < 0) return kvm_fd;
  const fd = yield* sys.ioctl(kvm_fd, uapi.KVM_CREATE_VM, u32arg(type));
  if (fd < 0) {
    yield* sys.close(kvm_fd);
    return fd;
  }
  return { proc, sys, kvm_fd, fd, type, vcpus: [] };
}

/** vm_create_from_fd: wraps a VM fd obtained elsewhere (e.g. retrieved from LUO). */
export function* vm_create_from_fd(
  proc: Process,
  vm_fd: number,
  type = uapi.KVM_X86_DEFAULT_VM,
): Sched<KvmVm | number> {
  const kvm_fd = yield* open_kvm_dev_path(proc.sys);
  if (kvm_fd < 0) return kvm_fd;
  return { proc, sys: proc.sys, kvm_fd, fd: vm_fd, type, vcpus: [] };
}

/** __vm_create_guest_memfd: the guest_memfd fd or -errno. */
export function* vm_create_guest_memfd(
  vm: KvmVm,
  size: number | bigint,
  flags: bigint,
): Sched<number> {
  const arg = uapi.kvm_create_guest_memfd.encode({ size: BigInt(size), flags });
  return yield* vm.sys.ioctl(vm.fd, uapi.KVM_CREATE_GUEST_MEMFD, arg);
}

/** __vm_set_user_memory_region2: 0 or -errno. */
export function* vm_set_user_memory_region2(
  vm: KvmVm,
  slot: number,
  flags: number,
  gpa: number | bigint,
  size: number | bigint,
  hva: number | bigint,
  guest_memfd: number,
  guest_memfd_offset: number | bigint,
): Sched<number> {
  const arg = uapi.kvm_userspace_memory_region2.encode({
    slot,
    flags,
    guest_phys_addr: BigInt(gpa),
    memory_size: BigInt(size),
    userspace_addr: BigInt(hva),
    guest_memfd_offset: BigInt(guest_memfd_offset),
    guest_memfd: guest_memfd >>> 0,
    pad1: 0,
  });
  return yield* vm.sys.ioctl(vm.fd, uapi.KVM_SET_USER_MEMORY_REGION2, arg);
}

/** vm_vcpu_add: creates vCPU `id`, maps its kvm_run and points RIP at `guest_code`. */
export function* vm_vcpu_add(
  vm: KvmVm,
  id: number,
  guest_code: GuestCode,
): Sched<KvmVcpu | number> {
  const sys = vm.sys;
  const fd = yield* sys.ioctl(vm.fd, uapi.KVM_CREATE_VCPU, u32arg(id));
  if (fd < 0) return fd;
  const size = yield* sys.ioctl(vm.kvm_fd, uapi.KVM_GET_VCPU_MMAP_SIZE, null);
  if (size < 0) return size;
  const run = yield* sys.mmap(0, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (run < 0) return run;
  const vcpu: KvmVcpu = { vm, id, fd, run };
  const r = yield* vcpu_set_entry_point(vcpu, guest_code);
  if (r < 0) return r;
  vm.vcpus.push(vcpu);
  return vcpu;
}

/** vcpu_arch_set_entry_point: KVM_SET_REGS with RIP = the guest code's text address. */
export function* vcpu_set_entry_point(vcpu: KvmVcpu, guest_code: GuestCode): Sched<number> {
  const rip = guest_text_address(vcpu.vm.proc.kernel.sim, guest_code);
  const regs = uapi.kvm_regs.encode({ rdi: 0n, rip, rflags: 2n });
  return yield* vcpu.vm.sys.ioctl(vcpu.fd, uapi.KVM_SET_REGS, regs);
}

/** _vcpu_run: KVM_RUN once; 0 or -errno (e.g. -EPERM with a KVM_EXIT_MEMORY_FAULT exit). */
export function* vcpu_run(vcpu: KvmVcpu): Sched<number> {
  return yield* vcpu.vm.sys.ioctl(vcpu.fd, uapi.KVM_RUN, null);
}

/** The vCPU's struct kvm_run bytes, read through its mapping. */
export function* vcpu_run_struct(vcpu: KvmVcpu): Sched<Uint8Array> {
  const r = yield* vcpu.vm.sys.load(vcpu.run, uapi.kvm_run.size);
  if (!r.ok) throw new Error(`kvm_run mapping of vcpu ${vcpu.id} raised signal ${r.signal}`);
  return r.bytes;
}

export function* vcpu_exit_reason(vcpu: KvmVcpu): Sched<number> {
  return uapi.kvm_run.read(yield* vcpu_run_struct(vcpu)).exit_reason;
}

/** kvm_run.memory_fault of the last exit. */
export function* vcpu_memory_fault(
  vcpu: KvmVcpu,
): Sched<ReturnType<typeof uapi.kvm_run_memory_fault.read>> {
  const run = yield* vcpu_run_struct(vcpu);
  return uapi.kvm_run_memory_fault.read(run, uapi.KVM_RUN_EXIT_UNION_OFFSET);
}

/** get_ucall: the ucall of the last exit, or UCALL_NONE if it was not one. */
export function* get_ucall(vcpu: KvmVcpu): Sched<Ucall> {
  const run = yield* vcpu_run_struct(vcpu);
  const none: Ucall = { cmd: UCALL_NONE, args: [], message: '' };
  if (uapi.kvm_run.read(run).exit_reason !== uapi.KVM_EXIT_IO) return none;
  const io = uapi.kvm_run_io.read(run, uapi.KVM_RUN_EXIT_UNION_OFFSET);
  const data = yield* vcpu.vm.sys.load(vcpu.run + Number(io.data_offset), UCALL_SIZE);
  if (!data.ok) return none;
  return ucall_decode(data.bytes);
}

/** kvm_vm_free: unmaps and closes every vCPU, then the VM and /dev/kvm fds. */
export function* kvm_vm_free(vm: KvmVm): Sched {
  for (const vcpu of vm.vcpus) {
    yield* vm.sys.munmap(vcpu.run, uapi.KVM_VCPU_MMAP_SIZE);
    yield* vm.sys.close(vcpu.fd);
  }
  vm.vcpus.length = 0;
  yield* vm.sys.close(vm.fd);
  yield* vm.sys.close(vm.kvm_fd);
}
