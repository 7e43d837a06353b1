/**
 * The layer rules of docs/architecture (shared design §2): sim/ imports nothing from the project
 * and has no kernel vocabulary; sync/ imports only sim/; explore/ only sim/; linux/ never imports
 * explore/, checkers/, scenarios/ or cli/; scenarios/ reach the kernel only through user/.
 * Read from the import statements of every source file.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { test } from 'node:test';

const SRC = 'src';

function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(dir, f));
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/g))
    if (m[1]) out.push(m[1]);
  for (const m of text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)) if (m[1]) out.push(m[1]);
  return out;
}

/** The top-level folder under src/ that a relative import lands in. */
function layerOf(file: string, spec: string): string | null {
  if (!spec.startsWith('.')) return null;
  const target = relative(SRC, normalize(join(dirname(file), spec)));
  if (target.startsWith('..')) return `outside:${target}`;
  return target.split('/')[0] ?? null;
}

const ALLOWED: Record<string, readonly string[]> = {
  sim: ['sim'],
  sync: ['sim', 'sync'],
  machine: ['sim', 'machine'],
  explore: ['sim', 'explore'],
  linux: ['sim', 'sync', 'machine', 'linux'],
  user: ['sim', 'sync', 'machine', 'linux', 'user'],
  checkers: ['sim', 'sync', 'machine', 'linux', 'user', 'checkers', 'explore'],
  report: ['sim', 'explore', 'report'],
};

test('every layer imports only the layers below it', () => {
  const problems: string[] = [];
  for (const file of files(SRC)) {
    const layer = relative(SRC, file).split('/')[0] ?? '';
    const allowed = ALLOWED[layer];
    if (!allowed) continue;
    for (const spec of importsOf(file)) {
      const target = layerOf(file, spec);
      if (target !== null && !allowed.includes(target))
        problems.push(`${file} imports ${spec} (${layer} -> ${target})`);
    }
  }
  assert.deepEqual(problems, []);
});

test('sim/ imports nothing from the project but itself, and only node: or pure-rand outside', () => {
  for (const file of files(join(SRC, 'sim')))
    for (const spec of importsOf(file)) {
      if (spec.startsWith('.')) assert.equal(layerOf(file, spec), 'sim', `${file}: ${spec}`);
      else assert.match(spec, /^(node:|pure-rand\/)/, `${file}: ${spec}`);
    }
});

test('sim/ has no kernel vocabulary', () => {
  const words = /\b(luo|kho|kvm|gmem|memfd|guest_memfd|kexec|srcu|mutex|folio|kernel)\b/i;
  for (const file of files(join(SRC, 'sim'))) {
    const hit = readFileSync(file, 'utf8')
      .split('\n')
      .findIndex((line) => words.test(line));
    assert.equal(hit, -1, `${file}:${hit + 1} uses a kernel word`);
  }
});

test('scenarios/ reach the kernel only through user/ (no linux/ imports)', () => {
  for (const file of files(join(SRC, 'scenarios')))
    for (const spec of importsOf(file))
      assert.notEqual(layerOf(file, spec), 'linux', `${file} imports ${spec}`);
});

test('no nondeterminism outside the CLI', () => {
  const banned = /Math\.random|Date\.now|performance\.now|setTimeout|setInterval/;
  for (const file of files(SRC)) {
    if (file.startsWith(join(SRC, 'cli'))) continue;
    assert.doesNotMatch(readFileSync(file, 'utf8'), banned, file);
  }
});
