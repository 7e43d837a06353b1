/**
 * Appendix A of guest_memfd-preservation.md (the consolidated error table of RFC v2), row by
 * row: each entry is named with the spec's wording (operation: condition → result) and reaches
 * its condition through syscalls (Process, kvm_util, libliveupdate); a row that only corrupt
 * handover data can reach writes the bytes into the machine's memory between kexec and the next
 * boot; a row that needs a failure inside the kernel injects it into the state the failing call
 * reads (memory exhausted, an inode field, a memslot race explored by DFS). Rows that differ
 * between RFC v2 and the v3 / post-v3 revisions are checked under each. Unreachable rows are
 * skipped entries that say why.
 */
import { test } from 'node:test';
import { GMEM_ROWS } from './appendix_a/rows_gmem.ts';
import { PRESERVE_ROWS } from './appendix_a/rows_preserve.ts';
import { REBOOT_ROWS } from './appendix_a/rows_reboot.ts';
import { RETRIEVE_ROWS } from './appendix_a/rows_retrieve.ts';
import type { Row } from './appendix_a/row.ts';

const TABLE: readonly Row[] = [...GMEM_ROWS, ...PRESERVE_ROWS, ...REBOOT_ROWS, ...RETRIEVE_ROWS];

for (const row of TABLE)
  if (row.skip !== undefined) test(row.name, { skip: row.skip }, () => {});
  else test(row.name, () => row.run?.());
