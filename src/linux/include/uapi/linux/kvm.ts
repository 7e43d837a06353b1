/**
 * The KVM uAPI: ioctl numbers, VM types, memslot and guest_memfd flags, exit reasons and the
 * argument structs, byte for byte.
 *
 * **Models:** include/uapi/linux/kvm.h and arch/x86/include/uapi/asm/kvm.h (v7.2-era mainline,
 * x86-64): KVMIO ioctls for /dev/kvm, VM and vCPU fds; struct kvm_userspace_memory_region{,2},
 * struct kvm_create_guest_memfd, struct kvm_regs (rip/rflags only typed) and struct kvm_run with
 * the `io` and `memory_fault` members of its exit union.
 * **Abstracted:** every other ioctl, capability and exit reason. The exit union is one 256-byte
 * area at offset 32; each member the model uses has its own typed view at that offset (a union
 * cannot be one packed struct). kvm_sync_regs is left as padding.
 */
import { defineStruct } from '../../../lib/struct.ts';
import { PAGE_SIZE } from '../../asm-generic/page.ts';
import { _IO, _IOR, _IOW, _IOWR } from '../asm-generic/ioctl.ts';

export const KVMIO = 0xae;
export const KVM_API_VERSION = 12;

/** x86 VM types (arch/x86/include/uapi/asm/kvm.h). */
export const KVM_X86_DEFAULT_VM = 0;
export const KVM_X86_SW_PROTECTED_VM = 1;
export const KVM_X86_SEV_VM = 2;
export const KVM_X86_SEV_ES_VM = 3;
export const KVM_X86_SNP_VM = 4;
export const KVM_X86_TDX_VM = 5;

/** Capabilities the model answers in KVM_CHECK_EXTENSION. */
export const KVM_CAP_USER_MEMORY = 3;
export const KVM_CAP_USER_MEMORY2 = 231;
export const KVM_CAP_MEMORY_FAULT_INFO = 232;
export const KVM_CAP_GUEST_MEMFD = 234;
export const KVM_CAP_VM_TYPES = 235;
export const KVM_CAP_GUEST_MEMFD_FLAGS = 244;

/** Memslot flags (kvm_userspace_memory_region2.flags). */
export const KVM_MEM_LOG_DIRTY_PAGES = 1 << 0;
export const KVM_MEM_READONLY = 1 << 1;
export const KVM_MEM_GUEST_MEMFD = 1 << 2;

/** guest_memfd creation flags (kvm_create_guest_memfd.flags), u64. */
export const GUEST_MEMFD_FLAG_MMAP = 1n << 0n;
export const GUEST_MEMFD_FLAG_INIT_SHARED = 1n << 1n;

/** Exit reasons (kvm_run.exit_reason). */
export const KVM_EXIT_UNKNOWN = 0;
export const KVM_EXIT_IO = 2;
export const KVM_EXIT_HLT = 5;
export const KVM_EXIT_MMIO = 6;
export const KVM_EXIT_SHUTDOWN = 8;
export const KVM_EXIT_INTR = 10;
export const KVM_EXIT_INTERNAL_ERROR = 17;
export const KVM_EXIT_MEMORY_FAULT = 39;

export const KVM_EXIT_IO_IN = 0;
export const KVM_EXIT_IO_OUT = 1;

/** kvm_run.memory_fault.flags: the access was to private memory. */
export const KVM_MEMORY_EXIT_FLAG_PRIVATE = 1n << 3n;

/** Memslot ids: 16-bit slot number, address space in the upper half. */
export const KVM_USER_MEM_SLOTS = 32764;

export const kvm_userspace_memory_region = defineStruct('kvm_userspace_memory_region', 32, {
  slot: [0, 'u32'],
  flags: [4, 'u32'],
  guest_phys_addr: [8, 'u64'],
  memory_size: [16, 'u64'],
  userspace_addr: [24, 'u64'],
});

/** 160 bytes: the v1 fields, then guest_memfd_offset, guest_memfd, pad1 and pad2[14]. */
export const kvm_userspace_memory_region2 = defineStruct('kvm_userspace_memory_region2', 160, {
  slot: [0, 'u32'],
  flags: [4, 'u32'],
  guest_phys_addr: [8, 'u64'],
  memory_size: [16, 'u64'],
  userspace_addr: [24, 'u64'],
  guest_memfd_offset: [32, 'u64'],
  guest_memfd: [40, 'u32'],
  pad1: [44, 'u32'],
});

/** 64 bytes: size, flags and six reserved u64. */
export const kvm_create_guest_memfd = defineStruct('kvm_create_guest_memfd', 64, {
  size: [0, 'u64'],
  flags: [8, 'u64'],
});

/** struct kvm_regs (x86): 16 GPRs, then rip at 128 and rflags at 136. */
export const kvm_regs = defineStruct('kvm_regs', 144, {
  rdi: [40, 'u64'],
  rip: [128, 'u64'],
  rflags: [136, 'u64'],
});

/** Offset of the exit union in struct kvm_run, and its size. */
export const KVM_RUN_EXIT_UNION_OFFSET = 32;
export const KVM_RUN_EXIT_UNION_SIZE = 256;

/** struct kvm_run header: sizeof(struct kvm_run) is 2352 on x86 (2048 bytes of sync regs). */
export const kvm_run = defineStruct('kvm_run', 2352, {
  request_interrupt_window: [0, 'u8'],
  immediate_exit: [1, 'u8'],
  exit_reason: [8, 'u32'],
  ready_for_interrupt_injection: [12, 'u8'],
  if_flag: [13, 'u8'],
  flags: [14, 'u16'],
  cr8: [16, 'u64'],
  apic_base: [24, 'u64'],
  kvm_valid_regs: [288, 'u64'],
  kvm_dirty_regs: [296, 'u64'],
});

/** kvm_run.io (KVM_EXIT_IO), at offset 32; data_offset is from the start of the mmap. */
export const kvm_run_io = defineStruct('kvm_run.io', 16, {
  direction: [0, 'u8'],
  size: [1, 'u8'],
  port: [2, 'u16'],
  count: [4, 'u32'],
  data_offset: [8, 'u64'],
});

/** kvm_run.mmio (KVM_EXIT_MMIO), at offset 32: phys_addr, data[8], len, is_write. */
export const kvm_run_mmio = defineStruct('kvm_run.mmio', 24, {
  phys_addr: [0, 'u64'],
  data: [8, 'u64'],
  len: [16, 'u32'],
  is_write: [20, 'u8'],
});

/** kvm_run.memory_fault (KVM_EXIT_MEMORY_FAULT), at offset 32. */
export const kvm_run_memory_fault = defineStruct('kvm_run.memory_fault', 24, {
  flags: [0, 'u64'],
  gpa: [8, 'u64'],
  size: [16, 'u64'],
});

/** The vCPU mmap: page 0 is struct kvm_run, page 1 the PIO data page (KVM_PIO_PAGE_OFFSET). */
export const KVM_PIO_PAGE_OFFSET = 1;
export const KVM_VCPU_MMAP_SIZE = 2 * PAGE_SIZE;

export const KVM_GET_API_VERSION = _IO(KVMIO, 0x00);
export const KVM_CREATE_VM = _IO(KVMIO, 0x01);
export const KVM_CHECK_EXTENSION = _IO(KVMIO, 0x03);
export const KVM_GET_VCPU_MMAP_SIZE = _IO(KVMIO, 0x04);
export const KVM_CREATE_VCPU = _IO(KVMIO, 0x41);
export const KVM_SET_USER_MEMORY_REGION = _IOW(KVMIO, 0x46, kvm_userspace_memory_region.size);
export const KVM_SET_USER_MEMORY_REGION2 = _IOW(KVMIO, 0x49, kvm_userspace_memory_region2.size);
export const KVM_RUN = _IO(KVMIO, 0x80);
export const KVM_GET_REGS = _IOR(KVMIO, 0x81, kvm_regs.size);
export const KVM_SET_REGS = _IOW(KVMIO, 0x82, kvm_regs.size);
export const KVM_CREATE_GUEST_MEMFD = _IOWR(KVMIO, 0xd4, kvm_create_guest_memfd.size);
