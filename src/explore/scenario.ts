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

/**
 * A scenario parameter. Its type is its default's: a number parameter takes whole numbers only
 * (within `min`..`max` when given: an unbounded count can make one execution run forever), a
 * string parameter takes one of its `choices` when given.
 */
export interface ParamSpec {
  readonly default: ParamValue;
  readonly description: string;
  readonly min?: number;
  readonly max?: number;
  readonly choices?: readonly string[];
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

/**
 * Which field that every scenario needs is missing from a value made by defineScenario (its
 * `kind` says so), or null; undefined when the value was not made by defineScenario at all.
 */
export function scenarioCoreProblem(v: unknown): string | null | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const s = v as Partial<Scenario>;
  if (s.kind !== 'luosim-scenario') return undefined;
  if (typeof s.name !== 'string') return 'name is not a string';
  if (typeof s.setup !== 'function') return 'setup is not a function';
  if (typeof s.tasks !== 'function') return 'tasks is not a function';
  return null;
}

export function isScenario(v: unknown): v is Scenario {
  return scenarioCoreProblem(v) === null;
}

/**
 * What is wrong with the shape of a value that claims to be a scenario (a hand-built default
 * export, say), or null: the fields `defineScenario` fills in must be there, with their types.
 */
export function scenarioShapeProblem<S>(v: Scenario<S>): string | null {
  const isRecord = (x: unknown): x is Record<string, unknown> =>
    typeof x === 'object' && x !== null && !Array.isArray(x);
  if (typeof v.description !== 'string') return 'description is not a string';
  if (!isRecord(v.params)) return 'params is not an object';
  for (const [k, p] of Object.entries(v.params)) {
    const d: unknown = isRecord(p) ? p.default : undefined;
    if (typeof d !== 'number' && typeof d !== 'string' && typeof d !== 'boolean')
      return `parameter ${k} has no default number, string or boolean`;
  }
  if (!isRecord(v.variants) || !Object.values(v.variants).every((x) => typeof x === 'string'))
    return 'variants is not an object of descriptions';
  for (const field of ['properties', 'invariants'] as const) {
    const list: unknown = v[field];
    if (!Array.isArray(list)) return `${field} is not an array`;
    for (const p of list as unknown[])
      if (!isRecord(p) || typeof p.name !== 'string' || typeof p.check !== 'function')
        return `${field} holds an entry without a name and a check function`;
  }
  for (const field of ['prologue', 'observe'] as const)
    if (v[field] !== undefined && typeof v[field] !== 'function')
      return `${field} is not a function`;
  return null;
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
    values.set(k, checked(k, coerce(k, raw, spec.default), spec));
  }
  return { params: Object.fromEntries(values), variant };
}

function coerce(name: string, raw: ParamValue, like: ParamValue): ParamValue {
  if (typeof raw === typeof like) return raw;
  const text = String(raw);
  if (typeof like === 'number') {
    if (!/^-?\d+$/.test(text.trim()))
      throw new InputError(`parameter ${name} must be a whole number, got "${text}"`);
    return Number(text);
  }
  if (typeof like === 'boolean') {
    if (text === 'true' || text === '1') return true;
    if (text === 'false' || text === '0') return false;
    throw new InputError(`parameter ${name} must be true or false, got "${text}"`);
  }
  return text;
}

/** A value of the parameter's type that its spec allows (typed overrides are checked too). */
function checked(name: string, v: ParamValue, spec: ParamSpec): ParamValue {
  if (typeof v === 'number') {
    const { min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER } = spec;
    if (!Number.isSafeInteger(v) || v < min || v > max) {
      const range = spec.min !== undefined || spec.max !== undefined ? ` in ${min}..${max}` : '';
      throw new InputError(`parameter ${name} must be a whole number${range}, got ${v}`);
    }
  }
  if (typeof v === 'string' && spec.choices !== undefined && !spec.choices.includes(v))
    throw new InputError(`parameter ${name} must be one of ${spec.choices.join(', ')}, got "${v}"`);
  return v;
}
