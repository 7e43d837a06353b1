/**
 * Finds a scenario by built-in name or file path. Every failure is an InputError with one line
 * saying what was wrong; nothing here prints a stack trace.
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { tsImport } from 'tsx/esm/api';
import { isScenario, type Scenario } from '../explore/scenario.ts';
import { findBuiltin } from '../scenarios/registry.ts';
import { InputError } from '../sim/index.ts';

export async function loadScenario(ref: string): Promise<Scenario> {
  const builtin = findBuiltin(ref);
  if (builtin) return builtin.load();
  const path = resolve(ref);
  if (!existsSync(path) || !statSync(path).isFile())
    throw new InputError(`no built-in scenario named "${ref}" and no such file (see: luosim list)`);
  let mod: { default?: unknown };
  try {
    // tsImport loads the file whatever the module type of the directory it sits in (outside an
    // ESM package a .ts file is compiled as CommonJS, with the default export one level down).
    mod = (await tsImport(pathToFileURL(path).href, import.meta.url)) as { default?: unknown };
  } catch (e) {
    // esbuild puts the location and the reason on the line after its summary.
    const lines = (e instanceof Error ? e.message : String(e)).split('\n').filter((l) => l.trim());
    const why = lines.slice(0, lines[0]?.endsWith(':') ? 2 : 1).join(' ');
    throw new InputError(`cannot load scenario file ${ref}: ${why}`);
  }
  const inner = (mod.default as { default?: unknown } | undefined)?.default;
  const exported = isScenario(mod.default) ? mod.default : inner;
  if (!isScenario(exported))
    throw new InputError(
      `${ref} does not export a scenario (expected: export default defineScenario({...}))`,
    );
  return exported;
}
