/**
 * Property: reference counts balance at the end (files and struct kvm users).
 *
 * Every file a program can reach holds exactly one reference per fd that names it, per vma that
 * maps it, and per LUO record that keeps it (an outgoing preserved file, or an incoming file
 * after a successful retrieve until FINISH; spec §2.1 steps 1, 6 and 7). Every struct kvm holds
 * exactly one user per live VM file (kvm->vm_file), per guest_memfd file bound to it
 * (kvm_get_kvm at creation, §2.4 retrieve step 8) and per vCPU file. A count above that leaks the
 * object; below it, a later put frees it while still in use.
 *
 * Checked when the programs have stopped racing (after their joins), on one kernel.
 */
import type { file } from '../linux/fs/file.ts';
import { kvm_vcpu, type kvm } from '../linux/include/linux/kvm_host.ts';
import type { Kernel } from '../linux/kernel.ts';
import { gmem_file_of } from '../linux/virt/kvm/guest_memfd_h.ts';
import { file_is_kvm } from '../linux/virt/kvm/kvm_main.ts';
import type { Process } from '../user/process.ts';

function luoHeldFiles(k: Kernel): file[] {
  const luo = k.luo;
  if (luo === null) return [];
  const out: file[] = [];
  for (const s of luo.outgoing.list)
    for (const lf of s.file_set.files_list) if (lf.file !== null) out.push(lf.file);
  for (const s of luo.incoming.list)
    for (const lf of s.file_set.files_list)
      if (lf.file !== null && lf.retrieve_status > 0) out.push(lf.file);
  return out;
}

/** The kvm a file pins: a VM file's own, a guest_memfd's, a vCPU's. */
function kvmOf(f: file): { kvm: kvm; as: 'vm' | 'gmem' | 'vcpu' } | null {
  if (file_is_kvm(f)) return { kvm: f.private_data as kvm, as: 'vm' };
  const gf = gmem_file_of(f);
  if (gf !== null) return { kvm: gf.kvm, as: 'gmem' };
  if (f.private_data instanceof kvm_vcpu) return { kvm: f.private_data.kvm, as: 'vcpu' };
  return null;
}

export function refcountsBalance(procs: readonly Process[]): true | string {
  const k = procs[0]?.kernel;
  if (k === undefined) return 'no process to inspect';
  const expected = new Map<file, number>();
  const add = (f: file): void => {
    expected.set(f, (expected.get(f) ?? 0) + 1);
  };
  for (const p of procs) {
    if (p.exited) continue;
    for (const e of p.files.fdt.values()) if (e.file !== null) add(e.file);
    for (const vma of p.sys.mm.vmas) if (vma.vm_file !== null) add(vma.vm_file);
  }
  for (const f of luoHeldFiles(k)) add(f);
  const problems: string[] = [];
  const users = new Map<kvm, number>();
  for (const [f, n] of expected) {
    if (f.f_count.refs !== n)
      problems.push(`${f.f_path}: f_count ${f.f_count.refs}, ${n} holder(s)`);
    const pin = kvmOf(f);
    if (pin !== null) users.set(pin.kvm, (users.get(pin.kvm) ?? 0) + 1);
  }
  for (const [v, n] of users) {
    const vmFile = v.vm_file.value;
    // A VM whose file was released (e.g. finished without being retrieved by userspace) is
    // still pinned by its guest_memfd files: then no VM file counts.
    const counted = vmFile !== null && !expected.has(vmFile) ? n + 1 : n;
    if (v.users_count.refs !== counted)
      problems.push(`kvm ${v.stats_id}: users_count ${v.users_count.refs}, ${counted} user(s)`);
  }
  return problems.length === 0 || problems.join('; ');
}
