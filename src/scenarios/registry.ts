/**
 * The built-in scenarios: what `luosim list` shows and `luosim check` with no argument runs.
 * Entries load lazily so that starting the CLI does not load every model.
 */
import type { Scenario } from '../explore/scenario.ts';

export interface BuiltinScenario {
  readonly name: string;
  readonly group: 'example' | 'selftest' | 'race' | 'flow';
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

/** The flows of the guest_memfd preservation series, one module each under flows/. */
const FLOWS: readonly BuiltinScenario[] = [
  {
    name: 'guest_memfd_preservation.later_tests',
    group: 'flow',
    load: () => fromModule(import('./flows/later_tests.ts')),
  },
  {
    name: 'flow.gmem_retrieved_before_vm',
    group: 'flow',
    load: () => fromModule(import('./flows/gmem_before_vm.ts')),
  },
  {
    name: 'flow.finish_without_retrieve',
    group: 'flow',
    load: () => fromModule(import('./flows/finish_unretrieved.ts')),
  },
  {
    name: 'flow.vm_not_preserved',
    group: 'flow',
    load: async () => (await import('./flows/vm_not_in_session.ts')).VM_NOT_PRESERVED as Scenario,
  },
  {
    name: 'flow.vm_in_other_session',
    group: 'flow',
    load: async () =>
      (await import('./flows/vm_not_in_session.ts')).VM_IN_OTHER_SESSION as Scenario,
  },
  {
    name: 'flow.vm_fd_closed',
    group: 'flow',
    load: async () => (await import('./flows/vm_not_in_session.ts')).VM_FD_CLOSED as Scenario,
  },
  {
    name: 'flow.failed_retrieve',
    group: 'flow',
    load: () => fromModule(import('./flows/failed_retrieve.ts')),
  },
  {
    name: 'flow.session_closed_before_kexec',
    group: 'flow',
    load: () => fromModule(import('./flows/session_closed.ts')),
  },
];

/** The race scenarios across a kexec (issue 5 item 3), one module each under races/. */
const RACES: readonly BuiltinScenario[] = [
  {
    name: 'gmem-preserve-vs-guest-writes',
    group: 'race',
    load: () => fromModule(import('./races/gmem_guest_writes.ts')),
  },
  {
    name: 'luo-close-vs-reboot',
    group: 'race',
    load: () => fromModule(import('./races/luo_close_reboot.ts')),
  },
  {
    name: 'gmem-concurrent-retrieve',
    group: 'race',
    load: () => fromModule(import('./races/gmem_concurrent_retrieve.ts')),
  },
  {
    name: 'luo-finish-vs-retrieve',
    group: 'race',
    load: () => fromModule(import('./races/luo_finish_retrieve.ts')),
  },
  {
    name: 'gmem-aborted-kexec',
    group: 'race',
    load: () => fromModule(import('./races/gmem_aborted_kexec.ts')),
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
  ...FLOWS,
  {
    name: 'gmem-freeze-race',
    group: 'race',
    load: () => fromModule(import('./races/gmem_freeze.ts')),
  },
  ...RACES,
];

/** The built-in selftest ports, in registry order. */
export function selftests(): readonly BuiltinScenario[] {
  return BUILTIN_SCENARIOS.filter((s) => s.group === 'selftest');
}

/** The built-in race scenarios, in registry order. */
export function races(): readonly BuiltinScenario[] {
  return BUILTIN_SCENARIOS.filter((s) => s.group === 'race');
}

/** The built-in flows, in registry order. */
export function flows(): readonly BuiltinScenario[] {
  return BUILTIN_SCENARIOS.filter((s) => s.group === 'flow');
}

export function findBuiltin(name: string): BuiltinScenario | undefined {
  return BUILTIN_SCENARIOS.find((s) => s.name === name);
}
