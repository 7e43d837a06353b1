/**
 * memfd_luo in the new kernel: rebuilding a memfd from its preserved record, or discarding it.
 *
 * **Models:** the incoming half of mm/memfd_luo.c (v7.2-era mainline, memfd-v2; spec §5.6,
 * §5.7): memfd_luo_retrieve, memfd_luo_retrieve_folios, memfd_luo_finish,
 * memfd_luo_discard_folios. The outgoing half is memfd_luo.ts.
 *
 * **Abstracted:** mem_cgroup_charge and shmem_inode_acct_blocks always succeed (no memcg, an
 * unlimited shm mount), so page-cache insertion is the only folio step that can fail; the inode
 * counters need no recomputation. Folios after a failure point are restored and freed with
 * their physical address (the pfn converted), skipping empty entries. memfd_alloc_file cannot
 * fail (no allocation failure is modelled).
 *
 * Paths: see memfd_luo.ts (retrieve 1–6); finish: 1. retrieve was attempted (status ≠ 0):
 * nothing; 2. never retrieved: every folio is restored and freed, then the array and the record.
 */
import type { Sched } from '../../sim/index.ts';
import { fput, type file } from '../fs/file.ts';
import { PFN_PHYS } from '../include/asm-generic/page.ts';
import {
  MEMFD_LUO_ALL_SEALS,
  MEMFD_LUO_FOLIO_DIRTY,
  MEMFD_LUO_FOLIO_SER_SIZE,
  MEMFD_LUO_FOLIO_UPTODATE,
  MEMFD_LUO_SER_FOLIOS_OFFSET,
  MEMFD_LUO_SER_SIZE,
  memfd_luo_folio_decode,
  memfd_luo_ser,
  type memfd_luo_folio,
} from '../include/linux/kho/abi/memfd.ts';
import { kho_vmalloc_decode } from '../include/linux/kho/abi/kexec_handover.ts';
import type { liveupdate_file_op_args } from '../include/linux/liveupdate.ts';
import {
  __folio_set_locked,
  __folio_set_swapbacked,
  folio_add_lru,
  folio_mark_dirty,
  folio_mark_uptodate,
  folio_unlock,
} from '../include/linux/page-flags.ts';
import { EINVAL, EIO, EOPNOTSUPP } from '../include/uapi/asm-generic/errno.ts';
import { MFD_ALLOW_SEALING } from '../include/uapi/linux/memfd.ts';
import type { Kernel } from '../kernel.ts';
import { kho_restore_folio, kho_restore_free } from '../kernel/liveupdate/kexec_handover.ts';
import { kho_restore_vmalloc } from '../kernel/liveupdate/kexec_handover_vmalloc.ts';
import { memfd_add_seals, memfd_alloc_file } from './memfd.ts';
import { folio_put } from './page_alloc.ts';
import { MAX_LFS_FILESIZE, shmem_add_to_page_cache } from './shmem.ts';
import { find_vm_area, vfree, vread } from './vmalloc.ts';

/** The entries of a restored folio array at vmalloc address `arr`. */
function read_entries(k: Kernel, arr: number, nr: number): memfd_luo_folio[] {
  const vm = find_vm_area(k, arr);
  if (vm === null) return k.sim.fail('memfd_luo: restored folio array has no area');
  const bytes = vread(k, vm, arr, nr * MEMFD_LUO_FOLIO_SER_SIZE);
  const out: memfd_luo_folio[] = [];
  for (let i = 0; i < nr; i++)
    out.push(memfd_luo_folio_decode(bytes, i * MEMFD_LUO_FOLIO_SER_SIZE));
  return out;
}

/** Restores and frees the folios of `entries` (memfd_luo_discard_folios). */
function discard_folios(k: Kernel, entries: readonly memfd_luo_folio[]): void {
  for (const e of entries) {
    if (e.pfn === 0) continue;
    const folio = kho_restore_folio(k, PFN_PHYS(e.pfn));
    if (folio === null) k.pr_warn(`memfd_luo: unable to restore folio at pfn ${e.pfn}`);
    else folio_put(k, folio);
  }
}

function* memfd_luo_retrieve_folios(
  k: Kernel,
  f: file,
  entries: readonly memfd_luo_folio[],
): Sched<number> {
  const m = f.f_mapping;
  if (m === null) return -EINVAL;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i] as memfd_luo_folio;
    if (e.pfn === 0) continue;
    const folio = kho_restore_folio(k, PFN_PHYS(e.pfn));
    let err: number;
    if (folio === null) {
      k.pr_warn(`memfd_luo: unable to restore folio at pfn ${e.pfn}`);
      err = -EIO;
    } else {
      __folio_set_locked(folio);
      __folio_set_swapbacked(folio);
      err = yield* shmem_add_to_page_cache(folio, m, e.index);
      if (err === 0) {
        if ((e.flags & MEMFD_LUO_FOLIO_UPTODATE) !== 0) folio_mark_uptodate(folio);
        if ((e.flags & MEMFD_LUO_FOLIO_DIRTY) !== 0) folio_mark_dirty(folio);
        folio_add_lru(folio);
      } else {
        k.pr_warn(`memfd_luo: failed to add folio index ${e.index} to the page cache: ${err}`);
      }
      folio_unlock(folio);
      folio_put(k, folio);
    }
    if (err !== 0) {
      discard_folios(k, entries.slice(i + 1));
      return err;
    }
  }
  return 0;
}

/** RETRIEVE_FD: a new memfd holding the preserved contents (args.file), or -errno. */
export function* memfd_luo_retrieve(k: Kernel, args: liveupdate_file_op_args): Sched<number> {
  const pa = Number(args.serialized_data);
  if (pa === 0) return -EINVAL;
  const bytes = k.machine.physmem.read(pa, MEMFD_LUO_SER_SIZE);
  const ser = memfd_luo_ser.read(bytes);
  let err: number;
  let f: file | null = null;
  if ((ser.seals & ~MEMFD_LUO_ALL_SEALS) !== 0) err = -EOPNOTSUPP;
  else {
    f = memfd_alloc_file(k, '', MFD_ALLOW_SEALING);
    err = yield* memfd_add_seals(f, ser.seals);
  }
  if (err === 0 && f !== null) {
    // vfs_setpos(file, pos, MAX_LFS_FILESIZE), result ignored: a pos above it (or negative as
    // a loff_t) leaves f_pos at 0.
    if (ser.pos <= BigInt(MAX_LFS_FILESIZE)) f.f_pos = Number(ser.pos);
    f.f_inode.i_size = Number(ser.size);
    const nr = Number(ser.nr_folios);
    if (nr > 0) {
      const desc = kho_vmalloc_decode(bytes.subarray(MEMFD_LUO_SER_FOLIOS_OFFSET));
      const arr = kho_restore_vmalloc(k, desc);
      if (arr === null) err = -EINVAL;
      else {
        err = yield* memfd_luo_retrieve_folios(k, f, read_entries(k, arr, nr));
        vfree(k, arr);
      }
    }
  }
  if (err !== 0) {
    if (f !== null) yield* fput(f);
    kho_restore_free(k, pa);
    return err;
  }
  args.file = f;
  kho_restore_free(k, pa);
  return 0;
}

/** FINISH: a memfd that was never retrieved is discarded. */
// eslint-disable-next-line require-yield
export function* memfd_luo_finish(k: Kernel, args: liveupdate_file_op_args): Sched {
  if (args.retrieve_status !== 0) return;
  const pa = Number(args.serialized_data);
  if (pa === 0) return;
  const bytes = k.machine.physmem.read(pa, MEMFD_LUO_SER_SIZE);
  const nr = Number(memfd_luo_ser.read(bytes).nr_folios);
  if (nr > 0) {
    const arr = kho_restore_vmalloc(
      k,
      kho_vmalloc_decode(bytes.subarray(MEMFD_LUO_SER_FOLIOS_OFFSET)),
    );
    if (arr !== null) {
      discard_folios(k, read_entries(k, arr, nr));
      vfree(k, arr);
    }
  }
  kho_restore_free(k, pa);
}
