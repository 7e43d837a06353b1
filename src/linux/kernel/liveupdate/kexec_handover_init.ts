/**
 * KHO at boot: take over the previous kernel's handover, reserve what it preserved, and set up
 * the outgoing tracker and root FDT for the next kexec.
 *
 * **Models:** kernel/liveupdate/kexec_handover.c — kho_parse_enable (`kho=`), kho_populate
 * (setup_arch), kho_memory_init with kho_mem_retrieve / kho_preserved_memory_reserve and
 * kho_reserve_scratch (mm_core_init), kho_init and kho_out_fdt_setup (fs_initcall), and the
 * kexec-metadata blob of include/linux/kho/abi/kexec_metadata.h; v7.2-era mainline, spec §1.3,
 * §4.1, §4.8.
 *
 * **Abstracted:** one NUMA node, so three scratch areas (lowmem, global, node 0) of
 * config.kho_scratch_size each instead of 200% of memblock's reservations; no debugfs.
 *
 * Paths:
 * 1. cold boot (no FDT in the boot parameters): not a KHO boot; with KHO enabled, reserve new
 *    scratch; failing that, disable KHO (non-fatal).
 * 2. FDT header invalid, compatible not "kho-v4", or no usable preserved-memory-map: the
 *    handover is ignored, the boot goes on as a cold boot (non-fatal bootFailure), and all
 *    preserved memory is free memory.
 * 3. tracker pointers the kernel would fault on (outside memory, a loop, a key outside memory):
 *    panic, i.e. a fatal BootFailure.
 * 4. kho_init failing (no memory for the tracker, the FDT page or the metadata blob): KHO is
 *    disabled for this boot (non-fatal).
 */
import type { Sched } from '../../../sim/index.ts';
import { MAX_ORDER_NR_PAGES, PAGE_SIZE, PHYS_PFN } from '../../include/asm-generic/page.ts';
import {
  KHO_FDT_COMPATIBLE,
  KHO_FDT_MEMORY_MAP_PROP_NAME,
} from '../../include/linux/kho/abi/kexec_handover.ts';
import {
  KHO_KEXEC_METADATA_SIZEOF,
  KHO_KEXEC_METADATA_VERSION,
  KHO_METADATA_NODE_NAME,
  kho_kexec_metadata_decode,
  kho_kexec_metadata_encode,
} from '../../include/linux/kho/abi/kexec_metadata.ts';
import { Page } from '../../include/linux/mm_types.ts';
import { errnoName } from '../../include/uapi/asm-generic/errno.ts';
import {
  FdtError,
  fdtGetProp,
  fdtParse,
  propString,
  propU64LE,
  type FdtNode,
} from '../../lib/fdt.ts';
import type { Kernel } from '../../kernel.ts';
import { GFP_KERNEL, free_page, get_zeroed_page } from '../../mm/page_alloc.ts';
import { panic } from '../panic.ts';
import {
  kho_add_subtree,
  kho_alloc_preserve,
  kho_out_fdt_write,
  kho_page_info,
  kho_retrieve_subtree,
  kho_unpreserve_free,
} from './kexec_handover.ts';
import { TrackerCorrupt, kho_radix_walk_tree } from './kho_radix_tree.ts';

/** The value of `kho=` on the command line, or null if absent or unparsable (kstrtobool). */
export function kho_parse_enable(cmdline: string): boolean | null {
  for (const arg of cmdline.split(/\s+/)) {
    if (!arg.startsWith('kho=')) continue;
    const v = arg.slice(4).toLowerCase();
    if (['1', 'y', 'yes', 'on', 'true'].includes(v)) return true;
    if (['0', 'n', 'no', 'off', 'false'].includes(v)) return false;
  }
  return null;
}

/** True when the FDT's root `compatible` string list holds `compat` (fdt_node_check_compatible). */
function checkCompatible(root: FdtNode, compat: string): boolean {
  const v = fdtGetProp(root, 'compatible');
  if (v === null) return false;
  return new TextDecoder().decode(v).split('\0').includes(compat);
}

/** setup_arch: validates the incoming handover and records it (kho_populate). */
export function kho_populate(k: Kernel): void {
  k.kho.enabled = kho_parse_enable(k.cmdline) ?? k.config.kho_enable_default;
  const params = k.machine.bootParams;
  if (params.khoFdtPhys === null) return;
  const fdtPhys = Number(params.khoFdtPhys);
  const where = `handover FDT (0x${fdtPhys.toString(16)})`;
  const len = Math.min(PAGE_SIZE, k.machine.memSize - fdtPhys);
  let root: FdtNode;
  try {
    root = fdtParse(k.machine.physmem.read(fdtPhys, len));
  } catch (e) {
    if (!(e instanceof FdtError)) throw e;
    k.degrade('kho_populate', `${where} is invalid: ${e.code}: ${e.message}; KHO revival disabled`);
    return;
  }
  if (!checkCompatible(root, KHO_FDT_COMPATIBLE)) {
    k.degrade('kho_populate', `${where} is incompatible with '${KHO_FDT_COMPATIBLE}'`);
    return;
  }
  const map = fdtGetProp(root, KHO_FDT_MEMORY_MAP_PROP_NAME);
  const mapPhys =
    map?.length === 8 ? new DataView(map.buffer, map.byteOffset).getBigUint64(0, true) : 0n;
  if (mapPhys === 0n) {
    k.degrade('kho_populate', `${where}: failed to get preserved memory map`);
    return;
  }
  k.kho.in_fdt_phys = fdtPhys;
  k.kho.in_mem_map = mapPhys;
  k.kho.in_scratch = true;
  k.kho.scratch = params.scratch.map((s) => ({ addr: Number(s.addr), size: Number(s.size) }));
  for (const s of k.kho.scratch) k.memblock.memblock_reserve(s.addr, s.size);
  k.pr_info('KHO: found kexec handover data.');
}

/** mm_core_init: reserve and stamp every preserved block, or reserve scratch on a cold boot. */
export function kho_memory_init(k: Kernel): void {
  if (!k.kho.in_scratch) {
    kho_reserve_scratch(k);
    return;
  }
  try {
    kho_radix_walk_tree(k.machine.physmem, k.kho.in_mem_map, {
      onBlock: (phys, order) => {
        k.memblock.memblock_reserve(phys, PAGE_SIZE * 2 ** order);
        const head = new Page(PHYS_PFN(phys));
        head.reserved = true;
        head.order = order;
        head.private = kho_page_info(order);
        k.page_alloc.track(head);
      },
    });
  } catch (e) {
    if (e instanceof TrackerCorrupt) panic(`KHO: preserved-memory-map is corrupt: ${e.message}`);
    throw e;
  }
}

/** Cold boot: lowmem, global and node-0 scratch areas, top-down (kho_reserve_scratch). */
function kho_reserve_scratch(k: Kernel): void {
  if (!k.kho.enabled) return;
  const align = PAGE_SIZE * MAX_ORDER_NR_PAGES; // SCRATCH_ALIGNMENT_BYTES
  const size = Math.ceil(k.config.kho_scratch_size / align) * align;
  const limits = [Math.min(4 * 1024 ** 3, k.machine.memSize), k.machine.memSize, k.machine.memSize];
  for (const limit of limits) {
    const addr = k.memblock.memblock_phys_alloc_range(size, align, limit);
    if (addr === 0) {
      // The areas already reserved go back to memblock before KHO is disabled.
      for (const area of k.kho.scratch) k.memblock.memblock_phys_free(area.addr, area.size);
      k.kho.scratch = [];
      k.kho.enabled = false;
      k.degrade('kho_reserve_scratch', 'Failed to reserve scratch area, disabling kexec handover');
      return;
    }
    k.kho.scratch.push({ addr, size });
  }
}

/** Reads the previous kernel's kexec-metadata blob, if any, and logs where we came from. */
function kho_read_metadata(k: Kernel): void {
  const sub = kho_retrieve_subtree(k, KHO_METADATA_NODE_NAME);
  if (typeof sub === 'number' || sub.size < KHO_KEXEC_METADATA_SIZEOF) return;
  const m = kho_kexec_metadata_decode(k.machine.physmem.read(sub.phys, KHO_KEXEC_METADATA_SIZEOF));
  if (m.version !== KHO_KEXEC_METADATA_VERSION) {
    k.pr_warn(`KHO: kexec metadata version ${m.version} unsupported, ignored`);
    return;
  }
  k.kho.in_kexec_count = m.kexec_count;
  k.kho.in_release = m.previous_release;
  k.pr_info(`KHO: exec from: ${m.previous_release} (count ${m.kexec_count})`);
}

/** fs_initcall: the outgoing tracker root, root FDT and metadata blob (kho_init). */
export function* kho_init(k: Kernel): Sched<number> {
  if (!k.kho.enabled) return 0;
  kho_read_metadata(k);
  const root = get_zeroed_page(k, GFP_KERNEL);
  if (root < 0) return kho_init_failed(k, root, 0);
  k.kho.radix_root = root;
  const fdt = yield* kho_alloc_preserve(k, PAGE_SIZE);
  if (fdt < 0) return kho_init_failed(k, fdt, root);
  k.kho.out_fdt = fdt;
  const tree: FdtNode = {
    name: '',
    props: [
      { name: 'compatible', value: propString(KHO_FDT_COMPATIBLE) },
      { name: KHO_FDT_MEMORY_MAP_PROP_NAME, value: propU64LE(BigInt(root)) },
    ],
    children: [],
  };
  let err = kho_out_fdt_write(k, tree);
  if (err < 0) return yield* kho_init_unwind(k, err);
  const meta = yield* kho_alloc_preserve(k, KHO_KEXEC_METADATA_SIZEOF);
  if (meta < 0) return yield* kho_init_unwind(k, meta);
  const blob = kho_kexec_metadata_encode({
    version: KHO_KEXEC_METADATA_VERSION,
    previous_release: k.config.release,
    kexec_count: k.kho.in_kexec_count + 1,
  });
  k.machine.physmem.write(meta, blob);
  err = yield* kho_add_subtree(k, KHO_METADATA_NODE_NAME, meta, KHO_KEXEC_METADATA_SIZEOF);
  if (err < 0) {
    yield* kho_unpreserve_free(k, meta);
    return yield* kho_init_unwind(k, err);
  }
  k.kho.out_metadata = meta;
  return 0;
}

function* kho_init_unwind(k: Kernel, err: number): Sched<number> {
  yield* kho_unpreserve_free(k, k.kho.out_fdt);
  return kho_init_failed(k, err, k.kho.radix_root);
}

function kho_init_failed(k: Kernel, err: number, root: number): number {
  if (root !== 0) free_page(k, root);
  k.kho.radix_root = 0;
  k.kho.out_fdt = 0;
  k.kho.out_tree = null;
  k.kho.enabled = false;
  k.degrade('kho_init', `failed (${errnoName(err)}), kexec handover disabled`);
  return err;
}
