/**
 * Proves how a kernel boots from handover bytes: the tracker in memory has the kho-v4 shape,
 * corrupt handover data gives a clear boot failure (degraded for a bad FDT, a panic for tracker
 * pointers the kernel would fault on) and never another exception or a hang, and vmalloc areas
 * come back at a new address with their bytes. How: hand-edit the bytes a kexec leaves.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Machine } from '../../../../src/machine/machine.ts';
import { PAGE_SIZE } from '../../../../src/linux/include/asm-generic/page.ts';
import {
  kho_radix_encode_key,
  kho_radix_get_bitmap_index,
  kho_radix_get_table_index,
  type kho_vmalloc,
} from '../../../../src/linux/include/linux/kho/abi/kexec_handover.ts';
import { BootFailure, Kernel, kernelConfig } from '../../../../src/linux/kernel.ts';
import {
  is_kho_boot,
  kho_preserve_folio,
} from '../../../../src/linux/kernel/liveupdate/kexec_handover.ts';
import {
  kho_preserve_vmalloc,
  kho_restore_vmalloc,
} from '../../../../src/linux/kernel/liveupdate/kexec_handover_vmalloc.ts';
import { GFP_KERNEL, folio_alloc } from '../../../../src/linux/mm/page_alloc.ts';
import { find_vm_area, vmalloc, vread, vwrite } from '../../../../src/linux/mm/vmalloc.ts';
import { boot, bytesOf, inTask, newSim } from '../../../helpers/kernel.ts';

const MiB = 1024 * 1024;

/** A machine after one kexec with one preserved order-1 folio; returns it and the folio pfn. */
function handedOver(): { m: Machine; pfn: number; root: number } {
  return inTask(function* (sim) {
    const k = boot(sim, new Machine({ memSize: 64 * MiB }));
    const f = folio_alloc(k, GFP_KERNEL, 1);
    assert.ok(typeof f !== 'number');
    assert.equal(yield* kho_preserve_folio(k, f), 0);
    const root = k.kho.radix_root;
    return { m: k.kexec(), pfn: f.pfn, root };
  });
}

test('the tracker is a 6-level tree of pages whose leaf bit is the key', () => {
  const { m, pfn, root } = handedOver();
  const key = kho_radix_encode_key(pfn * PAGE_SIZE, 1);
  let node = root;
  for (let level = 5; level > 0; level--) {
    node = Number(m.physmem.readU64(node + 8 * kho_radix_get_table_index(key, level)));
    assert.ok(node !== 0 && node % PAGE_SIZE === 0, `level ${level} entry present`);
  }
  const bit = kho_radix_get_bitmap_index(key);
  const byte = m.physmem.read(node + (bit >> 3), 1)[0] ?? 0;
  assert.ok((byte & (1 << (bit & 7))) !== 0);
});

test('a bad FDT magic degrades the boot to a cold boot, it does not throw', () => {
  const { m } = handedOver();
  m.physmem.write(Number(m.bootParams.khoFdtPhys), Uint8Array.of(0xde, 0xad, 0xbe, 0xef));
  const k = Kernel.boot(newSim(), m, kernelConfig());
  assert.ok(k instanceof Kernel);
  assert.equal(is_kho_boot(k), false);
  assert.ok(k.bootFailure !== null && !k.bootFailure.fatal);
  assert.match(k.bootFailure.reason, /invalid.*BADMAGIC/);
});

test('a wrong compatible is ignored, and preserved memory becomes free memory', () => {
  const { m, pfn } = handedOver();
  const at = Number(m.bootParams.khoFdtPhys);
  const page = m.physmem.read(at, PAGE_SIZE);
  const i = Buffer.from(page).indexOf('kho-v4');
  page[i + 5] = '9'.charCodeAt(0);
  m.physmem.write(at, page);
  const k = Kernel.boot(newSim(), m, kernelConfig());
  assert.ok(k instanceof Kernel);
  assert.match(k.bootFailure?.reason ?? '', /incompatible with 'kho-v4'/);
  assert.ok(k.page_alloc.freeRanges().some(([s, e]) => s <= pfn && pfn < e));
});

test('a tracker pointer outside memory is a panic: a fatal boot failure with a reason', () => {
  const { m, root } = handedOver();
  const key = kho_radix_encode_key(0, 0);
  m.physmem.writeU64(root + 8 * kho_radix_get_table_index(key, 5), 0xdead_0000_0000n);
  const r = Kernel.boot(newSim(), m, kernelConfig());
  assert.ok(r instanceof BootFailure);
  assert.ok(r.fatal);
  assert.match(r.reason, /preserved-memory-map is corrupt/);
});

test('a tracker loop is reported, not walked forever', () => {
  const { m, root } = handedOver();
  m.physmem.writeU64(root + 8 * 511, BigInt(root));
  const r = Kernel.boot(newSim(), m, kernelConfig());
  assert.ok(r instanceof BootFailure);
  assert.match(r.reason, /reached twice/);
});

test('a vmalloc area comes back at a new address with its bytes', () => {
  inTask(function* (sim) {
    const k1 = boot(sim, new Machine({ memSize: 64 * MiB }));
    const va = vmalloc(k1, 3 * PAGE_SIZE);
    const vm = find_vm_area(k1, va);
    assert.ok(vm !== null);
    vwrite(k1, vm, va + PAGE_SIZE * 2 + 10, bytesOf('vmalloc'));
    const desc: kho_vmalloc = { first: 0, total_pages: 0, flags: 0, order: 0 };
    assert.equal(yield* kho_preserve_vmalloc(k1, va, desc), 0);
    assert.equal(desc.total_pages, 3);
    const k2 = boot(sim, k1.kexec(), { panic_on_warn: false });
    const va2 = kho_restore_vmalloc(k2, desc);
    assert.ok(va2 !== null);
    const vm2 = find_vm_area(k2, va2);
    assert.ok(vm2 !== null);
    const got = vread(k2, vm2, va2 + PAGE_SIZE * 2 + 10, 7);
    assert.equal(new TextDecoder().decode(got), 'vmalloc');
    assert.equal(kho_restore_vmalloc(k2, desc), null, 'a second restore fails');
  });
});

test('scratch areas are 4 MiB aligned; when one cannot be reserved, the others are freed again', () => {
  const k = boot(newSim(), new Machine({ memSize: 64 * MiB }));
  assert.equal(k.kho.scratch.length, 3);
  for (const area of k.kho.scratch) assert.equal(area.addr % (4 * MiB), 0);
  // 10 MiB of RAM holds two 4 MiB areas above the reserved first megabyte, not three: KHO is
  // disabled and memory ends up exactly as on a boot with KHO off.
  const failed = boot(newSim(), new Machine({ memSize: 10 * MiB }));
  assert.equal(failed.kho.enabled, false);
  assert.deepEqual(failed.kho.scratch, []);
  assert.ok(failed.log.some((l) => l.includes('Failed to reserve scratch area')));
  const off = boot(newSim(), new Machine({ memSize: 10 * MiB }), { kho_enable_default: false });
  assert.equal(off.kho.enabled, false);
  assert.equal(failed.page_alloc.nr_free, off.page_alloc.nr_free);
});
