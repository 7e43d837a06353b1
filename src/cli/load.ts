/**
 * Finds a scenario by built-in name or file path. Every failure is an InputError with one line
 * saying what was wrong; nothing here prints a stack trace.
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
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
    mod = (await import(pathToFileURL(path).href)) as { default?: unknown };
  } catch (e) {
    const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new InputError(`cannot load scenario file ${ref}: ${why}`);
  }
  if (!isScenario(mod.default))
    throw new InputError(
      `${ref} does not export a scenario (expected: export default defineScenario({...}))`,
    );
  return mod.default;
}
