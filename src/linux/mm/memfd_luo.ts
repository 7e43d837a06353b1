/**
 * memfd preservation across a live update: the LUO file handler "memfd-v2".
 *
 * **Models:** mm/memfd_luo.c (v7.2-era mainline, memfd-v2 with seals; spec §5): memfd_luo_init
 * (late initcall), memfd_luo_can_preserve, memfd_luo_preserve with memfd_luo_preserve_folios,
 * memfd_luo_freeze, memfd_luo_unpreserve with memfd_luo_unpreserve_folios, memfd_luo_retrieve
 * with memfd_luo_retrieve_folios, memfd_luo_finish with memfd_luo_discard_folios. get_id is the
 * inode. The record layout is in include/linux/kho/abi/memfd.ts.
 *
 * **Abstracted:** no memcg charge and no shmem block accounting at retrieve (they cannot fail
 * here); no pr_err text beyond the kernel log lines below. The folio array is a vmalloc area
 * zeroed like vcalloc. private_data is the array's vmalloc address, as in the kernel.
 *
 * Paths of preserve (each undoes the steps before it, spec §5.3): 1. kho_alloc_preserve fails:
 * -ENOMEM/-EINVAL/-E2BIG; 2. seals outside MEMFD_LUO_ALL_SEALS: -EOPNOTSUPP; 3. more than
 * UINT_MAX pages: -EFBIG; 4. pinning fails: its error; 5. the array cannot be allocated:
 * -ENOMEM; 6. kho_preserve_folio or kho_preserve_vmalloc fails: its error. The mapping stays
 * frozen on success. Retrieve (spec §5.6): 1. no record: -EINVAL; 2. unknown seals: -EOPNOTSUPP;
 * 3. seals cannot be applied: that error; 4. the array cannot be restored: -EINVAL; 5. a folio
 * cannot be restored: -EIO; 6. page-cache insertion fails: its error. Every failure frees the
 * record, so the data is gone for good; folios already inserted go with the file, the rest are
 * restored and freed.
 */
import { rebuiltBy } from '../../sim/index.ts';
import type { Sched } from '../../sim/index.ts';
import type { file } from '../fs/file.ts';
import { PAGE_SIZE } from '../include/asm-generic/page.ts';
import { folio_zero } from '../include/linux/highmem.ts';
import {
  MEMFD_LUO_ALL_SEALS,
  MEMFD_LUO_FH_COMPATIBLE,
  MEMFD_LUO_FOLIO_DIRTY,
  MEMFD_LUO_FOLIO_SER_SIZE,
  MEMFD_LUO_FOLIO_UPTODATE,
  MEMFD_LUO_SER_FOLIOS_OFFSET,
  MEMFD_LUO_SER_SIZE,
  memfd_luo_folio_decode,
  memfd_luo_folio_encode,
  memfd_luo_folio_ser,
  memfd_luo_ser,
} from '../include/linux/kho/abi/memfd.ts';
import {
  kho_vmalloc_decode,
  kho_vmalloc_encode,
  type kho_vmalloc,
} from '../include/linux/kho/abi/kexec_handover.ts';
import type {
  liveupdate_file_handler,
  liveupdate_file_op_args,
} from '../include/linux/liveupdate.ts';
import type { Folio } from '../include/linux/mm_types.ts';
import {
  __folio_set_locked,
  folio_mark_dirty,
  folio_mark_uptodate,
  folio_test_uptodate,
  folio_unlock,
} from '../include/linux/page-flags.ts';
import { EFBIG, EINVAL, ENOMEM, EOPNOTSUPP } from '../include/uapi/asm-generic/errno.ts';
import type { Kernel } from '../kernel.ts';
import {
  kho_alloc_preserve,
  kho_preserve_folio,
  kho_unpreserve_folio,
  kho_unpreserve_free,
} from '../kernel/liveupdate/kexec_handover.ts';
import {
  kho_preserve_vmalloc,
  kho_unpreserve_vmalloc,
} from '../kernel/liveupdate/kexec_handover_vmalloc.ts';
import { liveupdate_register_file_handler } from '../kernel/liveupdate/luo_file.ts';
import { luo_of } from '../kernel/liveupdate/luo_core.ts';
import { memfd_get_seals, memfd_pin_folios, unpin_folio, unpin_folios } from './memfd.ts';
import { memfd_luo_retrieve, memfd_luo_finish } from './memfd_luo_retrieve.ts';
import { pfn_to_page } from './page_alloc.ts';
import { inode_lock, inode_unlock, shmem_freeze, shmem_inode } from './shmem.ts';
import { find_vm_area, vfree, vmalloc, vread, vwrite } from './vmalloc.ts';

const UINT_MAX = 0xffff_ffff;

interface PreservedFolios {
  readonly nr_folios: number;
  /** vmalloc address of the memfd_luo_folio_ser array, 0 if none. */
  readonly folios_ser: number;
  readonly desc: kho_vmalloc;
}

function* memfd_luo_preserve_folios(k: Kernel, f: file): Sched<PreservedFolios | number> {
  const size = f.f_inode.i_size;
  const desc: kho_vmalloc = { first: 0, total_pages: 0, flags: 0, order: 0 };
  if (size === 0) return { nr_folios: 0, folios_ser: 0, desc };
  const folios = yield* memfd_pin_folios(k, f, 0, size - 1);
  if (typeof folios === 'number') return folios;
  const nr = folios.length;
  const arr = vmalloc(k, nr * MEMFD_LUO_FOLIO_SER_SIZE);
  if (arr < 0) {
    unpin_folios(k, folios);
    return -ENOMEM;
  }
  const vm = find_vm_area(k, arr);
  if (vm === null) return k.sim.fail('vmalloc returned an unknown area');
  for (const pfn of vm.pfns) k.machine.physmem.zeroPage(pfn);
  let err = 0;
  let i = 0;
  for (; i < nr; i++) {
    const folio = folios[i] as Folio;
    err = yield* kho_preserve_folio(k, folio);
    if (err !== 0) break;
    __folio_set_locked(folio);
    folio_mark_dirty(folio);
    if (!folio_test_uptodate(folio)) {
      folio_zero(k, folio);
      folio_mark_uptodate(folio);
    }
    folio_unlock(folio);
    const flags = MEMFD_LUO_FOLIO_DIRTY | MEMFD_LUO_FOLIO_UPTODATE;
    const entry = memfd_luo_folio_encode({ pfn: folio.pfn, flags, index: folio.index });
    vwrite(k, vm, arr + i * MEMFD_LUO_FOLIO_SER_SIZE, memfd_luo_folio_ser.encode(entry));
  }
  if (err === 0) err = yield* kho_preserve_vmalloc(k, arr, desc);
  if (err !== 0) {
    for (let j = i - 1; j >= 0; j--) yield* kho_unpreserve_folio(k, folios[j] as Folio);
    vfree(k, arr);
    unpin_folios(k, folios);
    return err;
  }
  return { nr_folios: nr, folios_ser: arr, desc };
}

function* memfd_luo_unpreserve_folios(
  k: Kernel,
  desc: kho_vmalloc,
  arr: number,
  nr: number,
): Sched {
  if (nr === 0) return;
  yield* kho_unpreserve_vmalloc(k, desc);
  const vm = find_vm_area(k, arr);
  if (vm === null) return k.sim.fail(`memfd_luo: folio array 0x${arr.toString(16)} is gone`);
  for (let i = 0; i < nr; i++) {
    const entry = memfd_luo_folio_decode(vread(k, vm, arr + i * MEMFD_LUO_FOLIO_SER_SIZE, 16));
    if (entry.pfn === 0) continue;
    const folio = pfn_to_page(k, entry.pfn);
    if (folio === null) return k.sim.fail(`memfd_luo: preserved pfn ${entry.pfn} is not owned`);
    yield* kho_unpreserve_folio(k, folio);
    unpin_folio(k, folio);
  }
  vfree(k, arr);
}

function* memfd_luo_preserve(k: Kernel, args: liveupdate_file_op_args): Sched<number> {
  const f = args.file as file;
  const ino = f.f_inode;
  yield* inode_lock(ino);
  shmem_freeze(ino, true);
  let err = 0;
  const ser = yield* kho_alloc_preserve(k, MEMFD_LUO_SER_SIZE);
  if (ser < 0) err = ser;
  else {
    // The kernel fills in pos and size before it pins the folios.
    const pos = BigInt(f.f_pos);
    const size = BigInt(ino.i_size);
    const seals = memfd_get_seals(f);
    const pages = Math.ceil(ino.i_size / PAGE_SIZE);
    if (seals < 0) err = seals;
    else if ((seals & ~MEMFD_LUO_ALL_SEALS) !== 0) err = -EOPNOTSUPP;
    else if (pages > UINT_MAX) err = -EFBIG;
    else {
      const r = yield* memfd_luo_preserve_folios(k, f);
      if (typeof r === 'number') err = r;
      else {
        const bytes = memfd_luo_ser.encode({
          pos,
          size,
          seals,
          flags: 0,
          nr_folios: BigInt(r.nr_folios),
        });
        k.machine.physmem.write(ser, bytes);
        k.machine.physmem.write(ser + MEMFD_LUO_SER_FOLIOS_OFFSET, kho_vmalloc_encode(r.desc));
        args.serialized_data = BigInt(ser);
        args.private_data = r.folios_ser;
      }
    }
    if (err !== 0) yield* kho_unpreserve_free(k, ser);
  }
  if (err !== 0) shmem_freeze(ino, false);
  yield* inode_unlock(ino);
  return err;
}

/** Records the current file position; everything else was fixed at preserve. */
// eslint-disable-next-line require-yield
function* memfd_luo_freeze(k: Kernel, args: liveupdate_file_op_args): Sched<number> {
  if (k.WARN_ON_ONCE(args.serialized_data === 0n, 'memfd_luo_freeze', 'memfd_luo: no record'))
    return -EINVAL;
  const pos = new Uint8Array(8);
  new DataView(pos.buffer).setBigUint64(0, BigInt(args.file?.f_pos ?? 0), true);
  k.machine.physmem.write(Number(args.serialized_data), pos);
  return 0;
}

function* memfd_luo_unpreserve(k: Kernel, args: liveupdate_file_op_args): Sched {
  if (k.WARN_ON_ONCE(args.serialized_data === 0n, 'memfd_luo_unpreserve', 'memfd_luo: no record'))
    return;
  const ino = (args.file as file).f_inode;
  yield* inode_lock(ino);
  shmem_freeze(ino, false);
  const pa = Number(args.serialized_data);
  const bytes = k.machine.physmem.read(pa, MEMFD_LUO_SER_SIZE);
  const ser = memfd_luo_ser.read(bytes);
  const desc = kho_vmalloc_decode(bytes.subarray(MEMFD_LUO_SER_FOLIOS_OFFSET));
  yield* memfd_luo_unpreserve_folios(k, desc, args.private_data as number, Number(ser.nr_folios));
  yield* kho_unpreserve_free(k, pa);
  yield* inode_unlock(ino);
}

/** The "memfd-v2" handler bound to boot `k`. */
export function memfd_luo_handler(k: Kernel): liveupdate_file_handler {
  return rebuiltBy(
    {
      compatible: MEMFD_LUO_FH_COMPATIBLE,
      ops: {
        owner: 'memfd_luo',
        // eslint-disable-next-line require-yield
        *can_preserve(_h, f) {
          return shmem_inode(f.f_inode) && f.f_inode.i_nlink === 0;
        },
        preserve(args) {
          return memfd_luo_preserve(k, args);
        },
        unpreserve(args) {
          return memfd_luo_unpreserve(k, args);
        },
        freeze(args) {
          return memfd_luo_freeze(k, args);
        },
        retrieve(args) {
          return memfd_luo_retrieve(k, args);
        },
        finish(args) {
          return memfd_luo_finish(k, args);
        },
        get_id(f) {
          return f.f_inode;
        },
      },
    },
    memfd_luo_handler,
    k,
  );
}

/** late_initcall(memfd_luo_init): registers the handler; LUO being off is not an error. */
export function* memfd_luo_init(k: Kernel): Sched<number> {
  const err = yield* liveupdate_register_file_handler(luo_of(k), memfd_luo_handler(k));
  if (err !== 0 && err !== -EOPNOTSUPP) {
    k.pr_warn(`memfd_luo: could not register luo filesystem handler: ${err}`);
    return err;
  }
  return 0;
}
