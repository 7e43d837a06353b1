/**
 * memfd_luo ("memfd-v2") end to end: a memfd preserved in one boot comes back in the next with
 * its bytes, size, position and seals, rebuilt from physical memory alone. Covers the record's
 * byte layout (spec §5.2), the frozen mapping (-EPERM for size changes and fallocate), writes
 * after preserve carrying over, holes and unpreserved memory reading as zero, unpreserve on
 * session close giving the memory back, and finish discarding a memfd never retrieved.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Machine } from '../../../src/machine/machine.ts';
import { PAGE_SIZE } from '../../../src/linux/include/asm-generic/page.ts';
import {
  MEMFD_LUO_SER_FOLIOS_OFFSET,
  memfd_luo_folio_decode,
  memfd_luo_ser,
} from '../../../src/linux/include/linux/kho/abi/memfd.ts';
import { kho_vmalloc_decode } from '../../../src/linux/include/linux/kho/abi/kexec_handover.ts';
import type { liveupdate_file_op_args } from '../../../src/linux/include/linux/liveupdate.ts';
import { EPERM } from '../../../src/linux/include/uapi/asm-generic/errno.ts';
import {
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
} from '../../../src/linux/include/uapi/asm-generic/mman.ts';
import {
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
} from '../../../src/linux/include/uapi/linux/falloc.ts';
import {
  F_ADD_SEALS,
  F_GET_SEALS,
  F_SEAL_GROW,
  F_SEAL_SHRINK,
  SEEK_CUR,
  SEEK_END,
  SEEK_SET,
} from '../../../src/linux/include/uapi/linux/fcntl.ts';
import { MFD_ALLOW_SEALING } from '../../../src/linux/include/uapi/linux/memfd.ts';
import { LINUX_REBOOT_CMD_KEXEC } from '../../../src/linux/include/uapi/linux/reboot.ts';
import { kho_radix_walk_tree } from '../../../src/linux/kernel/liveupdate/kho_radix_tree.ts';
import type { Kernel } from '../../../src/linux/kernel.ts';
import { fd_file_peek } from '../../../src/linux/fs/file.ts';
import { memfd_luo_handler } from '../../../src/linux/mm/memfd_luo.ts';
import { filemap_peek } from '../../../src/linux/mm/filemap.ts';
import {
  luo_create_session,
  luo_open_device,
  luo_retrieve_session,
  luo_session_finish,
  luo_session_preserve_fd,
  luo_session_retrieve_fd,
} from '../../../src/user/libliveupdate.ts';
import { bytesOf } from '../../helpers/kernel.ts';
import { withKernel } from '../../helpers/luo.ts';

const text = (b: Uint8Array): string => new TextDecoder().decode(b);
/** The pfns of every block the outgoing KHO tracker preserves (not its node pages). */
function preservedPfns(k: Kernel): Set<number> {
  const out = new Set<number>();
  if (k.kho.radix_root === 0) return out;
  kho_radix_walk_tree(k.machine.physmem, BigInt(k.kho.radix_root), {
    onBlock: (phys, order) => {
      for (let i = 0; i < 2 ** order; i++) out.add(phys / PAGE_SIZE + i);
    },
  });
  return out;
}

test('preserve writes the memfd-v2 record and folio array byte for byte', () => {
  withKernel(function* (k, p) {
    const fd = yield* p.sys.memfd_create('abi', MFD_ALLOW_SEALING);
    assert.equal(yield* p.sys.ftruncate(fd, 3 * PAGE_SIZE + 5), 0);
    assert.equal(yield* p.sys.pwrite(fd, bytesOf('two'), 2 * PAGE_SIZE), 3);
    assert.equal(yield* p.sys.fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK), 0);
    assert.equal(yield* p.sys.lseek(fd, 77, SEEK_SET), 77);
    const f = fd_file_peek(p.files, fd);
    assert.ok(f?.f_mapping);
    const before = preservedPfns(k).size;
    const h = memfd_luo_handler(k);
    const args: liveupdate_file_op_args = {
      handler: h,
      session: null,
      retrieve_status: 0,
      file: f,
      serialized_data: 0n,
      private_data: null,
    };
    const ops = h.ops;
    assert.ok(ops.preserve !== undefined && ops.unpreserve !== undefined);
    assert.equal(yield* ops.preserve(args), 0);
    const mem = k.machine.physmem;
    const pa = Number(args.serialized_data);
    const bytes = mem.read(pa, 48);
    assert.deepEqual(memfd_luo_ser.read(bytes), {
      pos: 77n,
      size: BigInt(3 * PAGE_SIZE + 5),
      seals: F_SEAL_SHRINK,
      flags: 0,
      nr_folios: 4n,
    });
    assert.equal(preservedPfns(k).size, before + 1 + 4 + 2, 'ser, 4 folios, array and chunk');
    const desc = kho_vmalloc_decode(bytes.subarray(MEMFD_LUO_SER_FOLIOS_OFFSET));
    assert.equal(desc.total_pages, 1);
    const arrPhys = Number(mem.readU64(desc.first + 8));
    for (let i = 0; i < 4; i++) {
      const e = memfd_luo_folio_decode(mem.read(arrPhys, 64), i * 16);
      assert.equal(e.index, i);
      assert.equal(e.flags, 3, 'DIRTY | UPTODATE');
      assert.equal(e.pfn, filemap_peek(f.f_mapping, i)?.pfn, 'holes were filled and pinned');
    }
    assert.equal(yield* p.sys.ftruncate(fd, 8 * PAGE_SIZE), -EPERM, 'frozen');
    yield* ops.unpreserve(args);
    assert.equal(preservedPfns(k).size, before, 'everything unpreserved');
    assert.equal(yield* p.sys.ftruncate(fd, 8 * PAGE_SIZE), 0, 'thawed');
  });
});

test('closing the session unpreserves the memfd and gives its memory back', () => {
  withKernel(function* (k, p) {
    const luo = yield* luo_open_device(p.sys);
    const s = yield* luo_create_session(p.sys, luo, 'close-me');
    const fd = yield* p.sys.memfd_create('sparse', 0);
    assert.equal(yield* p.sys.ftruncate(fd, 16 * PAGE_SIZE), 0);
    assert.equal(yield* p.sys.pwrite(fd, bytesOf('one page'), 0), 8);
    const free0 = k.page_alloc.nr_free;
    const kho0 = preservedPfns(k);
    assert.equal(yield* luo_session_preserve_fd(p.sys, s, fd, 1n), 0);
    assert.ok(k.page_alloc.nr_free <= free0 - 15 - 1, 'holes filled, record and array allocated');
    const mapping = fd_file_peek(p.files, fd)?.f_mapping;
    assert.ok(mapping);
    const folios = [...mapping.i_pages.values()].map((f) => f.pfn);
    assert.equal(folios.length, 16);
    assert.ok(folios.every((pfn) => preservedPfns(k).has(pfn)));
    assert.ok(preservedPfns(k).size >= kho0.size + 16 + 1);
    assert.equal(yield* p.sys.close(s), 0);
    const after = preservedPfns(k);
    assert.ok(
      folios.every((pfn) => !after.has(pfn)),
      'no folio stays preserved',
    );
    assert.ok(
      [...after].every((pfn) => kho0.has(pfn)),
      'nor the record or the array',
    );
    assert.equal(yield* p.sys.ftruncate(fd, PAGE_SIZE), 0, 'no longer frozen; holes stay filled');
    const b = new Uint8Array(8);
    assert.equal(yield* p.sys.pread(fd, b, 0), 8);
    assert.equal(text(b), 'one page');
    assert.equal(yield* p.sys.close(fd), 0);
    // Back to before the preserve, plus the memfd's one page and the closed session's block.
    assert.equal(k.page_alloc.nr_free, free0 + 2, 'every preserve allocation was freed');
  });
});

interface Stage1 {
  machine: Machine;
  scratchPfn: number;
}

function stage1(): Stage1 {
  let out: Stage1 | null = null;
  withKernel(function* (k, p) {
    const luo = yield* luo_open_device(p.sys);
    const s = yield* luo_create_session(p.sys, luo, 'vm-state');
    const fd = yield* p.sys.memfd_create('guest-ram', MFD_ALLOW_SEALING);
    assert.equal(yield* p.sys.ftruncate(fd, 6 * PAGE_SIZE), 0);
    assert.equal(yield* p.sys.pwrite(fd, bytesOf('before preserve'), 0), 15);
    assert.equal(yield* p.sys.fcntl(fd, F_ADD_SEALS, F_SEAL_GROW), 0);
    const unused = yield* p.sys.memfd_create('not-preserved', 0);
    assert.equal(yield* p.sys.pwrite(unused, bytesOf('lost'), 0), 4);
    const lost = fd_file_peek(p.files, unused)?.f_mapping;
    const scratchPfn = (lost && filemap_peek(lost, 0)?.pfn) ?? -1;
    const nope = yield* p.sys.memfd_create('never-retrieved', 0);
    assert.equal(yield* p.sys.pwrite(nope, bytesOf('discard me'), 0), 10);
    assert.equal(yield* luo_session_preserve_fd(p.sys, s, fd, 0x1an), 0);
    assert.equal(yield* luo_session_preserve_fd(p.sys, s, nope, 0x2bn), 0);
    // The frozen mapping: size changes and fallocate fail, writes inside the size do not.
    assert.equal(yield* p.sys.ftruncate(fd, 3 * PAGE_SIZE), -EPERM);
    assert.equal(yield* p.sys.fallocate(fd, 0, 0, PAGE_SIZE), -EPERM);
    const punch = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
    assert.equal(yield* p.sys.fallocate(fd, punch, 0, PAGE_SIZE), -EPERM);
    assert.equal(yield* p.sys.pwrite(fd, bytesOf('after preserve'), 4 * PAGE_SIZE), 14);
    const addr = yield* p.sys.mmap(0, 6 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
    assert.ok((yield* p.sys.store(addr + 5 * PAGE_SIZE, bytesOf('via mmap'))).ok);
    assert.equal(yield* p.sys.lseek(fd, 1234, SEEK_SET), 1234);
    assert.equal(yield* p.sys.reboot(LINUX_REBOOT_CMD_KEXEC), 0);
    assert.ok(p.sys.nextMachine);
    out = { machine: p.sys.nextMachine, scratchPfn };
  });
  assert.ok(out);
  return out;
}

test('bytes written before and after preserve survive the kexec; the rest reads as zero', () => {
  const { machine, scratchPfn } = stage1();
  assert.equal(machine.physmem.pageBytes(scratchPfn), null, 'an unpreserved page was scrubbed');
  withKernel(function* (k, p) {
    const luo = yield* luo_open_device(p.sys);
    const s = yield* luo_retrieve_session(p.sys, luo, 'vm-state');
    assert.ok(s >= 0);
    const fd = yield* luo_session_retrieve_fd(p.sys, s, 0x1an);
    assert.ok(fd >= 0);
    const f = fd_file_peek(p.files, fd);
    assert.equal(f?.f_path, '/memfd: (deleted)', 'the name is not preserved');
    assert.equal(yield* p.sys.lseek(fd, 0, SEEK_CUR), 1234, 'f_pos at freeze');
    assert.equal(yield* p.sys.lseek(fd, 0, SEEK_END), 6 * PAGE_SIZE);
    assert.equal(yield* p.sys.fcntl(fd, F_GET_SEALS), F_SEAL_GROW);
    const all = new Uint8Array(6 * PAGE_SIZE);
    assert.equal(yield* p.sys.pread(fd, all, 0), all.length);
    assert.equal(text(all.subarray(0, 15)), 'before preserve');
    assert.equal(text(all.subarray(4 * PAGE_SIZE, 4 * PAGE_SIZE + 14)), 'after preserve');
    assert.equal(text(all.subarray(5 * PAGE_SIZE, 5 * PAGE_SIZE + 8)), 'via mmap');
    const nonzero = all.reduce((n, b) => n + (b !== 0 ? 1 : 0), 0);
    assert.equal(nonzero, 15 + 14 + 8, 'holes came back as zero pages');
    assert.equal(yield* p.sys.ftruncate(fd, 2 * PAGE_SIZE), 0, 'the new memfd is not frozen');
    const free0 = k.page_alloc.nr_free;
    assert.equal(yield* luo_session_finish(p.sys, s), 0);
    // The unretrieved memfd's folio, its record, its array page and the array's chunk page.
    assert.ok(k.page_alloc.nr_free >= free0 + 4, 'finish freed what was never retrieved');
    assert.equal(yield* p.sys.close(s), 0);
    assert.equal(yield* p.sys.pwrite(fd, bytesOf('mine now'), 0), 8);
  }, machine);
});

test('a record whose pos is out of range (negative as a loff_t) gives a memfd at position 0', () => {
  const { machine } = stage1();
  withKernel(function* (k, p) {
    const luo = yield* luo_open_device(p.sys);
    const s = yield* luo_retrieve_session(p.sys, luo, 'vm-state');
    assert.ok(s >= 0);
    const lf = k.luo?.incoming.list
      .find((x) => x.name === 'vm-state')
      ?.file_set.files_list.find((x) => x.token === 0x1an);
    assert.ok(lf && lf.serialized_data !== 0n);
    // memfd_luo_ser.pos is the record's first field.
    k.machine.physmem.writeU64(Number(lf.serialized_data), 1n << 63n);
    const fd = yield* luo_session_retrieve_fd(p.sys, s, 0x1an);
    assert.ok(fd >= 0, 'vfs_setpos fails, and its result is ignored');
    assert.equal(yield* p.sys.lseek(fd, 0, SEEK_CUR), 0);
    assert.equal(yield* p.sys.lseek(fd, 0, SEEK_END), 6 * PAGE_SIZE, 'the size is restored');
  }, machine);
});
