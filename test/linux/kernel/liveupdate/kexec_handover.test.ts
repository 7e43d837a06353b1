/**
 * Proves KHO across a kexec: preserved bytes survive at the same address and nothing else does,
 * restore works once and only on preserved heads, subtrees travel by name, the allocator of the
 * next kernel avoids preserved blocks, and the root FDT is a real kho-v4 FDT (dtc decodes it).
 * How: one task boots a cold kernel, preserves, calls kexec(), boots the next kernel from the
 * Machine alone, and checks what it finds.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { Machine } from '../../../../src/machine/machine.ts';
import { PAGE_SIZE } from '../../../../src/linux/include/asm-generic/page.ts';
import { EEXIST, ENOENT } from '../../../../src/linux/include/uapi/asm-generic/errno.ts';
import { ModelAssertion } from '../../../../src/sim/index.ts';
import {
  is_kho_boot,
  kho_add_subtree,
  kho_alloc_preserve,
  kho_preserve_folio,
  kho_preserve_pages,
  kho_restore_folio,
  kho_restore_pages,
  kho_retrieve_subtree,
  kho_unpreserve_folio,
} from '../../../../src/linux/kernel/liveupdate/kexec_handover.ts';
import {
  GFP_KERNEL,
  alloc_pages,
  folio_alloc,
  folio_put,
} from '../../../../src/linux/mm/page_alloc.ts';
import type { Kernel } from '../../../../src/linux/kernel.ts';
import { boot, bytesOf, inTask } from '../../../helpers/kernel.ts';

const MiB = 1024 * 1024;

function folioAt(k: Kernel, order: number, text: string) {
  const f = folio_alloc(k, GFP_KERNEL, order);
  assert.ok(typeof f !== 'number');
  k.machine.physmem.write(f.pfn * PAGE_SIZE, bytesOf(text));
  return f;
}

const readText = (k: Kernel, phys: number, n: number): string =>
  new TextDecoder().decode(k.machine.physmem.read(phys, n));

test('preserved folios keep their bytes across kexec; everything else reads as zero', () => {
  inTask(function* (sim) {
    const k1 = boot(sim, new Machine({ memSize: 256 * MiB }));
    assert.equal(is_kho_boot(k1), false);
    const kept = folioAt(k1, 2, 'kept');
    const dropped = folioAt(k1, 0, 'lost');
    const undone = folioAt(k1, 0, 'undo');
    assert.equal(yield* kho_preserve_folio(k1, kept), 0);
    assert.equal(yield* kho_preserve_folio(k1, undone), 0);
    yield* kho_unpreserve_folio(k1, undone);
    const blob = yield* kho_alloc_preserve(k1, 100);
    assert.ok(blob > 0);
    k1.machine.physmem.write(blob, bytesOf('blob'));
    assert.equal(yield* kho_add_subtree(k1, 'test', blob, 100), 0);
    assert.equal(yield* kho_add_subtree(k1, 'test', blob, 100), -EEXIST);

    const k2 = boot(sim, k1.kexec(), { panic_on_warn: false });
    assert.equal(is_kho_boot(k2), true);
    assert.equal(k2.bootFailure, null);
    assert.equal(readText(k2, kept.pfn * PAGE_SIZE, 4), 'kept');
    assert.equal(readText(k2, dropped.pfn * PAGE_SIZE, 4), '\0\0\0\0');
    assert.equal(readText(k2, undone.pfn * PAGE_SIZE, 4), '\0\0\0\0');
    assert.deepEqual(kho_retrieve_subtree(k2, 'test'), { phys: blob, size: 100 });
    assert.equal(kho_retrieve_subtree(k2, 'nope'), -ENOENT);
    assert.equal(readText(k2, blob, 4), 'blob');

    const f = kho_restore_folio(k2, kept.pfn * PAGE_SIZE);
    assert.ok(f !== null);
    assert.equal(f._refcount, 1);
    assert.equal(f.order, 2);
    assert.equal(kho_restore_folio(k2, kept.pfn * PAGE_SIZE), null, 'restoring twice fails');
    assert.equal(kho_restore_folio(k2, dropped.pfn * PAGE_SIZE), null, 'never preserved');
    folio_put(k2, f);
  });
});

test('a restore the kernel WARNs about is a model assertion by default', () => {
  inTask(function* (sim) {
    const k1 = boot(sim, new Machine({ memSize: 64 * MiB }));
    const k2 = boot(sim, k1.kexec());
    yield* [];
    assert.throws(() => kho_restore_folio(k2, 0x200000), ModelAssertion);
  });
});

test('kho_preserve_pages splits into aligned blocks and restores as order-0 pages', () => {
  inTask(function* (sim) {
    const k1 = boot(sim, new Machine({ memSize: 64 * MiB }));
    const p = alloc_pages(k1, GFP_KERNEL, 3);
    assert.ok(typeof p !== 'number');
    k1.machine.physmem.write((p.pfn + 4) * PAGE_SIZE, bytesOf('five'));
    k1.machine.physmem.write((p.pfn + 5) * PAGE_SIZE, bytesOf('six!'));
    assert.equal(yield* kho_preserve_pages(k1, p, 5), 0);
    const m = k1.kexec();
    assert.equal(m.physmem.pageBytes(p.pfn + 5), null, 'the sixth page was not preserved');
    const k2 = boot(sim, m);
    const first = kho_restore_pages(k2, p.pfn * PAGE_SIZE, 5);
    assert.ok(first !== null);
    for (let i = 0; i < 5; i++) assert.equal(k2.page_alloc.pages.get(p.pfn + i)?._refcount, 1);
    assert.equal(readText(k2, (p.pfn + 4) * PAGE_SIZE, 4), 'five');
  });
});

test('the next allocator never hands out preserved blocks, before or after restore', () => {
  inTask(function* (sim) {
    const k1 = boot(sim, new Machine({ memSize: 64 * MiB }));
    const kept = folioAt(k1, 4, 'x');
    assert.equal(yield* kho_preserve_folio(k1, kept), 0);
    const k2 = boot(sim, k1.kexec());
    const lo = kept.pfn;
    const hi = kept.pfn + 16;
    for (const [s, e] of k2.page_alloc.freeRanges()) assert.ok(e <= lo || s >= hi);
    for (;;) {
      const p = alloc_pages(k2, GFP_KERNEL, 0);
      if (typeof p === 'number') break;
      assert.ok(p.pfn < lo || p.pfn >= hi, `pfn ${p.pfn} is preserved`);
    }
  });
});

test('kexec metadata counts kexecs and names the previous release', () => {
  inTask(function* (sim) {
    let k = boot(sim, new Machine({ memSize: 64 * MiB }), { release: 'old-1' });
    for (let i = 1; i <= 3; i++) k = boot(sim, k.kexec(), { release: `k-${i}` });
    yield* [];
    assert.equal(k.kho.in_kexec_count, 3);
    assert.equal(k.kho.in_release, 'k-2');
    assert.equal(k.machine.bootParams.kexecCount, 3);
  });
});

test('the root FDT is kho-v4 and decodes with dtc', (t) => {
  try {
    execFileSync('which', ['dtc'], { stdio: 'ignore' });
  } catch {
    t.skip('dtc is not installed');
    return;
  }
  inTask(function* (sim) {
    const k1 = boot(sim, new Machine({ memSize: 64 * MiB }));
    const blob = yield* kho_alloc_preserve(k1, 32);
    assert.equal(yield* kho_add_subtree(k1, 'LUO', blob, 32), 0);
    const m = k1.kexec();
    const fdt = m.physmem.read(Number(m.bootParams.khoFdtPhys), PAGE_SIZE);
    const dts = execFileSync('dtc', ['-q', '-I', 'dtb', '-O', 'dts', '-'], { input: fdt });
    const text = dts.toString();
    assert.match(text, /compatible = "kho-v4";/);
    assert.match(text, /preserved-memory-map = /);
    assert.match(text, /LUO \{[^}]*preserved-data = [^}]*blob-size = /s);
    assert.match(text, /kexec-metadata \{/);
  });
});
