/**
 * Property (Appendix B.7, spec §5.4): in the next kernel the VM record is retrieved at most once:
 * the VM fd userspace retrieved and the VM a retrieved guest_memfd is bound to are one struct
 * kvm, no other VM exists on the boot, and restored VMs are named "1", "2", … in retrieval order
 * (kvm_luo's restored_vm_id counter, §8.3).
 */
import { fd_file_peek } from '../linux/fs/file.ts';
import type { kvm } from '../linux/include/linux/kvm_host.ts';
import { gmem_file_of } from '../linux/virt/kvm/guest_memfd_h.ts';
import { file_is_kvm, kvm_globals } from '../linux/virt/kvm/kvm_main.ts';
import type { Process } from '../user/process.ts';

/** The VMs of the boot, by name, in name order. */
export function vmNames(proc: Process): string[] {
  return [...kvm_globals(proc.kernel).vm_list].map((v) => v.stats_id).sort();
}

export function vmRetrievedOnce(proc: Process, vm_fd: number, gmem_fd: number): true | string {
  const vf = fd_file_peek(proc.files, vm_fd);
  const gf = fd_file_peek(proc.files, gmem_fd);
  if (vf === null || !file_is_kvm(vf)) return `fd ${vm_fd} is not a VM`;
  const g = gf === null ? null : gmem_file_of(gf);
  if (g === null) return `fd ${gmem_fd} is not a guest_memfd`;
  const v = vf.private_data as kvm;
  if (g.kvm !== v)
    return `the guest_memfd is bound to VM "${g.kvm.stats_id}", the retrieved VM fd is VM "${v.stats_id}"`;
  const names = vmNames(proc);
  const want = names.map((_, i) => String(i + 1));
  if (names.length !== 1)
    return `${names.length} VMs exist after the retrieves: ${names.join(', ')}`;
  if (names.join() !== want.join()) return `restored VMs are named ${names.join(', ')}, not 1..n`;
  return true;
}
