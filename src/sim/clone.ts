/**
 * Deep copies of a model's object graph, for starting many executions from one snapshot.
 *
 * Protocol: create a GraphCloner with the substitutions to apply (at least the snapshot's
 * Execution → the new Execution), then clone every root through the same cloner so that shared
 * objects stay shared and cycles stay cycles. Prototypes are kept (class instances stay
 * instances), Maps, Sets, arrays, ArrayBuffers and their views are copied, views sharing a
 * buffer still share it.
 *
 * What is shared, not copied: functions (a model that keeps per-execution state reachable only
 * from a closure cannot be snapshotted; see docs/engine.md) and frozen objects (immutable
 * constants such as operation tables). What is refused: WeakMaps, WeakSets, Promises, generators
 * and other objects whose contents cannot be read; the error names the path to them.
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

/** Objects built by a factory, with how to build them again. */
const recipes = new WeakMap<object, Recipe>();

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
  recipes.set(obj, recipe);
  return obj;
}

type Copier = (src: object, out: object, copy: (x: unknown) => unknown) => void;

interface Shape {
  readonly keys: readonly string[];
  readonly fill: Copier;
}

/**
 * Compiled field copiers, per prototype and key list: copying an object then touches each field
 * through a monomorphic property access instead of a generic keyed one, which is what makes a
 * snapshot copy cheap enough to do once per execution.
 */
const shapes = new Map<object | null, { last: Shape; all: Map<string, Shape> }>();

function shapeOf(proto: object | null, keys: readonly string[]): Shape {
  const known = shapes.get(proto);
  if (known !== undefined && sameKeys(known.last.keys, keys)) return known.last;
  const id = keys.join(',');
  let sh = known?.all.get(id);
  if (sh === undefined) {
    sh = { keys: [...keys], fill: compile(keys) };
    if (known === undefined) shapes.set(proto, { last: sh, all: new Map([[id, sh]]) });
    else known.all.set(id, sh);
  }
  if (known !== undefined) known.last = sh;
  return sh;
}

function compile(keys: readonly string[]): Copier {
  if (!keys.every((k) => /^[A-Za-z_$][\w$]*$/.test(k)))
    return (src, out, copy) => {
      for (const k of keys)
        (out as Record<string, unknown>)[k] = copy((src as Record<string, unknown>)[k]);
    };
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  return new Function('s', 'o', 'c', keys.map((k) => `o.${k} = c(s.${k});`).join('\n')) as Copier;
}

function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
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

export class GraphCloner {
  private readonly memo = new Map<object, unknown>();
  private readonly copyFn = (x: unknown): unknown => this.copy(x);

  constructor(substitutions: Iterable<readonly [object, unknown]> = []) {
    for (const [from, to] of substitutions) this.memo.set(from, to);
  }

  clone<T>(value: T): T {
    try {
      return this.copy(value) as T;
    } catch (e) {
      if (e instanceof CloneError && e.culprit !== null)
        throw new CloneError(`${e.message} at ${pathTo(value, e.culprit)}`);
      throw e;
    }
  }

  private copy(v: unknown): unknown {
    if (typeof v !== 'object' || v === null) return v;
    const hit = this.memo.get(v);
    if (hit !== undefined) return hit;
    if (Array.isArray(v)) {
      if (Object.isFrozen(v)) return v;
      const out: unknown[] = new Array(v.length);
      this.memo.set(v, out);
      for (let i = 0; i < v.length; i++) out[i] = this.copy(v[i]);
      return out;
    }
    if (Object.isFrozen(v)) return v;
    const recipe = recipes.get(v);
    if (recipe !== undefined) {
      const args = recipe.args.map(this.copyFn);
      // Copying the arguments may have reached `v` again (a cycle through them).
      const again = this.memo.get(v);
      if (again !== undefined) return again;
      const out = recipe.factory(...(args as never[]));
      this.memo.set(v, out);
      return out;
    }
    const proto = Object.getPrototypeOf(v) as object | null;
    switch (kindOf(v, proto)) {
      case 'object': {
        const out = Object.create(proto) as object;
        this.memo.set(v, out);
        shapeOf(proto, Object.keys(v)).fill(v, out, this.copyFn);
        return out;
      }
      case 'map': {
        const out = new Map();
        this.memo.set(v, out);
        for (const [k, x] of v as Map<unknown, unknown>) out.set(this.copy(k), this.copy(x));
        return out;
      }
      case 'set': {
        const out = new Set();
        this.memo.set(v, out);
        for (const x of v as Set<unknown>) out.add(this.copy(x));
        return out;
      }
      case 'buffer': {
        const out = (v as ArrayBuffer).slice(0);
        this.memo.set(v, out);
        return out;
      }
      case 'view': {
        const view = v as ArrayBufferView;
        const buffer = this.copy(view.buffer) as ArrayBuffer;
        const length = view instanceof DataView ? view.byteLength : (view as Uint8Array).length;
        const Ctor = view.constructor as new (
          b: ArrayBuffer,
          o: number,
          l: number,
        ) => ArrayBufferView;
        const out = new Ctor(buffer, view.byteOffset, length);
        this.memo.set(v, out);
        return out;
      }
      case 'refuse':
        throw new CloneError(`cannot snapshot ${describe(v)}`, v);
    }
  }
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
