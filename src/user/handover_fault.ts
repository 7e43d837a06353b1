/**
 * Fault injection at the kexec point: rewrite a handed-over record in the machine's memory
 * after the old kernel serialized it and before the next kernel boots, to drive the incoming
 * kernel's retrieve error paths from an otherwise ordinary flow.
 *
 * What it stands for: the record is valid bytes that the next kernel cannot honour, e.g. a VM
 * type that kernel or its hardware does not support (an SNP VM record arriving on a host
 * without SEV), which is how a real VM retrieve fails. The address comes from
 * `luo_outgoing_files` (introspect.ts), read while the old kernel still runs.
 */
import type { Machine } from '../machine/machine.ts';
import { kvm_luo_ser } from '../linux/include/linux/kho/abi/kvm.ts';
import type { TestSystem } from './two_stage.ts';

/** Writes `type` into the `struct kvm_luo_ser` at physical address `pa`. */
export function rewrite_vm_record_type(machine: Machine, pa: number, type: number): void {
  machine.physmem.write(pa, kvm_luo_ser.encode({ type: BigInt(type) }));
}

/** Arranges for the VM record at `pa` to say `type` when `system` next kexecs; any hook that
 * was already there (an image save) still runs, after the rewrite. */
export function rewrite_vm_record_type_at_kexec(
  system: TestSystem,
  pa: number,
  type: number,
): void {
  const previous = system.onKexec;
  system.onKexec = (machine) => {
    rewrite_vm_record_type(machine, pa, type);
    previous?.(machine);
  };
}
