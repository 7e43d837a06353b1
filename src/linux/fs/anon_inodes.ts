/**
 * Anonymous-inode files: files with no path, such as LUO session fds.
 *
 * **Models:** fs/anon_inodes.c — anon_inode_getfile (v7.2-era mainline): one shared anonymous
 * inode; the file's name shows in /proc as `anon_inode:<name>`.
 * **Abstracted:** the dentry name is kept as the file's path string; the name is truncated the
 * way LUO's callers truncate it, not by the dcache. No secure (per-file inode) variant.
 * Unhappy paths: allocation failure (-ENOMEM/-ENFILE) is not modelled here; callers that inject
 * it do so with `choose`.
 */
import type { Sim } from '../../sim/index.ts';
import { alloc_file, inode, type file, type file_operations } from './file.ts';

const ANON_INODE = Symbol('the anon_inode_inode');

/** The shared anonymous inode of this execution. */
function anon_inode_inode(sim: Sim): inode {
  return sim.local(ANON_INODE, () => new inode(0));
}

/** anon_inode_getfile: a new file on the anonymous inode with one reference. */
export function anon_inode_getfile(
  sim: Sim,
  name: string,
  fops: file_operations,
  priv: unknown,
  flags: number,
): file {
  return alloc_file(sim, `anon_inode:${name}`, anon_inode_inode(sim), flags, fops, priv);
}
