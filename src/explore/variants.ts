/**
 * Variants against properties: for every variant of a scenario, one search that keeps going
 * after a violation and records, per property, the first execution that violates it; each such
 * execution is then shrunk, so the table reports the length of a minimal counterexample.
 * A property never violated holds, with the search's coverage; a limit makes it inconclusive.
 */
import type { ExecutionResult, ParamValue, TokenHeader } from '../sim/index.ts';
import {
  DEFAULT_LIMITS,
  SearchExecutions,
  makeCounterexample,
  makeStrategy,
  type Limits,
  type StrategyName,
} from './check.ts';
import type { Violation } from './run.ts';
import { resolveArgs, type Scenario } from './scenario.ts';
import type { Coverage } from './strategy.ts';

export const BUILTIN_PROPERTIES = ['no-deadlock', 'no-model-assertion'] as const;

export interface VariantCell {
  readonly property: string;
  readonly verdict: 'holds' | 'violated' | 'limit';
  /** Steps of the shrunk counterexample. */
  readonly steps: number | null;
  readonly token: string | null;
  readonly message: string | null;
}

export interface VariantRow {
  readonly variant: string;
  readonly description: string;
  readonly executions: number;
  readonly coverage: Coverage;
  readonly cells: readonly VariantCell[];
}

export interface VariantsOptions {
  readonly scenarioRef: string;
  readonly strategy: StrategyName;
  readonly seed: number;
  readonly params?: Readonly<Record<string, ParamValue>>;
  readonly limits?: Partial<Limits>;
  readonly pctDepth?: number;
}

export function propertyNames<S>(scenario: Scenario<S>): string[] {
  return [
    ...scenario.properties.map((p) => p.name),
    ...scenario.invariants.map((p) => p.name),
    ...BUILTIN_PROPERTIES,
  ];
}

export function checkVariants<S>(scenario: Scenario<S>, o: VariantsOptions): VariantRow[] {
  const limits: Limits = { ...DEFAULT_LIMITS, ...o.limits };
  const names = propertyNames(scenario);
  const rows: VariantRow[] = [];
  for (const [variant, description] of Object.entries(scenario.variants)) {
    const args = resolveArgs(scenario, o.params, variant);
    const strategy = makeStrategy(o, limits);
    const search = new SearchExecutions(scenario, args, limits.stepsMax);
    const snapshot = search.snapshot;
    const found = new Map<string, { violation: Violation; result: ExecutionResult }>();
    let executions = 0;
    let limited = false;
    while (found.size < names.length) {
      if (executions >= limits.executionsMax) {
        limited = strategy.exhaustible;
        break;
      }
      if (!strategy.next()) break;
      const judged = search.run(strategy);
      executions++;
      if (judged.stepLimited) {
        limited = true;
        break;
      }
      for (const v of judged.violations)
        if (!found.has(v.property)) found.set(v.property, { violation: v, result: judged.result });
    }
    search.end();
    const header: TokenHeader = {
      scenario: o.scenarioRef,
      variant,
      params: args.params,
      seed: o.seed,
      stepsMax: limits.stepsMax,
    };
    const cells = names.map((property): VariantCell => {
      const hit = found.get(property);
      if (!hit)
        return {
          property,
          verdict: limited ? 'limit' : 'holds',
          steps: null,
          token: null,
          message: null,
        };
      const cx = makeCounterexample(
        scenario,
        args,
        header,
        hit.violation,
        hit.result,
        {},
        snapshot,
      );
      return {
        property,
        verdict: 'violated',
        steps: cx.execution.steps,
        token: cx.token,
        message: cx.message,
      };
    });
    const coverage: Coverage = limited
      ? { kind: 'partial' }
      : strategy.exhaustible
        ? strategy.coverage()
        : { kind: 'sampled' };
    rows.push({ variant, description, executions, coverage, cells });
  }
  return rows;
}
