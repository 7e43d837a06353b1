/**
 * `npm run bench`: timing goals live here, never in `npm test`. Prints one line per figure;
 * docs/benchmarks.md records the figures measured on the project's machine. The 16 GiB
 * guest_memfd handover takes about half a minute (mostly populating the file) and under 1 GiB of
 * heap (the script raises Node's heap limit); `npm run bench -- --quick` skips it.
 */
import srcuFixed from '../examples/srcu-use-after-free-fixed.ts';
import lostUpdateFixed from '../examples/lost-update-fixed.ts';
import { benchEngine, benchFourTasks } from './engine.ts';
import { benchGmemHandover } from './gmem_handover.ts';
import { compareBounded, compareReduction } from './reduction.ts';
import { races } from '../src/scenarios/registry.ts';
import { benchFreezeRace, benchGmemSelftest } from './scenarios.ts';

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

const quick = process.argv.includes('--quick');

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

console.log(
  '\nDPOR against DFS bounded to one preemption, on every race scenario (same verdict; every ' +
    'terminal state of the bounded search is one DPOR reaches)',
);
for (const b of races()) {
  const r = compareBounded(b.name, await b.load());
  console.log(
    `  ${r.name.padEnd(30)} dpor ${fmt(r.dpor.executions).padStart(6)} executions ` +
      `(${r.dpor.seconds.toFixed(2)} s), ${r.dpor.terminalStates} terminal states; ` +
      `dfs bound 1 ${fmt(r.dfs1.executions).padStart(5)} (${r.dfs1.seconds.toFixed(2)} s), ` +
      `${r.dfs1.terminalStates}`,
  );
}

const race = benchFreezeRace(50_000);
console.log('\ngmem-freeze-race (4 tasks: preserve + close, vCPU fault, fallocate, punch hole)');
console.log(
  `  DPOR exhaustive    ${fmt(race.dporExecutions)} executions in ${race.dporSeconds.toFixed(2)} s: ` +
    `${fmt(race.dporExecutions / race.dporSeconds)} executions/s (goal 20,000), ` +
    `${fmt(race.dporStepsPerSecond)} steps/s`,
);
console.log(
  '                     median of 3 searches: ' +
    race.dporRuns.map((t) => `${fmt(race.dporExecutions / t)}/s`).join(', '),
);
console.log(
  `                     each execution starts from a snapshot after the ${race.prologueSteps}-step ` +
    `prologue: ${fmt(race.dporRacingStepsPerSecond)} steps/s actually run`,
);
console.log(
  `  without snapshot   ${race.noSnapshotSeconds.toFixed(2)} s ` +
    `(${fmt(race.dporExecutions / race.noSnapshotSeconds)} executions/s)`,
);
const four = benchFourTasks(2);
console.log(
  `  for comparison, DPOR on a four-task scenario without kernel code (lost-update-fixed, ` +
    `4 tasks x 2, ${four.steps.toFixed(0)} steps): ${fmt(four.executionsPerSecond)} executions/s`,
);
console.log(
  `  plain DFS          ${fmt(race.dfsExecutions)} executions in ${race.dfsSeconds.toFixed(2)} s, ` +
    (race.dfsFinished ? 'finished' : 'not finished (budget reached)'),
);

const g = benchGmemSelftest(15);
console.log('\nguest_memfd_preservation_test port (both stages and the kexec, in process)');
console.log(`  median ${g.medianMs.toFixed(1)} ms, best ${g.minMs.toFixed(1)} ms (goal < 100 ms)`);

const GiB = 1024 ** 3;
for (const size of quick ? [1] : [1, 16]) {
  const h = benchGmemHandover(size * GiB);
  console.log(
    `\nfully populated ${size} GiB guest_memfd (${fmt(h.folios)} folios) across a live update`,
  );
  console.log(
    `  populate ${h.populateSeconds.toFixed(2)} s | preserve ${h.preserveSeconds.toFixed(2)} s, ` +
      `kexec ${h.kexecSeconds.toFixed(2)} s, boot ${h.bootSeconds.toFixed(2)} s, ` +
      `retrieve ${h.retrieveSeconds.toFixed(2)} s`,
  );
  console.log(
    `  ${fmt(h.foliosPerSecond)} folios/s end to end (goal 1,000,000), heap ${fmt(h.heapMiB)} MiB`,
  );
}
