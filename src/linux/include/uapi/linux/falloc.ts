/**
 * fallocate(2) modes.
 *
 * **Models:** include/uapi/linux/falloc.h and FALLOC_FL_SUPPORTED_MASK of include/linux/falloc.h
 * (v7.2-era mainline).
 * **Abstracted:** nothing; filesystems other than shmem/guest_memfd are not modelled, so the
 * collapse/insert/unshare modes only ever fail.
 */

export const FALLOC_FL_ALLOCATE_RANGE = 0x00;
export const FALLOC_FL_KEEP_SIZE = 0x01;
export const FALLOC_FL_PUNCH_HOLE = 0x02;
export const FALLOC_FL_NO_HIDE_STALE = 0x04;
export const FALLOC_FL_COLLAPSE_RANGE = 0x08;
export const FALLOC_FL_ZERO_RANGE = 0x10;
export const FALLOC_FL_INSERT_RANGE = 0x20;
export const FALLOC_FL_UNSHARE_RANGE = 0x40;
export const FALLOC_FL_WRITE_ZEROES = 0x80;

/** The modes vfs_fallocate lets through to a filesystem. */
export const FALLOC_FL_MODE_MASK =
  FALLOC_FL_ALLOCATE_RANGE |
  FALLOC_FL_ZERO_RANGE |
  FALLOC_FL_PUNCH_HOLE |
  FALLOC_FL_COLLAPSE_RANGE |
  FALLOC_FL_INSERT_RANGE |
  FALLOC_FL_UNSHARE_RANGE |
  FALLOC_FL_WRITE_ZEROES;

export const FALLOC_FL_SUPPORTED_MASK = FALLOC_FL_MODE_MASK | FALLOC_FL_KEEP_SIZE;
