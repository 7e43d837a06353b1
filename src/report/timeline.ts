/**
 * The text timeline of one execution: one column per task, one line per event, visible
 * operations numbered by step. Deterministic: the same execution gives the same bytes.
 */
import type { ExecutionResult, SimEvent } from '../sim/index.ts';

const COLUMN_MAX = 44;

function fit(text: string, width: number): string {
  if (text.length <= width) return text.padEnd(width);
  return `${text.slice(0, width - 1)}…`;
}

function describe(ev: SimEvent, taskNames: readonly string[]): string {
  switch (ev.kind) {
    case 'op':
      return ev.label;
    case 'choose':
      return `choose ${ev.label}: ${ev.value} of ${ev.n}`;
    case 'note':
      return `# ${ev.text}`;
    case 'spawn':
      return `spawn T${ev.child} ${taskNames[ev.child] ?? ''}`.trimEnd();
    case 'exit':
      return 'exit';
  }
}

function columnOf(ev: SimEvent): number | null {
  return ev.task;
}

export function renderTimeline(execution: ExecutionResult): string {
  const names = execution.taskNames;
  const headers = names.map((n, i) => `T${i} ${n}`);
  const widths = headers.map((h) => Math.min(COLUMN_MAX, h.length));
  const rows: { step: string; col: number | null; text: string }[] = [];
  for (const ev of execution.events) {
    // Tasks created by the scenario's setup are the columns themselves.
    if (ev.kind === 'spawn' && ev.task === null) continue;
    const text = describe(ev, names);
    const col = columnOf(ev);
    rows.push({ step: ev.kind === 'op' ? String(ev.step) : '', col, text });
    if (col !== null) widths[col] = Math.min(COLUMN_MAX, Math.max(widths[col] ?? 0, text.length));
  }
  const stepWidth = Math.max(4, String(execution.steps).length);
  const gap = '  ';
  const lines: string[] = [];
  lines.push(
    `${'step'.padStart(stepWidth)}${gap}${headers.map((h, i) => fit(h, widths[i] ?? 0)).join(gap)}`.trimEnd(),
  );
  for (const r of rows) {
    if (r.col === null) {
      lines.push(`${r.step.padStart(stepWidth)}${gap}${r.text}`.trimEnd());
      continue;
    }
    const cells = widths.map((w, i) => (i === r.col ? fit(r.text, w) : ' '.repeat(w)));
    lines.push(`${r.step.padStart(stepWidth)}${gap}${cells.join(gap)}`.trimEnd());
  }
  return lines.join('\n');
}

/** What the execution ended in, one line. */
export function describeOutcome(execution: ExecutionResult): string {
  const o = execution.outcome;
  switch (o.kind) {
    case 'complete':
      return 'every task finished';
    case 'deadlock':
      return `deadlock: ${o.blocked.map((b) => `${b.task} waits for ${b.waitsFor}`).join('; ')}`;
    case 'assertion':
      return `model assertion in ${o.task}: ${o.message}`;
    case 'crash':
      return `the model threw in ${o.task}: ${o.message}`;
    case 'monitor':
      return 'an invariant failed';
    case 'step-limit':
      return `stopped at the step limit (${o.stepsMax}); raise it with --steps`;
    case 'pruned':
      return 'abandoned by the strategy as equivalent to an execution already explored';
  }
}
