/**
 * `npm run bench`: timing goals live here, never in `npm test`. Prints one line per figure;
 * docs/benchmarks.md records the figures measured on the project's machine.
 */
import srcuFixed from '../examples/srcu-use-after-free-fixed.ts';
import lostUpdateFixed from '../examples/lost-update-fixed.ts';
import { benchEngine } from './engine.ts';
import { compareReduction } from './reduction.ts';

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

const e = benchEngine();
console.log('engine (two tasks, mutex-protected counter)');
console.log(`  straight-through visible operations/s  ${fmt(e.opsPerSecond)}`);
console.log(
  `  DFS executions                         ${fmt(e.dfsExecutions)} (exhaustive, 3 rounds per task)`,
);
console.log(`  DFS executions/s                       ${fmt(e.executionsPerSecond)}`);
console.log(`  DFS steps/s                            ${fmt(e.stepsPerSecond)}`);

console.log('\nDPOR against DFS (exhaustive searches, same verdict)');
for (const r of [
  compareReduction('lost-update-fixed, 3 tasks x 2', lostUpdateFixed, { tasks: 3, increments: 2 }),
  compareReduction('srcu-use-after-free-fixed, 2 readers', srcuFixed),
]) {
  const ratio = r.dfs.executions / Math.max(1, r.dpor.executions);
  console.log(
    `  ${r.name.padEnd(38)} dfs ${fmt(r.dfs.executions)} executions (${r.dfs.seconds.toFixed(2)} s), ` +
      `dpor ${fmt(r.dpor.executions)} (${r.dpor.seconds.toFixed(2)} s): ${ratio.toFixed(0)}x fewer`,
  );
}
