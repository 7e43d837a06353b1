/**
 * Proves the buddy allocator: lowest address first, splitting and merging, -ENOMEM as a value,
 * memory costs independent of machine size, and that after a boot it never hands out scratch,
 * the low megabyte, or blocks the previous kernel preserved.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Machine } from '../../../src/machine/machine.ts';
import { GiB, PhysMem } from '../../../src/machine/physmem.ts';
import { ENOMEM } from '../../../src/linux/include/uapi/asm-generic/errno.ts';
import {
  GFP_KERNEL,
  PageAlloc,
  __free_pages,
  alloc_pages,
  folio_alloc,
  folio_put,
} from '../../../src/linux/mm/page_alloc.ts';
import { boot, newSim } from '../../helpers/kernel.ts';

function small(pages: number): { page_alloc: PageAlloc } {
  const pa = new PageAlloc(new PhysMem(16 * 1024 * 1024));
  pa.free_ranges_init([[0, pages]]);
  return { page_alloc: pa };
}

test('allocations come lowest address first and split larger blocks', () => {
  const k = small(8);
  const a = alloc_pages(k, GFP_KERNEL, 0);
  const b = alloc_pages(k, GFP_KERNEL, 1);
  const c = alloc_pages(k, GFP_KERNEL, 0);
  assert.ok(typeof a !== 'number' && typeof b !== 'number' && typeof c !== 'number');
  assert.deepEqual([a.pfn, b.pfn, c.pfn], [0, 2, 1]);
});

test('freeing merges buddies back into the largest block', () => {
  const k = small(8);
  const pages = [0, 1, 2, 3].map(() => alloc_pages(k, GFP_KERNEL, 1));
  for (const p of pages) if (typeof p !== 'number') __free_pages(k, p, 1);
  assert.deepEqual(k.page_alloc.freeBlocks(), [[0, 3]]);
  assert.equal(k.page_alloc.nr_free, 8);
});

test('exhaustion is -ENOMEM, as a value', () => {
  const k = small(2);
  assert.notEqual(typeof alloc_pages(k, GFP_KERNEL, 1), 'number');
  assert.equal(alloc_pages(k, GFP_KERNEL, 0), -ENOMEM);
  assert.equal(folio_alloc(k, GFP_KERNEL, 3), -ENOMEM);
});

test('folio_put of the last reference frees the folio', () => {
  const k = small(8);
  const f = folio_alloc(k, GFP_KERNEL, 2);
  assert.ok(typeof f !== 'number');
  folio_put(k, f);
  assert.equal(k.page_alloc.nr_free, 8);
  assert.equal(k.page_alloc.pages.size, 0);
});

test('a 64 GiB machine boots with a handful of free ranges and no per-page state', () => {
  const k = boot(newSim(), new Machine({ memSize: 64 * GiB }));
  assert.ok(k.page_alloc.freeRanges().length < 10);
  assert.ok(k.page_alloc.pages.size < 10);
  assert.ok(k.machine.physmem.touchedCount < 10);
});

test('after boot the allocator never hands out scratch or the low megabyte', () => {
  const k = boot(newSim(), new Machine({ memSize: 256 * 1024 * 1024 }));
  assert.equal(k.kho.scratch.length, 3);
  const forbidden = [
    [0, 256],
    ...k.kho.scratch.map((s) => [s.addr / 4096, (s.addr + s.size) / 4096]),
  ];
  for (const [s, e] of k.page_alloc.freeRanges())
    for (const [fs, fe] of forbidden) assert.ok(e <= (fs as number) || s >= (fe as number));
});
