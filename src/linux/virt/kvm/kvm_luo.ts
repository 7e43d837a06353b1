/**
 * Preserving a KVM VM file across a live update: the LUO file handler "kvm_vm_luo_v1".
 *
 * **Models:** virt/kvm/kvm_luo.c of the guest_memfd preservation series, RFC v2 (patch 04;
 * spec §2.3, §4.2): kvm_luo_can_preserve, kvm_luo_preserve, kvm_luo_unpreserve, kvm_luo_retrieve,
 * kvm_luo_finish and the handler kvm_luo_init registers (the registration and its unwind are in
 * kvm_main.ts's kvm_init, as in v2). No freeze, unfreeze or can_finish; no locks of its own.
 * **Abstracted:** the uevent is a log line; the VM type is x86's vm_type.
 *
 * Paths: preserve — 1. vm_dead or vm_bugged → -EINVAL; 2. kho_alloc_preserve fails → its error;
 * 3. success: an 8-byte record {type} in a preserved page. Unpreserve — no record → WARN; else the
 * record is freed. Retrieve — 1. no record → -EINVAL; 2. the VM cannot be created (a type this
 * kernel rejects) → the record is freed and the error returned; 3. success: a new VM named by the
 * restored-VM counter ("1", "2", …) with no memslots or vCPUs, and its file. Finish — nothing
 * after a retrieve (success or failure); otherwise the record is freed.
 */
import { rebuiltBy } from '../../../sim/index.ts';
import { atomic_inc_return } from '../../../sync/index.ts';
import type { Sched } from '../../../sim/index.ts';
import type { kvm } from '../../include/linux/kvm_host.ts';
import { KVM_LUO_FH_COMPATIBLE, kvm_luo_ser } from '../../include/linux/kho/abi/kvm.ts';
import type {
  liveupdate_file_handler,
  liveupdate_file_op_args,
} from '../../include/linux/liveupdate.ts';
import { EINVAL } from '../../include/uapi/asm-generic/errno.ts';
import type { Kernel } from '../../kernel.ts';
import {
  kho_alloc_preserve,
  kho_restore_free,
  kho_unpreserve_free,
} from '../../kernel/liveupdate/kexec_handover.ts';
import {
  file_is_kvm,
  kvm_create_vm_file,
  kvm_globals,
  kvm_uevent_notify_vm_create,
} from './kvm_main.ts';

function* kvm_luo_preserve(k: Kernel, args: liveupdate_file_op_args): Sched<number> {
  const v = args.file?.private_data as kvm;
  if (v.vm_dead || v.vm_bugged) return -EINVAL;
  const ser = yield* kho_alloc_preserve(k, kvm_luo_ser.size);
  if (ser < 0) return ser;
  k.machine.physmem.write(ser, kvm_luo_ser.encode({ type: BigInt(v.type) }));
  args.serialized_data = BigInt(ser);
  return 0;
}

function* kvm_luo_unpreserve(k: Kernel, args: liveupdate_file_op_args): Sched {
  if (k.WARN_ON_ONCE(args.serialized_data === 0n, 'kvm_luo_unpreserve', 'kvm_luo: no record'))
    return;
  yield* kho_unpreserve_free(k, Number(args.serialized_data));
}

function* kvm_luo_retrieve(k: Kernel, args: liveupdate_file_op_args): Sched<number> {
  if (args.serialized_data === 0n) return -EINVAL;
  const pa = Number(args.serialized_data);
  const ser = kvm_luo_ser.read(k.machine.physmem.read(pa, kvm_luo_ser.size));
  const id = yield* atomic_inc_return(kvm_globals(k).restored_vm_id);
  const f = yield* kvm_create_vm_file(k, Number(ser.type), String(id));
  kho_restore_free(k, pa);
  if (typeof f === 'number') return f;
  args.file = f;
  kvm_uevent_notify_vm_create(f.private_data as kvm);
  return 0;
}

// eslint-disable-next-line require-yield
function* kvm_luo_finish(k: Kernel, args: liveupdate_file_op_args): Sched {
  if (args.retrieve_status !== 0) return;
  if (args.serialized_data !== 0n) kho_restore_free(k, Number(args.serialized_data));
}

export function kvm_luo_handler(k: Kernel): liveupdate_file_handler {
  return rebuiltBy(
    {
      compatible: KVM_LUO_FH_COMPATIBLE,
      ops: {
        owner: 'kvm',
        // eslint-disable-next-line require-yield
        *can_preserve(_h, f) {
          return file_is_kvm(f);
        },
        preserve(args) {
          return kvm_luo_preserve(k, args);
        },
        unpreserve(args) {
          return kvm_luo_unpreserve(k, args);
        },
        retrieve(args) {
          return kvm_luo_retrieve(k, args);
        },
        finish(args) {
          return kvm_luo_finish(k, args);
        },
      },
    },
    kvm_luo_handler,
    k,
  );
}
