/**
 * fcntl(2) commands and file seals, plus the open flags memfds carry.
 *
 * **Models:** include/uapi/linux/fcntl.h (F_LINUX_SPECIFIC_BASE, F_ADD_SEALS, F_GET_SEALS,
 * F_SEAL_*), the F_GETFD/F_SETFD/F_GETFL commands and O_LARGEFILE of
 * include/uapi/asm-generic/fcntl.h, SEEK_* of include/uapi/linux/fs.h (v7.2-era mainline).
 * **Abstracted:** every other command (locks, leases, pipes, owners).
 */

export const F_GETFD = 1;
export const F_SETFD = 2;
export const F_GETFL = 3;

export const F_LINUX_SPECIFIC_BASE = 1024;
export const F_ADD_SEALS = F_LINUX_SPECIFIC_BASE + 9;
export const F_GET_SEALS = F_LINUX_SPECIFIC_BASE + 10;

/** Prevents further seals from being set. */
export const F_SEAL_SEAL = 0x0001;
/** Prevents the file from shrinking. */
export const F_SEAL_SHRINK = 0x0002;
/** Prevents the file from growing. */
export const F_SEAL_GROW = 0x0004;
/** Prevents writes. */
export const F_SEAL_WRITE = 0x0008;
/** Prevents future writes; existing writable mappings keep working. */
export const F_SEAL_FUTURE_WRITE = 0x0010;
/** Prevents chmod of the exec bits. */
export const F_SEAL_EXEC = 0x0020;

/** F_ALL_SEALS of mm/memfd.c. */
export const F_ALL_SEALS =
  F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE | F_SEAL_EXEC;

/** O_LARGEFILE (asm-generic value): every memfd is opened with it. */
export const O_LARGEFILE = 0o100000;

export const SEEK_SET = 0;
export const SEEK_CUR = 1;
export const SEEK_END = 2;
