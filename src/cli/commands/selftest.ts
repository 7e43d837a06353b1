/**
 * `luosim selftest [name...]`: runs the selftest ports straight through, one line per test with
 * PASS/FAIL and its time, then `N passed, M failed`. A name is a port's name or the selftest
 * file it comes from ("liveupdate" = its 15 cases); none = every port. Exit 1 if any failed,
 * 2 for an unknown name.
 */
import type { Command } from '@commander-js/extra-typings';
import { selftests, type BuiltinScenario } from '../../scenarios/registry.ts';
import { InputError } from '../../sim/index.ts';
import { runOnce, runVerdict } from '../run_once.ts';

/** The ports `names` select, in registry order; an unknown name is an InputError. */
export function selectSelftests(names: readonly string[]): BuiltinScenario[] {
  const all = selftests();
  if (names.length === 0) return [...all];
  const file = (b: BuiltinScenario): string => b.name.split('.')[0] ?? b.name;
  // The C file's name selects its ports too: liveupdate.c, luo_kexec_simple.c.
  const wanted = names.map((n) => n.replace(/\.c$/, ''));
  const picks = (b: BuiltinScenario, n: string): boolean => b.name === n || file(b) === n;
  wanted.forEach((n, i) => {
    if (!all.some((b) => picks(b, n)))
      throw new InputError(`no selftest named "${names[i] ?? n}" (see: luosim list)`);
  });
  return all.filter((b) => wanted.some((n) => picks(b, n)));
}

const ms = (seconds: number): string => `${(seconds * 1000).toFixed(1)} ms`;

export function registerSelftest(program: Command): void {
  program
    .command('selftest')
    .description('run the ported kernel selftests straight through (PASS/FAIL per test)')
    .argument('[name...]', 'selftest names or files (e.g. liveupdate); none = all')
    .action(async (names) => {
      const chosen = selectSelftests(names);
      const width = Math.max(...chosen.map((b) => b.name.length));
      let passed = 0;
      let failed = 0;
      const start = performance.now();
      for (const b of chosen) {
        const r = runOnce(await b.load());
        const v = runVerdict(r);
        if (v.ok) passed++;
        else failed++;
        const status = v.ok ? 'PASS' : 'FAIL';
        const why = v.ok ? '' : `  ${v.text.replace(/^FAIL /, '')}`;
        process.stdout.write(
          `${status}  ${b.name.padEnd(width)}  ${ms(r.seconds).padStart(9)}${why}\n`,
        );
      }
      const total = ms((performance.now() - start) / 1000);
      process.stdout.write(`\n${passed} passed, ${failed} failed (${total})\n`);
      process.exitCode = failed === 0 ? 0 : 1;
    });
}
