/** Writes the optional trace (--trace) and report (--report) files of one execution. */
import { writeFileSync } from 'node:fs';
import { htmlReport } from '../report/html.ts';
import { chromeTrace } from '../report/perfetto.ts';
import { InputError, type ExecutionResult } from '../sim/index.ts';

export interface ArtifactFlags {
  trace?: string;
  report?: string;
}

export interface ArtifactMeta {
  readonly title: string;
  readonly facts: readonly (readonly [string, string])[];
  readonly violation: string | null;
  readonly replay: string | null;
}

function write(path: string, text: string): void {
  try {
    writeFileSync(path, text);
  } catch (e) {
    throw new InputError(`cannot write ${path}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

export function writeArtifacts(
  execution: ExecutionResult,
  meta: ArtifactMeta,
  flags: ArtifactFlags,
): void {
  if (flags.trace !== undefined) write(flags.trace, chromeTrace(execution, meta));
  if (flags.report !== undefined) write(flags.report, htmlReport(execution, meta));
}
