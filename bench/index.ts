/**
 * `npm run bench`: timing goals live here, never in `npm test`. Prints one line per figure;
 * docs/benchmarks.md records the figures measured on the project's machine.
 */
import { benchEngine } from './engine.ts';

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
