/**
 * The memory character devices: /dev/null.
 *
 * **Models:** drivers/char/mem.c — null_fops (read returns 0, write consumes everything) and
 * memory_open, which leaves file->private_data NULL (v7.2-era mainline). /dev/null is not a
 * misc device, which matters to handlers that look at private_data (guest_memfd_luo's RFC v2
 * can_preserve dereferences it).
 * **Abstracted:** /dev/zero, /dev/full, /dev/mem and the other minors.
 */
import type { Sim } from '../../../sim/index.ts';
import { inode, type file_operations } from '../../fs/file.ts';
import type { Kernel } from '../../kernel.ts';

export const null_fops: file_operations = {
  owner: 'mem',
  // eslint-disable-next-line require-yield
  *read() {
    return 0;
  },
  // eslint-disable-next-line require-yield
  *write(_f, buf) {
    return buf.length;
  },
};

const NULL_INODE = Symbol('/dev/null inode of every boot');

/** The /dev/null device inode of boot `k`. */
export function null_inode(sim: Sim, k: Kernel): inode {
  const all = sim.local(NULL_INODE, () => new Map<Kernel, inode>());
  let ino = all.get(k);
  if (ino === undefined) {
    ino = new inode(sim.newObject('/dev/null'));
    all.set(k, ino);
  }
  return ino;
}
