/**
 * Seeded mutants: small bugs planted in the kernel model, each behind a kernel-config switch of
 * its own name (KernelConfig.switches), so that `luosim variants` shows which property and which
 * interleaving catch each one. They model no kernel file and no review proposal (those are the
 * design variants of guest_memfd_h.ts); each is one deletion or one skipped condition in the
 * model of a kernel function, named in its description and marked at the place it breaks.
 *
 * A mutant is a test of the checkers and of the explorer: the race scenario that lists it must
 * report a violation (test/scenarios/races.test.ts), for some mutants only after a preemption.
 */
import type { Kernel } from './kernel.ts';

export const MUTANTS = {
  'mutant-release-without-serialize-lock':
    'seeded bug: luo_session_release (kernel/liveupdate/luo_session.c) does not take ' +
    'luo_session_serialize_rwsem, so closing a session can unpreserve its files while a reboot ' +
    'is serializing the sessions',
  'mutant-unpreserve-keeps-folios':
    'seeded bug: guest_memfd_luo unpreserve skips kho_unpreserve_folio for the preserved folios ' +
    '(the record and the folio array are still released): KHO keeps preserving pages no record ' +
    'owns, and hands them to the next kernel',
  'mutant-incoming-retrieve-reruns-handler':
    "seeded bug: liveupdate_get_file_incoming runs the handler's retrieve even when the file " +
    'was already retrieved, instead of taking another reference to the retrieved file',
  'mutant-finish-without-session-mutex':
    'seeded bug: the FINISH ioctl (luo_session_finish) does not take the session mutex, so a ' +
    'RETRIEVE_FD that already looked up its file can go on after FINISH freed the record',
  'mutant-get-folio-skips-frozen-check':
    'seeded bug: kvm_gmem_get_folio allocates a missing folio without checking FROZEN (the check ' +
    'fallocate makes stays): guest and host faults can add pages to a frozen guest_memfd',
} as const;

export type MutantName = keyof typeof MUTANTS;

/** Whether the running kernel was built with seeded mutant `name`. */
export function mutant(k: Kernel, name: MutantName): boolean {
  return k.config.switches[name] === true;
}
