/** `luosim replay <token>`: re-run one execution from its token and print its timeline. */
import type { Command } from '@commander-js/extra-typings';
import { replayToken } from '../../explore/check.ts';
import { renderTimeline } from '../../report/timeline.ts';
import { decodeToken } from '../../sim/index.ts';
import { checkArtifactPaths, writeArtifacts } from '../artifacts.ts';
import { paramsText, renderExecution, replayCommand, variantText } from '../format.ts';
import { loadScenario } from '../load.ts';

export function registerReplay(program: Command): void {
  program
    .command('replay')
    .description('re-run the execution a replay token describes and print its timeline')
    .argument('<token>', 'a token printed by luosim check')
    .option('--json', 'print the result as JSON')
    .option('--trace <file>', 'write the execution as a Chrome/Perfetto trace (JSON)')
    .option('--report <file>', 'write the execution as a self-contained HTML report')
    .action(async (token, flags) => {
      checkArtifactPaths(flags);
      const { header } = decodeToken(token);
      const scenario = await loadScenario(header.scenario);
      const r = replayToken(scenario, token);
      writeArtifacts(
        r.result,
        {
          title: `luosim: ${header.scenario}`,
          facts: [
            ['scenario', header.scenario],
            ['variant', variantText(header.variant, scenario.variants)],
            ['params', paramsText(header.params)],
          ],
          violation: r.violation ? `${r.violation.property}: ${r.violation.message}` : null,
          replay: replayCommand(token),
        },
        flags,
      );
      if (flags.json) {
        const json = {
          scenario: header.scenario,
          variant: header.variant,
          params: header.params,
          steps: r.result.steps,
          preemptions: r.result.preemptions,
          outcome: r.result.outcome,
          violation: r.violation,
          timeline: renderTimeline(r.result),
        };
        process.stdout.write(`${JSON.stringify(json, null, 2)}\n`);
      } else {
        process.stdout.write(
          [
            `scenario   ${header.scenario}`,
            `variant    ${variantText(header.variant, scenario.variants)}`,
            `params     ${paramsText(header.params)}`,
            '',
            renderExecution(r.result, r.violation),
            '',
          ].join('\n'),
        );
      }
      process.exitCode = r.violation ? 1 : 0;
    });
}
