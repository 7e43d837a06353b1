/**
 * The freeze race scenario under DPOR: the RFC v2 default holds every property exhaustively, and
 * each design variant that breaks a guarantee is caught with a counterexample of the property
 * it breaks; the counterexample's token replays to the same violation and the same timeline.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DEFAULT_LIMITS,
  SearchExecutions,
  check,
  makeStrategy,
  replayToken,
} from '../../src/explore/check.ts';
import { resolveArgs } from '../../src/explore/scenario.ts';
import { fewestPreemptions } from '../../src/explore/shrink.ts';
import type { ExecutionResult } from '../../src/sim/index.ts';
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

/**
 * Every violation of a search that keeps going after violations ("property: message"), and
 * whether it was exhaustive.
 */
function allViolations(
  variant: string,
  strategyName: 'dpor' | 'random' | 'pct' = 'dpor',
  executionsMax = Infinity,
): { found: string[]; exhaustive: boolean } {
  const args = resolveArgs(race, {}, variant);
  const strategy = makeStrategy({ strategy: strategyName, seed: 1 }, DEFAULT_LIMITS);
  const search = new SearchExecutions(race, args, DEFAULT_LIMITS.stepsMax);
  const found: string[] = [];
  let executions = 0;
  while (executions++ < executionsMax && strategy.next())
    for (const v of search.run(strategy).violations) found.push(`${v.property}: ${v.message}`);
  search.end();
  return { found, exhaustive: strategy.coverage().kind === 'exhaustive' };
}

test('no-sync-on-freeze: pass 2 both overflows the array and counts fewer folios', () => {
  const { found, exhaustive } = allViolations('no-sync-on-freeze');
  assert.ok(exhaustive);
  // An allocation that passed its frozen check before the freeze inserts between the walks...
  assert.ok(found.some((m) => /^no-model-assertion: .*vmalloc-out-of-bounds/.test(m)));
  // ...and a punch hole that passed it removes page 2 between them.
  assert.ok(found.some((m) => /^no-model-assertion: .*folio count changed/.test(m)));
  // After the preserve returned, a late insertion changes the page cache of the frozen inode.
  assert.ok(found.some((m) => /^frozen-page-cache-stable: /.test(m)));
});

// DPOR is exhaustive only if every state an invariant reads is touched inside visible operations
// whose footprints name it: whatever a sampled search finds violated, DPOR must find too.
for (const variant of ['no-sync-on-freeze', 'freeze-under-invalidate-lock']) {
  test(`${variant}: DPOR finds every property that random and PCT sampling find violated`, () => {
    const properties = (found: readonly string[]) =>
      new Set(found.map((m) => m.slice(0, m.indexOf(':'))));
    const dpor = allViolations(variant);
    assert.ok(dpor.exhaustive);
    const byDpor = properties(dpor.found);
    assert.ok(byDpor.has('frozen-page-cache-stable'), [...byDpor].join(', '));
    for (const strategy of ['random', 'pct'] as const)
      for (const p of properties(allViolations(variant, strategy, 1000).found))
        assert.ok(byDpor.has(p), `${strategy} finds ${p} violated, DPOR does not`);
  });
}

// A random execution that breaks the frozen page cache has dozens of preemptions, and bounded
// DFS cannot search two preemptions exhaustively here; shrinking falls back to DPOR, whose first
// violating execution has three.
test('a sampled counterexample is shrunk to the preemptions DPOR needs', () => {
  const args = resolveArgs(race, {}, 'no-sync-on-freeze');
  const strategy = makeStrategy({ strategy: 'random', seed: 1 }, DEFAULT_LIMITS);
  const search = new SearchExecutions(race, args, DEFAULT_LIMITS.stepsMax);
  let sampled: ExecutionResult | null = null;
  for (let n = 0; n < 1000 && sampled === null && strategy.next(); n++) {
    const judged = search.run(strategy);
    if (judged.violations.some((v) => v.property === 'frozen-page-cache-stable'))
      sampled = judged.result;
  }
  assert.ok(sampled !== null && sampled.preemptions > 10, 'random finds a many-preemption run');
  const limits = { stepsMax: DEFAULT_LIMITS.stepsMax };
  const fewest = fewestPreemptions(race, args, 'frozen-page-cache-stable', sampled, limits);
  assert.ok(fewest.preemptions <= 3, `${fewest.preemptions} preemptions`);
  const again = replayToken(
    race,
    check(race, {
      scenarioRef: 'gmem-freeze-race',
      strategy: 'random',
      seed: 1,
      variant: 'no-sync-on-freeze',
    }).counterexample?.token ?? '',
  );
  assert.ok(again.result.preemptions <= 3, `check's counterexample: ${again.result.preemptions}`);
});
