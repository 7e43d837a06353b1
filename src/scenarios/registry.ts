/**
 * The built-in scenarios: what `luosim list` shows and `luosim check` with no argument runs.
 * Entries load lazily so that starting the CLI does not load every model.
 */
import type { Scenario } from '../explore/scenario.ts';

export interface BuiltinScenario {
  readonly name: string;
  readonly group: 'example' | 'selftest' | 'race';
  readonly load: () => Promise<Scenario>;
}

async function fromModule(m: Promise<{ default: unknown }>): Promise<Scenario> {
  return (await m).default as Scenario;
}

export const BUILTIN_SCENARIOS: readonly BuiltinScenario[] = [
  {
    name: 'lost-update',
    group: 'example',
    load: () => fromModule(import('../../examples/lost-update.ts')),
  },
  {
    name: 'lost-update-fixed',
    group: 'example',
    load: () => fromModule(import('../../examples/lost-update-fixed.ts')),
  },
  {
    name: 'srcu-use-after-free',
    group: 'example',
    load: () => fromModule(import('../../examples/srcu-use-after-free.ts')),
  },
  {
    name: 'srcu-use-after-free-fixed',
    group: 'example',
    load: () => fromModule(import('../../examples/srcu-use-after-free-fixed.ts')),
  },
];

export function findBuiltin(name: string): BuiltinScenario | undefined {
  return BUILTIN_SCENARIOS.find((s) => s.name === name);
}
