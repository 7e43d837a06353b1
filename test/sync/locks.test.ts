/**
 * Locks: mutual exclusion of mutex and spinlock proved by DFS over every interleaving of two or
 * three tasks; rw_semaphore admits readers together and writers alone; the negative semantics
 * (unlock of an unheld mutex, recursive locking, sleeping under a spinlock, lockdep_assert_held
 * without the lock) are reported as the model assertion or deadlock they are.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  Mutex,
  RwSemaphore,
  Spinlock,
  down_read,
  down_read_trylock,
  down_write,
  lockdep_assert_held,
  mutex_lock,
  mutex_trylock,
  mutex_unlock,
  spin_lock,
  spin_unlock,
  up_read,
  up_write,
} from '../../src/sync/index.ts';
import { op } from '../../src/sim/index.ts';
import { explore } from '../helpers/scenario.ts';

test('mutex: at most one task in the critical section, in every interleaving', () => {
  const r = explore({
    setup: (sim) => ({ m: new Mutex(sim, 'm'), inside: 0, maxInside: 0 }),
    tasks: (s) =>
      ['a', 'b', 'c'].map((name) => ({
        name,
        *body() {
          yield* mutex_lock(s.m);
          lockdep_assert_held(s.m);
          s.inside++;
          s.maxInside = Math.max(s.maxInside, s.inside);
          yield op('critical');
          s.inside--;
          yield* mutex_unlock(s.m);
        },
      })),
    properties: [{ name: 'exclusive', check: (s) => s.maxInside === 1 || `${s.maxInside} inside` }],
  });
  assert.equal(r.verdict, 'holds');
  assert.deepEqual(r.coverage, { kind: 'exhaustive', bound: null });
  assert.ok(r.executions > 10);
});

test('mutex_unlock of a mutex the task does not hold is a model assertion', () => {
  const r = explore({
    setup: (sim) => ({ m: new Mutex(sim, 'm') }),
    tasks: (s) => [
      {
        name: 't',
        *body() {
          yield* mutex_unlock(s.m);
        },
      },
    ],
  });
  assert.equal(r.verdict, 'violated');
  assert.equal(r.counterexample?.property, 'no-model-assertion');
  assert.match(r.counterexample.message, /mutex_unlock\(m\) by a task that does not hold it/);
});

test('locking a mutex twice deadlocks, and the report says so', () => {
  const r = explore({
    setup: (sim) => ({ m: new Mutex(sim, 'm') }),
    tasks: (s) => [
      {
        name: 't',
        *body() {
          yield* mutex_lock(s.m);
          yield* mutex_lock(s.m);
        },
      },
    ],
  });
  assert.equal(r.counterexample?.property, 'no-deadlock');
  assert.match(r.counterexample.message, /t waits for mutex m, which it already holds/);
});

test('ABBA lock order is found as a deadlock naming both waits', () => {
  const r = explore({
    setup: (sim) => ({ a: new Mutex(sim, 'A'), b: new Mutex(sim, 'B') }),
    tasks: (s) => [
      {
        name: 't1',
        *body() {
          yield* mutex_lock(s.a);
          yield* mutex_lock(s.b);
          yield* mutex_unlock(s.b);
          yield* mutex_unlock(s.a);
        },
      },
      {
        name: 't2',
        *body() {
          yield* mutex_lock(s.b);
          yield* mutex_lock(s.a);
          yield* mutex_unlock(s.a);
          yield* mutex_unlock(s.b);
        },
      },
    ],
  });
  assert.equal(r.counterexample?.property, 'no-deadlock');
  assert.match(r.counterexample.message, /t1 waits for mutex B held by t2/);
  assert.match(r.counterexample.message, /t2 waits for mutex A held by t1/);
});

test('mutex_trylock fails exactly while another task holds the lock', () => {
  interface TryState {
    m: Mutex;
    holding: boolean;
    bad: boolean;
    failed: boolean;
  }
  const spec = (property: { name: string; check: (s: TryState) => true | string }) =>
    explore<TryState>({
      setup: (sim): TryState => ({
        m: new Mutex(sim, 'm'),
        holding: false,
        bad: false,
        failed: false,
      }),
      tasks: (s) => [
        {
          name: 'holder',
          *body() {
            yield* mutex_lock(s.m);
            s.holding = true;
            yield op('hold');
            yield* mutex_unlock(s.m);
            s.holding = false;
          },
        },
        {
          name: 'try',
          *body() {
            const ok = yield* mutex_trylock(s.m);
            if (ok === s.holding) s.bad = true;
            if (!ok) s.failed = true;
            if (ok) yield* mutex_unlock(s.m);
          },
        },
      ],
      properties: [property],
    });
  // Success exactly when the holder is outside: proved over every interleaving.
  assert.equal(
    spec({ name: 'consistent', check: (s) => !s.bad || 'wrong result' }).verdict,
    'holds',
  );
  // And failure is reachable.
  assert.equal(
    spec({ name: 'never-fails', check: (s) => !s.failed || 'failed' }).verdict,
    'violated',
  );
});

test('lockdep_assert_held without the lock is a model assertion', () => {
  const r = explore({
    setup: (sim) => ({ m: new Mutex(sim, 'm') }),
    tasks: (s) => [
      {
        name: 't',
        *body() {
          yield op('x');
          lockdep_assert_held(s.m);
        },
      },
    ],
  });
  assert.match(r.counterexample?.message ?? '', /lockdep_assert_held\(m\) failed/);
});

test('sleeping (mutex_lock) while holding a spinlock is a model assertion', () => {
  const r = explore({
    setup: (sim) => ({ s: new Spinlock(sim, 's'), m: new Mutex(sim, 'm') }),
    tasks: (st) => [
      {
        name: 't',
        *body() {
          yield* spin_lock(st.s);
          yield* mutex_lock(st.m);
        },
      },
    ],
  });
  assert.match(r.counterexample?.message ?? '', /sleeping function called from invalid context/);
});

test('spinlock: mutual exclusion in every interleaving', () => {
  const r = explore({
    setup: (sim) => ({ s: new Spinlock(sim, 's'), inside: 0, max: 0 }),
    tasks: (st) =>
      ['a', 'b'].map((name) => ({
        name,
        *body() {
          yield* spin_lock(st.s);
          st.max = Math.max(st.max, ++st.inside);
          yield op('critical');
          st.inside--;
          yield* spin_unlock(st.s);
        },
      })),
    properties: [{ name: 'exclusive', check: (s) => s.max === 1 || `${s.max} inside` }],
  });
  assert.equal(r.verdict, 'holds');
});

test('rw_semaphore: readers share, a writer is alone, and two readers can overlap', () => {
  const r = explore({
    setup: (sim) => ({
      rw: new RwSemaphore(sim, 'rw'),
      readers: 0,
      writers: 0,
      bad: false,
      readersOverlapped: false,
    }),
    tasks: (s) => [
      ...['r1', 'r2'].map((name) => ({
        name,
        *body() {
          yield* down_read(s.rw);
          s.readers++;
          if (s.writers > 0) s.bad = true;
          if (s.readers === 2) s.readersOverlapped = true;
          yield op('read');
          s.readers--;
          yield* up_read(s.rw);
        },
      })),
      {
        name: 'w',
        *body() {
          yield* down_write(s.rw);
          s.writers++;
          if (s.readers > 0 || s.writers > 1) s.bad = true;
          yield op('write');
          s.writers--;
          yield* up_write(s.rw);
        },
      },
    ],
    properties: [{ name: 'rw-exclusion', check: (s) => !s.bad || 'writer overlapped' }],
  });
  assert.equal(r.verdict, 'holds');
  // And the overlap of two readers is reachable: a property forbidding it is violated.
  const overlap = explore({
    setup: (sim) => ({ rw: new RwSemaphore(sim, 'rw'), readers: 0, overlapped: false }),
    tasks: (s) =>
      ['r1', 'r2'].map((name) => ({
        name,
        *body() {
          yield* down_read(s.rw);
          if (++s.readers === 2) s.overlapped = true;
          yield op('read');
          s.readers--;
          yield* up_read(s.rw);
        },
      })),
    properties: [{ name: 'no-overlap', check: (s) => !s.overlapped || 'two readers inside' }],
  });
  assert.equal(overlap.verdict, 'violated');
});

test('rw_semaphore: a second read lock while a writer queued deadlocks, as in the kernel', () => {
  for (const strategy of ['dfs', 'dpor'] as const) {
    const r = explore(
      {
        setup: (sim) => ({ rw: new RwSemaphore(sim, 'rw') }),
        tasks: (s) => [
          {
            name: 'reader',
            *body() {
              yield* down_read(s.rw);
              yield* down_read(s.rw);
              yield* up_read(s.rw);
              yield* up_read(s.rw);
            },
          },
          {
            name: 'writer',
            *body() {
              yield* down_write(s.rw);
              yield* up_write(s.rw);
            },
          },
        ],
      },
      { strategy },
    );
    assert.equal(r.verdict, 'violated', strategy);
    assert.equal(r.counterexample?.property, 'no-deadlock');
    assert.match(r.counterexample.message, /rw held for read by reader, a writer waiting/);
  }
});

test('rw_semaphore: trylocks fail while a writer waits, even with the lock only read-held', () => {
  const r = explore({
    setup: (sim) => ({ rw: new RwSemaphore(sim, 'rw'), seen: new Set<string>() }),
    tasks: (s) => [
      {
        name: 'holder',
        *body() {
          yield* down_read(s.rw);
          yield op('hold');
          yield* up_read(s.rw);
        },
      },
      {
        name: 'writer',
        *body() {
          yield* down_write(s.rw);
          yield* up_write(s.rw);
        },
      },
      {
        name: 'try',
        *body() {
          const got = yield* down_read_trylock(s.rw);
          // Still the state the trylock saw (the code after a step runs with no other task).
          const readHeld = s.rw.writer === null && s.rw.readers.size > 0;
          if (!got && readHeld && s.rw.waitingWriters > 0) s.seen.add('failed');
          if (got) yield* up_read(s.rw);
        },
      },
    ],
    properties: [{ name: 'never', check: (s) => !s.seen.has('failed') || 'failed' }],
  });
  // Reachable: the read trylock fails while the lock is only read-held, because a writer waits.
  assert.equal(r.verdict, 'violated');
});

test('up_read without holding the semaphore is a model assertion', () => {
  const r = explore({
    setup: (sim) => ({ rw: new RwSemaphore(sim, 'rw') }),
    tasks: (s) => [
      {
        name: 't',
        *body() {
          yield* up_read(s.rw);
        },
      },
    ],
  });
  assert.match(r.counterexample?.message ?? '', /up_read\(rw\) by a task that does not hold it/);
});
