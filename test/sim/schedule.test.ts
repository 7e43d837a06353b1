/**
 * Replay tokens: encode/decode is a round trip for any header and schedule (property test), and
 * malformed tokens are rejected with an InputError, never another exception.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { InputError, decodeToken, encodeToken, type Token } from '../../src/sim/index.ts';

const paramValue = fc.oneof(fc.integer(), fc.string(), fc.boolean());
const tokenArb: fc.Arbitrary<Token> = fc.record({
  header: fc.record({
    scenario: fc.string({ minLength: 1 }),
    variant: fc.string(),
    params: fc.dictionary(fc.string({ minLength: 1 }), paramValue),
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    stepsMax: fc.integer({ min: 1, max: 1e9 }),
  }),
  schedule: fc
    .uniqueArray(fc.nat({ max: 100_000 }), { maxLength: 40 })
    .chain((idx) =>
      fc.tuple(
        fc.constant([...idx].sort((a, b) => a - b)),
        fc.array(fc.nat({ max: 1000 }), {
          minLength: idx.length,
          maxLength: idx.length,
        }),
      ),
    )
    .map(([idx, vals]) => idx.map((index, i) => ({ index, value: vals[i] ?? 0 }))),
});

test('token round trip: decode(encode(t)) equals t', () => {
  fc.assert(
    fc.property(tokenArb, (t) => {
      const back = decodeToken(encodeToken(t));
      assert.deepEqual(back.schedule, t.schedule);
      assert.equal(back.header.scenario, t.header.scenario);
      assert.equal(back.header.variant, t.header.variant);
      assert.equal(back.header.seed, t.header.seed);
      assert.equal(back.header.stepsMax, t.header.stepsMax);
      assert.deepEqual({ ...back.header.params }, { ...t.header.params });
    }),
    { numRuns: 500 },
  );
});

test('encoding is canonical: parameter order does not change the token', () => {
  const base = { scenario: 's', variant: 'default', seed: 1, stepsMax: 10 };
  const a = encodeToken({ header: { ...base, params: { a: 1, b: 2 } }, schedule: [] });
  const b = encodeToken({ header: { ...base, params: { b: 2, a: 1 } }, schedule: [] });
  assert.equal(a, b);
});

test('malformed tokens are InputErrors', () => {
  const good = encodeToken({
    header: { scenario: 's', variant: 'v', params: {}, seed: 1, stepsMax: 5 },
    schedule: [{ index: 3, value: 1 }],
  });
  for (const bad of ['', 'nope', 'ls1.', 'ls1.!!!', good.slice(0, -3), `${good}AAAA`, 'ls1.AA'])
    assert.throws(() => decodeToken(bad), InputError, bad);
  fc.assert(
    fc.property(fc.string(), (s) => {
      try {
        decodeToken(`ls1.${s}`);
      } catch (e) {
        assert.ok(e instanceof InputError, String(e));
      }
    }),
  );
});

test('a parameter named __proto__ is an ordinary parameter in a token', () => {
  const params = JSON.parse('{"__proto__": "x", "a": 1}') as Record<string, string | number>;
  const t = { header: { scenario: 's', variant: 'v', params, seed: 1, stepsMax: 5 }, schedule: [] };
  const back = decodeToken(encodeToken(t));
  assert.deepEqual(Object.entries(back.header.params), [
    ['__proto__', 'x'],
    ['a', 1],
  ]);
});
