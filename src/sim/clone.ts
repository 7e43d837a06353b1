/**
 * Deep copies of a model's object graph, for starting many executions from one snapshot.
 *
 * Protocol: build a GraphTemplate from the roots once, naming the objects to substitute (at
 * least the snapshot's Execution), then instantiate it once per copy, passing the substitutes
 * (the new Execution). Shared objects stay shared and cycles stay cycles; prototypes are kept
 * (class instances stay instances); Maps, Sets, arrays, ArrayBuffers and their views are
 * copied, views sharing a buffer still share it. `copyGraph` does one copy in one call.
 *
 * What is shared, not copied: functions (a model that keeps per-execution state reachable only
 * from a closure cannot be snapshotted; see docs/engine.md) and frozen objects (immutable
 * constants such as operation tables). What is refused: WeakMaps, WeakSets, Promises, generators,
 * objects with symbol-keyed, non-enumerable or accessor own properties, and anything else whose
 * contents a copy would not reproduce; the error names the path to them.
 *
 * It knows nothing about what the objects are.
 */
import { ModelAssertion } from './errors.ts';

const GeneratorPrototype = Object.getPrototypeOf(
  Object.getPrototypeOf((function* () {})()) as object,
) as object;

export class CloneError extends ModelAssertion {
  readonly culprit: object | null;
  constructor(message: string, culprit: object | null = null) {
    super(message);
    this.culprit = culprit;
  }
}

/**
 * How an object built by a factory is built again, kept on the object under this symbol (not a
 * WeakMap: every copy registers its rebuilt objects again, and a WeakMap that grows by a few
 * entries per execution made copying alone more than twice as slow, in garbage-collector work).
 * Symbol keys are invisible to Object.keys, so fills, fingerprints and copies never see it.
 */
const RECIPE: unique symbol = Symbol('rebuiltBy');

interface Recipe {
  readonly factory: (...args: never[]) => object;
  readonly args: readonly unknown[];
}

/**
 * Tags `obj`, which `factory(...args)` just built, so that a snapshot copy of it is built by
 * calling `factory` again with copies of `args`: the way to snapshot an object whose functions
 * close over model state (an operation table bound to one instance). Returns `obj`.
 */
export function rebuiltBy<A extends unknown[], T extends object>(
  obj: T,
  factory: (...args: A) => T,
  ...args: A
): T {
  const recipe: Recipe = { factory: factory as unknown as Recipe['factory'], args };
  (obj as { [RECIPE]?: Recipe })[RECIPE] = recipe;
  return obj;
}

type Kind = 'object' | 'map' | 'set' | 'buffer' | 'view' | 'refuse';

const kinds = new Map<object | null, Kind>([
  [Map.prototype, 'map'],
  [Set.prototype, 'set'],
  [ArrayBuffer.prototype, 'buffer'],
  [WeakMap.prototype, 'refuse'],
  [WeakSet.prototype, 'refuse'],
  [Promise.prototype, 'refuse'],
]);

function kindOf(v: object, proto: object | null): Kind {
  let kind = kinds.get(proto);
  if (kind === undefined) {
    kind = ArrayBuffer.isView(v)
      ? 'view'
      : v instanceof Map
        ? 'map'
        : v instanceof Set
          ? 'set'
          : v instanceof WeakMap ||
              v instanceof WeakSet ||
              v instanceof Promise ||
              proto === GeneratorPrototype ||
              (proto !== null && Object.getPrototypeOf(proto) === GeneratorPrototype)
            ? 'refuse'
            : 'object';
    kinds.set(proto, kind);
  }
  return kind;
}

/** The first path (breadth first) from `root` to `target`, for error messages. */
function pathTo(root: unknown, target: object): string {
  const seen = new Set<unknown>();
  const queue: Array<[unknown, string]> = [[root, 'root']];
  for (let i = 0; i < queue.length; i++) {
    const [v, path] = queue[i] as [unknown, string];
    if (v === target) return path;
    if (typeof v !== 'object' || v === null || seen.has(v)) continue;
    seen.add(v);
    if (v instanceof Map) {
      for (const [k, x] of v as Map<unknown, unknown>) {
        queue.push([k, `${path}.<key>`]);
        queue.push([
          x,
          `${path}.get(${typeof k === 'string' || typeof k === 'number' ? k : '<key>'})`,
        ]);
      }
    } else if (v instanceof Set) {
      for (const x of v as Set<unknown>) queue.push([x, `${path}.<element>`]);
    } else if (!ArrayBuffer.isView(v))
      for (const k of Object.keys(v))
        queue.push([(v as Record<string, unknown>)[k], `${path}.${k}`]);
  }
  return 'an unknown path';
}

function describe(v: object): string {
  const proto = Object.getPrototypeOf(v) as object | null;
  if (proto !== null && Object.getPrototypeOf(proto) === GeneratorPrototype) return 'a generator';
  const name = (v.constructor as { name?: string } | undefined)?.name;
  return name ? `a ${name}` : 'an object of unknown kind';
}

const K = {
  Object: 0,
  Array: 1,
  Map: 2,
  Set: 3,
  Buffer: 4,
  View: 5,
  Rebuild: 6,
} as const;
type K = (typeof K)[keyof typeof K];

/** A field plan: m[i] >= 0 is a node, -1 the constant v[i], <= -2 substitution -2 - m[i]. */
type Fill = (
  o: object,
  v: readonly unknown[],
  m: Int32Array,
  N: unknown[],
  S: readonly unknown[],
) => void;

interface TNode {
  kind: K;
  proto: object | null;
  fill: Fill | null;
  v: unknown[];
  m: Int32Array;
  /** Buffer: the bytes; View: the constructor; Rebuild: the factory. */
  data: unknown;
  /** View: buffer node, byteOffset, length. */
  view: [number, number, number] | null;
}

const fills = new Map<object | null, Map<string, Fill>>();

function compileFill(proto: object | null, keys: readonly string[]): Fill {
  let byKeys = fills.get(proto);
  if (byKeys === undefined) fills.set(proto, (byKeys = new Map<string, Fill>()));
  const id = keys.join(',');
  let fill = byKeys.get(id);
  if (fill !== undefined) return fill;
  const slot = (i: number): string => `(j = m[${i}]) >= 0 ? N[j] : j === -1 ? v[${i}] : S[-2 - j]`;
  if (keys.every((k) => /^[A-Za-z_$][\w$]*$/.test(k)))
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    fill = new Function(
      'o',
      'v',
      'm',
      'N',
      'S',
      `let j;\n${keys.map((k, i) => `o.${k} = ${slot(i)};`).join('\n')}`,
    ) as Fill;
  else
    fill = (o, v, m, N, S) => {
      for (let i = 0; i < keys.length; i++) {
        const j = m[i] as number;
        (o as Record<string, unknown>)[keys[i] as string] =
          j >= 0 ? N[j] : j === -1 ? v[i] : S[-2 - j];
      }
    };
  byKeys.set(id, fill);
  return fill;
}

function resolve(
  v: readonly unknown[],
  m: Int32Array,
  i: number,
  N: unknown[],
  S: readonly unknown[],
): unknown {
  const j = m[i] as number;
  return j >= 0 ? N[j] : j === -1 ? v[i] : S[-2 - j];
}

/**
 * A picture of an object graph taken once and instantiated many times, with the semantics of
 * GraphCloner (the same sharing, substitution, rebuilding and refusals). Building it walks the
 * graph; instantiating it creates the copies from precomputed field plans without looking
 * anything up, which is what makes starting every execution from a snapshot cheap. The graph
 * must not change after the template is built. Factories of rebuilt objects run after every copy
 * exists and before any is filled, so they may keep their arguments but not read them.
 */
export class GraphTemplate {
  private readonly nodes: TNode[] = [];
  private readonly rebuildOrder: number[] = [];
  private readonly rootPlan: { v: unknown[]; m: Int32Array };

  /** `substituted[i]` is replaced by `substitutes[i]` of each instantiation. */
  constructor(roots: readonly unknown[], substituted: readonly object[]) {
    const index = new Map<object, number>();
    substituted.forEach((o, i) => index.set(o, -2 - i));
    const building = new Set<number>();
    const nodes = this.nodes;
    const plan = (values: readonly unknown[]): { v: unknown[]; m: Int32Array } => {
      const m = new Int32Array(values.length);
      const v = new Array<unknown>(values.length);
      for (let i = 0; i < values.length; i++) {
        const code = slotOf(values[i]);
        m[i] = code;
        if (code === -1) v[i] = values[i];
      }
      return { v, m };
    };
    const slotOf = (x: unknown): number => {
      if (typeof x !== 'object' || x === null) return -1;
      const known = index.get(x);
      if (known !== undefined) {
        if (building.has(known))
          throw new CloneError(
            'cannot snapshot a rebuilt object reached from its own arguments',
            x,
          );
        return known;
      }
      if (Object.isFrozen(x)) return -1;
      const id = nodes.length;
      const node: TNode = {
        kind: K.Object,
        proto: null,
        fill: null,
        v: [],
        m: new Int32Array(0),
        data: null,
        view: null,
      };
      nodes.push(node);
      index.set(x, id);
      const recipe = Object.hasOwn(x, RECIPE) ? (x as { [RECIPE]?: Recipe })[RECIPE] : undefined;
      if (recipe !== undefined) {
        node.kind = K.Rebuild;
        node.data = recipe.factory;
        building.add(id);
        Object.assign(node, plan(recipe.args));
        building.delete(id);
        this.rebuildOrder.push(id);
        return id;
      }
      if (Array.isArray(x)) {
        node.kind = K.Array;
        Object.assign(node, plan(x));
        return id;
      }
      const proto = Object.getPrototypeOf(x) as object | null;
      switch (kindOf(x, proto)) {
        case 'object': {
          const keys = Object.keys(x);
          const hidden =
            Object.getOwnPropertySymbols(x).length > 0 ||
            Object.getOwnPropertyNames(x).length !== keys.length ||
            keys.some((k) => Object.getOwnPropertyDescriptor(x, k)?.get !== undefined);
          if (hidden)
            throw new CloneError(
              `cannot snapshot ${describe(x)} with symbol, hidden or accessor own properties`,
              x,
            );
          node.proto = proto;
          node.fill = compileFill(proto, keys);
          Object.assign(node, plan(keys.map((k) => (x as Record<string, unknown>)[k])));
          return id;
        }
        case 'map': {
          node.kind = K.Map;
          const flat: unknown[] = [];
          for (const [k, y] of x as Map<unknown, unknown>) flat.push(k, y);
          Object.assign(node, plan(flat));
          return id;
        }
        case 'set':
          node.kind = K.Set;
          Object.assign(node, plan([...(x as Set<unknown>)]));
          return id;
        case 'buffer':
          node.kind = K.Buffer;
          node.data = (x as ArrayBuffer).slice(0);
          return id;
        case 'view': {
          const view = x as ArrayBufferView;
          node.kind = K.View;
          node.data = view.constructor;
          const length = view instanceof DataView ? view.byteLength : (view as Uint8Array).length;
          node.view = [slotOf(view.buffer), view.byteOffset, length];
          return id;
        }
        case 'refuse':
          throw new CloneError(`cannot snapshot ${describe(x)}`, x);
      }
    };
    try {
      this.rootPlan = plan(roots);
    } catch (e) {
      if (e instanceof CloneError && e.culprit !== null)
        throw new CloneError(
          `${e.message} at ${pathTo(roots, e.culprit).replace(/^root\.(\d+)/, 'root[$1]')}`,
        );
      throw e;
    }
  }

  /** A fresh copy of the roots, with `substitutes` in place of the substituted objects. */
  instantiate(substitutes: readonly unknown[]): unknown[] {
    const nodes = this.nodes;
    const n = nodes.length;
    const N = new Array<unknown>(n);
    const S = substitutes;
    for (let i = 0; i < n; i++) {
      const node = nodes[i] as TNode;
      switch (node.kind) {
        case K.Object:
          N[i] = Object.create(node.proto);
          break;
        case K.Array:
          N[i] = new Array(node.m.length);
          break;
        case K.Map:
          N[i] = new Map();
          break;
        case K.Set:
          N[i] = new Set();
          break;
        case K.Buffer:
          N[i] = (node.data as ArrayBuffer).slice(0);
          break;
        default:
          break;
      }
    }
    for (let i = 0; i < n; i++) {
      const node = nodes[i] as TNode;
      if (node.kind !== K.View) continue;
      const [buf, offset, length] = node.view as [number, number, number];
      const Ctor = node.data as new (b: unknown, o: number, l: number) => object;
      N[i] = new Ctor(N[buf], offset, length);
    }
    for (const i of this.rebuildOrder) {
      const node = nodes[i] as TNode;
      const args = new Array<unknown>(node.m.length);
      for (let a = 0; a < args.length; a++) args[a] = resolve(node.v, node.m, a, N, S);
      N[i] = (node.data as (...x: unknown[]) => object)(...args);
    }
    for (let i = 0; i < n; i++) {
      const node = nodes[i] as TNode;
      const { v, m } = node;
      switch (node.kind) {
        case K.Object:
          (node.fill as Fill)(N[i] as object, v, m, N, S);
          break;
        case K.Array: {
          const out = N[i] as unknown[];
          for (let a = 0; a < m.length; a++) out[a] = resolve(v, m, a, N, S);
          break;
        }
        case K.Map: {
          const out = N[i] as Map<unknown, unknown>;
          for (let a = 0; a < m.length; a += 2)
            out.set(resolve(v, m, a, N, S), resolve(v, m, a + 1, N, S));
          break;
        }
        case K.Set: {
          const out = N[i] as Set<unknown>;
          for (let a = 0; a < m.length; a++) out.add(resolve(v, m, a, N, S));
          break;
        }
        default:
          break;
      }
    }
    const roots = this.rootPlan;
    const out = new Array<unknown>(roots.m.length);
    for (let a = 0; a < out.length; a++) out[a] = resolve(roots.v, roots.m, a, N, S);
    return out;
  }
}

/** One copy of `root`, with each substitution's first object replaced by its second. */
export function copyGraph<T>(
  root: T,
  substitutions: ReadonlyArray<readonly [object, unknown]> = [],
): T {
  const template = new GraphTemplate(
    [root],
    substitutions.map(([from]) => from),
  );
  return template.instantiate(substitutions.map(([, to]) => to))[0] as T;
}

/**
 * A canonical text of everything reachable from `roots`: shapes, values and sharing (functions
 * by name). Two graphs have the same fingerprint when one is a faithful copy of the other, and a
 * graph's fingerprint changes when anything reachable in it is modified; used to check that a
 * snapshot stays as it was taken.
 */
export function graphFingerprint(roots: readonly unknown[]): string {
  const ids = new Map<object, number>();
  const out: string[] = [];
  const visit = (v: unknown): string => {
    if (v === undefined) return 'undefined';
    if (typeof v === 'bigint') return `${v}n`;
    if (typeof v === 'function') return `fn ${v.name}`;
    if (typeof v !== 'object' || v === null) return JSON.stringify(v);
    const seen = ids.get(v);
    if (seen !== undefined) return `#${seen}`;
    const id = ids.size;
    ids.set(v, id);
    let body: string;
    if (v instanceof ArrayBuffer) body = hex(new Uint8Array(v));
    else if (ArrayBuffer.isView(v)) body = `${visit(v.buffer)}@${v.byteOffset}+${v.byteLength}`;
    else if (v instanceof Map) body = [...v].map(([k, x]) => `${visit(k)}=>${visit(x)}`).join(',');
    else if (v instanceof Set) body = [...v].map(visit).join(',');
    else
      body = Object.keys(v)
        .map((k) => `${k}:${visit((v as Record<string, unknown>)[k])}`)
        .join(',');
    const proto = Object.getPrototypeOf(v) as { constructor?: { name?: string } } | null;
    out.push(`#${id} ${proto?.constructor?.name ?? 'null'}{${body}}`);
    return `#${id}`;
  };
  roots.forEach(visit);
  return out.join('\n');
}

function hex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}
