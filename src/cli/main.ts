#!/usr/bin/env node
/**
 * The luosim command line. Results go to stdout, progress and timing to stderr. Exit codes:
 * 0 every property holds, 1 a violation was found, 2 bad usage or input, 3 inconclusive
 * (a limit stopped the search), 70 an internal error, 74 the output could not be written.
 */
import { Command, CommanderError } from '@commander-js/extra-typings';
import { InputError, ReplayDiverged } from '../sim/index.ts';
import { registerCheck } from './commands/check.ts';
import { registerInspect } from './commands/inspect.ts';
import { registerList } from './commands/list.ts';
import { registerReplay } from './commands/replay.ts';
import { registerRun } from './commands/run.ts';
import { registerSelftest } from './commands/selftest.ts';
import { registerVariants } from './commands/variants.ts';

export const EXIT_USAGE = 2;
/** The output could not be written (EX_IOERR of sysexits.h). */
export const EXIT_OUTPUT = 74;

function buildProgram(): Command {
  const program = new Command()
    .name('luosim')
    .description('an executable, explorable model of Linux hypervisor live update')
    .version('0.1.0')
    .showSuggestionAfterError()
    .exitOverride();
  registerCheck(program);
  registerReplay(program);
  registerList(program);
  registerSelftest(program);
  registerRun(program);
  registerInspect(program);
  registerVariants(program);
  for (const c of program.commands) c.exitOverride();
  return program;
}

export async function main(argv: readonly string[]): Promise<number> {
  process.exitCode = 0;
  try {
    const program = buildProgram();
    // `help <topic>`: commander prints the whole help, as an error, for a topic it does not know.
    const topic = argv[0] === 'help' ? argv[1] : undefined;
    if (topic === 'help') {
      process.stdout.write(program.helpInformation());
      return 0;
    }
    if (topic !== undefined && !program.commands.some((c) => c.name() === topic))
      throw new InputError(`no command named "${topic}" (see: luosim help)`);
    await program.parseAsync([...argv], { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.code === 'commander.helpDisplayed' || e.code === 'commander.version') return 0;
      // `luosim` alone shows help as an error (exit code 1 in commander): a usage error here.
      if (e.code === 'commander.help') return e.exitCode === 0 ? 0 : EXIT_USAGE;
      return EXIT_USAGE;
    }
    if (e instanceof InputError || e instanceof ReplayDiverged) {
      process.stderr.write(`luosim: ${e.message}\n`);
      return EXIT_USAGE;
    }
    const message = e instanceof Error ? e.message : String(e);
    process.stderr.write(`luosim: internal error: ${message}\n`);
    return 70;
  }
}

// A reader that goes away (`luosim list | head`) is not an error worth a stack trace; any other
// failure to write the output (a full disk) is one line on stderr, if stderr still works.
for (const stream of [process.stdout, process.stderr])
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    try {
      if (stream === process.stdout)
        process.stderr.write(`luosim: cannot write standard output: ${e.code ?? e.message}\n`);
    } finally {
      process.exit(EXIT_OUTPUT);
    }
  });

process.exitCode = await main(process.argv.slice(2));
