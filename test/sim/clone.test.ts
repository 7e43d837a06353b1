/**
 * Snapshot copies of object graphs (GraphCloner): prototypes, cycles and sharing are kept, Maps,
 * Sets and buffers are copied (views of one buffer still share it), frozen objects and plain
 * functions are shared, substitutions apply, objects tagged with rebuiltBy are rebuilt around
 * copies of their arguments, and what cannot be copied is refused with the path to it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CloneError, GraphTemplate, copyGraph, rebuiltBy } from '../../src/sim/index.ts';

class Node {
  value: number;
  next: Node | null = null;
  constructor(value: number) {
    this.value = value;
  }
  bump(): number {
    return ++this.value;
  }
}

test('a copy keeps prototypes, cycles and shared references, and is independent', () => {
  const a = new Node(1);
  const b = new Node(2);
  a.next = b;
  b.next = a;
  const root = { a, b, list: [a, b, a] };
  const c = copyGraph(root);
  assert.ok(c.a instanceof Node);
  assert.notEqual(c.a, a);
  assert.equal(c.a.next, c.b);
  assert.equal(c.b.next, c.a);
  assert.equal(c.list[0], c.a);
  assert.equal(c.list[2], c.a);
  c.a.bump();
  assert.equal(c.a.value, 2);
  assert.equal(a.value, 1, 'the original is untouched');
});

test('Maps, Sets and buffers are copied; views of one buffer still share it', () => {
  const buf = new ArrayBuffer(16);
  const bytes = new Uint8Array(buf, 4, 8);
  const view = new DataView(buf);
  const key = { k: 1 };
  const root = { m: new Map<object, number>([[key, 7]]), s: new Set([key]), bytes, view, key };
  const c = copyGraph(root);
  assert.equal(c.m.get(c.key), 7, 'map keys are the copies');
  assert.ok(c.s.has(c.key));
  assert.notEqual(c.bytes.buffer, buf);
  assert.equal(c.bytes.buffer, c.view.buffer);
  assert.equal(c.bytes.byteOffset, 4);
  assert.equal(c.bytes.length, 8);
  c.view.setUint8(4, 0xaa);
  assert.equal(c.bytes[0], 0xaa);
  assert.equal(bytes[0], 0, 'the original buffer is untouched');
});

test('frozen objects and functions are shared; substitutions replace objects', () => {
  const table = Object.freeze({ op: () => 1 });
  const outer = { name: 'old' };
  const inner = { name: 'new' };
  const fn = (): number => 2;
  const root = { table, outer, fn };
  const c = copyGraph(root, [[outer, inner]]);
  assert.equal(c.table, table);
  assert.equal(c.fn, fn);
  assert.equal(c.outer, inner);
});

test('an object built by a factory is rebuilt around copies of the factory arguments', () => {
  class Counter {
    n = 0;
    ops: { inc: () => number } | null = null;
  }
  const makeOps = (k: Counter): { inc: () => number } =>
    rebuiltBy({ inc: () => ++k.n }, makeOps, k);
  const k = new Counter();
  k.ops = makeOps(k);
  const c = copyGraph(k);
  assert.notEqual(c.ops, k.ops);
  assert.equal(c.ops?.inc(), 1);
  assert.equal(c.n, 1, 'the rebuilt closure works on the copy');
  assert.equal(k.n, 0, 'and not on the original');
  const again = copyGraph(c);
  assert.equal(again.ops?.inc(), 2, 'a copy of a copy is rebuilt too');
  assert.equal(c.n, 1);
});

test('what cannot be copied is refused, with the path to it', () => {
  const gen = (function* () {
    yield 1;
  })();
  assert.throws(
    () => copyGraph({ tasks: [{ gen }] }),
    (e: unknown) =>
      e instanceof CloneError && /a generator at root\[0\]\.tasks\.0\.gen/.test(e.message),
  );
  const hidden = {};
  Object.defineProperty(hidden, 'secret', { value: 1, enumerable: false });
  assert.throws(
    () => copyGraph({ hidden }),
    (e: unknown) =>
      e instanceof CloneError && /hidden or accessor .* at root\[0\]\.hidden/.test(e.message),
  );
  assert.throws(
    () => copyGraph({ cache: new WeakMap() }),
    (e: unknown) => e instanceof CloneError && /WeakMap at root\[0\]\.cache/.test(e.message),
  );
});

test('a template is instantiated many times, each copy independent of the others', () => {
  const shared = { n: 0 };
  const root = { a: shared, b: [shared, 1, 'x', 2n], m: new Map([['k', shared]]) };
  const ctx = { name: 'ctx' };
  const t = new GraphTemplate([root, ctx], [ctx]);
  const subs = [{ name: 'one' }, { name: 'two' }];
  const [c1, x1] = t.instantiate([subs[0]]) as [typeof root, unknown];
  const [c2, x2] = t.instantiate([subs[1]]) as [typeof root, unknown];
  assert.equal(x1, subs[0]);
  assert.equal(x2, subs[1]);
  assert.notEqual(c1.a, c2.a);
  assert.equal(c1.b[0], c1.a);
  assert.equal(c1.m.get('k'), c1.a);
  assert.deepEqual(c1.b.slice(1), [1, 'x', 2n]);
  c1.a.n = 5;
  assert.equal(c2.a.n, 0);
  assert.equal(shared.n, 0);
});
