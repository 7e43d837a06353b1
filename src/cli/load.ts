/**
 * Finds a scenario by built-in name or file path. Every failure is an InputError with one line
 * saying what was wrong; nothing here prints a stack trace.
 */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { tsImport } from 'tsx/esm/api';
import {
  isScenario,
  scenarioCoreProblem,
  scenarioShapeProblem,
  type Scenario,
  type ScenarioArgs,
  type ScenarioTask,
} from '../explore/scenario.ts';
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
    const hint = /Cannot find (module|package) 'luosim'/.test(why)
      ? ' (a scenario file imports luosim from a project that has it installed, e.g. ' +
        '`npm install /path/to/luosim`, or from inside the luosim checkout)'
      : '';
    throw new InputError(`cannot load scenario file ${ref}: ${why}${hint}`);
  }
  const inner = (mod.default as { default?: unknown } | undefined)?.default;
  const exported = isScenario(mod.default) ? mod.default : inner;
  // Made by defineScenario, but without one of the fields every scenario needs.
  const missing = [mod.default, inner].map(scenarioCoreProblem).find((p) => typeof p === 'string');
  if (!isScenario(exported) && missing !== undefined)
    throw new InputError(`${ref}: not a scenario made by defineScenario: ${missing}`);
  if (!isScenario(exported))
    throw new InputError(
      `${ref} does not export a scenario (expected: export default defineScenario({...}))`,
    );
  const problem = scenarioShapeProblem(exported);
  if (problem !== null)
    throw new InputError(`${ref}: not a scenario made by defineScenario: ${problem}`);
  return blamed(ref, exported);
}

/**
 * The scenario of a file, whose hooks report their own exceptions as bad input naming the file
 * and the hook (exit 2), not as an internal error of luosim. Exceptions inside task bodies and
 * the prologue are the model's: they stay model-runs violations, as in built-in scenarios.
 */
function blamed<S>(ref: string, s: Scenario<S>): Scenario<S> {
  const guard =
    <A extends unknown[], R>(what: string, fn: (...a: A) => R) =>
    (...a: A): R => {
      try {
        return fn(...a);
      } catch (e) {
        if (e instanceof InputError) throw e;
        const why = e instanceof Error ? e.message : String(e);
        throw new InputError(`scenario file ${ref}: ${what} threw: ${why}`);
      }
    };
  const hooks = (list: Scenario<S>['properties'], kind: string): Scenario<S>['properties'] =>
    list.map((p) => ({ ...p, check: guard(`${kind} ${p.name}`, p.check) }));
  const tasks = guard('tasks', (state: S, args: ScenarioArgs) => {
    const list: unknown = s.tasks(state, args);
    if (!Array.isArray(list)) throw new Error('it returned no array of tasks');
    return (list as unknown[]).map((t): ScenarioTask => {
      const task = t as Partial<ScenarioTask> | null;
      const body = task?.body;
      if (typeof task?.name !== 'string' || typeof body !== 'function')
        throw new Error('it returned a task without a name and a body function');
      return {
        name: task.name,
        body: () => {
          const gen = body();
          if (typeof (gen as Partial<Iterator<unknown>> | null)?.next !== 'function')
            throw new InputError(
              `scenario file ${ref}: the body of task ${task.name} is not a generator function`,
            );
          return gen;
        },
      };
    });
  });
  return {
    ...s,
    setup: guard('setup', s.setup),
    tasks,
    properties: hooks(s.properties, 'property'),
    invariants: hooks(s.invariants, 'invariant'),
    ...(s.observe === undefined ? {} : { observe: guard('observe', s.observe) }),
  };
}
