/**
 * Chrome JSON trace event format for one execution: one track (thread) per task, one complete
 * slice per visible operation, instants for notes, choices and the violation. Opens in
 * ui.perfetto.dev, chrome://tracing and speedscope. Time is synthetic: step k starts at
 * k microseconds and lasts one, so the trace shows order, not duration.
 */
import type { ExecutionResult } from '../sim/index.ts';

interface TraceEvent {
  name: string;
  ph: 'X' | 'i' | 'M';
  pid: number;
  tid: number;
  ts?: number;
  dur?: number;
  s?: 'g' | 't';
  cat?: string;
  args?: Record<string, unknown>;
}

const PID = 1;
const STEP_US = 10;

export function chromeTrace(
  execution: ExecutionResult,
  meta: { title: string; violation: string | null; replay: string | null },
): string {
  const events: TraceEvent[] = [
    { name: 'process_name', ph: 'M', pid: PID, tid: 0, args: { name: meta.title } },
  ];
  execution.taskNames.forEach((name, tid) => {
    events.push({ name: 'thread_name', ph: 'M', pid: PID, tid, args: { name: `T${tid} ${name}` } });
    events.push({ name: 'thread_sort_index', ph: 'M', pid: PID, tid, args: { sort_index: tid } });
  });
  let lastTs = 0;
  for (const ev of execution.events) {
    const ts = ev.step * STEP_US;
    lastTs = Math.max(lastTs, ts);
    switch (ev.kind) {
      case 'op':
        events.push({
          name: ev.label,
          cat: 'op',
          ph: 'X',
          pid: PID,
          tid: ev.task,
          ts,
          dur: STEP_US - 1,
          args: { step: ev.step, access: ev.access.map((a) => `${a.kind} #${a.object}`) },
        });
        break;
      case 'choose':
        events.push({
          name: `choose ${ev.label} = ${ev.value}`,
          cat: 'choose',
          ph: 'i',
          s: 't',
          pid: PID,
          tid: ev.task,
          ts: ts + STEP_US - 1,
          args: { n: ev.n, value: ev.value },
        });
        break;
      case 'note':
        events.push({
          name: ev.text,
          cat: 'note',
          ph: 'i',
          s: 't',
          pid: PID,
          tid: ev.task ?? 0,
          ts,
        });
        break;
      case 'spawn':
      case 'exit':
        events.push({
          name: ev.kind === 'spawn' ? `spawn T${ev.child}` : 'exit',
          cat: ev.kind,
          ph: 'i',
          s: 't',
          pid: PID,
          tid: ev.task ?? 0,
          ts: ts + STEP_US - 1,
        });
        break;
    }
  }
  if (meta.violation !== null)
    events.push({
      name: `violation: ${meta.violation}`,
      cat: 'violation',
      ph: 'i',
      s: 'g',
      pid: PID,
      tid: 0,
      ts: lastTs + STEP_US,
      args: { replay: meta.replay },
    });
  return `${JSON.stringify({ traceEvents: events, displayTimeUnit: 'ns' }, null, 1)}\n`;
}
