/**
 * Completions, refcount_t, atomics and cond_resched: completion orders a waiter after complete()
 * in every interleaving; refcount_t reports increment-from-zero and underflow as assertions and
 * dec_and_test is true exactly once; atomic read-modify-writes never lose updates where plain
 * READ_ONCE/WRITE_ONCE do; cmpxchg succeeds for exactly one contender.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  Atomic,
  Completion,
  Refcount,
  Shared,
  WRITE_ONCE,
  atomic_cmpxchg,
  atomic_inc,
  atomic_read,
  complete,
  cond_resched,
  refcount_dec_and_test,
  refcount_inc,
  reinit_completion,
  wait_for_completion,
} from '../../src/sync/index.ts';
import { explore } from '../helpers/scenario.ts';

test('wait_for_completion returns only after complete()', () => {
  const r = explore({
    setup: (sim) => ({ c: new Completion(sim, 'done'), order: [] as string[] }),
    tasks: (s) => [
      {
        name: 'waiter',
        *body() {
          yield* wait_for_completion(s.c);
          s.order.push('woken');
        },
      },
      {
        name: 'completer',
        *body() {
          yield* cond_resched();
          s.order.push('completing');
          yield* complete(s.c);
        },
      },
    ],
    properties: [
      { name: 'order', check: (s) => s.order.join() === 'completing,woken' || s.order.join() },
    ],
  });
  assert.equal(r.verdict, 'holds');
});

test('a completion never completed is a deadlock naming it', () => {
  const r = explore({
    setup: (sim) => ({ c: new Completion(sim, 'never') }),
    tasks: (s) => [
      {
        name: 'w',
        *body() {
          yield* wait_for_completion(s.c);
        },
      },
    ],
  });
  assert.match(r.counterexample?.message ?? '', /w waits for completion never/);
});

test('refcount_dec_and_test is true for exactly one of the last holders', () => {
  const r = explore({
    setup: (sim) => ({ ref: new Refcount(sim, 'ref', 2), freed: 0 }),
    tasks: (s) =>
      ['a', 'b'].map((name) => ({
        name,
        *body() {
          if (yield* refcount_dec_and_test(s.ref)) s.freed++;
        },
      })),
    properties: [{ name: 'freed-once', check: (s) => s.freed === 1 || `freed ${s.freed} times` }],
  });
  assert.equal(r.verdict, 'holds');
});

test('refcount_inc on zero is a use-after-free assertion', () => {
  const r = explore({
    setup: (sim) => ({ ref: new Refcount(sim, 'ref', 1) }),
    tasks: (s) => [
      {
        name: 't',
        *body() {
          yield* refcount_dec_and_test(s.ref);
          yield* refcount_inc(s.ref);
        },
      },
    ],
  });
  assert.match(r.counterexample?.message ?? '', /addition on 0; use-after-free/);
});

test('atomic_inc never loses an update', () => {
  const r = explore({
    setup: (sim) => ({ a: new Atomic(sim, 'a') }),
    tasks: (s) =>
      ['x', 'y', 'z'].map((name) => ({
        name,
        *body() {
          yield* atomic_inc(s.a);
        },
      })),
    properties: [{ name: 'three', check: (s) => s.a.counter === 3 || `${s.a.counter}` }],
  });
  assert.equal(r.verdict, 'holds');
});

test('atomic_cmpxchg lets exactly one contender win', () => {
  const r = explore({
    setup: (sim) => ({ a: new Atomic(sim, 'owner', 0), wins: 0, seen: 0 }),
    tasks: (s) =>
      [1, 2].map((id) => ({
        name: `t${id}`,
        *body() {
          if ((yield* atomic_cmpxchg(s.a, 0, id)) === 0) s.wins++;
          s.seen = yield* atomic_read(s.a);
        },
      })),
    properties: [
      { name: 'one-winner', check: (s) => (s.wins === 1 && s.seen !== 0) || `${s.wins} wins` },
    ],
  });
  assert.equal(r.verdict, 'holds');
});

test('reinit_completion is a visible write: DPOR finds the complete() it loses', () => {
  for (const strategy of ['dfs', 'dpor'] as const) {
    const r = explore(
      {
        setup: (sim) => ({ c: new Completion(sim, 'c'), x: new Shared(sim, 'x', 0) }),
        tasks: (s) => [
          {
            name: 'rearm-then-wait',
            *body() {
              yield* WRITE_ONCE(s.x, 1);
              yield* reinit_completion(s.c);
              yield* wait_for_completion(s.c);
            },
          },
          {
            name: 'completer',
            *body() {
              yield* complete(s.c);
            },
          },
        ],
      },
      { strategy },
    );
    assert.equal(r.verdict, 'violated', strategy);
    assert.equal(r.counterexample?.property, 'no-deadlock');
  }
});
