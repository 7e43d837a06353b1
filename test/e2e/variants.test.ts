/**
 * `luosim variants`: every variant of a scenario against every property. On the SRCU fixture,
 * the default holds everything exhaustively, the no-synchronize variant violates the
 * use-after-free property and the sync-in-reader variant deadlocks; each violation comes with
 * the length of its shrunk counterexample and a replay command that reproduces it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';

function luosim(...args: string[]) {
  return spawnSync(process.execPath, ['bin/luosim.mjs', ...args], { encoding: 'utf8' });
}

const FIXTURE = 'test/fixtures/scenarios/srcu-variants.ts';

test('variants prints variant x property with counterexample lengths', () => {
  const r = luosim('variants', FIXTURE);
  assert.equal(r.status, 0, r.stderr);
  const row = (name: string) => r.stdout.split('\n').find((l) => l.startsWith(`${name} `)) ?? '';
  assert.match(row('default'), /^default +holds +holds +holds +\d+ +exhaustive$/);
  assert.match(row('no-synchronize'), /^no-synchronize +violated \(\d+ steps\) +holds +holds/);
  assert.match(row('sync-in-reader'), /^sync-in-reader +holds +violated \(\d+ steps\) +holds/);
});

test('each counterexample of the table replays to its violation', () => {
  const r = luosim('variants', FIXTURE, '--json');
  const rows = JSON.parse(r.stdout) as {
    variant: string;
    cells: { property: string; verdict: string; token: string | null; steps: number | null }[];
  }[];
  let replayed = 0;
  for (const row of rows)
    for (const c of row.cells) {
      if (c.token === null) continue;
      const out = luosim('replay', c.token);
      assert.equal(out.status, 1);
      assert.match(out.stdout, new RegExp(`violation: ${c.property}:`));
      replayed++;
    }
  assert.equal(replayed, 2);
});

test('a sampled table says "not found", not "holds", where it saw no violation', () => {
  const r = luosim('variants', FIXTURE, '--strategy', 'random');
  assert.equal(r.status, 0, r.stderr);
  const row = (name: string) => r.stdout.split('\n').find((l) => l.startsWith(`${name} `)) ?? '';
  assert.match(row('default'), /^default +not found +not found +not found +1000 +sampled$/);
  assert.match(row('no-synchronize'), /^no-synchronize +violated \(\d+ steps\) +not found/);
  assert.doesNotMatch(r.stdout, /\bholds\b/);
});
