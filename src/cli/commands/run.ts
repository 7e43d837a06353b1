/**
 * `luosim run <scenario>`: runs a scenario straight through once and prints how it ended; for a
 * live-update program also its log (ksft_print_msg lines) and its boots and kexecs.
 *
 * --save-image FILE writes the Machine at the kexec point (preserved memory and boot
 * parameters only: kexec has scrubbed the rest) in the format of machine/image.ts. --stage 1
 * stops after the kexec; --stage 2 --image FILE boots the stage-2 kernel from a saved image in
 * this fresh process and runs stage 2 only. A corrupt image, or one whose handover does not
 * decode or boot, is bad input: one line on stderr, exit 2.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { InvalidArgumentError, type Command } from '@commander-js/extra-typings';
import { ImageError, loadImage, saveImage } from '../../machine/image.ts';
import type { Machine } from '../../machine/machine.ts';
import { InputError } from '../../sim/index.ts';
import type { TestSystem } from '../../user/two_stage.ts';
import { checkArtifactPaths, checkOutputPath, writeArtifacts } from '../artifacts.ts';
import { paramsText, renderExecution, variantText } from '../format.ts';
import { InspectError, decodeHandover, handoverProblems } from '../inspect/decode.ts';
import { loadScenario } from '../load.ts';
import { collectParam, intOption, paramsFrom } from '../options.ts';
import { asTestSystem, runOnce, runVerdict } from '../run_once.ts';
import { EXIT_INCONCLUSIVE } from './check.ts';

interface RunFlags {
  saveImage?: string;
  stage?: 1 | 2;
  image?: string;
  steps?: number;
  param: string[];
  variant: string;
  timeline?: true;
  trace?: string;
  report?: string;
}

function stageOption(value: string): 1 | 2 {
  if (value === '1' || value === '2') return Number(value) as 1 | 2;
  throw new InvalidArgumentError(`expected 1 or 2, got "${value}"`);
}

/** Reads and checks an image: the container (image.ts) and its handover (decode.ts). */
export function readImageFile(path: string): Machine {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new InputError(`cannot read ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
  try {
    const machine = loadImage(bytes);
    const problems = handoverProblems(decodeHandover(machine));
    if (problems.length > 0)
      throw new InputError(
        `${path}: ${problems.length} problem(s) in the handover (see luosim inspect); ` +
          `first: ${problems[0] ?? ''}`,
      );
    return machine;
  } catch (e) {
    if (e instanceof ImageError || e instanceof InspectError)
      throw new InputError(`${path}: ${e.message}`);
    throw e;
  }
}

function writeFile(path: string, bytes: Uint8Array): void {
  try {
    writeFileSync(path, bytes);
  } catch (e) {
    throw new InputError(`cannot write ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

function checkFlags(f: RunFlags): void {
  if (f.image !== undefined && f.stage !== 2)
    throw new InputError('--image boots stage 2 from a saved machine: add --stage 2');
  if (f.stage === 2 && f.image === undefined)
    throw new InputError('--stage 2 needs the machine to boot: --image FILE');
  if (f.stage === 2 && f.saveImage !== undefined)
    throw new InputError('--save-image needs stage 1, which --stage 2 skips');
}

function systemSummary(s: TestSystem): string[] {
  const lines = s.ksft.log.map((l) => `  ${l}`);
  return [
    `boots      ${s.boots}, kexecs ${s.kexecs}`,
    ...(lines.length > 0 ? ['log', ...lines] : []),
  ];
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run a scenario straight through once (one schedule, no exploration)')
    .argument('<scenario>', 'built-in scenario name or scenario file (.ts)')
    .option('--save-image <file>', 'write the machine at the kexec point to FILE')
    .option(
      '--stage <n>',
      '1: stop after the kexec; 2: run stage 2 only (needs --image)',
      stageOption,
    )
    .option('--image <file>', 'with --stage 2: boot the stage-2 kernel from this saved machine')
    .option('--steps <N>', 'step limit of the execution', intOption(1))
    .option('--param <name=value>', 'set a scenario parameter (repeatable)', collectParam, [])
    .option('--variant <name>', 'scenario variant', 'default')
    .option('--timeline', 'print the timeline of the execution')
    .option('--trace <file>', 'write the execution as a Chrome/Perfetto trace (JSON)')
    .option('--report <file>', 'write the execution as a self-contained HTML report')
    .action(async (ref, flags) => {
      checkFlags(flags);
      checkArtifactPaths(flags);
      checkOutputPath(flags.saveImage);
      const scenario = await loadScenario(ref);
      const resume = flags.image === undefined ? null : readImageFile(flags.image);
      const needsSystem = resume !== null || flags.stage !== undefined || flags.saveImage;
      const captured: { image: Uint8Array | null } = { image: null };
      const r = runOnce(scenario, {
        params: paramsFrom(flags.param),
        variant: flags.variant,
        ...(flags.steps === undefined ? {} : { steps: flags.steps }),
        trace: flags.timeline === true || flags.trace !== undefined || flags.report !== undefined,
        onSetup: (state) => {
          const s = asTestSystem(state);
          if (s === null) {
            if (needsSystem)
              throw new InputError(`${ref} is not a live-update program: it has no kexec point`);
            return;
          }
          s.resumeFrom = resume;
          s.stopAfterKexec = flags.stage === 1;
          if (flags.saveImage !== undefined)
            s.onKexec = (m) => {
              captured.image = saveImage(m);
            };
        },
      });
      const system = asTestSystem(r.state);
      if (resume !== null && system !== null && system.kernel === null && system.boots === 1) {
        const v = r.judged.violation;
        const why =
          system.ksft.failures[0] ??
          (v !== null ? `${v.property}: ${v.message}` : 'the boot did not complete');
        throw new InputError(`${flags.image ?? ''}: cannot boot: ${why}`);
      }
      if ((flags.stage !== undefined || resume !== null) && system !== null && !system.twoStage)
        throw new InputError(
          `${ref} is a single-stage program: --stage and --image apply to two-stage ` +
            'live-update programs (see luosim list)',
        );
      const verdict = runVerdict(r);
      const out = [
        `scenario   ${ref}`,
        `variant    ${variantText(r.args.variant, scenario.variants)}`,
        `params     ${paramsText(r.args.params)}`,
        ...(resume !== null ? [`image      ${flags.image ?? ''} (stage 2 only)`] : []),
        ...(system !== null ? systemSummary(system) : []),
        `steps      ${r.judged.result.steps}`,
        `result     ${verdict.text}`,
      ];
      if (flags.timeline) out.push('', renderExecution(r.judged.result, r.judged.violation));
      process.stdout.write(`${out.join('\n')}\n`);
      process.stderr.write(`time       ${(r.seconds * 1000).toFixed(1)} ms\n`);
      writeArtifacts(
        r.judged.result,
        {
          title: `luosim: ${ref}`,
          facts: [
            ['scenario', ref],
            ['variant', variantText(flags.variant, scenario.variants)],
          ],
          violation: r.judged.violation
            ? `${r.judged.violation.property}: ${r.judged.violation.message}`
            : null,
          replay: null,
        },
        flags,
      );
      if (flags.saveImage !== undefined) {
        if (captured.image === null) {
          process.stderr.write(`luosim: ${ref} reached no kexec point; no image written\n`);
          process.exitCode = verdict.ok ? 2 : 1;
          return;
        }
        writeFile(flags.saveImage, captured.image);
        process.stderr.write(`wrote the machine at the kexec point to ${flags.saveImage}\n`);
      }
      process.exitCode = verdict.ok ? 0 : verdict.limited ? EXIT_INCONCLUSIVE : 1;
    });
}
