/**
 * guest_memfd's internal definitions: the inode, the per-VM file state, the FROZEN flag, and
 * the design variants of the freeze.
 *
 * **Models:** virt/kvm/guest_memfd.h (patches 05 and 06 of the guest_memfd preservation series,
 * RFC v2): struct gmem_file {kvm, bindings, entry}, struct gmem_inode {policy, vfs inode,
 * gmem_file_list, flags}, GMEM_I, GUEST_MEMFD_F_MAPPING_FROZEN (bit 63, never a uAPI bit) and
 * GUEST_MEMFD_MAGIC of include/uapi/linux/magic.h.
 * **Abstracted:** the shared NUMA policy is not kept. `bindings` is a Map from page index to
 * memslot instead of an xarray with range stores. The flags word is a Shared<bigint> so that
 * every access goes through READ_ONCE/WRITE_ONCE (visible operations).
 *
 * Variants (kernel config switches; default = RFC v2 as posted), each a review point of §7:
 * see GMEM_FREEZE_VARIANTS.
 */
import type { Access, Sim } from '../../../sim/index.ts';
import { Shared, SrcuStruct } from '../../../sync/index.ts';
import { inode, S_IFREG, type file } from '../../fs/file.ts';
import type { kvm, kvm_memory_slot } from '../../include/linux/kvm_host.ts';
import type { Kernel } from '../../kernel.ts';
import { address_space, AS_INACCESSIBLE, AS_UNEVICTABLE } from '../../mm/filemap.ts';

/** GUEST_MEMFD_MAGIC ("GMEM"): the pseudo filesystem's superblock magic. */
export const GUEST_MEMFD_MAGIC = 0x474d454d;
/** Internal inode flag (patch 06): page-cache changes are refused. Must not overlap uAPI bits. */
export const GUEST_MEMFD_F_MAPPING_FROZEN = 1n << 63n;

/** The freeze design variants, by switch name, with the review point each one represents. */
export const GMEM_FREEZE_VARIANTS = {
  'no-sync-on-freeze':
    'kvm_gmem_freeze sets FROZEN but does not synchronize_srcu: an allocation already past its ' +
    'frozen check may insert a folio after the freeze returned (why freeze must wait, §3.4, §7.1.4)',
  'no-frozen-check-in-fallocate':
    "only kvm_gmem_get_folio checks FROZEN (Pratyush's first suggestion, §7.1.2): punch hole, " +
    'which never allocates, then removes folios from a frozen inode',
  'frozen-check-outside-read-section':
    'FROZEN is read before srcu_read_lock instead of inside the read section: a reader that ' +
    'passed the check is not waited for by synchronize_srcu (§3.4 writer/reader protocol)',
  'sync-on-unfreeze':
    "unfreeze also calls synchronize_srcu (Ackerley's question, §7.1.4): same outcomes, the " +
    'caller only waits longer',
  'per-inode-srcu':
    'each guest_memfd inode has its own SRCU domain instead of one per boot (§7.1.5): a freeze no ' +
    'longer waits for allocations on other inodes, at the cost of unaccounted per-CPU memory',
  'freeze-under-invalidate-lock':
    'freeze sets FROZEN under filemap_invalidate_lock instead of an SRCU grace period (Ackerley, ' +
    '§7.2.3): it waits for fallocate, but guest and host faults do not take that lock',
} as const;

export type GmemFreezeVariant = keyof typeof GMEM_FREEZE_VARIANTS;

/** Whether the kernel runs a freeze variant. */
export function gmem_variant(k: Kernel, name: GmemFreezeVariant): boolean {
  return k.config.switches[name] === true;
}

/**
 * Model-only bookkeeping read by the checkers (src/checkers), not kernel state: what each
 * kvm_gmem_freeze observed about the read sections it was meant to wait for. It lets a checker
 * state Appendix B.3 ("a freeze waits for every allocation already in its read section, on any
 * inode; an unfreeze never blocks") without changing the modelled behaviour.
 */
export class GmemFreezeDebug {
  /** Every SRCU domain guest_memfd allocations read-lock (one, or one per inode). */
  readonly domains = new Set<SrcuStruct>();
  freezes = 0;
  /** Freezes that returned while a read section open when FROZEN was published was still open. */
  freezes_returned_early = 0;
  /** Unfreezes that waited for at least one read section. */
  unfreezes_waited = 0;

  /** The footprint of looking at every domain's readers. */
  footprint(): Access[] {
    return [...this.domains].map((d) => ({ object: d.id, kind: 'write' as const }));
  }

  /** Open read sections across every domain, as domain/sequence keys. */
  openReadSections(): Set<string> {
    const out = new Set<string>();
    for (const d of this.domains) for (const seq of d.readers.keys()) out.add(`${d.id}/${seq}`);
    return out;
  }
}

/** struct gmem_file: one VM's view of a guest_memfd inode. */
export class gmem_file {
  readonly kvm: kvm;
  readonly inode: gmem_inode;
  /** Page index → the memslot bound there. */
  readonly bindings = new Map<number, kvm_memory_slot>();

  constructor(v: kvm, ino: gmem_inode) {
    this.kvm = v;
    this.inode = ino;
  }
}

/** struct gmem_inode: the VFS inode plus guest_memfd's own fields. */
export class gmem_inode extends inode {
  static readonly FROZEN = GUEST_MEMFD_F_MAPPING_FROZEN;
  /** The superblock magic of the inode's filesystem. */
  readonly s_magic = GUEST_MEMFD_MAGIC;
  /** GMEM_I(inode)->flags: creation flags plus FROZEN. */
  readonly flags: Shared<bigint>;
  readonly gmem_file_list = new Set<gmem_file>();
  /** The inode's own SRCU domain under the `per-inode-srcu` variant, else null. */
  readonly srcu: SrcuStruct | null;

  constructor(sim: Sim, ino: number, size: number, flags: bigint, ownSrcu: boolean) {
    super(ino);
    const name = `gmem${ino}`;
    this.i_mode = S_IFREG;
    this.i_size = size;
    const m = new address_space(sim, this, name);
    m.flags |= AS_INACCESSIBLE | AS_UNEVICTABLE;
    this.i_mapping = m;
    this.flags = new Shared(sim, `${name}.flags`, flags);
    this.srcu = ownSrcu ? new SrcuStruct(sim, `${name}.freeze_srcu`) : null;
  }

  i_mapping_of(): address_space {
    return this.i_mapping as address_space;
  }
}

/** GMEM_I(inode): the guest_memfd inode, or null for any other inode. */
export function GMEM_I(ino: inode): gmem_inode | null {
  return ino instanceof gmem_inode ? ino : null;
}

/** The gmem_file behind a guest_memfd file (file->private_data), or null. */
export function gmem_file_of(f: file): gmem_file | null {
  return f.private_data instanceof gmem_file ? f.private_data : null;
}
