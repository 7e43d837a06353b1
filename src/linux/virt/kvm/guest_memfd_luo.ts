/**
 * Preserving a guest_memfd across a live update: the LUO file handler "guest_memfd_luo_v1"
 * (outgoing side: can_preserve, preserve, LUO freeze, unpreserve; retrieve and finish are in
 * guest_memfd_luo_retrieve.ts).
 *
 * **Models:** virt/kvm/guest_memfd_luo.c of the guest_memfd preservation series, RFC v2
 * (patch 07; spec §2.4, §4.3–4.4), with the version differences of spec §0.3/§7.6 as switches:
 * `gmem-luo-v3` (can_preserve checks the superblock magic and private_data before using them,
 * and requires INIT_SHARED) and `gmem-luo-post-v3` (v3 plus: retrieve validates size and flags,
 * preserve's rollback skips pfn-0 entries).
 * **Abstracted:** hardware poisoning (no folio is ever poisoned, so -EHWPOISON cannot happen);
 * large folios (guest_memfd only allocates order 0, so that can_preserve check always passes);
 * the page-cache walk looks up batches of up to FOLIO_BATCH folios as one visible read of the
 * mapping, with cond_resched after each, as the kernel's batched lookup does. A task that
 * is alone in the execution (Sim.solo) runs each walk, and the rollback and unpreserve loops, as
 * one merged visible operation with the footprints of its steps and the same per-folio code
 * (kho_solo_start in kexec_handover.ts; docs/engine.md).
 *
 * Preserve, step by step (all failures after step 1 undo the earlier steps, then unfreeze):
 *   1. kvm_gmem_freeze(inode, true): FROZEN, then wait for every allocation in a read section;
 *   2. size 0 → -EINVAL; unaligned size → WARN, -EINVAL;
 *   3. an inode flag outside MMAP | INIT_SHARED | FROZEN → -EOPNOTSUPP;
 *   4. kho_alloc_preserve(48) → its error;
 *   5. pass 1 counts the folios in [0, size / PAGE_SIZE);
 *   6. with folios: vcalloc(count, 16) → -ENOMEM; pass 2 preserves each folio in index order and
 *      records {pfn, index, UPTODATE as sampled now} → kho_preserve_folio's error; a count that
 *      differs from pass 1 → WARN, -EINVAL; kho_preserve_vmalloc → its error;
 *   7. success: serialized_data = the record; the inode stays frozen.
 * LUO freeze (at reboot): no record → WARN, -EINVAL; VM file released → -ENOENT; VM file not
 * preserved in the same session → liveupdate_get_token_outgoing's error (-ENOENT); else the VM's token is written into the record.
 * Unpreserve (session closed before reboot): unpreserve the array, the folios (last to first,
 * skipping pfn 0), free the array and the record, then unfreeze (no synchronize).
 */
import { mutant } from '../../mutants.ts';
import { cond_resched, READ_ONCE } from '../../../sync/index.ts';
import { op, rebuiltBy, type Access, type Sched } from '../../../sim/index.ts';
import { fput, type file } from '../../fs/file.ts';
import { PAGE_SIZE } from '../../include/asm-generic/page.ts';
import { GMEM_LUO } from './guest_memfd_luo_h.ts';
import {
  GUEST_MEMFD_LUO_FLAG_INIT_SHARED,
  GUEST_MEMFD_LUO_FLAG_MMAP,
  GUEST_MEMFD_LUO_FOLIO_SER_SIZE,
  GUEST_MEMFD_LUO_FOLIO_UPTODATE,
  GUEST_MEMFD_LUO_FH_COMPATIBLE,
  GUEST_MEMFD_LUO_SER_FOLIOS_OFFSET,
  GUEST_MEMFD_LUO_SER_VM_TOKEN_OFFSET,
  guest_memfd_luo_ser,
} from '../../include/linux/kho/abi/kvm.ts';
import {
  kho_vmalloc_decode,
  kho_vmalloc_encode,
  type kho_vmalloc,
} from '../../include/linux/kho/abi/kexec_handover.ts';
import { kvm_arch_has_private_mem } from '../../include/linux/kvm_host.ts';
import type {
  liveupdate_file_handler,
  liveupdate_file_op_args,
} from '../../include/linux/liveupdate.ts';
import type { Folio } from '../../include/linux/mm_types.ts';
import { folio_test_uptodate } from '../../include/linux/page-flags.ts';
import { EINVAL, ENOENT, ENOMEM, EOPNOTSUPP } from '../../include/uapi/asm-generic/errno.ts';
import {
  GUEST_MEMFD_FLAG_INIT_SHARED,
  GUEST_MEMFD_FLAG_MMAP,
} from '../../include/uapi/linux/kvm.ts';
import type { Kernel } from '../../kernel.ts';
import {
  kho_alloc_preserve,
  kho_preserve_folio,
  kho_preserve_folio_solo,
  kho_solo_end,
  kho_solo_start,
  kho_unpreserve_folio,
  kho_unpreserve_folio_solo,
  kho_unpreserve_free,
} from '../../kernel/liveupdate/kexec_handover.ts';
import {
  kho_preserve_vmalloc,
  kho_unpreserve_vmalloc,
} from '../../kernel/liveupdate/kexec_handover_vmalloc.ts';
import { liveupdate_get_token_outgoing } from '../../kernel/liveupdate/luo_file.ts';
import { filemap_get_folios_batch } from '../../mm/filemap.ts';
import { pfn_to_page } from '../../mm/page_alloc.ts';
import { vcalloc, vfree } from '../../mm/vmalloc.ts';
import { kvm_gmem_freeze } from './guest_memfd.ts';
import { GMEM_I, gmem_file_of, gmem_inode } from './guest_memfd_h.ts';
import {
  folio_array_of,
  folio_array_pfn,
  folio_array_set,
  kvm_gmem_luo_finish,
  kvm_gmem_luo_retrieve,
  type folio_array,
} from './guest_memfd_luo_retrieve.ts';
import { get_file_active } from './kvm_main.ts';

/** Folios looked up per batch of the page-cache walk (a folio_batch). */
const FOLIO_BATCH = 31;

/** The batch of the walk that starts at `start`: up to FOLIO_BATCH folios below end_index. */
const walk_batch = (gi: gmem_inode, start: number, end_index: number): Folio[] =>
  filemap_get_folios_batch(gi.i_mapping_of(), start, end_index - 1, FOLIO_BATCH);

/**
 * Where the walk goes on after a non-empty batch, as the batched lookup moves its start index: a
 * full batch continues after its last folio; a batch that is not full found everything up to the
 * end of the range, so the start moves to end_index and the walk ends there.
 */
function walk_next(batch: readonly Folio[], end_index: number): number {
  if (batch.length < FOLIO_BATCH) return end_index;
  return (batch[batch.length - 1] as Folio).index + 1;
}

/**
 * The folios of [0, end_index), in index order, looked up batch by batch; each batch is one
 * visible read of the page cache, with cond_resched after each batch. With `visit`, each folio is
 * handed to it; a non-zero result stops the walk and is returned.
 */
function* kvm_gmem_luo_walk_folios(
  gi: gmem_inode,
  end_index: number,
  visit: ((folio: Folio) => Sched<number>) | null,
): Sched<{ count: number; err: number }> {
  const m = gi.i_mapping_of();
  let count = 0;
  let start = 0;
  while (start < end_index) {
    yield op(`filemap_get_folios(gmem${gi.i_ino})`, [{ object: m.id, kind: 'read' }]);
    const batch = walk_batch(gi, start, end_index);
    if (batch.length === 0) break;
    for (const folio of batch) {
      if (visit) {
        const err = yield* visit(folio);
        if (err !== 0) return { count, err };
      }
      count++;
    }
    start = walk_next(batch, end_index);
    yield* cond_resched();
  }
  return { count, err: 0 };
}

/**
 * The same walk for a task alone in the execution (Sim.solo), inside one visible operation the
 * caller has made (it reads the mapping): the same batches and visits, without the read before
 * each batch and the cond_resched after it, at which nobody else could run.
 */
function kvm_gmem_luo_walk_folios_solo(
  gi: gmem_inode,
  end_index: number,
  visit: ((folio: Folio) => number) | null,
): { count: number; err: number } {
  let count = 0;
  let start = 0;
  while (start < end_index) {
    const batch = walk_batch(gi, start, end_index);
    if (batch.length === 0) break;
    for (const folio of batch) {
      if (visit) {
        const err = visit(folio);
        if (err !== 0) return { count, err };
      }
      count++;
    }
    start = walk_next(batch, end_index);
  }
  return { count, err: 0 };
}

const mapping_read = (gi: gmem_inode): Access => ({ object: gi.i_mapping_of().id, kind: 'read' });

/** Pass 1: the folios of [0, end_index). */
function* kvm_gmem_luo_count_folios(k: Kernel, gi: gmem_inode, end_index: number): Sched<number> {
  if (!k.sim.solo) return (yield* kvm_gmem_luo_walk_folios(gi, end_index, null)).count;
  yield op(`filemap_get_folios(gmem${gi.i_ino}) [whole walk]`, [mapping_read(gi)]);
  return kvm_gmem_luo_walk_folios_solo(gi, end_index, null).count;
}

/**
 * Pass 2: preserves each folio and records its entry. Alone in the execution, the whole walk is
 * one merged operation (the mapping read and the tree lock, see kho_solo_start) with the same
 * per-folio steps.
 */
function* kvm_gmem_luo_preserve_folios(
  k: Kernel,
  gi: gmem_inode,
  end_index: number,
  count: number,
  entries: folio_array,
  preserved: Folio[],
): Sched<{ count: number; err: number }> {
  // Pass 2 writes entry `count` without a bound check: a folio beyond pass 1's count (only
  // possible when the freeze did not stop allocations) overflows the array.
  const check_bound = (): void => {
    if (preserved.length >= count)
      k.sim.fail(
        'BUG: KASAN: vmalloc-out-of-bounds in kvm_gmem_luo_walk_folios: pass 2 found more ' +
          `folios than the ${count} pass 1 counted`,
      );
  };
  const record = (folio: Folio): void => {
    const flags = folio_test_uptodate(folio) ? GUEST_MEMFD_LUO_FOLIO_UPTODATE : 0;
    folio_array_set(entries, preserved.length, folio.pfn, flags, folio.index);
    preserved.push(folio);
  };
  const run = yield* kho_solo_start(k, `kvm_gmem_luo_preserve(gmem${gi.i_ino}) [whole walk]`, [
    mapping_read(gi),
  ]);
  if (run === null)
    return yield* kvm_gmem_luo_walk_folios(gi, end_index, function* (folio) {
      check_bound();
      const err = yield* kho_preserve_folio(k, folio);
      if (err === 0) record(folio);
      return err;
    });
  const walked = kvm_gmem_luo_walk_folios_solo(gi, end_index, (folio) => {
    check_bound();
    const err = kho_preserve_folio_solo(k, folio, run);
    if (err === 0) record(folio);
    return err;
  });
  kho_solo_end(k);
  return walked;
}

/** Unpreserves `folios` from last to first (a merged run when the task is alone). */
function* kvm_gmem_luo_unpreserve_folios(
  k: Kernel,
  label: string,
  nr: number,
  folio_at: (i: number) => Folio | null,
): Sched {
  const run = yield* kho_solo_start(k, label);
  for (let i = nr - 1; i >= 0; i--) {
    const folio = folio_at(i);
    if (folio === null) continue;
    if (run !== null) kho_unpreserve_folio_solo(k, folio, run);
    else yield* kho_unpreserve_folio(k, folio);
  }
  if (run !== null) kho_solo_end(k);
}

function* preserve_frozen(k: Kernel, args: liveupdate_file_op_args, gi: gmem_inode): Sched<number> {
  const size = gi.i_size;
  if (size === 0) return -EINVAL;
  if (
    k.WARN_ON_ONCE(
      size % PAGE_SIZE !== 0,
      'gmem_luo_preserve_size',
      'guest_memfd_luo: unaligned size',
    )
  )
    return -EINVAL;
  const gmem_flags = yield* READ_ONCE(gi.flags);
  const allowed = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED | gmem_inode.FROZEN;
  if ((gmem_flags & ~allowed) !== 0n) return -EOPNOTSUPP;
  const abi_flags =
    ((gmem_flags & GUEST_MEMFD_FLAG_MMAP) !== 0n ? GUEST_MEMFD_LUO_FLAG_MMAP : 0n) |
    ((gmem_flags & GUEST_MEMFD_FLAG_INIT_SHARED) !== 0n ? GUEST_MEMFD_LUO_FLAG_INIT_SHARED : 0n);
  const end_index = size / PAGE_SIZE;
  const ser = yield* kho_alloc_preserve(k, guest_memfd_luo_ser.size);
  if (ser < 0) return ser;
  const count = yield* kvm_gmem_luo_count_folios(k, gi, end_index);
  k.machine.physmem.write(
    ser,
    guest_memfd_luo_ser.encode({
      size: BigInt(size),
      flags: abi_flags,
      nr_folios: BigInt(count),
      vm_token: 0n,
    }),
  );
  let arr = 0;
  if (count > 0) {
    arr = vcalloc(k, count, GUEST_MEMFD_LUO_FOLIO_SER_SIZE);
    if (arr < 0) {
      yield* kho_unpreserve_free(k, ser);
      return -ENOMEM;
    }
    // Pass 2 fills the array in place, entry by entry, as the kernel does.
    const entries = folio_array_of(k, arr, count);
    if (entries === null) return k.sim.fail('guest_memfd_luo: vmalloc returned an unknown area');
    const preserved: Folio[] = [];
    const walked = yield* kvm_gmem_luo_preserve_folios(k, gi, end_index, count, entries, preserved);
    let err = walked.err;
    if (
      err === 0 &&
      k.WARN_ON_ONCE(
        walked.count !== count,
        'gmem_luo_preserve_count',
        'guest_memfd_luo: folio count changed',
      )
    )
      err = -EINVAL;
    const desc: kho_vmalloc = { first: 0, total_pages: 0, flags: 0, order: 0 };
    if (err === 0) err = yield* kho_preserve_vmalloc(k, arr, desc);
    if (err !== 0) {
      const skip_pfn0 = GMEM_LUO(k).skip_pfn0_on_rollback;
      yield* kvm_gmem_luo_unpreserve_folios(
        k,
        'kvm_gmem_luo_preserve: rollback',
        preserved.length,
        (i) => {
          const folio = preserved[i] as Folio;
          return skip_pfn0 && folio.pfn === 0 ? null : folio;
        },
      );
      vfree(k, arr);
      yield* kho_unpreserve_free(k, ser);
      return err;
    }
    k.machine.physmem.write(ser + GUEST_MEMFD_LUO_SER_FOLIOS_OFFSET, kho_vmalloc_encode(desc));
  }
  args.serialized_data = BigInt(ser);
  args.private_data = arr;
  return 0;
}

function* kvm_gmem_luo_preserve(k: Kernel, args: liveupdate_file_op_args): Sched<number> {
  const gi = GMEM_I((args.file as file).f_inode) as gmem_inode;
  yield* kvm_gmem_freeze(k, gi, true);
  const err = yield* preserve_frozen(k, args, gi);
  if (err !== 0) yield* kvm_gmem_freeze(k, gi, false);
  return err;
}

/** The LUO freeze callback (reboot): records the VM's token. Not kvm_gmem_freeze. */
function* kvm_gmem_luo_freeze(k: Kernel, args: liveupdate_file_op_args): Sched<number> {
  if (
    k.WARN_ON_ONCE(
      args.serialized_data === 0n,
      'gmem_luo_freeze',
      'guest_memfd_luo_freeze: no record',
    )
  )
    return -EINVAL;
  const gf = gmem_file_of(args.file as file);
  if (gf === null) return k.sim.fail('guest_memfd_luo_freeze: not a guest_memfd');
  const vm_file = yield* get_file_active(gf.kvm.vm_file);
  if (vm_file === null) return -ENOENT;
  const token = liveupdate_get_token_outgoing(args.session, vm_file);
  yield* fput(vm_file);
  if (typeof token === 'number') return token;
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, token, true);
  k.machine.physmem.write(
    Number(args.serialized_data) + GUEST_MEMFD_LUO_SER_VM_TOKEN_OFFSET,
    bytes,
  );
  return 0;
}

function* kvm_gmem_luo_unpreserve(k: Kernel, args: liveupdate_file_op_args): Sched {
  if (
    k.WARN_ON_ONCE(
      args.serialized_data === 0n,
      'gmem_luo_unpreserve',
      'guest_memfd_luo_unpreserve: no record',
    )
  )
    return;
  const pa = Number(args.serialized_data);
  const bytes = k.machine.physmem.read(pa, guest_memfd_luo_ser.size);
  const nr = Number(guest_memfd_luo_ser.read(bytes).nr_folios);
  const arr = args.private_data as number;
  if (nr > 0) {
    yield* kho_unpreserve_vmalloc(
      k,
      kho_vmalloc_decode(bytes.subarray(GUEST_MEMFD_LUO_SER_FOLIOS_OFFSET)),
    );
    const entries = folio_array_of(k, arr, nr);
    if (entries === null) return k.sim.fail('guest_memfd_luo: the folio array is gone');
    const skip = mutant(k, 'mutant-unpreserve-keeps-folios');
    yield* kvm_gmem_luo_unpreserve_folios(k, 'kvm_gmem_luo_unpreserve', skip ? 0 : nr, (i) => {
      const pfn = folio_array_pfn(entries, i);
      if (pfn === 0) return null;
      const folio = pfn_to_page(k, pfn);
      if (folio === null) return k.sim.fail(`guest_memfd_luo: pfn ${pfn} is not owned`);
      return folio;
    });
    vfree(k, arr);
  }
  yield* kho_unpreserve_free(k, pa);
  yield* kvm_gmem_freeze(k, GMEM_I((args.file as file).f_inode) as gmem_inode, false);
}

// eslint-disable-next-line require-yield
function* kvm_gmem_luo_can_preserve(k: Kernel, f: file): Sched<boolean> {
  const v3 = GMEM_LUO(k).v3_can_preserve;
  if (!v3 && f.private_data === null)
    return k.sim.fail(
      'BUG: kernel NULL pointer dereference in kvm_gmem_luo_can_preserve: ' +
        'file->private_data is NULL (RFC v2 reads gmem_file->kvm before checking the file type)',
    );
  const gi = GMEM_I(f.f_inode);
  // The superblock magic check: only guest_memfd inodes carry GUEST_MEMFD_MAGIC.
  if (gi === null) return false;
  const gf = gmem_file_of(f);
  if (gf === null) return false;
  if (v3 && (gi.flags.value & GUEST_MEMFD_FLAG_INIT_SHARED) === 0n) return false;
  if (kvm_arch_has_private_mem(gf.kvm)) return false;
  return true;
}

export function kvm_gmem_luo_handler(k: Kernel): liveupdate_file_handler {
  return rebuiltBy(
    {
      compatible: GUEST_MEMFD_LUO_FH_COMPATIBLE,
      ops: {
        owner: 'kvm',
        can_preserve(_h, f) {
          return kvm_gmem_luo_can_preserve(k, f);
        },
        preserve(args) {
          return kvm_gmem_luo_preserve(k, args);
        },
        freeze(args) {
          return kvm_gmem_luo_freeze(k, args);
        },
        unpreserve(args) {
          return kvm_gmem_luo_unpreserve(k, args);
        },
        retrieve(args) {
          return kvm_gmem_luo_retrieve(k, args);
        },
        finish(args) {
          return kvm_gmem_luo_finish(k, args);
        },
      },
    },
    kvm_gmem_luo_handler,
    k,
  );
}
