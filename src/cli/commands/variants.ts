/** `luosim variants <scenario>`: every variant against every property, as a table. */
import { Option, type Command } from '@commander-js/extra-typings';
import { STRATEGIES } from '../../explore/check.ts';
import { checkVariants, propertyNames, type VariantRow } from '../../explore/variants.ts';
import { loadScenario } from '../load.ts';
import {
  checkStrategyOptions,
  collectParam,
  defaultExecutions,
  intOption,
  paramsFrom,
} from '../options.ts';

function cellText(c: VariantRow['cells'][number], row: VariantRow): string {
  if (c.verdict === 'violated') return `violated (${c.steps} steps)`;
  // A sampled search proves nothing: say what it saw.
  if (c.verdict === 'holds' && row.coverage.kind === 'sampled') return 'not found';
  return c.verdict;
}

function coverageText(row: VariantRow): string {
  const c = row.coverage;
  if (c.kind === 'exhaustive') return c.bound === null ? 'exhaustive' : `up to ${c.bound}`;
  return c.kind;
}

export function renderVariants(properties: readonly string[], rows: readonly VariantRow[]): string {
  const table = [
    ['variant', ...properties, 'executions', 'search'],
    ...rows.map((r) => [
      r.variant,
      ...r.cells.map((c) => cellText(c, r)),
      String(r.executions),
      coverageText(r),
    ]),
  ];
  const widths = (table[0] ?? []).map((_, c) =>
    Math.max(...table.map((row) => (row[c] ?? '').length)),
  );
  const lines = table.map((row) =>
    row
      .map((cell, c) => cell.padEnd(widths[c] ?? 0))
      .join('  ')
      .trimEnd(),
  );
  const notes = rows.map((r) => `  ${r.variant}: ${r.description}`);
  const replays = rows.flatMap((r) =>
    r.cells.flatMap((c) =>
      c.token ? [`  ${r.variant} / ${c.property}: npx luosim replay ${c.token}`] : [],
    ),
  );
  return [
    ...lines,
    '',
    'variants:',
    ...notes,
    ...(replays.length ? ['', 'replay:', ...replays] : []),
  ].join('\n');
}

export function registerVariants(program: Command): void {
  program
    .command('variants')
    .description('check every variant of a scenario against every property')
    .argument('<scenario>', 'built-in scenario name or scenario file (.ts)')
    .addOption(
      new Option('--strategy <name>', 'search strategy')
        .choices(STRATEGIES)
        .default('dpor' as const),
    )
    .option('--preemptions <K>', 'dfs: preemption bound (default: unbounded)', intOption(0))
    .option(
      '--executions <N>',
      "stop each variant after N executions (default: the scenario's budget for its own strategy, else 1000 for random and pct, 100000 for dfs and dpor)",
      intOption(1),
    )
    .option('--steps <N>', 'step limit of one execution (default 10000)', intOption(1))
    .option('--seed <N>', 'seed of random and pct', intOption(0), 1)
    .option('--param <name=value>', 'set a scenario parameter (repeatable)', collectParam, [])
    .option('--json', 'print the table as JSON')
    .action(async (ref, flags) => {
      checkStrategyOptions(flags.strategy, flags.preemptions);
      const scenario = await loadScenario(ref);
      const rows = checkVariants(scenario, {
        scenarioRef: ref,
        strategy: flags.strategy,
        seed: flags.seed,
        params: paramsFrom(flags.param),
        limits: {
          executionsMax: flags.executions ?? defaultExecutions(scenario, flags.strategy),
          stepsMax: flags.steps ?? scenario.defaults?.steps ?? 10_000,
          preemptionsMax: flags.preemptions ?? null,
        },
      });
      if (flags.json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      else process.stdout.write(`${renderVariants(propertyNames(scenario), rows)}\n`);
    });
}
