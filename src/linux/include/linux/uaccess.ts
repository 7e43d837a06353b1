/**
 * Copies between kernel buffers and user memory, with faults as errno values.
 *
 * **Models:** include/linux/uaccess.h — copy_from_user, copy_to_user, get_user, check_zeroed_user
 * and copy_struct_from_user (v7.2-era mainline).
 * **Abstracted:** user memory is the byte buffer a syscall was given (`UserPtr`); an access past
 * its end, or through a NULL pointer, is a fault. Partial copies are not modelled: a faulting
 * copy copies nothing, which is all callers here observe (they fail with -EFAULT).
 */
import { E2BIG, EFAULT } from '../uapi/asm-generic/errno.ts';

/** A user pointer: the buffer userspace passed, or null for NULL. */
export type UserPtr = Uint8Array | null;

function faults(src: UserPtr, offset: number, n: number): boolean {
  return src === null || offset < 0 || offset + n > src.length;
}

/** Returns the number of bytes not copied (0 on success), as the kernel does. */
export function copy_from_user(dst: Uint8Array, src: UserPtr, n: number, srcOffset = 0): number {
  if (faults(src, srcOffset, n) || src === null) return n;
  dst.set(src.subarray(srcOffset, srcOffset + n));
  return 0;
}

/** Returns the number of bytes not copied (0 on success). */
export function copy_to_user(dst: UserPtr, src: Uint8Array, n: number, dstOffset = 0): number {
  if (faults(dst, dstOffset, n) || dst === null) return n;
  dst.set(src.subarray(0, n), dstOffset);
  return 0;
}

/** get_user of a u32: the value, or -EFAULT. */
export function get_user_u32(src: UserPtr, offset = 0): { err: number; val: number } {
  if (faults(src, offset, 4) || src === null) return { err: -EFAULT, val: 0 };
  const v = new DataView(src.buffer, src.byteOffset, src.byteLength).getUint32(offset, true);
  return { err: 0, val: v };
}

/** 1 if the user range is all zero, 0 if not, -EFAULT on a fault. */
export function check_zeroed_user(src: UserPtr, offset: number, n: number): number {
  if (faults(src, offset, n) || src === null) return -EFAULT;
  return src.subarray(offset, offset + n).every((b) => b === 0) ? 1 : 0;
}

/**
 * Copies an extensible struct: `usize` bytes from userspace into a kernel struct of `ksize`
 * bytes. A shorter user struct is zero-extended; a longer one must have an all-zero tail, else
 * -E2BIG.
 */
export function copy_struct_from_user(
  dst: Uint8Array,
  ksize: number,
  src: UserPtr,
  usize: number,
): number {
  const size = Math.min(ksize, usize);
  const rest = Math.max(ksize, usize) - size;
  if (usize < ksize) {
    dst.fill(0, size, ksize);
  } else if (usize > ksize) {
    const ret = check_zeroed_user(src, size, rest);
    if (ret <= 0) return ret === 0 ? -E2BIG : ret;
  }
  if (copy_from_user(dst, src, size) !== 0) return -EFAULT;
  return 0;
}
