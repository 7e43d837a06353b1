/**
 * The CLI as a user runs it: the lost update is found (exit 1) with a timeline and a replay
 * command whose output repeats the timeline byte for byte; the fixed examples are proved
 * exhaustively (exit 0); the SRCU pair behaves the same way; bad input exits 2 with one line on
 * stderr and no stack trace; `check` with no argument prints a verdict table; a scenario with a
 * prologue says so, and its counterexample timelines show the prologue.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { defaultExecutions } from '../../src/cli/options.ts';
import race from '../../src/scenarios/races/gmem_freeze.ts';

function luosim(...args: string[]) {
  const r = spawnSync(process.execPath, ['bin/luosim.mjs', ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The block that check and replay both print: from the timeline header to the violation. */
function executionBlock(out: string): string {
  const start = out.indexOf('\nstep ');
  const end = out.indexOf('\n', out.indexOf('\nviolation: ') + 1);
  assert.ok(start >= 0 && end > start, `no timeline in:\n${out}`);
  return out.slice(start, end);
}

function replayToken(out: string): string {
  const m = /replay: npx luosim replay (\S+)/.exec(out);
  assert.ok(m?.[1], `no replay command in:\n${out}`);
  return m[1];
}

for (const [name, property] of [
  ['lost-update', 'no-lost-update'],
  ['srcu-use-after-free', 'no-use-after-free'],
] as const) {
  test(`${name}: found with dfs, and replay prints the same timeline`, () => {
    const found = luosim('check', `examples/${name}.ts`, '--strategy', 'dfs');
    assert.equal(found.code, 1, found.stderr);
    assert.match(found.stdout, new RegExp(`result {5}VIOLATED ${property}`));
    const token = replayToken(found.stdout);
    const replayed = luosim('replay', token);
    assert.equal(replayed.code, 1, replayed.stderr);
    assert.equal(executionBlock(replayed.stdout), executionBlock(found.stdout));
    // Byte-identical across runs as well.
    assert.equal(luosim('replay', token).stdout, replayed.stdout);
    assert.equal(luosim('check', `examples/${name}.ts`, '--strategy', 'dfs').stdout, found.stdout);
  });

  test(`${name}-fixed: proved exhaustively`, () => {
    const r = luosim('check', `examples/${name}-fixed.ts`, '--strategy', 'dfs');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /result {5}HOLDS \(exhaustive\)/);
  });
}

test('a missing scenario file exits 2 with one line and no stack trace', () => {
  const r = luosim('check', 'does-not-exist.ts');
  assert.equal(r.code, 2);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.match(r.stderr, /does-not-exist\.ts/);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
});

test('usage errors exit 2 with one line', () => {
  for (const args of [
    ['check', '--bogus'],
    ['check', 'lost-update', '--strategy', 'nope'],
    ['check', 'lost-update', '--executions', '0'],
    ['check', 'lost-update', '--param', 'oops'],
    ['check', 'lost-update', '--param', 'nope=1'],
    ['replay', 'not-a-token'],
    ['frobnicate'],
    // PCT draws depth - 1 change points per execution: an unbounded depth would hang.
    ['check', 'lost-update', '--strategy', 'pct', '--depth', '9007199254740991'],
    // Parameters: whole numbers within the declared range, strings from the declared choices.
    ['check', 'lost-update', '--param', 'tasks=-1'],
    ['check', 'lost-update', '--param', 'tasks=1.5'],
    ['check', 'lost-update', '--param', 'tasks=0x10'],
    ['check', 'srcu-use-after-free', '--param', 'readers=100000'],
    ['check', 'gmem-aborted-kexec', '--param', 'fix=garbage'],
    // A replay token whose header is JSON null, and one that deviates after the execution ends.
    ['replay', 'ls1.AQRudWxsAA'],
    [
      'replay',
      'ls1.ATh7InMiOiJsb3N0LXVwZGF0ZSIsInYiOiJkZWZhdWx0IiwicCI6e30sInIiOjEsImwiOjEwMDAwfQH0AwE',
    ],
    // Output options that cannot be honoured are refused before anything runs.
    ['check', '--trace', 'all.json'],
    ['check', 'lost-update', '--report', '/nonexistent-dir/r.html'],
    ['check', 'lost-update', '--trace', '.'],
    ['run', 'luo_kexec_simple', '--trace', '/nonexistent-dir/t.json', '--save-image', 'x.img'],
    // --stage and --image mean something to two-stage live-update programs only.
    ['run', 'liveupdate.basic_open_close', '--stage', '1'],
    // Options of one scenario, or of one strategy, where they cannot apply.
    ['check', '--variant', 'no-sync-on-freeze'],
    ['check', '--param', 'tasks=3'],
    ['check', 'lost-update', '--strategy', 'dpor', '--preemptions', '0'],
    ['check', 'lost-update', '--strategy', 'dfs', '--depth', '5'],
    ['variants', 'lost-update', '--strategy', 'random', '--preemptions', '1'],
    // help for an unknown command.
    ['help', 'frobnicate'],
  ]) {
    const r = luosim(...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
});

test('no command is a usage error with the help on stderr', () => {
  const r = luosim();
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stdout, '');
  assert.match(r.stderr, /Usage: luosim/);
});

test('help asked for is not an error', () => {
  for (const args of [
    ['--help'],
    ['help'],
    ['help', 'help'],
    ['help', 'check'],
    ['check', '--help'],
  ]) {
    const r = luosim(...args);
    assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stdout, /Usage: luosim/);
  }
});

test('an output that cannot be written is one line on stderr and exit 74', () => {
  const r = spawnSync('sh', ['-c', `${process.execPath} bin/luosim.mjs list > /dev/full`], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 74, r.stderr);
  assert.equal(r.stderr, 'luosim: cannot write standard output: ENOSPC\n');
});

test('mistakes in a scenario file are input errors naming the file and the hook', () => {
  const dir = mkdtempSync(join(tmpdir(), 'luosim-hooks-'));
  const index = join(process.cwd(), 'src/index.ts');
  const scenario = (name: string, fields: string) => {
    const file = join(dir, `${name}.ts`);
    writeFileSync(
      file,
      `import { defineScenario, Shared, READ_ONCE } from '${index}';\n` +
        `export default defineScenario({ name: '${name}', description: 'd', ${fields} });\n`,
    );
    return file;
  };
  const body = `tasks: (s: { c: Shared<number> }) => [{ name: 'a', *body() { yield* READ_ONCE(s.c); } }]`;
  const setup = `setup: (sim) => ({ c: new Shared(sim, 'c', 0) })`;
  const cases: [string, string, RegExp][] = [
    [
      'throw-setup',
      `setup: () => { throw new Error('boom'); }, tasks: () => []`,
      /setup threw: boom/,
    ],
    ['throw-tasks', `${setup}, tasks: () => { throw new Error('boom'); }`, /tasks threw: boom/],
    ['tasks-not-array', `${setup}, tasks: () => 5 as never`, /tasks threw: it returned no array/],
    [
      'body-not-generator',
      `${setup}, tasks: () => [{ name: 'a', body: () => 5 as never }]`,
      /the body of task a is not a generator function/,
    ],
    [
      'throw-property',
      `${setup}, ${body}, properties: [{ name: 'p', description: 'd', check: () => { throw new Error('boom'); } }]`,
      /property p threw: boom/,
    ],
    [
      'throw-invariant',
      `${setup}, ${body}, invariants: [{ name: 'i', description: 'd', check: () => { throw new Error('boom'); } }]`,
      /invariant i threw: boom/,
    ],
  ];
  for (const [name, fields, message] of cases) {
    const file = scenario(name, fields);
    for (const command of ['check', 'run']) {
      const r = luosim(command, file);
      assert.equal(r.code, 2, `${command} ${name}: ${r.stdout}${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`^luosim: scenario file .*${name}\\.ts: `));
      assert.match(r.stderr, message);
    }
  }
  // A hand-built export that misses what defineScenario fills in.
  const partial = join(dir, 'partial.ts');
  writeFileSync(
    partial,
    "export default { kind: 'luosim-scenario', name: 'p', setup: () => ({}), tasks: () => [] };\n",
  );
  const p = luosim('check', partial);
  assert.equal(p.code, 2);
  assert.match(p.stderr, /not a scenario made by defineScenario: description is not a string/);
  // defineScenario without setup: the message names the field.
  const noSetup = scenario('no-setup', `tasks: () => [] } as never); void ({`);
  const n = luosim('check', noSetup);
  assert.equal(n.code, 2, n.stderr);
  assert.match(
    n.stderr,
    /no-setup\.ts: not a scenario made by defineScenario: setup is not a function/,
  );
  // A file outside any project that has luosim installed cannot import it: the error says so.
  const outside = join(dir, 'outside.ts');
  writeFileSync(
    outside,
    "import { defineScenario } from 'luosim';\nexport default defineScenario;\n",
  );
  const o = luosim('check', outside);
  assert.equal(o.code, 2, o.stderr);
  assert.match(
    o.stderr,
    /Cannot find module 'luosim' \(a scenario file imports luosim from a project/,
  );
});

test('a scenario file that exports no scenario is an input error', () => {
  const r = luosim('check', 'package.json');
  assert.equal(r.code, 2);
  assert.match(r.stderr, /does not export a scenario|cannot load scenario file/);
});

test('check with no argument prints a verdict table of every built-in scenario', () => {
  const r = luosim('check');
  assert.equal(r.code, 0, r.stdout + r.stderr);
  for (const name of ['lost-update', 'lost-update-fixed', 'srcu-use-after-free'])
    assert.match(r.stdout, new RegExp(`^${name} `, 'm'));
  assert.match(r.stdout, /all verdicts as expected/);
});

test('list names the built-in scenarios', () => {
  const r = luosim('list');
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^lost-update +example +violated/m);
  assert.match(r.stdout, /^gmem-freeze-race +race +holds +.* \[6 variants\]$/m);
  assert.match(r.stdout, /^luo-finish-vs-retrieve +race +holds +.* \[1 variant\]$/m);
});

test('list --json gives each scenario its parameters (with bounds) and described variants', () => {
  const r = luosim('list', '--json');
  assert.equal(r.code, 0, r.stderr);
  const rows = JSON.parse(r.stdout) as {
    name: string;
    params: Record<string, { default: unknown; min?: number; max?: number; choices?: string[] }>;
    variants: Record<string, string>;
  }[];
  const lost = rows.find((x) => x.name === 'lost-update');
  assert.deepEqual(lost?.params.tasks, {
    default: 2,
    min: 1,
    max: 16,
    description: 'number of incrementing tasks',
  });
  const aborted = rows.find((x) => x.name === 'gmem-aborted-kexec');
  assert.deepEqual(aborted?.params.fix?.choices, ['preserve-vm', 'close', 'none']);
  const race = rows.find((x) => x.name === 'gmem-freeze-race');
  assert.equal(race?.variants.default, 'the behaviour as written');
  assert.match(race.variants['no-sync-on-freeze'] ?? '', /does not synchronize_srcu/);
});

test('--json prints a machine-readable result', () => {
  const r = luosim('check', 'lost-update', '--json');
  assert.equal(r.code, 1);
  const j = JSON.parse(r.stdout) as { verdict: string; counterexample: { token: string } };
  assert.equal(j.verdict, 'violated');
  assert.match(j.counterexample.token, /^ls1\./);
});

test('a closed output pipe ends the command quietly, without a stack trace', () => {
  const r = spawnSync('sh', ['-c', `${process.execPath} bin/luosim.mjs list | head -c 10`], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0);
  assert.equal(r.stdout.length, 10);
  assert.doesNotMatch(r.stderr, /EPIPE|\n\s+at /);
});

test('a scenario file outside any package loads; a broken one is a one-line input error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'luosim-scn-'));
  const good = join(dir, 'mine.ts');
  const index = join(process.cwd(), 'src/index.ts');
  const example = readFileSync('examples/lost-update.ts', 'utf8').replace(`'luosim'`, `'${index}'`);
  writeFileSync(good, example);
  const r = luosim('check', good);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stdout, /VIOLATED no-lost-update/);
  const bad = join(dir, 'bad.ts');
  writeFileSync(bad, 'export default {{{ ;\n');
  const b = luosim('check', bad);
  assert.equal(b.code, 2);
  assert.equal(b.stderr.trim().split('\n').length, 1);
  assert.match(b.stderr, /cannot load scenario file .*bad\.ts/);
});

test('a preemption bound is stated with the flag that raises it', () => {
  const r = luosim('check', 'lost-update-fixed', '--preemptions', '0');
  assert.equal(r.code, 0);
  assert.match(
    r.stdout,
    /HOLDS \(exhaustive up to preemption bound 0; raise it with --preemptions\)/,
  );
});

test('a scenario with a prologue says it ran once, and its counterexample timeline shows it', () => {
  const held = luosim('check', 'luo-finish-vs-retrieve', '--param', 'vm=false');
  assert.equal(held.code, 0, held.stderr);
  assert.match(held.stdout, /prologue {3}\d+ steps, run once: every execution starts from/);
  const again = luosim('check', 'luo-finish-vs-retrieve', '--param', 'vm=false', '--no-snapshot');
  assert.equal(again.code, 0, again.stderr);
  assert.doesNotMatch(again.stdout, /prologue/);
  const search = (out: string) => /search {5}.*/.exec(out)?.[0];
  assert.equal(search(again.stdout), search(held.stdout), 'the same executions and steps');
  const broken = luosim('check', 'gmem-freeze-race', '--variant', 'no-frozen-check-in-fallocate');
  assert.equal(broken.code, 1, broken.stderr);
  const timeline = executionBlock(broken.stdout);
  assert.match(timeline, /T0 setup/, 'the setup task has a track');
  assert.match(timeline, /open\("\/dev\/kvm"\) = 0/, 'its steps are on the timeline');
  const replayed = luosim('replay', replayToken(broken.stdout));
  assert.equal(executionBlock(replayed.stdout), timeline);
});

test('a run stopped by the step limit is inconclusive (exit 3), as in check', () => {
  const r = luosim('run', 'luo_kexec_simple', '--steps', '50');
  assert.equal(r.code, 3, r.stderr);
  assert.match(
    r.stdout,
    /result +INCONCLUSIVE stopped at the step limit \(50 steps; raise it with --steps\)/,
  );
});

test('check with no scenario: a limit that stops searches is inconclusive (exit 3)', () => {
  const r = luosim('check', '--executions', '5');
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stdout, /\d+ scenarios, \d+ stopped by a limit\n$/);
  assert.match(r.stdout, /^srcu-use-after-free-fixed +holds +limit .* inconclusive$/m);
  assert.doesNotMatch(r.stdout, /unexpected verdict|UNEXPECTED/);
});

test('selftest takes the C file name of a selftest as well', () => {
  const r = luosim('selftest', 'luo_kexec_simple.c');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^PASS +luo_kexec_simple /m);
  assert.match(r.stdout, /\n1 passed, 0 failed/);
});

test('one execution and one step are counted in the singular', () => {
  const r = luosim('check', 'luo_kexec_simple');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^search +1 execution, \d+ steps$/m);
  const sampled = luosim('check', 'examples/lost-update-fixed.ts', '--strategy', 'random');
  assert.match(sampled.stdout, /HOLDS \(sampled: 1000 random executions, not exhaustive\)/);
});

test("a scenario's execution budget is for its own strategy; another gets the generic one", () => {
  // gmem-freeze-race gives DPOR 150,000 executions; a random search of it samples 1000.
  const r = luosim('check', 'gmem-freeze-race', '--strategy', 'random', '--json');
  assert.equal(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as { verdict: string; executions: number; limit: unknown };
  assert.equal(j.verdict, 'holds');
  assert.equal(j.executions, 1000);
  assert.equal(defaultExecutions(race, 'dpor'), 150_000);
  assert.equal(defaultExecutions(race, 'pct'), 1000);
  assert.equal(defaultExecutions(race, 'dfs'), 100_000);
});

test('a variant other than the default is printed with what it represents, by check and replay', () => {
  const r = luosim('check', 'luo-close-vs-reboot', '--variant', 'mutant-unpreserve-keeps-folios');
  assert.equal(r.code, 1, r.stderr);
  const line =
    /^variant {4}mutant-unpreserve-keeps-folios: seeded bug: guest_memfd_luo unpreserve/m;
  assert.match(r.stdout, line);
  const replayed = luosim('replay', replayToken(r.stdout));
  assert.match(replayed.stdout, line);
  assert.match(luosim('check', 'lost-update').stdout, /^variant {4}default$/m);
});
