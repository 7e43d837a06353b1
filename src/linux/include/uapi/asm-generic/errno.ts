/**
 * Linux errno numbers, as kernel-internal calls return them (negated) and userspace sees them.
 *
 * **Models:** include/uapi/asm-generic/errno-base.h and errno.h, plus the kernel-internal
 * ENOIOCTLCMD of include/linux/errno.h (v7.2-era mainline; the numbers are those of x86-64 and
 * arm64, which use the generic table).
 *
 * **Abstracted:** only the numbers the model uses; the full table is not carried.
 *
 * Convention in the model: a kernel function that can fail returns `-EXXX` (a negative number)
 * or 0, exactly where the kernel returns it; an error pointer is a negative number where a
 * pointer (a non-negative physical or virtual address, or an object) is expected.
 */

export const EPERM = 1;
export const ENOENT = 2;
export const ESRCH = 3;
export const EINTR = 4;
export const EIO = 5;
export const ENXIO = 6;
export const E2BIG = 7;
export const ENOEXEC = 8;
export const EBADF = 9;
export const EAGAIN = 11;
export const ENOMEM = 12;
export const EACCES = 13;
export const EFAULT = 14;
export const EBUSY = 16;
export const EEXIST = 17;
export const EXDEV = 18;
export const ENODEV = 19;
export const ENOTDIR = 20;
export const EISDIR = 21;
export const EINVAL = 22;
export const ENFILE = 23;
export const EMFILE = 24;
export const ENOTTY = 25;
export const EFBIG = 27;
export const ENOSPC = 28;
export const ESPIPE = 29;
export const EROFS = 30;
export const ERANGE = 34;
export const ENAMETOOLONG = 36;
export const ENOSYS = 38;
export const ENODATA = 61;
export const EOVERFLOW = 75;
export const EOPNOTSUPP = 95;
export const EADDRNOTAVAIL = 99;
export const ETIMEDOUT = 110;
/** Kernel-internal: "ioctl not handled here"; userspace sees ENOTTY instead. */
export const ENOIOCTLCMD = 515;

const NAMES: ReadonlyMap<number, string> = new Map([
  [EPERM, 'EPERM'],
  [ENOENT, 'ENOENT'],
  [ESRCH, 'ESRCH'],
  [EINTR, 'EINTR'],
  [EIO, 'EIO'],
  [ENXIO, 'ENXIO'],
  [E2BIG, 'E2BIG'],
  [ENOEXEC, 'ENOEXEC'],
  [EBADF, 'EBADF'],
  [EAGAIN, 'EAGAIN'],
  [ENOMEM, 'ENOMEM'],
  [EACCES, 'EACCES'],
  [EFAULT, 'EFAULT'],
  [EBUSY, 'EBUSY'],
  [EEXIST, 'EEXIST'],
  [EXDEV, 'EXDEV'],
  [ENODEV, 'ENODEV'],
  [ENOTDIR, 'ENOTDIR'],
  [EISDIR, 'EISDIR'],
  [EINVAL, 'EINVAL'],
  [ENFILE, 'ENFILE'],
  [EMFILE, 'EMFILE'],
  [ENOTTY, 'ENOTTY'],
  [EFBIG, 'EFBIG'],
  [ENOSPC, 'ENOSPC'],
  [ESPIPE, 'ESPIPE'],
  [EROFS, 'EROFS'],
  [ERANGE, 'ERANGE'],
  [ENAMETOOLONG, 'ENAMETOOLONG'],
  [ENOSYS, 'ENOSYS'],
  [ENODATA, 'ENODATA'],
  [EOVERFLOW, 'EOVERFLOW'],
  [EOPNOTSUPP, 'EOPNOTSUPP'],
  [EADDRNOTAVAIL, 'EADDRNOTAVAIL'],
  [ETIMEDOUT, 'ETIMEDOUT'],
  [ENOIOCTLCMD, 'ENOIOCTLCMD'],
]);

/**
 * The symbolic name of an errno, accepting either sign (`errnoName(-22)` is "EINVAL"); an
 * unknown number comes back as "E?<n>" so that a report never hides it.
 */
export function errnoName(n: number): string {
  const abs = Math.abs(n);
  return NAMES.get(abs) ?? `E?${abs}`;
}
