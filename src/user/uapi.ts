/**
 * The uAPI numbers and structs a userspace program sees through its headers: errno values,
 * open(2) flags, reboot(2) commands and <linux/liveupdate.h>.
 *
 * Scenarios talk to the kernel only through user/, so this module is their <errno.h>,
 * <fcntl.h>, <unistd.h>, <linux/reboot.h> and <linux/liveupdate.h>: the same values, re-exported from the
 * kernel model's uapi headers so that both sides can never disagree.
 */
export {
  E2BIG,
  EBADF,
  EBUSY,
  EEXIST,
  EFAULT,
  EINVAL,
  EIO,
  EMFILE,
  ENOENT,
  ENOMEM,
  ENOSPC,
  ENOTTY,
  EPERM,
  errnoName,
} from '../linux/include/uapi/asm-generic/errno.ts';
export { O_CLOEXEC, O_RDONLY, O_RDWR } from '../linux/include/uapi/asm-generic/fcntl.ts';
export { SEEK_SET } from '../linux/include/uapi/linux/fcntl.ts';
export { LINUX_REBOOT_CMD_KEXEC } from '../linux/include/uapi/linux/reboot.ts';
export {
  LIVEUPDATE_IOCTL_CREATE_SESSION,
  LIVEUPDATE_IOCTL_RETRIEVE_SESSION,
  LIVEUPDATE_SESSION_FINISH,
  LIVEUPDATE_SESSION_GET_NAME,
  LIVEUPDATE_SESSION_NAME_LENGTH,
  LIVEUPDATE_SESSION_PRESERVE_FD,
  LIVEUPDATE_SESSION_RETRIEVE_FD,
  liveupdate_ioctl_create_session,
  liveupdate_name_bytes,
} from '../linux/include/uapi/linux/liveupdate.ts';
export {
  GUEST_MEMFD_FLAG_INIT_SHARED,
  GUEST_MEMFD_FLAG_MMAP,
  KVM_CAP_GUEST_MEMFD,
  KVM_CAP_GUEST_MEMFD_FLAGS,
  KVM_EXIT_MEMORY_FAULT,
  KVM_MEM_GUEST_MEMFD,
  KVM_X86_DEFAULT_VM,
  KVM_X86_SNP_VM,
} from '../linux/include/uapi/linux/kvm.ts';
export { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE } from '../linux/include/uapi/linux/falloc.ts';
export {
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
  SIGBUS,
  SIGSEGV,
} from '../linux/include/uapi/asm-generic/mman.ts';
