/**
 * Property (Appendix B.1): after a successful guest_memfd preserve the inode is FROZEN; after a
 * failed one, or after unpreserve, it is not.
 */
import { gmem_inode, gmemOf } from './gmem_inspect.ts';
import type { Process } from '../user/process.ts';

export function frozenMatchesPreserve(
  proc: Process,
  gmem_fd: number,
  preserved: boolean,
): true | string {
  const gi = gmemOf(proc, gmem_fd);
  if (gi === null) return `fd ${gmem_fd} is not a guest_memfd`;
  const frozen = (gi.flags.value & gmem_inode.FROZEN) !== 0n;
  if (frozen === preserved) return true;
  return preserved
    ? 'the guest_memfd is preserved but not frozen'
    : 'the guest_memfd is not preserved but still frozen';
}
