/**
 * guest_memfd files: creation, the file operations (host mmap and its fault, fallocate,
 * release) and the KVM_CREATE_GUEST_MEMFD ioctl.
 *
 * **Models:** the file half of virt/kvm/guest_memfd.c (v7.2-era mainline plus patch 05 of the
 * preservation series, RFC v2): kvm_gmem_create, __kvm_gmem_create (fd reservation + install),
 * __kvm_gmem_create_file (inode, mapping inaccessible and unevictable, flags, file O_RDWR |
 * O_LARGEFILE, kvm reference), kvm_gmem_mmap, kvm_gmem_fault_user_mapping, kvm_gmem_release.
 * **Abstracted:** see guest_memfd.ts. The file is an anonymous-inode file named "[kvm-gmem]"
 * on its own inode (anon_inode_make_secure_inode); -ENOENT from fops_get cannot happen.
 * Paths: create: unsupported flags → -EINVAL; size ≤ 0 or unaligned → -EINVAL; no fd →
 * -EMFILE; bad user pointer → -EFAULT. mmap: no MMAP flag → -ENODEV; not MAP_SHARED → -EINVAL.
 * fault: index ≥ size → SIGBUS; no INIT_SHARED → SIGBUS; get_folio -EAGAIN → RETRY, other
 * error (-EPERM when frozen) → vmf_error = SIGBUS (-ENOMEM → OOM); not uptodate → zeroed first.
 */
import { rebuiltBy } from '../../../sim/index.ts';
import type { Sched } from '../../../sim/index.ts';
import { mutex_lock, mutex_unlock, READ_ONCE, WRITE_ONCE } from '../../../sync/index.ts';
import {
  alloc_file,
  current_files,
  fd_install,
  get_unused_fd_flags,
  put_unused_fd,
  type file,
  type file_operations,
} from '../../fs/file.ts';
import { PAGE_SIZE } from '../../include/asm-generic/page.ts';
import type { kvm } from '../../include/linux/kvm_host.ts';
import {
  VM_FAULT_LOCKED,
  VM_FAULT_RETRY,
  VM_FAULT_SIGBUS,
  VM_MAYSHARE,
  VM_SHARED,
  vmf_error,
  type vm_operations_struct,
} from '../../include/linux/mm.ts';
import type { UserPtr } from '../../include/linux/uaccess.ts';
import { copy_from_user } from '../../include/linux/uaccess.ts';
import { EAGAIN, EFAULT, EINVAL, ENODEV } from '../../include/uapi/asm-generic/errno.ts';
import { O_RDWR } from '../../include/uapi/asm-generic/fcntl.ts';
import {
  GUEST_MEMFD_FLAG_INIT_SHARED,
  GUEST_MEMFD_FLAG_MMAP,
  kvm_create_guest_memfd,
} from '../../include/uapi/linux/kvm.ts';
import type { Kernel } from '../../kernel.ts';
import {
  filemap_invalidate_lock,
  filemap_invalidate_unlock,
  truncate_inode_pages,
} from '../../mm/filemap.ts';
import {
  kvm_gmem_fallocate,
  kvm_gmem_folio_first_access,
  kvm_gmem_get_folio,
  kvm_gmem_get_supported_flags,
  __kvm_gmem_invalidate_begin,
  __kvm_gmem_invalidate_end,
} from './guest_memfd.ts';
import { gmem_file, gmem_file_of, gmem_inode, gmem_variant, GMEM_I } from './guest_memfd_h.ts';
import { kvm_get_kvm, kvm_globals, kvm_put_kvm } from './kvm_main.ts';

/** O_LARGEFILE on x86-64. */
const O_LARGEFILE = 0o100000;
/** The largest size the model accepts (JS numbers are exact to 2^53). */
const GMEM_SIZE_MAX = 2n ** 52n;

/** file_is_gmem: the file is a guest_memfd (its f_op is kvm_gmem_fops). */
export function file_is_gmem(f: file): boolean {
  const gf = gmem_file_of(f);
  return gf !== null && f.f_op === gf.kvm.k.kvm?.kvm_gmem_fops;
}

/** __kvm_gmem_create_file (patch 05): a new guest_memfd file bound to `v`, not installed in any
 * fd table; the caller owns its one reference. */
export function* __kvm_gmem_create_file(
  k: Kernel,
  v: kvm,
  size: number,
  flags: bigint,
): Sched<file | number> {
  const g = kvm_globals(k);
  const ino = new gmem_inode(k.sim, ++g.gmem_ino, size, flags, gmem_variant(k, 'per-inode-srcu'));
  if (ino.srcu !== null) g.gmem_debug.domains.add(ino.srcu);
  const gf = new gmem_file(v, ino);
  const f = alloc_file(k.sim, 'anon_inode:[kvm-gmem]', ino, O_RDWR | O_LARGEFILE, g.kvm_gmem_fops);
  f.private_data = gf;
  yield* kvm_get_kvm(v);
  ino.gmem_file_list.add(gf);
  return f;
}

/** kvm_gmem_create: validates size and flags, then creates and installs the file. */
export function* kvm_gmem_create(k: Kernel, v: kvm, size: bigint, flags: bigint): Sched<number> {
  if ((flags & ~kvm_gmem_get_supported_flags(v)) !== 0n) return -EINVAL;
  const ssize = BigInt.asIntN(64, size);
  if (ssize <= 0n || ssize % BigInt(PAGE_SIZE) !== 0n || ssize > GMEM_SIZE_MAX) return -EINVAL;
  const files = current_files(k.sim);
  const fd = yield* get_unused_fd_flags(files, 0);
  if (fd < 0) return fd;
  const f = yield* __kvm_gmem_create_file(k, v, Number(ssize), flags);
  if (typeof f === 'number') {
    put_unused_fd(files, fd);
    return f;
  }
  fd_install(files, fd, f);
  return fd;
}

/** KVM_CREATE_GUEST_MEMFD on a VM fd. */
export function* kvm_vm_ioctl_create_guest_memfd(k: Kernel, v: kvm, arg: UserPtr): Sched<number> {
  const buf = new Uint8Array(kvm_create_guest_memfd.size);
  if (copy_from_user(buf, arg, buf.length) !== 0) return -EFAULT;
  const args = kvm_create_guest_memfd.read(buf);
  return yield* kvm_gmem_create(k, v, args.size, args.flags);
}

function kvm_gmem_vm_ops(k: Kernel): vm_operations_struct {
  return rebuiltBy(
    {
      name: 'kvm_gmem_vm_ops',
      *fault(vmf) {
        const f = vmf.vma.vm_file;
        const gi = f === null ? null : GMEM_I(f.f_inode);
        if (gi === null) return VM_FAULT_SIGBUS;
        if (vmf.pgoff * PAGE_SIZE >= gi.i_size) return VM_FAULT_SIGBUS;
        if (((yield* READ_ONCE(gi.flags)) & GUEST_MEMFD_FLAG_INIT_SHARED) === 0n)
          return VM_FAULT_SIGBUS;
        const folio = yield* kvm_gmem_get_folio(k, gi, vmf.pgoff);
        if (typeof folio === 'number') return folio === -EAGAIN ? VM_FAULT_RETRY : vmf_error(folio);
        yield* kvm_gmem_folio_first_access(k, gi, folio);
        vmf.page = folio;
        return VM_FAULT_LOCKED;
      },
    },
    kvm_gmem_vm_ops,
    k,
  );
}

/** kvm_gmem_release: unbinds every memslot, zaps the guest mappings, drops the VM reference;
 * the inode goes with its only file (abstraction 3). */
function* kvm_gmem_release(k: Kernel, f: file): Sched<number> {
  const gf = gmem_file_of(f);
  if (gf === null) return 0;
  const gi = gf.inode;
  const m = gi.i_mapping_of();
  yield* mutex_lock(gf.kvm.slots_lock);
  yield* filemap_invalidate_lock(m);
  for (const slot of new Set(gf.bindings.values())) yield* WRITE_ONCE(slot.gmem_file, null);
  // Only this file's bindings: other files of the inode keep their mappings.
  yield* __kvm_gmem_invalidate_begin(gf, 0, Number.MAX_SAFE_INTEGER);
  yield* __kvm_gmem_invalidate_end(gf, 0, Number.MAX_SAFE_INTEGER);
  gi.gmem_file_list.delete(gf);
  yield* filemap_invalidate_unlock(m);
  yield* mutex_unlock(gf.kvm.slots_lock);
  gf.bindings.clear();
  yield* kvm_put_kvm(gf.kvm);
  if (gi.gmem_file_list.size === 0) yield* truncate_inode_pages(k, m, 0);
  return 0;
}

/** kvm_gmem_fops of boot `k` (one object, so that file_is_gmem can compare with it). */
export function kvm_gmem_fops(k: Kernel): file_operations {
  const vm_ops = kvm_gmem_vm_ops(k);
  return rebuiltBy(
    {
      owner: 'kvm',
      *mmap(f, vma) {
        const gi = GMEM_I(f.f_inode);
        if (gi === null || ((yield* READ_ONCE(gi.flags)) & GUEST_MEMFD_FLAG_MMAP) === 0n)
          return -ENODEV;
        if ((vma.vm_flags & (VM_SHARED | VM_MAYSHARE)) !== (VM_SHARED | VM_MAYSHARE))
          return -EINVAL;
        vma.vm_ops = vm_ops;
        return 0;
      },
      release(_inode, f) {
        return kvm_gmem_release(k, f);
      },
      fallocate(f, mode, offset, len) {
        return kvm_gmem_fallocate(k, f, mode, offset, len);
      },
    },
    kvm_gmem_fops,
    k,
  );
}
