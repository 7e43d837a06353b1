/**
 * Misc character devices: the /dev nodes that kernel subsystems register at boot.
 *
 * **Models:** drivers/char/misc.c — misc_register, misc_deregister and misc_open (v7.2-era
 * mainline): a device is found by name, and opening it runs the driver's `open` on a new file.
 * **Abstracted:** no minor numbers, no class devices or sysfs; devtmpfs is the name lookup here.
 * The registry of each boot is kept per execution, keyed by the Kernel (the kernel's global
 * misc_list), so nothing is module state.
 */
import type { Sim } from '../../../sim/index.ts';
import { inode, type file_operations } from '../../fs/file.ts';
import type { Kernel } from '../../kernel.ts';
import { EBUSY } from '../../include/uapi/asm-generic/errno.ts';

/** struct miscdevice. */
export interface miscdevice {
  readonly name: string;
  readonly fops: file_operations;
  /** The device inode (created by misc_register). */
  this_device?: inode;
}

const MISC_LIST = Symbol('misc_list of every boot');

function misc_list(sim: Sim, k: Kernel): Map<string, miscdevice> {
  const all = sim.local(MISC_LIST, () => new Map<Kernel, Map<string, miscdevice>>());
  let list = all.get(k);
  if (list === undefined) {
    list = new Map();
    all.set(k, list);
  }
  return list;
}

/** misc_register: 0, or -EBUSY if the name is taken. */
export function misc_register(k: Kernel, misc: miscdevice): number {
  const list = misc_list(k.sim, k);
  if (list.has(misc.name)) return -EBUSY;
  misc.this_device = new inode(k.sim.newObject(`/dev/${misc.name}`));
  list.set(misc.name, misc);
  return 0;
}

export function misc_deregister(k: Kernel, misc: miscdevice): void {
  misc_list(k.sim, k).delete(misc.name);
}

/** The device registered as `name` in this boot, or null. */
export function misc_lookup(k: Kernel, name: string): miscdevice | null {
  return misc_list(k.sim, k).get(name) ?? null;
}
