/**
 * KVM's generic core: /dev/kvm, VM files and their lifetime, vCPU files, the VM ioctls.
 *
 * **Models:** virt/kvm/kvm_main.c, v7.2-era mainline plus patch 03 of the guest_memfd
 * preservation series (RFC v2): kvm_init order and unwind (guest_memfd init, the LUO handlers,
 * /dev/kvm last; kvm_exit is not modelled: a boot ends in a kexec, never in a module unload),
 * kvm_dev_ioctl (GET_API_VERSION, CREATE_VM, CHECK_EXTENSION, GET_VCPU_MMAP_SIZE),
 * kvm_dev_ioctl_create_vm, kvm_create_vm_file (patch 03: the weak `kvm->vm_file`, published with
 * rcu_assign_pointer, no reference), kvm_vm_release (clears vm_file first), kvm_get_kvm /
 * kvm_put_kvm / kvm_destroy_vm, file_is_kvm, kvm_uevent_notify_vm_create, kvm_vm_ioctl
 * (vm_dead → -EIO), kvm_vm_ioctl_create_vcpu, the vCPU file (ioctl, mmap, release). Memslots are
 * in kvm_main_memslot.ts; KVM_RUN in arch/x86/kvm/x86.ts.
 * **Abstracted:**
 * 1. `kvm->mm != current->mm` is not checked (processes have no shared mm to compare); uevents
 *    and debugfs/stats are a log line; no irqfds, no coalesced MMIO, no dirty ring.
 * 2. Supported VM types are KVM_X86_DEFAULT_VM and KVM_X86_SW_PROTECTED_VM (TDP MMU on, no
 *    SEV/TDX hardware); others fail kvm_arch_init_vm with -EINVAL.
 * Paths: CREATE_VM: 1. ok: fd (O_CLOEXEC), vm_file set; 2. no fd: -EMFILE; 3. bad type: -EINVAL.
 * CREATE_VCPU: 1. ok: fd; 2. id ≥ KVM_MAX_VCPU_IDS or too many vCPUs: -EINVAL; 3. id taken:
 * -EEXIST; 4. no page for kvm_run: -ENOMEM. VM ioctls on a dead VM: -EIO; unknown: -ENOTTY.
 * Locking: kvm->lock around vCPU creation; slots_lock for memslots; vcpu->mutex around KVM_RUN.
 * Yield points: fd reservation, refcounts, rcu_assign_pointer(vm_file), the mutexes above.
 */
import { rebuiltBy } from '../../../sim/index.ts';
import type { Sched } from '../../../sim/index.ts';
import {
  Atomic,
  mutex_lock,
  mutex_unlock,
  rcu_assign_pointer,
  READ_ONCE,
  refcount_dec_and_test,
  refcount_inc,
  refcount_inc_not_zero,
  type Shared,
} from '../../../sync/index.ts';
import { misc_register, type miscdevice } from '../../drivers/char/misc.ts';
import { anon_inode_getfile } from '../../fs/anon_inodes.ts';
import {
  current_files,
  fd_install,
  get_unused_fd_flags,
  put_unused_fd,
  type file,
  type file_operations,
} from '../../fs/file.ts';
import type { UserPtr } from '../../include/linux/uaccess.ts';
import { kvm, kvm_vcpu, KVM_MAX_VCPU_IDS, KVM_MAX_VCPUS } from '../../include/linux/kvm_host.ts';
import {
  EEXIST,
  EINVAL,
  EIO,
  ENOMEM,
  ENOTTY,
  EOPNOTSUPP,
} from '../../include/uapi/asm-generic/errno.ts';
import { O_CLOEXEC, O_RDWR } from '../../include/uapi/asm-generic/fcntl.ts';
import {
  KVM_API_VERSION,
  KVM_CHECK_EXTENSION,
  KVM_CREATE_GUEST_MEMFD,
  KVM_CREATE_VCPU,
  KVM_CREATE_VM,
  KVM_GET_API_VERSION,
  KVM_GET_VCPU_MMAP_SIZE,
  KVM_PIO_PAGE_OFFSET,
  KVM_SET_USER_MEMORY_REGION,
  KVM_SET_USER_MEMORY_REGION2,
  KVM_VCPU_MMAP_SIZE,
  KVM_X86_DEFAULT_VM,
  KVM_X86_SW_PROTECTED_VM,
} from '../../include/uapi/linux/kvm.ts';
import type { Kernel } from '../../kernel.ts';
import { luo_of } from '../../kernel/liveupdate/luo_core.ts';
import {
  liveupdate_register_file_handler,
  liveupdate_unregister_file_handler,
} from '../../kernel/liveupdate/luo_file.ts';
import { __free_pages, alloc_pages, __GFP_ZERO, GFP_KERNEL } from '../../mm/page_alloc.ts';
import { kvm_arch_vcpu_fops } from '../../arch/x86/kvm/x86.ts';
import { kvm_gmem_fops, kvm_gmem_init, kvm_vm_ioctl_create_guest_memfd } from './guest_memfd.ts';
import { kvm_gmem_luo_handler } from './guest_memfd_luo.ts';
import { GmemFreezeDebug } from './guest_memfd_h.ts';
import { kvm_luo_handler } from './kvm_luo.ts';
import {
  kvm_free_memslots,
  kvm_vm_ioctl_check_extension,
  kvm_vm_ioctl_set_memory_region,
} from './kvm_main_memslot.ts';

/** kvm_main.c's globals for one boot. */
export class KvmGlobals {
  /** vm_list: every live struct kvm. */
  readonly vm_list = new Set<kvm>();
  readonly supported_vm_types: ReadonlySet<number> = new Set([
    KVM_X86_DEFAULT_VM,
    KVM_X86_SW_PROTECTED_VM,
  ]);
  readonly kvm_dev: miscdevice;
  /** kvm_vm_fops and kvm_gmem_fops: file_is_kvm / file_is_gmem compare a file's f_op. */
  readonly kvm_vm_fops: file_operations;
  readonly kvm_gmem_fops: file_operations;
  /** Inode numbers of guest_memfd inodes. */
  gmem_ino = 0;
  /** kvm_luo's restored_vm_id: names restored VMs "1", "2", … in retrieval order. */
  readonly restored_vm_id: Atomic;
  /** Model-only freeze bookkeeping for the checkers. */
  readonly gmem_debug = new GmemFreezeDebug();

  constructor(k: Kernel) {
    this.restored_vm_id = new Atomic(k.sim, 'restored_vm_id', 0);
    this.kvm_dev = { name: 'kvm', fops: kvm_chardev_ops(k) };
    this.kvm_vm_fops = kvm_vm_fops(k);
    this.kvm_gmem_fops = kvm_gmem_fops(k);
  }
}

/** KVM's state on this boot; a model assertion before kvm_init ran. */
export function kvm_globals(k: Kernel): KvmGlobals {
  if (k.kvm === null) return k.sim.fail('KVM used before kvm_init');
  return k.kvm;
}

/**
 * kvm_init (device initcall): guest_memfd (its SRCU domain), then /dev/kvm last, so nothing is
 * reachable before it is ready. The LUO handlers (kvm_luo, guest_memfd_luo) register here, just
 * before misc_register, in that order. A generator only because initcalls are.
 */
export function* kvm_init(k: Kernel): Sched<number> {
  const g = new KvmGlobals(k);
  k.kvm = g;
  const r = kvm_gmem_init(k);
  if (r < 0) {
    k.kvm = null;
    return r;
  }
  // kvm_luo_init, then kvm_gmem_luo_init (spec §2.2): LUO being off is not an error; with
  // CONFIG_LIVEUPDATE_GUEST_MEMFD=n both are stubs.
  if (!k.config.liveupdate_guest_memfd) {
    const err = misc_register(k, g.kvm_dev);
    if (err < 0) k.pr_warn(`kvm: misc device register failed: ${err}`);
    return err;
  }
  const luo = luo_of(k);
  const vmHandler = kvm_luo_handler(k);
  let err = yield* liveupdate_register_file_handler(luo, vmHandler);
  if (err !== 0 && err !== -EOPNOTSUPP) {
    k.pr_warn(`kvm: Could not register kvm_vm_luo handler: ${err}`);
    k.kvm = null;
    return err;
  }
  const vmRegistered = err === 0;
  const gmemHandler = kvm_gmem_luo_handler(k);
  err = yield* liveupdate_register_file_handler(luo, gmemHandler);
  if (err !== 0 && err !== -EOPNOTSUPP) {
    k.pr_warn(`kvm: Could not register luo filesystem handler: ${err}`);
    if (vmRegistered) yield* liveupdate_unregister_file_handler(luo, vmHandler);
    k.kvm = null;
    return err;
  }
  const gmemRegistered = err === 0;
  err = misc_register(k, g.kvm_dev);
  if (err < 0) {
    // The unwind of kvm_init: the guest_memfd handler, then the VM handler.
    k.pr_warn(`kvm: misc device register failed: ${err}`);
    if (gmemRegistered) yield* liveupdate_unregister_file_handler(luo, gmemHandler);
    if (vmRegistered) yield* liveupdate_unregister_file_handler(luo, vmHandler);
    k.kvm = null;
  }
  return err;
}

/** file_is_kvm: the file is a VM file (its f_op is kvm_vm_fops). */
export function file_is_kvm(f: file): boolean {
  return f.private_data instanceof kvm && f.f_op === f.private_data.k.kvm?.kvm_vm_fops;
}

/** kvm_get_kvm: one more user of the VM (vCPU files, guest_memfd files). */
export function* kvm_get_kvm(v: kvm): Sched {
  yield* refcount_inc(v.users_count);
}

/** kvm_put_kvm: the last user destroys the VM. */
export function* kvm_put_kvm(v: kvm): Sched {
  if (yield* refcount_dec_and_test(v.users_count)) yield* kvm_destroy_vm(v);
}

function* kvm_destroy_vm(v: kvm): Sched {
  kvm_globals(v.k).vm_list.delete(v);
  yield* kvm_free_memslots(v);
  for (const vcpu of v.vcpus) {
    __free_pages(v.k, vcpu.run_page, 0);
    __free_pages(v.k, vcpu.pio_page, 0);
  }
  v.vcpus.length = 0;
  v.k.pr_info(`kvm: VM ${v.stats_id} destroyed`);
}

/** kvm_create_vm: a new VM with one user, or -EINVAL for a type the arch does not support. */
export function kvm_create_vm(k: Kernel, type: number, fdname: string): kvm | number {
  const g = kvm_globals(k);
  if (!g.supported_vm_types.has(type)) return -EINVAL;
  const v = new kvm(k, type, fdname);
  g.vm_list.add(v);
  return v;
}

/** kvm_create_vm_file (patch 03): the VM and its "kvm-vm" file, not installed in any fd table. */
export function* kvm_create_vm_file(k: Kernel, type: number, fdname: string): Sched<file | number> {
  const v = kvm_create_vm(k, type, fdname);
  if (typeof v === 'number') return v;
  const f = anon_inode_getfile(k.sim, 'kvm-vm', kvm_globals(k).kvm_vm_fops, v, O_RDWR);
  // Weak reference: the file pins the kvm, so a reference back would be a cycle.
  yield* rcu_assign_pointer(v.vm_file, f);
  return f;
}

/** kvm_uevent_notify_vm_create (patch 03): KVM_EVENT_CREATE_VM, a log line here. */
export function kvm_uevent_notify_vm_create(v: kvm): void {
  v.k.pr_info(`kvm: uevent CREATE=1 NAME=${v.stats_id}`);
}

/** get_file_active(&ptr): a strong reference to the file behind a weak pointer, or null when the
 * pointer is NULL or the file's count already hit zero. */
export function* get_file_active(p: Shared<file | null>): Sched<file | null> {
  const f = yield* READ_ONCE(p);
  if (f === null) return null;
  return (yield* refcount_inc_not_zero(f.f_count)) ? f : null;
}

function* kvm_dev_ioctl_create_vm(k: Kernel, type: number): Sched<number> {
  const files = current_files(k.sim);
  const fd = yield* get_unused_fd_flags(files, O_CLOEXEC);
  if (fd < 0) return fd;
  const f = yield* kvm_create_vm_file(k, type, String(fd));
  if (typeof f === 'number') {
    put_unused_fd(files, fd);
    return f;
  }
  kvm_uevent_notify_vm_create(f.private_data as kvm);
  fd_install(files, fd, f);
  return fd;
}

function kvm_chardev_ops(k: Kernel): file_operations {
  return rebuiltBy(
    {
      owner: 'kvm',
      *unlocked_ioctl(_f, cmd, arg) {
        const argv = ioctl_arg_number(arg);
        switch (cmd) {
          case KVM_GET_API_VERSION:
            return argv === 0 ? KVM_API_VERSION : -EINVAL;
          case KVM_CREATE_VM:
            return yield* kvm_dev_ioctl_create_vm(k, argv);
          case KVM_CHECK_EXTENSION:
            return kvm_vm_ioctl_check_extension(k, null, argv);
          case KVM_GET_VCPU_MMAP_SIZE:
            return argv === 0 ? KVM_VCPU_MMAP_SIZE : -EINVAL;
          default:
            return -EINVAL;
        }
      },
    },
    kvm_chardev_ops,
    k,
  );
}

/**
 * An integer ioctl argument: the model's ioctl passes a buffer, so integer arguments
 * (KVM_CREATE_VM's type, KVM_CREATE_VCPU's id) travel as a little-endian u32 in a 4- or 8-byte
 * buffer; null is 0.
 */
export function ioctl_arg_number(arg: UserPtr): number {
  if (arg === null || arg.length < 4) return 0;
  return new DataView(arg.buffer, arg.byteOffset, arg.byteLength).getUint32(0, true);
}

function kvm_vm_fops(k: Kernel): file_operations {
  return rebuiltBy(
    {
      owner: 'kvm-vm',
      *release(_inode, f) {
        const v = f.private_data as kvm;
        yield* rcu_assign_pointer(v.vm_file, null);
        yield* kvm_put_kvm(v);
        return 0;
      },
      *unlocked_ioctl(f, cmd, arg) {
        const v = f.private_data as kvm;
        if (v.vm_dead) return -EIO;
        switch (cmd) {
          case KVM_CREATE_VCPU:
            return yield* kvm_vm_ioctl_create_vcpu(k, v, ioctl_arg_number(arg));
          case KVM_SET_USER_MEMORY_REGION:
          case KVM_SET_USER_MEMORY_REGION2:
            return yield* kvm_vm_ioctl_set_memory_region(k, v, cmd, arg);
          case KVM_CREATE_GUEST_MEMFD:
            return yield* kvm_vm_ioctl_create_guest_memfd(k, v, arg);
          case KVM_CHECK_EXTENSION:
            return kvm_vm_ioctl_check_extension(k, v, ioctl_arg_number(arg));
          default:
            return -ENOTTY;
        }
      },
    },
    kvm_vm_fops,
    k,
  );
}

function* kvm_vm_ioctl_create_vcpu(k: Kernel, v: kvm, id: number): Sched<number> {
  if (id >= KVM_MAX_VCPU_IDS) return -EINVAL;
  yield* mutex_lock(v.lock);
  if (v.created_vcpus >= KVM_MAX_VCPUS) {
    yield* mutex_unlock(v.lock);
    return -EINVAL;
  }
  v.created_vcpus++;
  yield* mutex_unlock(v.lock);
  const run = alloc_pages(k, GFP_KERNEL | __GFP_ZERO, 0);
  const pio = alloc_pages(k, GFP_KERNEL | __GFP_ZERO, 0);
  let r: number;
  if (typeof run === 'number' || typeof pio === 'number') {
    if (typeof run !== 'number') __free_pages(k, run, 0);
    if (typeof pio !== 'number') __free_pages(k, pio, 0);
    r = -ENOMEM;
  } else {
    yield* mutex_lock(v.lock);
    if (v.vcpus.some((c) => c.vcpu_id === id)) {
      __free_pages(k, run, 0);
      __free_pages(k, pio, 0);
      r = -EEXIST;
    } else {
      // Their offsets in the vCPU mmap, which is how the fault path finds a page's pfn.
      run.index = 0;
      pio.index = KVM_PIO_PAGE_OFFSET;
      const vcpu = new kvm_vcpu(v, id, run, pio);
      v.vcpus.push(vcpu);
      yield* kvm_get_kvm(v);
      r = yield* create_vcpu_fd(k, vcpu);
      if (r < 0) {
        v.vcpus.pop();
        yield* kvm_put_kvm(v);
      }
    }
    yield* mutex_unlock(v.lock);
    if (r >= 0) return r;
  }
  yield* mutex_lock(v.lock);
  v.created_vcpus--;
  yield* mutex_unlock(v.lock);
  return r;
}

function* create_vcpu_fd(k: Kernel, vcpu: kvm_vcpu): Sched<number> {
  const files = current_files(k.sim);
  const fd = yield* get_unused_fd_flags(files, O_RDWR | O_CLOEXEC);
  if (fd < 0) return fd;
  const f = anon_inode_getfile(k.sim, `kvm-vcpu:${vcpu.vcpu_id}`, kvm_vcpu_fops(k), vcpu, O_RDWR);
  fd_install(files, fd, f);
  return fd;
}

/** kvm_vcpu_fops: the arch vCPU operations plus release, which drops the VM reference. */
function kvm_vcpu_fops(k: Kernel): file_operations {
  return rebuiltBy(
    {
      ...kvm_arch_vcpu_fops(k),
      *release(_inode, f) {
        yield* kvm_put_kvm((f.private_data as kvm_vcpu).kvm);
        return 0;
      },
    },
    kvm_vcpu_fops,
    k,
  );
}

/** The struct kvm behind a VM file, or null for any other file. */
export function kvm_of_file(f: file): kvm | null {
  return file_is_kvm(f) ? (f.private_data as kvm) : null;
}
