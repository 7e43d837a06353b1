/** Parsers for command-line option values; a bad value is a usage error (exit 2). */
import { InvalidArgumentError } from '@commander-js/extra-typings';
import type { StrategyName } from '../explore/check.ts';
import type { Scenario } from '../explore/scenario.ts';
import { InputError } from '../sim/index.ts';

export function intOption(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  const expected =
    max === Number.MAX_SAFE_INTEGER ? `a whole number >= ${min}` : `a whole number ${min}..${max}`;
  return (value) => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`expected ${expected}, got "${value}"`);
    return n;
  };
}

export function secondsOption(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0)
    throw new InvalidArgumentError(`expected a positive number of seconds, got "${value}"`);
  return n;
}

export function collectParam(value: string, previous: string[]): string[] {
  if (!/^[A-Za-z_][\w-]*=/.test(value))
    throw new InvalidArgumentError(`expected name=value, got "${value}"`);
  return [...previous, value];
}

export function paramsFrom(list: readonly string[]): Record<string, string> {
  return Object.fromEntries(
    list.map((item) => {
      const at = item.indexOf('=');
      return [item.slice(0, at), item.slice(at + 1)];
    }),
  );
}

/** Options that only one strategy reads are refused when another strategy is named explicitly. */
export function checkStrategyOptions(
  strategy: string | undefined,
  preemptions: number | undefined,
  depthGiven = false,
): void {
  if (strategy === undefined) return;
  if (preemptions !== undefined && strategy !== 'dfs')
    throw new InputError(`--preemptions bounds dfs only, not --strategy ${strategy}`);
  if (depthGiven && strategy !== 'pct')
    throw new InputError(`--depth is the bug depth of pct only, not --strategy ${strategy}`);
}

/**
 * The execution budget when --executions is not given: the scenario's own budget when the search
 * uses the scenario's own strategy (the budget was sized for it, e.g. to make DPOR exhaustive),
 * else 1000 for the sampling strategies and 100000 for DFS and DPOR.
 */
export function defaultExecutions<S>(scenario: Scenario<S>, strategy: StrategyName): number {
  const own = scenario.defaults?.executions;
  if (own !== undefined && strategy === (scenario.defaults?.strategy ?? 'dfs')) return own;
  return strategy === 'random' || strategy === 'pct' ? 1000 : 100_000;
}
