/**
 * Proves that a Machine starts as a cold boot and accepts only boot parameters a boot loader
 * could pass, keeping its own copy of them.
 * How: direct cases for defaults, copies and every validation rule.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { COMMAND_LINE_SIZE, Machine, coldBootParams } from '../../src/machine/machine.ts';
import { GiB, PAGE_SIZE } from '../../src/machine/physmem.ts';

test('a new machine is a cold boot on 4 GiB of memory', () => {
  const m = new Machine();
  assert.equal(m.memSize, 4 * GiB);
  assert.deepEqual(m.bootParams, { khoFdtPhys: null, scratch: [], kexecCount: 0, cmdline: '' });
  const small = new Machine({ memSize: 16 * PAGE_SIZE, boot: coldBootParams('liveupdate=1') });
  assert.equal(small.physmem.pageCount, 16);
  assert.equal(small.bootParams.cmdline, 'liveupdate=1');
});

test('setBootParams records a copy for the next boot', () => {
  const m = new Machine({ memSize: 1 * GiB });
  const next = {
    khoFdtPhys: 0x1000n,
    scratch: [{ addr: 0x100000n, size: 0x200000n }],
    kexecCount: 1,
    cmdline: 'kho=on liveupdate=on',
  };
  m.setBootParams(next);
  next.scratch[0] = { addr: 0n, size: 0n };
  assert.deepEqual(m.bootParams.scratch, [{ addr: 0x100000n, size: 0x200000n }]);
  const view = m.bootParams;
  view.kexecCount = 9;
  assert.equal(m.bootParams.kexecCount, 1);
});

test('parameters no boot loader could pass are RangeErrors', () => {
  const m = new Machine({ memSize: 1 * GiB });
  const base = coldBootParams();
  for (const bad of [
    { khoFdtPhys: BigInt(GiB) },
    { khoFdtPhys: -1n },
    { scratch: [{ addr: BigInt(GiB) - 4096n, size: 8192n }] },
    { scratch: [{ addr: -1n, size: 1n }] },
    { scratch: [{ addr: 0n, size: -1n }] },
    { kexecCount: -1 },
    { kexecCount: 2 ** 32 },
    { kexecCount: 1.5 },
    { cmdline: 'a\0b' },
    { cmdline: 'x'.repeat(COMMAND_LINE_SIZE) },
  ]) {
    assert.throws(() => {
      m.setBootParams({ ...base, ...bad });
    }, RangeError);
  }
  m.setBootParams({ ...base, cmdline: 'x'.repeat(COMMAND_LINE_SIZE - 1) });
  assert.throws(() => new Machine({ memSize: 100 }), RangeError);
});
