/**
 * Merged runs (Sim.solo) change nothing but the number of visible operations.
 *
 * What it proves: a guest_memfd handover gives byte-identical results whether its per-folio
 * steps run merged (the task is alone: the tracker updates, page-cache walks and retrieve
 * insertions are one visible operation each) or fine-grained (one lock/unlock pair per tracker
 * update, one visible page-cache operation per batch or insertion). Compared: errno values, the
 * bytes of the guest_memfd record and of its folio array, the pfns the outgoing tracker holds,
 * the whole machine image at the kexec, the retrieved page cache (index, pfn, uptodate), WARNs,
 * and the allocator's free memory; for unpreserve (session closed before the kexec), a failed
 * retrieve (a corrupt entry) and FINISH without retrieve as well.
 *
 * How: every case runs twice on fresh machines. For the fine run a bystander task is spawned
 * first and stays blocked on a guarded operation until the program is done, so the program is
 * never alone. The fine run must take many more steps than the merged one (at least one per
 * folio), so the test notices if either run stops taking its path. The guest_memfd has holes,
 * folios faulted in through a host mapping (uptodate) and fallocated ones (not uptodate), and
 * its folios straddle a tracker leaf boundary (a cache the merged run keeps).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Execution, guardedOp, type Sched } from '../../../../src/sim/index.ts';
import { BootFailure, Kernel, kernelConfig } from '../../../../src/linux/kernel.ts';
import { Machine, coldBootParams } from '../../../../src/machine/machine.ts';
import { saveImage } from '../../../../src/machine/image.ts';
import { PAGE_SIZE } from '../../../../src/linux/include/asm-generic/page.ts';
import {
  KHO_VMALLOC_CHUNK_OFF_PHYS,
  kho_vmalloc_decode,
} from '../../../../src/linux/include/linux/kho/abi/kexec_handover.ts';
import {
  GUEST_MEMFD_LUO_SER_FOLIOS_OFFSET,
  guest_memfd_luo_folio_get,
  guest_memfd_luo_folio_put,
  guest_memfd_luo_ser,
} from '../../../../src/linux/include/linux/kho/abi/kvm.ts';
import { folio_test_uptodate } from '../../../../src/linux/include/linux/page-flags.ts';
import { vmalloc } from '../../../../src/linux/mm/vmalloc.ts';
import { trackedPfns } from '../../../../src/checkers/preserved_pages.ts';
import { outgoingRecordOf } from '../../../../src/checkers/gmem_inspect.ts';
import { Process } from '../../../../src/user/process.ts';
import { vm_create, vm_create_guest_memfd } from '../../../../src/user/kvm_util.ts';
import {
  luo_create_session,
  luo_open_device,
  luo_retrieve_session,
  luo_session_finish,
  luo_session_preserve_fd,
  luo_session_retrieve_fd,
} from '../../../../src/user/libliveupdate.ts';
import {
  FALLOC_FL_KEEP_SIZE,
  GUEST_MEMFD_FLAG_INIT_SHARED,
  GUEST_MEMFD_FLAG_MMAP,
  LINUX_REBOOT_CMD_KEXEC,
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
} from '../../../../src/user/uapi.ts';
import { gmemInode } from '../../../helpers/kvm.ts';

const VM_TOKEN = 0x1001n;
const GMEM_TOKEN = 0x1002n;
const PAGES = 512;
/** Page indices fallocated: two ranges with a hole between them and after them. */
const FALLOCATED: ReadonlyArray<readonly [number, number]> = [
  [0, 200],
  [256, 440],
];
/** Page indices written through a host mapping: uptodate folios, some of them in the holes. */
const WRITTEN = Array.from({ length: PAGES }, (_, i) => i).filter((i) => i % 3 === 0 && i < 470);
/** Order-0 pages to take before the guest_memfd allocates, so its folios cross pfn 32768, the
 * first tracker leaf boundary above the low reserved megabyte. */
const FILLER_PAGES = 32768 - 256 - 300;

type Mode = 'merged' | 'fine';
type Case = 'retrieve' | 'unpreserve' | 'corrupt-entry' | 'finish';

/** Everything a run leaves that the two modes must agree on. */
type Fingerprint = Record<string, unknown>;

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** The guest_memfd record at `pa` and its folio array, as raw bytes from physical memory. */
function recordBytes(k: Kernel, pa: number): { record: string; array: string; pages: number[] } {
  const mem = k.machine.physmem;
  const record = mem.read(pa, guest_memfd_luo_ser.size);
  const nr = Number(guest_memfd_luo_ser.read(record).nr_folios);
  const desc = kho_vmalloc_decode(record.subarray(GUEST_MEMFD_LUO_SER_FOLIOS_OFFSET));
  const pages: number[] = [];
  for (let i = 0; i < desc.total_pages; i++)
    pages.push(mem.readU64Number(desc.first + KHO_VMALLOC_CHUNK_OFF_PHYS + 8 * i));
  const array = new Uint8Array(nr * 16);
  for (let off = 0; off < array.length; off += PAGE_SIZE) {
    const n = Math.min(PAGE_SIZE, array.length - off);
    array.set(mem.read(pages[off / PAGE_SIZE] as number, n), off);
  }
  return { record: hex(record), array: hex(array), pages };
}

function* stage1(k: Kernel, p: Process, out: Fingerprint): Sched<number> {
  vmalloc(k, FILLER_PAGES * PAGE_SIZE);
  const vm = yield* vm_create(p);
  if (typeof vm === 'number') assert.fail(`vm_create ${vm}`);
  const flags = GUEST_MEMFD_FLAG_MMAP | GUEST_MEMFD_FLAG_INIT_SHARED;
  const gmem = yield* vm_create_guest_memfd(vm, PAGES * PAGE_SIZE, flags);
  assert.ok(gmem >= 0);
  for (const [s, e] of FALLOCATED)
    assert.equal(
      yield* p.sys.fallocate(gmem, FALLOC_FL_KEEP_SIZE, s * PAGE_SIZE, (e - s) * PAGE_SIZE),
      0,
    );
  const host = yield* p.sys.mmap(0, PAGES * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, gmem, 0);
  assert.ok(host >= 0);
  for (const i of WRITTEN)
    assert.ok((yield* p.sys.store(host + i * PAGE_SIZE + 7, Uint8Array.of(i % 251))).ok);
  assert.equal(yield* p.sys.munmap(host, PAGES * PAGE_SIZE), 0);
  const luo = yield* luo_open_device(p.sys);
  const s = yield* luo_create_session(p.sys, luo, 'merge');
  out.preserveVm = yield* luo_session_preserve_fd(p.sys, s, vm.fd, VM_TOKEN);
  out.preserveGmem = yield* luo_session_preserve_fd(p.sys, s, gmem, GMEM_TOKEN);
  const pa = outgoingRecordOf(k, GMEM_TOKEN);
  assert.ok(pa !== null, 'the guest_memfd record');
  const { record, array, pages } = recordBytes(k, pa);
  out.record = record;
  out.array = array;
  out.tracked = [...trackedPfns(k)].sort((a, b) => a - b);
  out.folios = Number(guest_memfd_luo_ser.read(k.machine.physmem.read(pa, 48)).nr_folios);
  out.arrayPages = pages;
  return s;
}

function* stage2(k2: Kernel, kase: Case, out: Fingerprint): Sched {
  const p2 = new Process(k2, 'vmm2');
  const luo = yield* luo_open_device(p2.sys);
  const s = yield* luo_retrieve_session(p2.sys, luo, 'merge');
  assert.ok(s >= 0);
  if (kase === 'finish') {
    out.finish = yield* luo_session_finish(p2.sys, s);
  } else {
    out.retrieveVm = yield* luo_session_retrieve_fd(p2.sys, s, VM_TOKEN);
    const gfd = yield* luo_session_retrieve_fd(p2.sys, s, GMEM_TOKEN);
    out.retrieveGmem = gfd < 0 ? gfd : 'fd';
    if (gfd >= 0)
      out.pageCache = [...gmemInode(p2, gfd).i_mapping_of().i_pages.entries()].map(
        ([index, folio]) => `${index}:${folio.pfn}:${folio_test_uptodate(folio) ? 'U' : '-'}`,
      );
  }
  out.warnings2 = [...k2.warnings];
  out.free2 = k2.page_alloc.freeRanges();
  out.managed2 = k2.page_alloc.managed_pages;
}

/** Points entry `i` of the folio array at the pfn of entry `j` (a head restored twice). */
function corruptEntry(machine: Machine, arrayPages: readonly number[], i: number, j: number): void {
  const mem = machine.physmem;
  const at = (n: number): number => (arrayPages[Math.floor(n / 256)] as number) + (n % 256) * 16;
  const target = guest_memfd_luo_folio_get(mem.read(at(j), 16), 0);
  const entry = guest_memfd_luo_folio_get(mem.read(at(i), 16), 0);
  const bytes = new Uint8Array(16);
  guest_memfd_luo_folio_put(bytes, 0, { ...entry, pfn: target.pfn });
  mem.write(at(i), bytes);
}

function run(mode: Mode, kase: Case): { out: Fingerprint; steps: number } {
  const ex = new Execution(
    { pickTask: (_e, _c, d) => d, pickChoice: () => 0 },
    { stepsMax: 10_000_000, trace: false },
  );
  const config = kernelConfig({ panic_on_warn: kase !== 'corrupt-entry' });
  const machine = new Machine({ memSize: 1024 ** 3, boot: coldBootParams('liveupdate=on') });
  const k = Kernel.boot(ex, machine, config);
  if (k instanceof BootFailure) assert.fail(k.toString());
  const out: Fingerprint = {};
  let done = false;
  if (mode === 'fine')
    ex.spawn('bystander', function* () {
      yield guardedOp(
        'wait for the program',
        [],
        () => done,
        () => 'the program',
      );
    });
  ex.spawn('vmm', function* () {
    const p = new Process(k, 'vmm');
    const s = yield* stage1(k, p, out);
    if (kase === 'unpreserve') {
      out.close = yield* p.sys.close(s);
      out.trackedAfterClose = [...trackedPfns(k)].sort((a, b) => a - b);
      out.free = k.page_alloc.freeRanges();
      out.warnings = [...k.warnings];
    } else {
      out.reboot = yield* p.sys.reboot(LINUX_REBOOT_CMD_KEXEC);
      const next = p.sys.nextMachine;
      assert.ok(next !== null);
      out.image = hex(saveImage(next));
      if (kase === 'corrupt-entry') corruptEntry(next, out.arrayPages as number[], 150, 20);
      const k2 = Kernel.boot(ex, next, config);
      if (k2 instanceof BootFailure) assert.fail(k2.toString());
      yield* stage2(k2, kase, out);
    }
    done = true;
  });
  const r = ex.run();
  assert.equal(r.outcome.kind, 'complete', JSON.stringify(r.outcome));
  return { out, steps: r.steps };
}

function compare(kase: Case): Fingerprint {
  const merged = run('merged', kase);
  const fine = run('fine', kase);
  assert.deepEqual(merged.out, fine.out);
  const folios = merged.out.folios as number;
  assert.ok(
    fine.steps > merged.steps + folios,
    `the fine run (${fine.steps} steps) must take at least one more step per folio (${folios}) ` +
      `than the merged one (${merged.steps})`,
  );
  return merged.out;
}

test('a full handover is the same merged and fine-grained', () => {
  const out = compare('retrieve');
  assert.equal(out.preserveGmem, 0);
  assert.equal(out.retrieveGmem, 'fd');
  const cache = out.pageCache as string[];
  // 200 + 184 fallocated, plus the written pages in the holes (258, 444, 447, ... 468).
  const holes = WRITTEN.filter((i) => (i >= 200 && i < 256) || i >= 440).length;
  assert.equal(cache.length, 200 + 184 + holes);
  assert.equal(out.folios, cache.length);
  const uptodate = cache.filter((e) => e.endsWith(':U')).map((e) => Number(e.split(':')[0]));
  assert.deepEqual(uptodate, WRITTEN);
  const pfns = cache.map((e) => Number(e.split(':')[1]));
  assert.ok(pfns.some((p) => p < 32768) && pfns.some((p) => p >= 32768), 'straddles a leaf');
});

test('unpreserve (the session closed before the kexec) is the same merged and fine-grained', () => {
  const out = compare('unpreserve');
  assert.equal(out.close, 0);
  assert.deepEqual(out.warnings, []);
  const after = new Set(out.trackedAfterClose as number[]);
  const arrayPages = (out.arrayPages as number[]).map((pa) => pa / PAGE_SIZE);
  assert.ok(
    arrayPages.every((pfn) => !after.has(pfn)),
    'the folio array is unpreserved',
  );
});

test('a retrieve that meets a corrupt entry fails the same way merged and fine-grained', () => {
  const out = compare('corrupt-entry');
  assert.equal(out.retrieveGmem, -5, 'EIO');
  assert.equal((out.warnings2 as string[]).length, 1);
});

test('FINISH without retrieve frees the same memory merged and fine-grained', () => {
  const out = compare('finish');
  assert.equal(out.finish, 0);
});
