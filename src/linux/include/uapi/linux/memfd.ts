/**
 * memfd_create(2) flags and name limits.
 *
 * **Models:** include/uapi/linux/memfd.h and the name limits of mm/memfd.c (v7.2-era mainline).
 * **Abstracted:** the MFD_HUGE_* size encodings are not listed (hugetlb memfds carry no size in
 * the model).
 */

export const MFD_CLOEXEC = 0x0001;
export const MFD_ALLOW_SEALING = 0x0002;
export const MFD_HUGETLB = 0x0004;
export const MFD_NOEXEC_SEAL = 0x0008;
export const MFD_EXEC = 0x0010;
/** MFD_HUGE_SHIFT: hugetlb page size bits live above it. */
export const MFD_HUGE_SHIFT = 26;
export const MFD_HUGE_MASK = 0x3f;

export const MFD_ALL_FLAGS =
  MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB | MFD_NOEXEC_SEAL | MFD_EXEC;

/** The /proc name prefix of every memfd. */
export const MFD_NAME_PREFIX = 'memfd:';
/** NAME_MAX - strlen(MFD_NAME_PREFIX): longer names are -EINVAL. */
export const MFD_NAME_MAX_LEN = 255 - MFD_NAME_PREFIX.length;
