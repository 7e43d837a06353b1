/**
 * memfd through the syscalls a program makes: memfd_create flags and names, ftruncate,
 * read/write/pread/pwrite/lseek through the page cache, fallocate allocate and punch hole with
 * vfs_fallocate's validation, seals with their errno, and mmap MAP_SHARED / MAP_PRIVATE with
 * page faults, including SIGBUS past EOF as a returned value. Each test runs one process on a
 * fresh boot and checks the errno values of the kernel paths and the bytes in physical memory.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  EBADF,
  EBUSY,
  EINVAL,
  ENODEV,
  EOPNOTSUPP,
  EPERM,
} from '../../../src/linux/include/uapi/asm-generic/errno.ts';
import {
  MAP_PRIVATE,
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
  SIGBUS,
  SIGSEGV,
} from '../../../src/linux/include/uapi/asm-generic/mman.ts';
import {
  FALLOC_FL_COLLAPSE_RANGE,
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  FALLOC_FL_ZERO_RANGE,
} from '../../../src/linux/include/uapi/linux/falloc.ts';
import {
  F_ADD_SEALS,
  F_GET_SEALS,
  F_SEAL_EXEC,
  F_SEAL_FUTURE_WRITE,
  F_SEAL_GROW,
  F_SEAL_SEAL,
  F_SEAL_SHRINK,
  F_SEAL_WRITE,
  SEEK_END,
  SEEK_SET,
} from '../../../src/linux/include/uapi/linux/fcntl.ts';
import {
  MFD_ALLOW_SEALING,
  MFD_EXEC,
  MFD_NOEXEC_SEAL,
} from '../../../src/linux/include/uapi/linux/memfd.ts';
import { PAGE_SIZE } from '../../../src/linux/include/asm-generic/page.ts';
import { bytesOf } from '../../helpers/kernel.ts';
import { withKernel } from '../../helpers/luo.ts';

const text = (b: Uint8Array): string => new TextDecoder().decode(b);

test('memfd_create validates flags and names', () => {
  withKernel(function* (_k, p) {
    assert.equal(yield* p.sys.memfd_create('x', 0x1000), -EINVAL);
    assert.equal(yield* p.sys.memfd_create('x', MFD_EXEC | MFD_NOEXEC_SEAL), -EINVAL);
    assert.equal(yield* p.sys.memfd_create('n'.repeat(250), 0), -EINVAL);
    const fd = yield* p.sys.memfd_create('n'.repeat(249), 0);
    assert.ok(fd >= 0);
    assert.equal(yield* p.sys.fcntl(fd, F_GET_SEALS), F_SEAL_SEAL, 'no MFD_ALLOW_SEALING');
    assert.equal(yield* p.sys.fcntl(fd, F_ADD_SEALS, F_SEAL_GROW), -EPERM);
    const ne = yield* p.sys.memfd_create('ne', MFD_NOEXEC_SEAL);
    assert.equal(yield* p.sys.fcntl(ne, F_GET_SEALS), F_SEAL_EXEC);
  });
});

test('read, write, pread, pwrite and lseek go through the page cache; holes read as zero', () => {
  withKernel(function* (k, p) {
    const fd = yield* p.sys.memfd_create('rw', 0);
    const free0 = k.page_alloc.nr_free;
    assert.equal(yield* p.sys.ftruncate(fd, 2 ** 34), 0, '16 GiB');
    assert.equal(k.page_alloc.nr_free, free0, 'a size costs no pages');
    assert.equal(yield* p.sys.pwrite(fd, bytesOf('hello'), 8 * PAGE_SIZE - 2), 5);
    assert.equal(k.page_alloc.nr_free, free0 - 2, 'only the two touched pages');
    const buf = new Uint8Array(9);
    assert.equal(yield* p.sys.pread(fd, buf, 8 * PAGE_SIZE - 4), 9);
    assert.deepEqual([...buf], [0, 0, ...bytesOf('hello'), 0, 0]);
    assert.equal(yield* p.sys.write(fd, bytesOf('abc')), 3);
    assert.equal(yield* p.sys.lseek(fd, 0, SEEK_SET), 0);
    const r = new Uint8Array(3);
    assert.equal(yield* p.sys.read(fd, r), 3);
    assert.equal(text(r), 'abc');
    assert.equal(yield* p.sys.lseek(fd, -1, SEEK_SET), -EINVAL);
    assert.equal(yield* p.sys.ftruncate(fd, 10), 0);
    assert.equal(yield* p.sys.lseek(fd, 0, SEEK_END), 10);
    assert.equal(yield* p.sys.pread(fd, new Uint8Array(4), 100), 0, 'EOF');
    assert.equal(k.page_alloc.nr_free, free0 - 1, 'shrinking freed the page past EOF');
    assert.equal(yield* p.sys.ftruncate(fd, -1), -EINVAL);
    assert.equal(yield* p.sys.pwrite(99, bytesOf('x'), 0), -EBADF);
    assert.equal(yield* p.sys.close(fd), 0);
    assert.equal(k.page_alloc.nr_free, free0, 'the last close frees the page cache');
  });
});

test('fallocate allocates, punches holes and validates its mode', () => {
  withKernel(function* (k, p) {
    const fd = yield* p.sys.memfd_create('fa', 0);
    const free0 = k.page_alloc.nr_free;
    assert.equal(yield* p.sys.fallocate(fd, 0, -1, 1), -EINVAL);
    assert.equal(yield* p.sys.fallocate(fd, 0, 0, 0), -EINVAL);
    assert.equal(yield* p.sys.fallocate(fd, 0x1000, 0, 1), -EOPNOTSUPP);
    assert.equal(yield* p.sys.fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 1), -EOPNOTSUPP);
    assert.equal(yield* p.sys.fallocate(fd, FALLOC_FL_ZERO_RANGE, 0, 1), -EOPNOTSUPP, 'shmem');
    assert.equal(
      yield* p.sys.fallocate(fd, FALLOC_FL_COLLAPSE_RANGE | FALLOC_FL_KEEP_SIZE, 0, 1),
      -EOPNOTSUPP,
    );
    assert.equal(yield* p.sys.fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 4 * PAGE_SIZE), 0);
    assert.equal(yield* p.sys.lseek(fd, 0, SEEK_END), 0, 'KEEP_SIZE');
    assert.equal(k.page_alloc.nr_free, free0 - 4);
    assert.equal(yield* p.sys.fallocate(fd, 0, 0, 3 * PAGE_SIZE + 1), 0);
    assert.equal(yield* p.sys.lseek(fd, 0, SEEK_END), 3 * PAGE_SIZE + 1);
    assert.equal(yield* p.sys.pwrite(fd, bytesOf('xyz'), PAGE_SIZE), 3);
    const punch = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
    assert.equal(yield* p.sys.fallocate(fd, punch, PAGE_SIZE + 1, PAGE_SIZE), 0);
    const b = new Uint8Array(3);
    assert.equal(yield* p.sys.pread(fd, b, PAGE_SIZE), 3);
    assert.equal(text(b.subarray(0, 1)), 'x', 'a partial page is zeroed, not freed');
    assert.deepEqual([...b.subarray(1)], [0, 0]);
    assert.equal(yield* p.sys.fallocate(fd, punch, 0, 2 * PAGE_SIZE), 0);
    assert.equal(k.page_alloc.nr_free, free0 - 2, 'whole pages are freed');
    const ro = yield* p.sys.memfd_create('anon', 0);
    assert.equal(yield* p.sys.fallocate(ro, 0, 0, 1), 0);
    const luo = yield* p.sys.open('/dev/liveupdate');
    assert.equal(yield* p.sys.fallocate(luo, 0, 0, 1), -ENODEV, 'not a regular file');
  });
});

test('seals: SHRINK, GROW, WRITE, FUTURE_WRITE, SEAL and the writable-mapping rule', () => {
  withKernel(function* (_k, p) {
    const fd = yield* p.sys.memfd_create('s', MFD_ALLOW_SEALING);
    assert.equal(yield* p.sys.fcntl(fd, F_GET_SEALS), 0);
    assert.equal(yield* p.sys.ftruncate(fd, 2 * PAGE_SIZE), 0);
    assert.equal(yield* p.sys.fcntl(fd, F_ADD_SEALS, 0x100), -EINVAL);
    assert.equal(yield* p.sys.fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW), 0);
    assert.equal(yield* p.sys.ftruncate(fd, PAGE_SIZE), -EPERM);
    assert.equal(yield* p.sys.ftruncate(fd, 3 * PAGE_SIZE), -EPERM);
    assert.equal(yield* p.sys.ftruncate(fd, 2 * PAGE_SIZE), 0, 'same size');
    assert.equal(yield* p.sys.pwrite(fd, bytesOf('ab'), 2 * PAGE_SIZE - 1), 1, 'short write');
    assert.equal(yield* p.sys.pwrite(fd, bytesOf('ab'), 2 * PAGE_SIZE), -EPERM);
    assert.equal(yield* p.sys.fallocate(fd, 0, 0, 3 * PAGE_SIZE), -EPERM);
    const addr = yield* p.sys.mmap(0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
    assert.ok(addr > 0);
    assert.equal(yield* p.sys.fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), -EBUSY);
    assert.equal(yield* p.sys.munmap(addr, PAGE_SIZE), 0);
    assert.equal(yield* p.sys.fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), 0);
    assert.equal(yield* p.sys.pwrite(fd, bytesOf('a'), 0), -EPERM);
    const punch = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
    assert.equal(yield* p.sys.fallocate(fd, punch, 0, PAGE_SIZE), -EPERM);
    assert.equal(yield* p.sys.mmap(0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd), -EPERM);
    const ro = yield* p.sys.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, fd);
    assert.ok(ro > 0, 'read-only shared mappings stay allowed');
    assert.equal(yield* p.sys.fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL), 0);
    assert.equal(yield* p.sys.fcntl(fd, F_ADD_SEALS, F_SEAL_FUTURE_WRITE), -EPERM);
    const seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL;
    assert.equal(yield* p.sys.fcntl(fd, F_GET_SEALS), seals);
    const exec = yield* p.sys.memfd_create('x', MFD_ALLOW_SEALING);
    assert.equal(yield* p.sys.fcntl(exec, F_ADD_SEALS, F_SEAL_EXEC), 0);
    const implied = F_SEAL_EXEC | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE;
    assert.equal(yield* p.sys.fcntl(exec, F_GET_SEALS), implied, 'EXEC implies the write seals');
    const luo = yield* p.sys.open('/dev/liveupdate');
    assert.equal(yield* p.sys.fcntl(luo, F_GET_SEALS), -EINVAL);
  });
});

test('mmap MAP_SHARED faults pages in; past EOF is SIGBUS, outside a mapping SIGSEGV', () => {
  withKernel(function* (k, p) {
    const fd = yield* p.sys.memfd_create('m', 0);
    assert.equal(yield* p.sys.ftruncate(fd, PAGE_SIZE), 0);
    assert.equal(yield* p.sys.mmap(0, 0, PROT_READ, MAP_SHARED, fd), -EINVAL);
    assert.equal(yield* p.sys.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, fd, 1), -EINVAL);
    const free0 = k.page_alloc.nr_free;
    const addr = yield* p.sys.mmap(0, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd);
    assert.ok(addr > 0);
    assert.equal(k.page_alloc.nr_free, free0, 'mmap allocates nothing');
    const st = yield* p.sys.store(addr + 10, bytesOf('mapped'));
    assert.equal(st.ok, true);
    const b = new Uint8Array(6);
    assert.equal(yield* p.sys.pread(fd, b, 10), 6);
    assert.equal(text(b), 'mapped', 'the store went into the page cache');
    assert.equal(yield* p.sys.pwrite(fd, bytesOf('W'), 10), 1);
    const ld = yield* p.sys.load(addr + 10, 6);
    assert.ok(ld.ok);
    assert.equal(text(ld.bytes), 'Wapped');
    const bus = yield* p.sys.load(addr + PAGE_SIZE, 1);
    assert.deepEqual(bus.ok ? null : [bus.signal, bus.addr], [SIGBUS, addr + PAGE_SIZE]);
    const segv = yield* p.sys.store(addr + 2 * PAGE_SIZE, bytesOf('x'));
    assert.equal(segv.ok ? 0 : segv.signal, SIGSEGV);
    assert.equal(yield* p.sys.ftruncate(fd, 0), 0);
    const gone = yield* p.sys.load(addr, 1);
    assert.equal(gone.ok ? 0 : gone.signal, SIGBUS, 'truncation zapped the pte');
    assert.equal(k.page_alloc.nr_free, free0, 'and freed the page');
    assert.equal(yield* p.sys.ftruncate(fd, PAGE_SIZE), 0);
    const fresh = yield* p.sys.load(addr + 10, 1);
    assert.deepEqual(fresh.ok ? [...fresh.bytes] : null, [0]);
    assert.equal(yield* p.sys.munmap(addr, 2 * PAGE_SIZE), 0);
    assert.equal(yield* p.sys.close(fd), 0);
    assert.equal(k.page_alloc.nr_free, free0);
  });
});

test('MAP_PRIVATE copies on write and leaves the file unchanged; PROT_READ refuses stores', () => {
  withKernel(function* (_k, p) {
    const fd = yield* p.sys.memfd_create('p', 0);
    assert.equal(yield* p.sys.pwrite(fd, bytesOf('orig'), 0), 4);
    const addr = yield* p.sys.mmap(0, PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd);
    const r0 = yield* p.sys.load(addr, 4);
    assert.equal(r0.ok ? text(r0.bytes) : '', 'orig');
    assert.ok((yield* p.sys.store(addr, bytesOf('COW!'))).ok);
    const r1 = yield* p.sys.load(addr, 4);
    assert.equal(r1.ok ? text(r1.bytes) : '', 'COW!');
    const b = new Uint8Array(4);
    yield* p.sys.pread(fd, b, 0);
    assert.equal(text(b), 'orig');
    const ro = yield* p.sys.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, fd);
    const w = yield* p.sys.store(ro, bytesOf('x'));
    assert.equal(w.ok ? 0 : w.signal, SIGSEGV, 'no PROT_WRITE');
    assert.equal(yield* p.sys.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, 77), -EBADF);
    const luo = yield* p.sys.open('/dev/liveupdate');
    assert.equal(yield* p.sys.mmap(0, PAGE_SIZE, PROT_READ, MAP_SHARED, luo), -ENODEV);
  });
});
