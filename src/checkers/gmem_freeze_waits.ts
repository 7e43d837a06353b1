/**
 * Properties of Appendix B.3: a freeze waits for every allocation already inside a freeze read
 * section, on any guest_memfd inode (the SRCU domain is global), and an unfreeze never blocks.
 * Read from the model's freeze bookkeeping (GmemFreezeDebug), which records, per
 * kvm_gmem_freeze, whether a read section open when FROZEN was published outlived the call, and
 * whether an unfreeze had to wait for a reader.
 */
import { kvm_globals } from '../linux/virt/kvm/kvm_main.ts';
import type { Process } from '../user/process.ts';

export function freezeWaitedForAllocations(proc: Process): true | string {
  const d = kvm_globals(proc.kernel).gmem_debug;
  return (
    d.freezes_returned_early === 0 ||
    `${d.freezes_returned_early} of ${d.freezes} freeze(s) returned while an allocation that ` +
      'was already in its read section was still running'
  );
}

export function unfreezeNeverBlocked(proc: Process): true | string {
  const d = kvm_globals(proc.kernel).gmem_debug;
  return (
    d.unfreezes_waited === 0 ||
    `${d.unfreezes_waited} unfreeze(s) waited for a read section (synchronize_srcu on unfreeze)`
  );
}
