/**
 * Dynamic partial-order reduction: stateless DFS that explores one execution per equivalence
 * class of interleavings (Mazurkiewicz traces) instead of every interleaving. This is the
 * algorithm of Flanagan and Godefroid (POPL 2005) with sleep sets (Godefroid 1996).
 *
 * Dependence is read from the access footprints of visible operations: two operations of
 * different tasks are dependent when they touch the same object and are not both reads.
 * Happens-before is tracked with vector clocks over the executed events; a task created by
 * another task starts after the event that created it.
 *
 * At every new state, for each live task p with pending operation N, the last executed event e
 * that is dependent with N and does not happen before p is a race: p (or, if p could not run in
 * the state before e, every task that could) is added to that state's backtrack set. Sleep sets
 * carry explored, independent alternatives down the tree; an execution in which every enabled
 * task sleeps is abandoned (outcome "pruned"), as it is equivalent to one already run.
 * `choose` points branch on every value, as in plain DFS.
 *
 * Soundness needs what the engine asks of every model anyway: state shared between tasks is
 * touched only inside visible operations whose footprints name it, or under a lock.
 */
import {
  accessesConflict,
  footprintsConflict,
  type Access,
  type Decider,
  type SchedulePoint,
  type TaskId,
  type TaskView,
} from '../../sim/index.ts';
import type { Coverage, Strategy } from '../strategy.ts';

interface StateNode {
  readonly kind: 'state';
  readonly enabled: readonly TaskId[];
  readonly pending: ReadonlyMap<TaskId, readonly Access[]>;
  /** Tasks asleep on entry. */
  readonly sleep: ReadonlySet<TaskId>;
  readonly backtrack: Set<TaskId>;
  /** Explored from here, in order; the last one is the current branch. */
  readonly done: TaskId[];
}

interface ChooseNode {
  readonly kind: 'choose';
  readonly n: number;
  value: number;
}

type Node = StateNode | ChooseNode;

interface Event {
  readonly task: TaskId;
  readonly access: readonly Access[];
  /** Position of the state node the event was taken from. */
  readonly node: number;
  /** Per-task event count at and including this event (its own entry is its sequence number). */
  readonly clock: readonly number[];
}

function join(into: number[], other: readonly number[]): void {
  for (let i = 0; i < other.length; i++) {
    const v = other[i] as number;
    if ((into[i] ?? 0) < v) into[i] = v;
  }
}

export class DporStrategy implements Strategy {
  readonly name = 'dpor';
  readonly exhaustible = true;
  readonly decider: Decider;
  private readonly path: Node[] = [];
  /** Index into `path` of the next node to visit in this execution. */
  private pos = 0;
  /** The first node that is new in this execution (everything before replays the prefix). */
  private freshFrom = 0;
  private started = false;
  private done = false;
  // Per-execution happens-before bookkeeping, rebuilt on every run.
  // Indexed by task id or object id (small integers): arrays, not Maps, on this hot path.
  private events: Event[] = [];
  private taskClock: (number[] | undefined)[] = [];
  private byObject: (number[] | undefined)[] = [];
  private lastWrite: (readonly number[] | undefined)[] = [];
  private readsSince: (number[] | undefined)[] = [];
  private known: boolean[] = [];
  /** Executions abandoned because every enabled task was asleep. */
  pruned = 0;

  constructor() {
    this.decider = {
      pickTask: () => {
        throw new Error('dpor schedules through schedule()');
      },
      pickChoice: (n) => this.choose(n),
      schedule: (point) => this.schedule(point),
      terminal: (live) => {
        this.detectRaces(live);
      },
    };
  }

  next(): boolean {
    if (!this.started) {
      this.started = true;
      this.resetRun();
      return true;
    }
    while (this.path.length > 0) {
      const top = this.path[this.path.length - 1] as Node;
      if (top.kind === 'choose') {
        if (top.value + 1 < top.n) {
          top.value++;
          return this.restartAt(this.path.length);
        }
      } else {
        const candidate = this.nextCandidate(top);
        if (candidate !== null) {
          top.done.push(candidate);
          return this.restartAt(this.path.length);
        }
      }
      this.path.pop();
    }
    this.done = true;
    return false;
  }

  finish(): void {
    this.path.length = Math.min(this.path.length, this.pos);
  }

  coverage(): Coverage {
    return this.done ? { kind: 'exhaustive', bound: null } : { kind: 'partial' };
  }

  private nextCandidate(node: StateNode): TaskId | null {
    let best: TaskId | null = null;
    for (const t of node.backtrack)
      if (!node.done.includes(t) && !node.sleep.has(t) && node.enabled.includes(t))
        if (best === null || t < best) best = t;
    return best;
  }

  private restartAt(fresh: number): boolean {
    this.freshFrom = fresh;
    this.resetRun();
    return true;
  }

  private resetRun(): void {
    this.pos = 0;
    this.events = [];
    this.taskClock = [];
    this.byObject = [];
    this.lastWrite = [];
    this.readsSince = [];
    this.known = [];
  }

  private choose(n: number): number {
    const at = this.pos++;
    const existing = this.path[at];
    if (existing !== undefined) {
      if (existing.kind !== 'choose' || existing.n !== n)
        throw new Error('the model is not deterministic: a replayed prefix offered other options');
      return existing.value;
    }
    this.path.push({ kind: 'choose', n, value: 0 });
    return 0;
  }

  private schedule(point: SchedulePoint): TaskId | null {
    const at = this.pos++;
    this.noteNewTasks(point.live);
    const existing = this.path[at];
    let pick: TaskId;
    if (existing !== undefined) {
      if (existing.kind !== 'state')
        throw new Error('the model is not deterministic: a replayed prefix offered other options');
      // The last node of the prefix took its new branch in next(); its races were seen before.
      pick = existing.done[existing.done.length - 1] as TaskId;
    } else {
      if (at >= this.freshFrom) this.detectRaces(point.live);
      const sleep = this.sleepFor(at);
      const awake = point.enabled.filter((t) => !sleep.has(t));
      if (awake.length === 0) {
        this.pruned++;
        return null;
      }
      pick = awake.includes(point.dflt) ? point.dflt : (awake[0] as TaskId);
      const pending = new Map<TaskId, readonly Access[]>();
      for (const v of point.live) pending.set(v.id, v.access);
      this.path.push({
        kind: 'state',
        enabled: [...point.enabled],
        pending,
        sleep,
        backtrack: new Set([pick]),
        done: [pick],
      });
    }
    const access = point.live.find((v) => v.id === pick)?.access ?? [];
    this.record(pick, access, at);
    return pick;
  }

  /** The sleep set on entry to the node at `at`: inherited from the previous state node. */
  private sleepFor(at: number): Set<TaskId> {
    let parentAt = at - 1;
    while (parentAt >= 0 && this.path[parentAt]?.kind !== 'state') parentAt--;
    const out = new Set<TaskId>();
    if (parentAt < 0) return out;
    const parent = this.path[parentAt] as StateNode;
    const taken = parent.done[parent.done.length - 1] as TaskId;
    const takenAccess = parent.pending.get(taken) ?? [];
    const candidates = [...parent.sleep, ...parent.done.slice(0, -1)];
    for (const q of candidates) {
      if (q === taken) continue;
      const qAccess = parent.pending.get(q);
      if (qAccess !== undefined && !footprintsConflict(qAccess, takenAccess)) out.add(q);
    }
    return out;
  }

  /** Tasks seen for the first time were created by the task that ran last. */
  private noteNewTasks(live: readonly TaskView[]): void {
    for (const v of live) {
      if (this.known[v.id] === true) continue;
      this.known[v.id] = true;
      const last = this.events[this.events.length - 1];
      if (last !== undefined) this.taskClock[v.id] = [...last.clock];
    }
  }

  private record(task: TaskId, access: readonly Access[], node: number): void {
    const prev = this.taskClock[task];
    const clock = prev === undefined ? [] : prev.slice();
    for (const a of access) {
      const w = this.lastWrite[a.object];
      if (w) join(clock, w);
      if (a.kind !== 'read') {
        const r = this.readsSince[a.object];
        if (r) join(clock, r);
      }
    }
    clock[task] = (clock[task] ?? 0) + 1;
    const index = this.events.length;
    this.events.push({ task, access, node, clock });
    this.taskClock[task] = clock;
    for (const a of access) {
      let list = this.byObject[a.object];
      if (!list) this.byObject[a.object] = list = [];
      list.push(index);
      if (a.kind === 'read') {
        let r = this.readsSince[a.object];
        if (!r) this.readsSince[a.object] = r = [];
        join(r, clock);
      } else {
        this.lastWrite[a.object] = clock;
        this.readsSince[a.object] = undefined;
      }
    }
  }

  /** For each live task, the last dependent event not ordered before it marks a backtrack point. */
  private detectRaces(live: readonly TaskView[]): void {
    const last = this.events[this.events.length - 1];
    for (const v of live) {
      if (v.access.length === 0) continue;
      const pClock = this.taskClock[v.id] ?? [];
      // Only the task that just ran has a new pending operation; for the others only the new
      // event can be a new latest race (older ones were handled at earlier states).
      const race =
        last !== undefined && last.task !== v.id
          ? this.lastRace(v, pClock, this.events.length - 1)
          : this.lastRace(v, pClock, null);
      if (race === null) continue;
      const node = this.path[race.node] as StateNode;
      if (node.enabled.includes(v.id)) node.backtrack.add(v.id);
      else for (const t of node.enabled) node.backtrack.add(t);
    }
  }

  /**
   * The latest event dependent with v's pending operation, by another task, that does not
   * happen before v. With `only`, just that event is considered.
   */
  private lastRace(v: TaskView, pClock: readonly number[], only: number | null): Event | null {
    let best = -1;
    for (const a of v.access) {
      const list = only === null ? (this.byObject[a.object] ?? []) : this.eventsOn(a.object, only);
      for (let k = list.length - 1; k >= 0; k--) {
        const i = list[k] as number;
        if (i <= best) break;
        const e = this.events[i] as Event;
        if (e.task === v.id) continue;
        if (!e.access.some((x) => accessesConflict(x, a))) continue;
        if ((pClock[e.task] ?? 0) >= (e.clock[e.task] ?? 0)) continue;
        best = i;
        break;
      }
    }
    return best < 0 ? null : (this.events[best] as Event);
  }

  private eventsOn(object: number, only: number): number[] {
    const e = this.events[only];
    return e !== undefined && e.access.some((x) => x.object === object) ? [only] : [];
  }
}
