/**
 * open(2) flags.
 *
 * **Models:** include/uapi/asm-generic/fcntl.h (v7.2-era mainline, the generic values of x86-64
 * and arm64): the access modes and the flags the model uses.
 * **Abstracted:** every other flag.
 */

export const O_ACCMODE = 0o3;
export const O_RDONLY = 0o0;
export const O_WRONLY = 0o1;
export const O_RDWR = 0o2;
export const O_CLOEXEC = 0o2000000;

/** fcntl F_GETFD flag: the descriptor closes on exec. */
export const FD_CLOEXEC = 1;
