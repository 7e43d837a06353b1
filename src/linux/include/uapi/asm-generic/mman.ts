/**
 * mmap(2) protections and flags.
 *
 * **Models:** include/uapi/asm-generic/mman-common.h and mman.h (v7.2-era mainline, x86-64 and
 * arm64 values): PROT_*, MAP_SHARED/PRIVATE/SHARED_VALIDATE/FIXED/ANONYMOUS, MAP_FAILED.
 * **Abstracted:** every other flag (populate, locked, hugetlb sizes, growsdown...).
 */

export const PROT_NONE = 0x0;
export const PROT_READ = 0x1;
export const PROT_WRITE = 0x2;
export const PROT_EXEC = 0x4;

export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;
export const MAP_SHARED_VALIDATE = 0x03;
export const MAP_TYPE = 0x0f;
export const MAP_FIXED = 0x10;
export const MAP_ANONYMOUS = 0x20;

/** Signals a user memory access can raise (include/uapi/asm-generic/signal.h). */
export const SIGBUS = 7;
export const SIGSEGV = 11;
