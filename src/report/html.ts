/**
 * A self-contained HTML report of one execution: what was checked, the violated property, the
 * timeline as a table with one column per task (the last step before the violation marked),
 * the replay command, and the run's data inlined as JSON. No external resources.
 */
import type { ExecutionResult } from '../sim/index.ts';
import { describeOutcome } from './timeline.ts';

function esc(s: string): string {
  return s
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');
}

export interface ReportMeta {
  readonly title: string;
  readonly facts: readonly (readonly [string, string])[];
  readonly violation: string | null;
  readonly replay: string | null;
}

const STYLE = `
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}
h1{font-size:20px}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:2px 8px;font:12px/1.3 ui-monospace,monospace;vertical-align:top}
th{background:#eee;position:sticky;top:0}
td.step{color:#777;text-align:right}
tr.violating td{background:#fdd}
.violation{background:#fee;border:1px solid #c00;padding:8px;margin:12px 0}
code.replay{display:block;background:#f4f4f4;padding:8px;word-break:break-all}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 16px}dt{font-weight:bold}
`;

export function htmlReport(execution: ExecutionResult, meta: ReportMeta): string {
  const names = execution.taskNames;
  const lastOp = execution.events.reduce((at, ev, i) => (ev.kind === 'op' ? i : at), -1);
  const head = names.map((n, i) => `<th data-task="${i}">T${i} ${esc(n)}</th>`).join('');
  const rows: string[] = [];
  execution.events.forEach((ev, i) => {
    if (ev.kind === 'spawn' && ev.task === null) return;
    let text: string;
    switch (ev.kind) {
      case 'op':
        text = ev.label;
        break;
      case 'choose':
        text = `choose ${ev.label}: ${ev.value} of ${ev.n}`;
        break;
      case 'note':
        text = `# ${ev.text}`;
        break;
      case 'spawn':
        text = `spawn T${ev.child}`;
        break;
      case 'exit':
        text = 'exit';
        break;
    }
    const col = ev.task ?? 0;
    const cells = names.map((_, c) => (c === col ? `<td>${esc(text)}</td>` : '<td></td>')).join('');
    const cls = meta.violation !== null && i === lastOp ? ' class="violating"' : '';
    const step = ev.kind === 'op' ? String(ev.step) : '';
    rows.push(`<tr${cls}><td class="step">${step}</td>${cells}</tr>`);
  });
  const facts = meta.facts.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('');
  const violation =
    meta.violation === null
      ? '<p>No property was violated in this execution.</p>'
      : `<div class="violation" id="violation"><strong>Violation:</strong> ${esc(meta.violation)}</div>`;
  const replay =
    meta.replay === null ? '' : `<h2>Replay</h2><code class="replay">${esc(meta.replay)}</code>`;
  const data = JSON.stringify({
    taskNames: names,
    steps: execution.steps,
    preemptions: execution.preemptions,
    outcome: execution.outcome,
  }).replaceAll('<', '\\u003c');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(meta.title)}</title>
<style>${STYLE}</style></head><body>
<h1>${esc(meta.title)}</h1>
<dl>${facts}</dl>
${violation}
<p>End: ${esc(describeOutcome(execution))}. ${execution.steps} steps, ${execution.preemptions} preemption${execution.preemptions === 1 ? '' : 's'}.</p>
<h2>Timeline</h2>
${meta.violation === null ? '' : '<p>The highlighted step is the last one before the violation was detected.</p>'}
<table id="timeline"><thead><tr><th>step</th>${head}</tr></thead><tbody>
${rows.join('\n')}
</tbody></table>
${replay}
<script type="application/json" id="run-data">${data}</script>
</body></html>
`;
}
