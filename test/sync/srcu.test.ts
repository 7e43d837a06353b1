/**
 * SRCU by its contract: srcu_read_lock returns the domain's phase index and read sections nest;
 * synchronize_srcu waits for every reader that entered before it started (proved over all
 * interleavings) and for no reader that entered after (a reachable schedule shows a reader
 * still inside when synchronize returns); synchronize inside a read section of the same domain
 * is reported as a self-deadlock; mismatched unlocks and srcu_dereference outside a read
 * section are model assertions.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  Completion,
  Shared,
  SrcuStruct,
  complete,
  srcu_dereference,
  srcu_read_lock,
  srcu_read_unlock,
  synchronize_srcu,
  wait_for_completion,
} from '../../src/sync/index.ts';
import { op } from '../../src/sim/index.ts';
import { explore } from '../helpers/scenario.ts';

test('read sections nest and each unlock takes its own index', () => {
  const r = explore({
    setup: (sim) => ({ ss: new SrcuStruct(sim, 'ss'), idx: [] as number[] }),
    tasks: (s) => [
      {
        name: 'reader',
        *body() {
          const a = yield* srcu_read_lock(s.ss);
          const b = yield* srcu_read_lock(s.ss);
          s.idx.push(a, b);
          yield* srcu_read_unlock(s.ss, b);
          yield* srcu_read_unlock(s.ss, a);
        },
      },
    ],
    properties: [
      {
        name: 'indices',
        check: (s) => (s.idx.join() === '0,0' && s.ss.readers.size === 0) || s.idx.join(),
      },
    ],
  });
  assert.equal(r.verdict, 'holds');
});

test('the index flips after a grace period', () => {
  const r = explore({
    setup: (sim) => ({ ss: new SrcuStruct(sim, 'ss'), idx: -1 }),
    tasks: (s) => [
      {
        name: 't',
        *body() {
          yield* synchronize_srcu(s.ss);
          s.idx = yield* srcu_read_lock(s.ss);
          yield* srcu_read_unlock(s.ss, s.idx);
        },
      },
    ],
    properties: [{ name: 'flipped', check: (s) => s.idx === 1 || `idx ${s.idx}` }],
  });
  assert.equal(r.verdict, 'holds');
});

test('synchronize_srcu waits for every reader that entered before it started', () => {
  const r = explore({
    setup: (sim) => ({ ss: new SrcuStruct(sim, 'ss'), inside: new Set<string>(), bad: '' }),
    tasks: (s) => [
      ...['r1', 'r2'].map((name) => ({
        name,
        *body() {
          const idx = yield* srcu_read_lock(s.ss);
          s.inside.add(name);
          yield op('read');
          s.inside.delete(name);
          yield* srcu_read_unlock(s.ss, idx);
        },
      })),
      {
        name: 'sync',
        *body() {
          yield op('before');
          const before = new Set(s.inside);
          yield* synchronize_srcu(s.ss);
          for (const n of before) if (s.inside.has(n)) s.bad = `${n} still inside`;
        },
      },
    ],
    properties: [{ name: 'waited', check: (s) => s.bad === '' || s.bad }],
  });
  assert.equal(r.verdict, 'holds');
  assert.equal(r.coverage.kind, 'exhaustive');
});

test('synchronize_srcu does not wait for a reader that entered after it started', () => {
  // The reader enters only after the synchronizer has started (ordered by a completion), and
  // stays inside until the synchronizer has returned: this must complete, not deadlock.
  const r = explore({
    setup: (sim) => ({
      ss: new SrcuStruct(sim, 'ss'),
      started: new Completion(sim, 'started'),
      returned: new Completion(sim, 'returned'),
      syncReturnedWithReaderInside: false,
      inside: false,
    }),
    tasks: (s) => [
      {
        name: 'sync',
        *body() {
          yield* complete(s.started);
          yield* synchronize_srcu(s.ss);
          s.syncReturnedWithReaderInside = s.inside;
          yield* complete(s.returned);
        },
      },
      {
        name: 'late-reader',
        *body() {
          yield* wait_for_completion(s.started);
          const idx = yield* srcu_read_lock(s.ss);
          s.inside = true;
          yield* wait_for_completion(s.returned);
          s.inside = false;
          yield* srcu_read_unlock(s.ss, idx);
        },
      },
    ],
    properties: [
      // In schedules where the reader entered before synchronize's start it would deadlock;
      // those are excluded by completion ordering only partially, so look for the good run.
      {
        name: 'not-waited',
        check: (s) => !s.syncReturnedWithReaderInside || 'returned with reader inside',
      },
    ],
  });
  // The "violation" is the proof: some schedule has synchronize return while the late reader
  // is still inside its read section.
  assert.equal(r.verdict, 'violated');
  assert.equal(r.counterexample?.property, 'not-waited');
});

test('synchronize_srcu inside a read section of the same domain is a self-deadlock', () => {
  const r = explore({
    setup: (sim) => ({ ss: new SrcuStruct(sim, 'ss') }),
    tasks: (s) => [
      {
        name: 't',
        *body() {
          const idx = yield* srcu_read_lock(s.ss);
          yield* synchronize_srcu(s.ss);
          yield* srcu_read_unlock(s.ss, idx);
        },
      },
    ],
  });
  assert.equal(r.counterexample?.property, 'no-deadlock');
  assert.match(r.counterexample.message, /its own read section \(self-deadlock\)/);
});

test('unlock with the wrong index is a model assertion', () => {
  const r = explore({
    setup: (sim) => ({ ss: new SrcuStruct(sim, 'ss') }),
    tasks: (s) => [
      {
        name: 't',
        *body() {
          const idx = yield* srcu_read_lock(s.ss);
          yield* srcu_read_unlock(s.ss, idx + 1);
        },
      },
    ],
  });
  assert.match(r.counterexample?.message ?? '', /without a matching srcu_read_lock/);
});

test('srcu_dereference outside a read section is a model assertion', () => {
  const r = explore({
    setup: (sim) => ({ ss: new SrcuStruct(sim, 'ss'), p: new Shared(sim, 'p', 1) }),
    tasks: (s) => [
      {
        name: 't',
        *body() {
          yield* srcu_dereference(s.p, s.ss);
        },
      },
    ],
  });
  assert.match(r.counterexample?.message ?? '', /outside an ss read section/);
});
