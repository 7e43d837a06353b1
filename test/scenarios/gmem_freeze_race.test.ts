/**
 * The freeze race scenario under DPOR: the RFC v2 default holds every property exhaustively, and
 * each design variant that breaks a guarantee is caught with a counterexample of the property
 * it breaks; the counterexample's token replays to the same violation and the same timeline.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { check, replayToken } from '../../src/explore/check.ts';
import { renderTimeline } from '../../src/report/timeline.ts';
import race from '../../src/scenarios/races/gmem_freeze.ts';

function run(variant: string) {
  return check(race, { scenarioRef: 'gmem-freeze-race', strategy: 'dpor', seed: 1, variant });
}

test('RFC v2 holds every property, exhaustively under DPOR', () => {
  const r = run('default');
  assert.equal(r.verdict, 'holds', r.counterexample?.message);
  assert.deepEqual(r.coverage, { kind: 'exhaustive', bound: null });
  assert.ok(r.executions > 1000);
});

const broken: readonly (readonly [string, RegExp])[] = [
  ['no-sync-on-freeze', /freeze-waits-for-allocations|frozen-page-cache-stable|no-model-assertion/],
  ['no-frozen-check-in-fallocate', /frozen-page-cache-stable|no-model-assertion/],
  ['frozen-check-outside-read-section', /frozen-page-cache-stable|no-model-assertion|freeze-waits/],
  ['freeze-under-invalidate-lock', /frozen-page-cache-stable|no-model-assertion|freeze-waits/],
  ['sync-on-unfreeze', /^unfreeze-never-blocks$/],
  ['per-inode-srcu', /^freeze-waits-for-allocations$/],
];

for (const [variant, property] of broken) {
  test(`${variant} is caught, and its counterexample replays identically`, () => {
    const r = run(variant);
    assert.equal(r.verdict, 'violated');
    const cx = r.counterexample;
    assert.ok(cx);
    assert.match(cx.property, property);
    const again = replayToken(race, cx.token);
    assert.equal(again.violation?.property, cx.property);
    assert.equal(renderTimeline(again.result), renderTimeline(cx.execution));
  });
}
