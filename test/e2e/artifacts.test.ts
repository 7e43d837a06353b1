/**
 * Trace and report files: `--trace` writes Chrome trace-event JSON with one named track per task,
 * one slice per visible operation and the violation as a global instant; `--report` writes one
 * self-contained HTML page naming every task, the violated property, the marked violating step
 * and the replay command, with no external resources. Both are byte-identical across runs.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

function luosim(...args: string[]) {
  return spawnSync(process.execPath, ['bin/luosim.mjs', ...args], { encoding: 'utf8' });
}

interface TraceEvent {
  name: string;
  ph: string;
  tid: number;
  s?: string;
  args?: { name?: string };
}

test('check --trace and --report write the counterexample', () => {
  const dir = mkdtempSync(join(tmpdir(), 'luosim-'));
  const trace = join(dir, 't.json');
  const report = join(dir, 'r.html');
  const r = luosim('check', 'srcu-use-after-free', '--trace', trace, '--report', report);
  assert.equal(r.status, 1, r.stderr);
  const events = (JSON.parse(readFileSync(trace, 'utf8')) as { traceEvents: TraceEvent[] })
    .traceEvents;
  const threads = events.filter((e) => e.name === 'thread_name').map((e) => e.args?.name);
  assert.deepEqual(threads, ['T0 updater', 'T1 reader0']);
  const slices = events.filter((e) => e.ph === 'X');
  assert.ok(slices.some((e) => e.tid === 1 && e.name === 'READ_ONCE(obj) = freed'));
  const violation = events.find((e) => e.ph === 'i' && e.s === 'g');
  assert.match(violation?.name ?? '', /^violation: no-use-after-free/);

  const html = readFileSync(report, 'utf8');
  assert.match(html, /T0 updater/);
  assert.match(html, /T1 reader0/);
  assert.match(html, /no-use-after-free: reader0 read the object after kfree/);
  assert.match(html, /<tr class="violating">/);
  assert.match(html, /npx luosim replay ls1\./);
  assert.doesNotMatch(html, /<(script|link|img)[^>]+(src|href)=/);

  const again = join(dir, 'r2.html');
  luosim('check', 'srcu-use-after-free', '--report', again);
  assert.equal(readFileSync(again, 'utf8'), html);
});

test('replay --report writes the replayed execution', () => {
  const dir = mkdtempSync(join(tmpdir(), 'luosim-'));
  const found = luosim('check', 'lost-update');
  const token = /replay (ls1\.\S+)/.exec(found.stdout)?.[1] ?? '';
  const report = join(dir, 'r.html');
  const r = luosim('replay', token, '--report', report);
  assert.equal(r.status, 1);
  assert.match(readFileSync(report, 'utf8'), /no-lost-update: counter is 1, expected 2/);
});

test('an unwritable path is an input error, exit 2', () => {
  const r = luosim('check', 'lost-update', '--trace', '/nonexistent-dir/t.json');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /cannot write \/nonexistent-dir\/t\.json/);
});
