/**
 * One execution: a set of tasks, the shared objects they touch, and the loop that runs them.
 *
 * Protocol: create an Execution with a Decider (the strategy's oracle) and options; let the model
 * build its state with `newObject`/`spawn` (setup runs outside any task); then call `run()` once.
 * At every scheduling point the engine computes the enabled tasks; with one, it runs it; with
 * several, it asks the decider. `choose` is answered by the decider as soon as it is reached.
 *
 * Invariants: all state of a run lives in its Execution (and the model objects created for it);
 * the same decider answers give the same run, event for event. A decision is recorded only where
 * there was more than one option, together with the default option (keep running the current
 * task if it can, else the lowest enabled id; 0 for a choose), which is what tokens encode.
 *
 * It knows nothing about what the tasks model.
 */
import { ModelAssertion } from './errors.ts';
import type { SimEvent } from './events.ts';
import type { Access, ObjectId, Op, Sched, TaskId, VisibleOp } from './op.ts';

/** The engine as seen by the model: object ids, tasks, notes, and per-execution storage. */
export interface Sim {
  /** The running task; null during setup. */
  readonly current: TaskId | null;
  readonly tracing: boolean;
  /**
   * True while the running task is the only live task (nothing else exists that could run
   * between its operations, and any task it spawns later happens after them). A model may then
   * merge a run of its own operations into one: no interleaving is lost, only scheduling points
   * at which nobody else could run (invariants are checked at fewer points).
   */
  readonly solo: boolean;
  newObject(name: string): ObjectId;
  objectName(id: ObjectId): string;
  taskName(id: TaskId): string;
  spawn(name: string, body: () => Sched<unknown>): TaskId;
  /** Records free text on the timeline of the running task (no-op when not tracing). */
  note(text: string): void;
  /** Appends a result to the label of the running task's last operation, e.g. `= 3`. */
  annotate(text: string): void;
  /** Ends the execution with a model assertion. */
  fail(message: string): never;
  /** Storage for one execution, keyed by a module's own symbol. */
  local<T>(key: symbol, init: () => T): T;
}

/** A live task at a scheduling point: its pending operation's footprint and whether it can run. */
export interface TaskView {
  readonly id: TaskId;
  readonly access: readonly Access[];
  readonly enabled: boolean;
}

/**
 * Everything a footprint-aware strategy sees at a scheduling point. The arrays and views are
 * the engine's, reused at the next point: valid during the call only (copy what you keep).
 */
export interface SchedulePoint {
  readonly enabled: readonly TaskId[];
  readonly current: TaskId | null;
  readonly dflt: TaskId;
  readonly live: readonly TaskView[];
}

/** The oracle a strategy gives an execution. */
export interface Decider {
  /** `enabled` is ascending; `dflt` is the default pick. Must return a member of `enabled`. */
  pickTask(enabled: readonly TaskId[], current: TaskId | null, dflt: TaskId): TaskId;
  /** Returns a value in [0, n); n >= 2. */
  pickChoice(n: number, label: string, task: TaskId): number;
  /**
   * Optional, for footprint-aware strategies: called at every scheduling point, even with one
   * enabled task, instead of pickTask. Returning null abandons the execution as redundant.
   */
  schedule?(point: SchedulePoint): TaskId | null;
  /** Optional: the live tasks when no task can run any more (all done, or deadlock). */
  terminal?(live: readonly TaskView[]): void;
}

export interface Decision {
  readonly kind: 'task' | 'choose';
  readonly value: number;
  readonly dflt: number;
}

export interface BlockedTask {
  readonly task: string;
  readonly waitsFor: string;
}

export type Outcome =
  | { kind: 'complete' }
  | { kind: 'deadlock'; blocked: readonly BlockedTask[] }
  | { kind: 'assertion'; task: string; message: string }
  | { kind: 'crash'; task: string; message: string }
  | { kind: 'monitor'; message: string }
  | { kind: 'step-limit'; stepsMax: number }
  /** The strategy abandoned the execution because it is equivalent to one already explored. */
  | { kind: 'pruned' };

export interface ExecutionResult {
  readonly outcome: Outcome;
  readonly steps: number;
  readonly preemptions: number;
  readonly decisions: readonly Decision[];
  readonly events: readonly SimEvent[];
  readonly taskNames: readonly string[];
}

export interface RunOptions {
  readonly stepsMax: number;
  readonly trace: boolean;
  /** Checked after every step; a string ends the execution as a violation. */
  readonly monitor?: (() => string | null) | undefined;
}

interface TaskState {
  readonly id: TaskId;
  readonly name: string;
  readonly gen: Sched<unknown>;
  /** What strategies see of the task at a scheduling point; refreshed at each one. */
  readonly view: { readonly id: TaskId; access: readonly Access[]; enabled: boolean };
  pending: VisibleOp | null;
  lastOpEvent: { label: string } | null;
}

const START: VisibleOp = { kind: 'op', label: 'start', access: [] as readonly Access[] };

export class Execution implements Sim {
  current: TaskId | null = null;
  readonly tracing: boolean;
  private readonly tasks: TaskState[] = [];
  private readonly objectNames: string[] = [];
  private readonly events: SimEvent[] = [];
  private readonly decisions: Decision[] = [];
  private readonly locals = new Map<symbol, unknown>();
  private steps = 0;
  private liveTasks = 0;
  private preemptions = 0;
  private ran = false;

  private decider: Decider;
  private readonly options: RunOptions;
  private prologueOutcome: Outcome | null = null;
  private inPrologue = false;

  constructor(decider: Decider, options: RunOptions) {
    this.decider = decider;
    this.options = options;
    this.tracing = options.trace;
  }

  get solo(): boolean {
    return (
      this.liveTasks === 1 && this.current !== null && this.tasks[this.current]?.pending !== null
    );
  }

  newObject(name: string): ObjectId {
    this.objectNames.push(name);
    return this.objectNames.length - 1;
  }

  objectName(id: ObjectId): string {
    return this.objectNames[id] ?? `#${id}`;
  }

  taskName(id: TaskId): string {
    return this.tasks[id]?.name ?? `task${id}`;
  }

  spawn(name: string, body: () => Sched<unknown>): TaskId {
    if (this.inPrologue)
      throw new ModelAssertion(`spawn(${name}) in a prologue, which runs one task alone`);
    const id = this.tasks.length;
    this.tasks.push({
      id,
      name,
      gen: body(),
      pending: START,
      lastOpEvent: null,
      view: { id, access: START.access, enabled: false },
    });
    this.liveTasks++;
    if (this.tracing)
      this.events.push({ kind: 'spawn', step: this.steps, task: this.current, child: id, name });
    return id;
  }

  note(text: string): void {
    if (this.tracing)
      this.events.push({ kind: 'note', step: this.steps, task: this.current, text });
  }

  annotate(text: string): void {
    if (!this.tracing || this.current === null) return;
    const ev = this.tasks[this.current]?.lastOpEvent;
    if (ev) ev.label = `${ev.label} ${text}`;
  }

  fail(message: string): never {
    throw new ModelAssertion(message);
  }

  local<T>(key: symbol, init: () => T): T {
    if (!this.locals.has(key)) this.locals.set(key, init());
    return this.locals.get(key) as T;
  }

  /**
   * Runs `body` as a task alone and to its end, before the tasks of `run()` are spawned: the
   * deterministic part of a scenario. Its steps are not scheduling points for the decider (no
   * other task exists) and it may not choose. Returns null when it completed; otherwise how it
   * ended, which `run()` then returns without running anything else.
   */
  prologue(name: string, body: () => Sched<unknown>): Outcome | null {
    if (this.ran || this.liveTasks !== 0) throw new Error('Execution.prologue() after tasks ran');
    const decider = this.decider;
    this.decider = {
      pickTask: (_enabled, _current, dflt) => dflt,
      pickChoice: (_n, label) => {
        throw new ModelAssertion(`choose(${label}) in a prologue, which must be deterministic`);
      },
    };
    const id = this.spawn(name, body);
    this.inPrologue = true;
    let outcome: Outcome;
    try {
      outcome = this.loop();
    } catch (e) {
      outcome = this.failure(this.tasks[id] as TaskState, e);
    }
    this.inPrologue = false;
    this.decider = decider;
    this.current = null;
    if (outcome.kind === 'complete') return null;
    this.prologueOutcome = outcome;
    return outcome;
  }

  /** Steps taken so far (all of them once the execution ended). */
  get stepCount(): number {
    return this.steps;
  }

  /** The values of the per-execution storage, in creation order (what a snapshot copies). */
  storedValues(): unknown[] {
    return [...this.locals.values()];
  }

  /**
   * Starts this (new, empty) execution where `from` stood after its prologue: the same objects,
   * finished tasks and step count, and per-execution storage whose values are `stored` (copies
   * of `from.storedValues()`, in that order, in which `from` maps to this execution). `from` is
   * left as it was.
   */
  adopt(from: Execution, stored: readonly unknown[]): void {
    if (this.ran || this.tasks.length !== 0 || this.objectNames.length !== 0)
      throw new Error('Execution.adopt() on an execution that already has state');
    if (from.liveTasks !== 0 || from.prologueOutcome !== null)
      throw new Error('Execution.adopt() from an execution that is not at a clean stop');
    this.objectNames.push(...from.objectNames);
    // Finished tasks are never resumed: their records can be shared.
    this.tasks.push(...from.tasks);
    if (stored.length !== from.locals.size)
      throw new Error('Execution.adopt(): one stored value per entry of the storage');
    let i = 0;
    for (const key of from.locals.keys()) this.locals.set(key, stored[i++]);
    this.steps = from.steps;
    if (this.tracing) this.events.push(...from.events);
  }

  /** Runs the execution to its end. May be called once. */
  run(): ExecutionResult {
    if (this.ran) throw new Error('Execution.run() called twice');
    this.ran = true;
    const outcome = this.prologueOutcome ?? this.loop();
    this.current = null;
    return {
      outcome,
      steps: this.steps,
      preemptions: this.preemptions,
      decisions: this.decisions,
      events: this.events,
      taskNames: this.tasks.map((t) => t.name),
    };
  }

  private loop(): Outcome {
    const { stepsMax, monitor } = this.options;
    const wantViews = this.decider.schedule !== undefined || this.decider.terminal !== undefined;
    for (;;) {
      // Fresh arrays each step: cheaper than truncating (a runtime call) and valid during a call.
      const enabled: TaskId[] = [];
      // The live tasks as strategies see them (the views themselves are reused from step to step).
      const views: TaskView[] = [];
      let live = 0;
      let currentEnabled = false;
      for (const t of this.tasks) {
        const p = t.pending;
        if (p === null) continue;
        live++;
        let ok: boolean;
        try {
          ok = p.enabled === undefined || p.enabled();
        } catch (e) {
          return this.failure(t, e);
        }
        if (ok) {
          enabled.push(t.id);
          if (t.id === this.current) currentEnabled = true;
        }
        if (wantViews) {
          t.view.access = p.access;
          t.view.enabled = ok;
          views.push(t.view);
        }
      }
      if (enabled.length === 0) {
        if (this.decider.terminal) this.decider.terminal(views);
        if (live === 0) return { kind: 'complete' };
        return { kind: 'deadlock', blocked: this.blockedTasks() };
      }
      if (this.steps >= stepsMax) return { kind: 'step-limit', stepsMax };
      const dflt = currentEnabled ? (this.current as TaskId) : (enabled[0] as TaskId);
      let pick = dflt;
      if (this.decider.schedule) {
        const chosen = this.decider.schedule({
          enabled,
          current: this.current,
          dflt,
          live: views,
        });
        if (chosen === null) return { kind: 'pruned' };
        pick = chosen;
      } else if (enabled.length > 1) {
        pick = this.decider.pickTask(enabled, this.current, dflt);
      }
      if (enabled.length > 1) {
        if (!enabled.includes(pick)) throw new Error(`decider picked task ${pick}, not enabled`);
        this.decisions.push({ kind: 'task', value: pick, dflt });
        if (currentEnabled && pick !== this.current) this.preemptions++;
      }
      const task = this.tasks[pick] as TaskState;
      const opDone = task.pending as VisibleOp;
      this.steps++;
      this.current = pick;
      if (this.tracing) {
        const ev = {
          kind: 'op' as const,
          step: this.steps,
          task: pick,
          label: opDone.label,
          access: opDone.access,
        };
        this.events.push(ev);
        task.lastOpEvent = ev;
      }
      const bad = this.advance(task);
      if (bad) return bad;
      if (monitor) {
        const message = monitor();
        if (message !== null) return { kind: 'monitor', message };
      }
    }
  }

  /** Resumes a task until its next visible operation or its end. */
  private advance(task: TaskState): Outcome | null {
    let resume = task.id;
    for (;;) {
      let r: IteratorResult<Op, unknown>;
      try {
        r = task.gen.next(resume);
      } catch (e) {
        task.pending = null;
        this.liveTasks--;
        return this.failure(task, e);
      }
      if (r.done === true) {
        task.pending = null;
        this.liveTasks--;
        if (this.tracing) this.events.push({ kind: 'exit', step: this.steps, task: task.id });
        return null;
      }
      const next = r.value;
      if (next.kind === 'op') {
        task.pending = next;
        return null;
      }
      const value = this.decider.pickChoice(next.n, next.label, task.id);
      if (!Number.isInteger(value) || value < 0 || value >= next.n)
        throw new Error(`decider answered ${value} to choose(${next.n})`);
      this.decisions.push({ kind: 'choose', value, dflt: 0 });
      if (this.tracing)
        this.events.push({
          kind: 'choose',
          step: this.steps,
          task: task.id,
          label: next.label,
          n: next.n,
          value,
        });
      resume = value;
    }
  }

  private failure(task: TaskState, e: unknown): Outcome {
    const message = e instanceof Error ? e.message : String(e);
    if (e instanceof ModelAssertion) return { kind: 'assertion', task: task.name, message };
    return { kind: 'crash', task: task.name, message };
  }

  private blockedTasks(): BlockedTask[] {
    const out: BlockedTask[] = [];
    for (const t of this.tasks) {
      const p = t.pending;
      if (p === null) continue;
      out.push({ task: t.name, waitsFor: p.waitsFor ? p.waitsFor() : p.label });
    }
    return out;
  }
}
