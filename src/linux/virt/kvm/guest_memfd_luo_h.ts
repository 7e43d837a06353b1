/**
 * Which revision of guest_memfd_luo.c a boot runs, selected by kernel-config switches.
 *
 * **Models:** the differences between RFC v2 (default), v3 (22 Jun 2026) and the later tree
 * snapshot that spec §0.3, §6.7 and §7.6 list for virt/kvm/guest_memfd_luo.c.
 */
import type { Kernel } from '../../kernel.ts';

/** Switch names, with what each revision changes. */
export const GMEM_LUO_VERSIONS = {
  'gmem-luo-v3':
    'v3: can_preserve checks the superblock magic and a non-NULL private_data before using ' +
    'them (v2 dereferences private_data first) and requires GUEST_MEMFD_FLAG_INIT_SHARED',
  'gmem-luo-post-v3':
    'post-v3 tree: v3, plus retrieve rejects a size <= 0 or unaligned and flags outside ' +
    'kvm_gmem_get_supported_flags (-EINVAL), and preserve rollback skips pfn-0 entries',
} as const;

export interface GmemLuoRevision {
  readonly name: 'rfc-v2' | 'v3' | 'post-v3';
  readonly v3_can_preserve: boolean;
  readonly retrieve_validates: boolean;
  readonly skip_pfn0_on_rollback: boolean;
}

export function GMEM_LUO(k: Kernel): GmemLuoRevision {
  const post = k.config.switches['gmem-luo-post-v3'] === true;
  const v3 = post || k.config.switches['gmem-luo-v3'] === true;
  return {
    name: post ? 'post-v3' : v3 ? 'v3' : 'rfc-v2',
    v3_can_preserve: v3,
    retrieve_validates: post,
    skip_pfn0_on_rollback: post,
  };
}
