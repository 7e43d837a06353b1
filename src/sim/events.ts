/**
 * The typed event stream of one execution. Recorded only when the execution traces (the explorer
 * runs untraced and re-runs a counterexample traced, which is deterministic), so recording costs
 * nothing during a search.
 */
import type { Access, TaskId } from './op.ts';

export type SimEvent =
  /** A visible operation was performed. `label` may carry a result appended by the model. */
  | { kind: 'op'; step: number; task: TaskId; label: string; access: readonly Access[] }
  /** A `choose(n)` was answered. */
  | { kind: 'choose'; step: number; task: TaskId; label: string; n: number; value: number }
  /** Free text from the model, attached to the task that was running (null during setup). */
  | { kind: 'note'; step: number; task: TaskId | null; text: string }
  | { kind: 'spawn'; step: number; task: TaskId | null; child: TaskId; name: string }
  | { kind: 'exit'; step: number; task: TaskId };
