/**
 * The kernel builds a scenario can choose, by switch name: the guest_memfd freeze design
 * variants, the guest_memfd_luo revisions and the seeded mutants. Like picking a kernel to
 * boot, this is the one kernel-side choice a userspace scenario makes; the names and
 * descriptions come from the kernel model so that both sides agree.
 */
import { MUTANTS, type MutantName } from '../linux/mutants.ts';
export { GMEM_FREEZE_VARIANTS } from '../linux/virt/kvm/guest_memfd_h.ts';
export { GMEM_LUO_VERSIONS } from '../linux/virt/kvm/guest_memfd_luo_h.ts';
export { MUTANTS, type MutantName } from '../linux/mutants.ts';

/** A scenario's variants for the seeded mutants `names`, with their descriptions. */
export function mutantVariants(...names: MutantName[]): Record<string, string> {
  return Object.fromEntries(names.map((n) => [n, MUTANTS[n]]));
}

/** The kernel switches of a variant that is a switch name ('default': none). */
export function variantSwitches(variant: string): Record<string, boolean> {
  return variant === 'default' ? {} : { [variant]: true };
}
