/**
 * `luosim inspect FILE [--fdt out.dtb]`: decodes a machine image (from `run --save-image`) for a
 * person, or writes its KHO root FDT alone as a .dtb that `dtc -I dtb -O dts` reads. A corrupt
 * image is bad input: one line on stderr, exit 2 (after printing what does decode, when the
 * handover's structure decodes but a file record does not, or is not preserved).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from '@commander-js/extra-typings';
import { ImageError, loadImage } from '../../machine/image.ts';
import { InputError } from '../../sim/index.ts';
import { InspectError, decodeHandover, handoverProblems } from '../inspect/decode.ts';
import { renderImage } from '../inspect/render.ts';

export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('decode a saved machine image: root FDT, preserved blocks, LUO sessions and files')
    .argument('<file>', 'a machine image written by luosim run --save-image')
    .option('--fdt <out>', 'write the KHO root FDT alone (a .dtb) to OUT instead')
    .action((path, flags) => {
      let bytes: Uint8Array;
      try {
        bytes = readFileSync(path);
      } catch (e) {
        throw new InputError(`cannot read ${path}: ${e instanceof Error ? e.message : String(e)}`);
      }
      try {
        const machine = loadImage(bytes);
        const handover = decodeHandover(machine);
        if (flags.fdt !== undefined) {
          if (handover === null) throw new InputError(`${path} holds no KHO root FDT`);
          try {
            writeFileSync(flags.fdt, handover.fdt);
          } catch (e) {
            throw new InputError(
              `cannot write ${flags.fdt}: ${e instanceof Error ? e.message : String(e)}`,
            );
          }
          process.stderr.write(
            `wrote the KHO root FDT (${handover.fdt.length} bytes) to ${flags.fdt}\n`,
          );
          return;
        }
        process.stdout.write(renderImage(path, bytes.length, machine, handover));
        // Everything that decodes is shown; a record that does not still makes the image bad input.
        const problems = handoverProblems(handover);
        if (problems.length > 0)
          throw new InputError(
            `${path}: ${problems.length} problem(s) in the handover; first: ${problems[0] ?? ''}`,
          );
      } catch (e) {
        if (e instanceof ImageError || e instanceof InspectError)
          throw new InputError(`${path}: ${e.message}`);
        throw e;
      }
    });
}
