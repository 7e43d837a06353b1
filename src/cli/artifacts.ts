/** Writes the optional trace (--trace) and report (--report) files of one execution. */
import { statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
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

/**
 * Checks before a run that `path` can be an output file (its directory exists; it is not a
 * directory), so that a long run does not end by losing its results to a typo.
 */
export function checkOutputPath(path: string | undefined): void {
  if (path === undefined) return;
  const full = resolve(path);
  const dir = statSync(dirname(full), { throwIfNoEntry: false });
  if (dir === undefined || !dir.isDirectory())
    throw new InputError(`cannot write ${path}: no directory ${dirname(full)}`);
  if (statSync(full, { throwIfNoEntry: false })?.isDirectory() === true)
    throw new InputError(`cannot write ${path}: it is a directory`);
}

export function checkArtifactPaths(flags: ArtifactFlags): void {
  checkOutputPath(flags.trace);
  checkOutputPath(flags.report);
}

export function writeArtifacts(
  execution: ExecutionResult,
  meta: ArtifactMeta,
  flags: ArtifactFlags,
): void {
  if (flags.trace !== undefined) write(flags.trace, chromeTrace(execution, meta));
  if (flags.report !== undefined) write(flags.report, htmlReport(execution, meta));
}
