/**
 * `luosim list`: the built-in scenarios (with how many variants each has besides the default);
 * with --json also their parameters and variants (with the description of each).
 */
import type { Command } from '@commander-js/extra-typings';
import type { Scenario } from '../../explore/scenario.ts';
import { BUILTIN_SCENARIOS } from '../../scenarios/registry.ts';

export function registerList(program: Command): void {
  program
    .command('list')
    .description('list the built-in scenarios')
    .option('--json', "print the list as JSON, with each scenario's parameters and variants")
    .action(async (flags) => {
      const rows: {
        name: string;
        group: string;
        expect: string;
        description: string;
        params: Scenario['params'];
        /** Variant name → what it represents. */
        variants: Scenario['variants'];
      }[] = [];
      for (const b of BUILTIN_SCENARIOS) {
        const s = await b.load();
        rows.push({
          name: b.name,
          group: b.group,
          expect: s.defaults?.expect ?? 'holds',
          description: s.description,
          params: s.params,
          variants: s.variants,
        });
      }
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        return;
      }
      const w = Math.max(...rows.map((r) => r.name.length));
      for (const r of rows) {
        const others = Object.keys(r.variants).length - 1;
        const variants = others > 0 ? ` [${others} variant${others === 1 ? '' : 's'}]` : '';
        process.stdout.write(
          `${r.name.padEnd(w)}  ${r.group.padEnd(8)}  ${r.expect.padEnd(8)}  ${r.description}${variants}\n`,
        );
      }
      process.stdout.write('\n[N variants]: see them with luosim variants <scenario>\n');
    });
}
