/**
 * The kernel builds a scenario can choose, by switch name: the guest_memfd freeze design
 * variants and the guest_memfd_luo revisions. Like picking a kernel to boot, this is the one
 * kernel-side choice a userspace scenario makes; the names and descriptions come from the
 * kernel model so that both sides agree.
 */
export { GMEM_FREEZE_VARIANTS } from '../linux/virt/kvm/guest_memfd_h.ts';
export { GMEM_LUO_VERSIONS } from '../linux/virt/kvm/guest_memfd_luo_h.ts';
