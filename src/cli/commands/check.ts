/** `luosim check [scenario]`: explore one scenario, or every built-in one with its defaults. */
import { Option, type Command } from '@commander-js/extra-typings';
import { check, STRATEGIES, type CheckResult, type StrategyName } from '../../explore/check.ts';
import type { Scenario } from '../../explore/scenario.ts';
import { BUILTIN_SCENARIOS } from '../../scenarios/registry.ts';
import { checkArtifactPaths, writeArtifacts } from '../artifacts.ts';
import { InputError } from '../../sim/index.ts';
import {
  checkJson,
  coverageText,
  paramsText,
  rateText,
  renderCheck,
  replayCommand,
  variantText,
} from '../format.ts';
import { loadScenario } from '../load.ts';
import {
  checkStrategyOptions,
  collectParam,
  defaultExecutions,
  intOption,
  paramsFrom,
  secondsOption,
} from '../options.ts';
import { makeProgress } from '../progress.ts';

export const EXIT_HOLDS = 0;
export const EXIT_VIOLATED = 1;
export const EXIT_INCONCLUSIVE = 3;
/** PCT draws depth - 1 priority change points in every execution: bounded so that one cannot hang. */
const PCT_DEPTH_MAX = 1000;

interface CheckFlags {
  strategy?: StrategyName;
  preemptions?: number;
  executions?: number;
  steps?: number;
  seconds?: number;
  seed: number;
  depth: number;
  param: string[];
  variant: string;
  json?: true;
  trace?: string;
  report?: string;
  /** false with --no-snapshot. */
  snapshot: boolean;
}

function runCheck(scenario: Scenario, ref: string, f: CheckFlags): CheckResult {
  const strategy = f.strategy ?? scenario.defaults?.strategy ?? 'dfs';
  const progress = makeProgress();
  const result = check(scenario, {
    scenarioRef: ref,
    strategy,
    seed: f.seed,
    params: paramsFrom(f.param),
    variant: f.variant,
    pctDepth: f.depth,
    limits: {
      executionsMax: f.executions ?? defaultExecutions(scenario, strategy),
      stepsMax: f.steps ?? scenario.defaults?.steps ?? 10_000,
      preemptionsMax: f.preemptions ?? scenario.defaults?.preemptions ?? null,
      secondsMax: f.seconds ?? null,
    },
    snapshot: f.snapshot,
    clock: () => performance.now(),
    onProgress: (p) => {
      progress.update(`${ref}: ${p.executions} executions, ${p.steps} steps`);
    },
  });
  progress.done();
  return result;
}

function exitCodeOf(r: CheckResult): number {
  if (r.verdict === 'violated') return EXIT_VIOLATED;
  if (r.verdict === 'limit') return EXIT_INCONCLUSIVE;
  return EXIT_HOLDS;
}

async function checkAll(f: CheckFlags): Promise<number> {
  const rows: string[][] = [['scenario', 'expected', 'verdict', 'coverage', 'executions', '']];
  const json: unknown[] = [];
  let mismatches = 0;
  let inconclusive = 0;
  for (const b of BUILTIN_SCENARIOS) {
    const scenario = await b.load();
    const r = runCheck(scenario, b.name, f);
    const expected = scenario.defaults?.expect ?? 'holds';
    const ok = r.verdict === expected;
    if (r.verdict === 'limit') inconclusive++;
    else if (!ok) mismatches++;
    const coverage =
      r.verdict === 'violated' && r.counterexample
        ? `counterexample of ${r.counterexample.execution.steps} steps`
        : coverageText(r);
    rows.push([
      b.name,
      expected,
      r.verdict,
      coverage,
      String(r.executions),
      ok ? 'ok' : r.verdict === 'limit' ? 'inconclusive' : 'UNEXPECTED',
    ]);
    json.push({ ...(checkJson(r) as object), expected, asExpected: ok });
  }
  if (f.json) {
    process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
  } else {
    const widths =
      rows[0]?.map((_, c) => Math.max(...rows.map((row) => (row[c] ?? '').length))) ?? [];
    for (const row of rows)
      process.stdout.write(
        `${row
          .map((cell, c) => cell.padEnd(widths[c] ?? 0))
          .join('  ')
          .trimEnd()}\n`,
      );
    const n = BUILTIN_SCENARIOS.length;
    const problems = [
      mismatches > 0 ? `${mismatches} with an unexpected verdict` : '',
      inconclusive > 0 ? `${inconclusive} stopped by a limit` : '',
    ].filter((x) => x !== '');
    process.stdout.write(
      problems.length === 0
        ? `\n${n} scenarios, all verdicts as expected\n`
        : `\n${n} scenarios, ${problems.join(', ')}\n`,
    );
  }
  // A wrong verdict outweighs a search a limit cut short.
  if (mismatches > 0) return EXIT_VIOLATED;
  return inconclusive > 0 ? EXIT_INCONCLUSIVE : EXIT_HOLDS;
}

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('explore the interleavings of a scenario and check its properties')
    .argument('[scenario]', 'built-in scenario name or scenario file (.ts); none = every built-in')
    .addOption(
      new Option(
        '--strategy <name>',
        "search strategy (default: the scenario's own, else dfs)",
      ).choices(STRATEGIES),
    )
    .option('--preemptions <K>', 'dfs: preemption bound (default: unbounded)', intOption(0))
    .option(
      '--executions <N>',
      "stop after N executions (default: the scenario's budget for its own strategy, else 1000 for random and pct, 100000 for dfs and dpor)",
      intOption(1),
    )
    .option('--steps <N>', 'step limit of one execution (default 10000)', intOption(1))
    .option('--seconds <S>', 'stop the search after S seconds', secondsOption)
    .option('--seed <N>', 'seed of random and pct', intOption(0), 1)
    .option('--depth <d>', 'pct: bug depth (at most 1000)', intOption(1, PCT_DEPTH_MAX), 3)
    .option('--param <name=value>', 'set a scenario parameter (repeatable)', collectParam, [])
    .option('--variant <name>', 'scenario variant', 'default')
    .option('--json', 'print the result as JSON')
    .option('--trace <file>', 'write the counterexample as a Chrome/Perfetto trace (JSON)')
    .option('--report <file>', 'write the counterexample as a self-contained HTML report')
    .option('--no-snapshot', 'run the scenario prologue in every execution instead of copying it')
    .action(async (ref, flags, cmd) => {
      const depthGiven = cmd.getOptionValueSource('depth') === 'cli';
      checkStrategyOptions(flags.strategy, flags.preemptions, depthGiven);
      if (ref === undefined) {
        if (flags.trace !== undefined || flags.report !== undefined)
          throw new InputError('--trace and --report write one counterexample: name a scenario');
        if (flags.variant !== 'default' || flags.param.length > 0)
          throw new InputError('--variant and --param apply to one scenario: name a scenario');
        process.exitCode = await checkAll(flags);
        return;
      }
      checkArtifactPaths(flags);
      const scenario = await loadScenario(ref);
      const r = runCheck(scenario, ref, flags);
      if (flags.json) process.stdout.write(`${JSON.stringify(checkJson(r), null, 2)}\n`);
      else {
        process.stdout.write(`${renderCheck(r, scenario.variants)}\n`);
        const rate = rateText(r);
        if (rate) process.stderr.write(`${rate}\n`);
      }
      const cx = r.counterexample;
      if (cx) {
        writeArtifacts(
          cx.execution,
          {
            title: `luosim: ${ref}`,
            facts: [
              ['scenario', ref],
              ['variant', variantText(r.variant, scenario.variants)],
              ['params', paramsText(r.params)],
              ['strategy', `${r.strategy}, seed ${r.seed}`],
            ],
            violation: `${cx.property}: ${cx.message}`,
            replay: replayCommand(cx.token),
          },
          flags,
        );
      } else if (flags.trace !== undefined || flags.report !== undefined) {
        process.stderr.write('luosim: no counterexample, so no trace or report was written\n');
      }
      process.exitCode = exitCodeOf(r);
    });
}
