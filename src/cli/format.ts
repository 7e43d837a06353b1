/** Text renderings of check and replay results for the terminal. Deterministic. */
import type { CheckResult } from '../explore/check.ts';
import type { Violation } from '../explore/run.ts';
import { describeOutcome, renderTimeline } from '../report/timeline.ts';
import type { ExecutionResult } from '../sim/index.ts';

/** `1 execution`, `2 executions`. */
export function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

export function replayCommand(token: string): string {
  return `npx luosim replay ${token}`;
}

export function coverageText(r: CheckResult): string {
  const c = r.coverage;
  switch (c.kind) {
    case 'exhaustive':
      if (c.bound === null) return 'exhaustive';
      return c.bound.startsWith('preemption bound')
        ? `exhaustive up to ${c.bound}; raise it with --preemptions`
        : `exhaustive up to ${c.bound}`;
    case 'sampled':
      return `sampled: ${plural(r.executions, `${r.strategy} execution`)}, not exhaustive`;
    case 'partial':
      return 'partial';
  }
}

export function verdictText(r: CheckResult): string {
  if (r.verdict === 'violated' && r.counterexample)
    return `VIOLATED ${r.counterexample.property}: ${r.counterexample.message}`;
  if (r.verdict === 'limit' && r.limit)
    return `INCONCLUSIVE: stopped at the ${r.limit.limit} limit (${r.limit.value}); raise it with ${r.limit.flag}`;
  return `HOLDS (${coverageText(r)})`;
}

/** The part of a counterexample that check and replay print identically. */
export function renderExecution(execution: ExecutionResult, violation: Violation | null): string {
  const lines = [renderTimeline(execution), `end: ${describeOutcome(execution)}`];
  if (violation) lines.push(`violation: ${violation.property}: ${violation.message}`);
  return lines.join('\n');
}

export function paramsText(params: Readonly<Record<string, unknown>>): string {
  const parts = Object.keys(params)
    .sort()
    .map((k) => `${k}=${String(params[k])}`);
  return parts.length === 0 ? '(none)' : parts.join(' ');
}

/** A variant's name, with what it represents unless it is the default. */
export function variantText(variant: string, variants: Readonly<Record<string, string>>): string {
  const what = variants[variant];
  return variant === 'default' || what === undefined ? variant : `${variant}: ${what}`;
}

export function renderCheck(r: CheckResult, variants: Readonly<Record<string, string>>): string {
  const bound =
    r.strategy === 'dfs'
      ? `, preemption bound ${r.limits.preemptionsMax === null ? 'none' : r.limits.preemptionsMax}`
      : '';
  const out = [
    `scenario   ${r.scenario}`,
    `variant    ${variantText(r.variant, variants)}`,
    `params     ${paramsText(r.params)}`,
    `strategy   ${r.strategy}${bound}, seed ${r.seed}`,
    `result     ${verdictText(r)}`,
    `search     ${plural(r.executions, 'execution')}, ${plural(r.steps, 'step')}`,
  ];
  if (r.snapshotSteps !== null)
    out.push(
      `prologue   ${r.snapshotSteps} steps, run once: every execution starts from its end state`,
    );
  if (r.snapshotRefused !== null)
    out.push(`note       every execution ran the prologue again: ${r.snapshotRefused}`);
  const cx = r.counterexample;
  if (cx) {
    const ex = cx.execution;
    const pre = ex.preemptions === 1 ? '1 preemption' : `${ex.preemptions} preemptions`;
    const shrunk =
      cx.foundSteps !== ex.steps ? ` (shrunk; the search found one of ${cx.foundSteps} steps)` : '';
    out.push('', `counterexample: ${ex.steps} steps, ${pre}${shrunk}`, renderExecution(ex, cx), '');
    out.push(`replay: ${replayCommand(cx.token)}`);
  }
  return out.join('\n');
}

export function rateText(r: CheckResult): string | null {
  if (r.seconds === null) return null;
  const s = Math.max(r.seconds, 1e-9);
  const eps = Math.round(r.executions / s);
  const sps = Math.round(r.steps / s);
  return `time       ${r.seconds.toFixed(3)} s (${eps} executions/s, ${sps} steps/s)`;
}

/** JSON-safe view of a result (the counterexample's events are rendered as a timeline). */
export function checkJson(r: CheckResult): unknown {
  const cx = r.counterexample;
  return {
    scenario: r.scenario,
    variant: r.variant,
    params: r.params,
    strategy: r.strategy,
    seed: r.seed,
    verdict: r.verdict,
    coverage: r.coverage,
    limit: r.limit,
    limits: r.limits,
    executions: r.executions,
    steps: r.steps,
    seconds: r.seconds,
    executionsPerSecond: r.seconds ? r.executions / r.seconds : null,
    counterexample: cx && {
      property: cx.property,
      message: cx.message,
      token: cx.token,
      replay: replayCommand(cx.token),
      steps: cx.execution.steps,
      preemptions: cx.execution.preemptions,
      outcome: cx.execution.outcome,
      timeline: renderTimeline(cx.execution),
    },
  };
}
