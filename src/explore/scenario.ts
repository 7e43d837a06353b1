/**
 * Scenarios: what the explorer runs. A scenario builds its state on a fresh execution, names the
 * tasks that run concurrently, and states the properties that must hold at the end of every
 * execution (and, optionally, invariants that must hold after every step).
 *
 * A scenario file is a TypeScript module whose default export is the value returned by
 * `defineScenario`. Parameters have defaults and can be overridden from the command line;
 * variants are named switches (design alternatives, seeded bugs) the setup reads.
 */
import { InputError, type ParamValue, type Sched, type Sim } from '../sim/index.ts';

export interface ParamSpec {
  readonly default: ParamValue;
  readonly description: string;
}

export interface ScenarioArgs {
  readonly params: Readonly<Record<string, ParamValue>>;
  readonly variant: string;
}

export interface ScenarioTask {
  readonly name: string;
  readonly body: () => Sched<unknown>;
}

/** `check` returns true when the property holds, or a message saying how it fails. */
export interface Property<S> {
  readonly name: string;
  readonly description: string;
  readonly check: (state: S) => true | string;
}

export interface ScenarioDefaults {
  /** What a run of the built-in checks expects: a demonstration of a bug expects "violated". */
  readonly expect?: 'holds' | 'violated';
  readonly strategy?: 'random' | 'pct' | 'dfs' | 'dpor';
  readonly preemptions?: number | null;
  readonly executions?: number;
  readonly steps?: number;
}

export interface ScenarioSpec<S> {
  readonly name: string;
  readonly description: string;
  readonly params?: Readonly<Record<string, ParamSpec>>;
  /** Variant name -> what it represents. The variant "default" always exists. */
  readonly variants?: Readonly<Record<string, string>>;
  readonly setup: (sim: Sim, args: ScenarioArgs) => S;
  /**
   * Optional: the deterministic part of the scenario, run as one task ("setup") alone after
   * `setup` and before the tasks are spawned (it may not choose or spawn). The explorer runs it
   * once, snapshots the state, and starts every execution from a copy of the snapshot, so
   * everything reachable from the state (and the execution's per-execution storage) must be
   * copyable: no WeakMaps, no per-execution state captured only by closures.
   */
  readonly prologue?: (state: S, args: ScenarioArgs) => Sched<unknown>;
  readonly tasks: (state: S, args: ScenarioArgs) => readonly ScenarioTask[];
  readonly properties?: readonly Property<S>[];
  readonly invariants?: readonly Property<S>[];
  readonly defaults?: ScenarioDefaults;
  /**
   * A canonical description of a terminal state, used to compare what different strategies
   * reach (DPOR must reach the same set of terminal states as plain DFS).
   */
  readonly observe?: (state: S) => string;
}

export interface Scenario<S = unknown> extends ScenarioSpec<S> {
  readonly kind: 'luosim-scenario';
  readonly params: Readonly<Record<string, ParamSpec>>;
  readonly variants: Readonly<Record<string, string>>;
  readonly properties: readonly Property<S>[];
  readonly invariants: readonly Property<S>[];
}

export function defineScenario<S>(spec: ScenarioSpec<S>): Scenario<S> {
  return {
    ...spec,
    kind: 'luosim-scenario',
    params: spec.params ?? {},
    variants: { default: 'the behaviour as written', ...spec.variants },
    properties: spec.properties ?? [],
    invariants: spec.invariants ?? [],
  };
}

export function isScenario(v: unknown): v is Scenario {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Partial<Scenario>;
  return (
    s.kind === 'luosim-scenario' &&
    typeof s.name === 'string' &&
    typeof s.setup === 'function' &&
    typeof s.tasks === 'function'
  );
}

/** Merges parameter overrides (strings from a command line, or typed values) with defaults. */
export function resolveArgs(
  scenario: Pick<Scenario, 'name' | 'params' | 'variants'>,
  overrides: Readonly<Record<string, ParamValue>> = {},
  variant = 'default',
): ScenarioArgs {
  if (!Object.hasOwn(scenario.variants, variant)) {
    const known = Object.keys(scenario.variants).join(', ');
    throw new InputError(`scenario ${scenario.name} has no variant "${variant}" (known: ${known})`);
  }
  const values = new Map<string, ParamValue>();
  for (const [k, spec] of Object.entries(scenario.params)) values.set(k, spec.default);
  for (const [k, raw] of Object.entries(overrides)) {
    const spec = Object.hasOwn(scenario.params, k) ? scenario.params[k] : undefined;
    if (spec === undefined) {
      const known = Object.keys(scenario.params).join(', ') || 'none';
      throw new InputError(`scenario ${scenario.name} has no parameter "${k}" (known: ${known})`);
    }
    values.set(k, coerce(k, raw, spec.default));
  }
  return { params: Object.fromEntries(values), variant };
}

function coerce(name: string, raw: ParamValue, like: ParamValue): ParamValue {
  if (typeof raw === typeof like) return raw;
  const text = String(raw);
  if (typeof like === 'number') {
    const n = Number(text);
    if (text.trim() === '' || !Number.isFinite(n))
      throw new InputError(`parameter ${name} must be a number, got "${text}"`);
    return n;
  }
  if (typeof like === 'boolean') {
    if (text === 'true' || text === '1') return true;
    if (text === 'false' || text === '0') return false;
    throw new InputError(`parameter ${name} must be true or false, got "${text}"`);
  }
  return text;
}
