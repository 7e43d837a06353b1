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

/** The cases of liveupdate.c, in the order of the C file (see selftests/liveupdate.ts). */
export const LIVEUPDATE_CASE_NAMES = [
  'basic_open_close',
  'exclusive_open',
  'create_duplicate_session',
  'create_distinct_sessions',
  'preserve_memfd',
  'preserve_multiple_memfds',
  'preserve_complex_scenario',
  'preserve_unsupported_fd',
  'prevent_double_preservation',
  'create_session_no_null_termination',
  'create_session_empty_name',
  'get_session_name',
  'get_session_name_max_length',
  'preserve_many_sessions',
  'preserve_many_files',
] as const;

async function liveupdateCase(name: string): Promise<Scenario> {
  const m = await import('./selftests/liveupdate.ts');
  const s = m.LIVEUPDATE_CASES[name];
  if (s === undefined) throw new Error(`liveupdate.ts has no case ${name}`);
  return s as unknown as Scenario;
}

/** The two-stage kexec selftests, one module each under selftests/. */
export const KEXEC_SELFTEST_NAMES = [
  'luo_kexec_simple',
  'luo_multi_session',
  'luo_stress_sessions',
  'luo_stress_files',
  'guest_memfd_preservation',
] as const;

const SELFTESTS: readonly BuiltinScenario[] = [
  ...LIVEUPDATE_CASE_NAMES.map((c) => ({
    name: `liveupdate.${c}`,
    group: 'selftest' as const,
    load: () => liveupdateCase(c),
  })),
  {
    name: 'luo_kexec_simple',
    group: 'selftest',
    load: () => fromModule(import('./selftests/luo_kexec_simple.ts')),
  },
  {
    name: 'luo_multi_session',
    group: 'selftest',
    load: () => fromModule(import('./selftests/luo_multi_session.ts')),
  },
  {
    name: 'luo_stress_sessions',
    group: 'selftest',
    load: () => fromModule(import('./selftests/luo_stress_sessions.ts')),
  },
  {
    name: 'luo_stress_files',
    group: 'selftest',
    load: () => fromModule(import('./selftests/luo_stress_files.ts')),
  },
  {
    name: 'guest_memfd_preservation',
    group: 'selftest',
    load: () => fromModule(import('./selftests/guest_memfd_preservation.ts')),
  },
];

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
  ...SELFTESTS,
];

/** The built-in selftest ports, in registry order. */
export function selftests(): readonly BuiltinScenario[] {
  return BUILTIN_SCENARIOS.filter((s) => s.group === 'selftest');
}

export function findBuiltin(name: string): BuiltinScenario | undefined {
  return BUILTIN_SCENARIOS.find((s) => s.name === name);
}
