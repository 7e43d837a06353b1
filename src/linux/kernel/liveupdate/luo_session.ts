/**
 * LUO sessions: named containers of preserved files, as anonymous-inode fds.
 *
 * **Models:** kernel/liveupdate/luo_session.c (v7.2-era mainline, block-set session lists and
 * GET_NAME with the 2026-07-16 size fix; spec §1.5–1.8, §2.4): luo_session_create,
 * luo_session_retrieve, luo_session_release (outgoing: unpreserve all; incoming: implicit
 * finish), the session ioctls, luo_session_serialize and luo_session_deserialize.
 * **Abstracted:** session allocation and anon-inode creation never fail; FINISH ignores its
 * `reserved` field (the mainline snapshot; the 2026-07-25 check is not modelled) and writes no
 * reply (the kernel echoes the struct, which cannot fault here: see uaccess.ts). Session names
 * are JavaScript strings decoded as UTF-8, not byte arrays: names that are not valid UTF-8
 * compare, cross a kexec and come back from GET_NAME differently from the kernel's bytes (the
 * ported selftests use ASCII names).
 * Paths: create: 1. -EMFILE 2. bad name -EINVAL 3. grow -ENOMEM/-ENOSPC 4. -EEXIST 5. copy-out
 * -EFAULT (the release removes the session). retrieve: 1. -EMFILE 2. -ENOENT 3. already
 * retrieved -EINVAL 4. copy-out -EFAULT (the release finishes the session). Release of a
 * retrieved session whose finish fails leaves it stuck in the incoming list.
 */
import { mutant } from '../../mutants.ts';
import { rebuiltBy } from '../../../sim/index.ts';
import type { Sched } from '../../../sim/index.ts';
import { mutex_lock, mutex_unlock } from '../../../sync/index.ts';
import {
  LIVEUPDATE_CMD_SESSION_BASE,
  LIVEUPDATE_NAME_OFFSET,
  LIVEUPDATE_SESSION_FINISH,
  LIVEUPDATE_SESSION_GET_NAME,
  LIVEUPDATE_SESSION_NAME_LENGTH,
  LIVEUPDATE_SESSION_PRESERVE_FD,
  LIVEUPDATE_SESSION_RETRIEVE_FD,
  liveupdate_session_finish,
  liveupdate_session_get_name,
  liveupdate_session_preserve_fd,
  liveupdate_session_retrieve_fd,
} from '../../include/uapi/linux/liveupdate.ts';
import type { UserPtr } from '../../include/linux/uaccess.ts';
import { EEXIST, EFAULT, EINVAL, ENOENT, ENOSPC } from '../../include/uapi/asm-generic/errno.ts';
import { O_CLOEXEC, O_RDWR } from '../../include/uapi/asm-generic/fcntl.ts';
import {
  LUO_SESSION_SER_NAME_OFFSET,
  abi_get_string,
  abi_put_string,
  luo_session_ser,
  luo_ser,
} from '../../include/linux/kho/abi/luo.ts';
import { anon_inode_getfile } from '../../fs/anon_inodes.ts';
import {
  current_files,
  fd_install,
  fput,
  get_unused_fd_flags,
  put_unused_fd,
  type file,
  type file_operations,
  type inode,
} from '../../fs/file.ts';
import {
  kho_block_chain_destroy,
  kho_block_chain_entry,
  kho_block_entry_pa,
  kho_block_set_commit,
  kho_block_set_grow,
  kho_block_set_shrink,
  type kho_block_chain,
} from './kho_block.ts';
import {
  luo_preserve_file,
  luo_retrieve_file,
  luo_file_deserialize,
  luo_file_finish,
  luo_file_freeze,
  luo_file_unfreeze,
  luo_file_unpreserve_files,
} from './luo_file.ts';
import {
  luo_down_read,
  luo_down_write,
  luo_ioctl_decode,
  luo_session,
  luo_ucmd_respond,
  type luo_ioctl_op,
  type luo_ucmd,
  luo_up_read,
  luo_up_write,
  type Luo,
  type luo_session_header,
} from './luo_internal.ts';

/** The name of a session's anon-inode file, truncated to 127 characters in all. */
function session_file_name(name: string): string {
  return `[luo_session] ${name}`.slice(0, 127);
}

export function session_fops(luo: Luo): file_operations {
  return rebuiltBy(
    {
      owner: 'liveupdate',
      release(_inode: inode, f: file) {
        return luo_session_release(luo, f.private_data as luo_session);
      },
      unlocked_ioctl(f, cmd, arg) {
        return luo_session_ioctl(luo, f.private_data as luo_session, cmd, arg);
      },
    },
    session_fops,
    luo,
  );
}

function* luo_session_insert(luo: Luo, sh: luo_session_header, s: luo_session): Sched<number> {
  yield* luo_down_write(luo, sh.rwsem);
  let err = 0;
  if (sh === luo.outgoing) err = yield* kho_block_set_grow(luo.kernel, sh.block_set, sh.count + 1);
  if (err === 0 && sh.list.some((x) => x.name === s.name)) err = -EEXIST;
  if (err === 0) sh.list.push(s);
  yield* luo_up_write(luo, sh.rwsem);
  return err;
}

function* luo_session_remove(luo: Luo, sh: luo_session_header, s: luo_session): Sched {
  yield* luo_down_write(luo, sh.rwsem);
  const i = sh.list.indexOf(s);
  if (i >= 0) sh.list.splice(i, 1);
  if (sh === luo.outgoing) yield* kho_block_set_shrink(luo.kernel, sh.block_set, sh.count);
  yield* luo_up_write(luo, sh.rwsem);
}

/** Installs `f` at a reserved fd after writing the fd into the user struct; -EFAULT undoes. */
function* luo_install_fd(fd: number, f: file, respond: (fd: number) => number): Sched<number> {
  const files = current_files(f.sim);
  if (respond(fd) < 0) {
    yield* fput(f);
    put_unused_fd(files, fd);
    return -EFAULT;
  }
  fd_install(files, fd, f);
  return 0;
}

/** CREATE_SESSION: `name` is the raw 64-byte name field. */
export function* luo_session_create(
  luo: Luo,
  nameBytes: Uint8Array,
  respond: (fd: number) => number,
): Sched<number> {
  const fd = yield* get_unused_fd_flags(current_files(luo.sim), O_CLOEXEC);
  if (fd < 0) return fd;
  const len = nameBytes.indexOf(0);
  if (len <= 0 || len >= LIVEUPDATE_SESSION_NAME_LENGTH) {
    put_unused_fd(current_files(luo.sim), fd);
    return -EINVAL;
  }
  const s = new luo_session(luo.sim, abi_get_string(nameBytes, 0, len), false);
  yield* luo_down_read(luo, luo.session_serialize_rwsem);
  const err = yield* luo_session_insert(luo, luo.outgoing, s);
  let f: file | null = null;
  if (err === 0) {
    // luo_session_getfile: under the new session's mutex.
    yield* mutex_lock(s.mutex);
    f = anon_inode_getfile(luo.sim, session_file_name(s.name), session_fops(luo), s, O_RDWR);
    yield* mutex_unlock(s.mutex);
  }
  yield* luo_up_read(luo, luo.session_serialize_rwsem);
  if (f === null) {
    put_unused_fd(current_files(luo.sim), fd);
    return err;
  }
  return yield* luo_install_fd(fd, f, respond);
}

/** RETRIEVE_SESSION: the name is compared over 64 bytes and not otherwise validated. */
export function* luo_session_retrieve(
  luo: Luo,
  nameBytes: Uint8Array,
  respond: (fd: number) => number,
): Sched<number> {
  const files = current_files(luo.sim);
  const fd = yield* get_unused_fd_flags(files, O_CLOEXEC);
  if (fd < 0) return fd;
  const name = abi_get_string(nameBytes, 0, LIVEUPDATE_SESSION_NAME_LENGTH);
  yield* luo_down_read(luo, luo.session_serialize_rwsem);
  yield* luo_down_read(luo, luo.incoming.rwsem);
  const s = luo.incoming.list.find((x) => x.name === name);
  let err = s === undefined ? -ENOENT : 0;
  let f: file | null = null;
  if (s !== undefined) {
    yield* mutex_lock(s.mutex);
    if (s.retrieved) err = -EINVAL;
    else {
      f = anon_inode_getfile(luo.sim, session_file_name(s.name), session_fops(luo), s, O_RDWR);
      s.retrieved = true;
    }
    yield* mutex_unlock(s.mutex);
  }
  yield* luo_up_read(luo, luo.incoming.rwsem);
  yield* luo_up_read(luo, luo.session_serialize_rwsem);
  if (f === null) {
    put_unused_fd(files, fd);
    return err;
  }
  return yield* luo_install_fd(fd, f, respond);
}

/** The last reference to a session fd is gone. */
export function* luo_session_release(luo: Luo, s: luo_session): Sched<number> {
  const serialized = !mutant(luo.kernel, 'mutant-release-without-serialize-lock');
  if (serialized) yield* luo_down_read(luo, luo.session_serialize_rwsem);
  if (s.incoming) {
    yield* mutex_lock(s.mutex);
    const err = yield* luo_file_finish(luo, s.file_set);
    yield* mutex_unlock(s.mutex);
    if (err < 0) luo.kernel.pr_warn(`Unable to finish session [${s.name}] on release`);
    else yield* luo_session_remove(luo, luo.incoming, s);
  } else {
    yield* mutex_lock(s.mutex);
    yield* luo_file_unpreserve_files(luo, s.file_set);
    yield* mutex_unlock(s.mutex);
    yield* luo_session_remove(luo, luo.outgoing, s);
  }
  if (serialized) yield* luo_up_read(luo, luo.session_serialize_rwsem);
  return 0;
}

/** Reboot: freezes and serializes every outgoing session (creation order) with full rollback.
 * On success the serialize rwsem stays write-held for good. */
export function* luo_session_serialize(luo: Luo): Sched<number> {
  const sh = luo.outgoing;
  const phys = luo.kernel.machine.physmem;
  yield* luo_down_write(luo, luo.session_serialize_rwsem);
  yield* luo_down_write(luo, sh.rwsem);
  phys.writeU64(luo.luo_ser_pa + luo_ser.fields.sessions_pa[0], 0n);
  for (const [i, s] of sh.list.entries()) {
    let ret: { files: bigint; count: bigint } | number = -ENOSPC;
    if (!luo.kernel.WARN_ON(i >= sh.block_set.capacity, 'luo_session_serialize: no slot')) {
      yield* mutex_lock(s.mutex);
      ret = yield* luo_file_freeze(luo, s.file_set);
      yield* mutex_unlock(s.mutex);
    }
    if (typeof ret === 'number') {
      for (let j = i - 1; j >= 0; j--) {
        const prev = sh.list[j] as luo_session;
        yield* mutex_lock(prev.mutex);
        yield* luo_file_unfreeze(luo, prev.file_set);
        yield* mutex_unlock(prev.mutex);
        phys.write(kho_block_entry_pa(sh.block_set, j), new Uint8Array(luo_session_ser.size));
      }
      yield* luo_up_write(luo, sh.rwsem);
      yield* luo_up_write(luo, luo.session_serialize_rwsem);
      return ret;
    }
    const entry = luo_session_ser.encode(ret);
    abi_put_string(entry, LUO_SESSION_SER_NAME_OFFSET, LIVEUPDATE_SESSION_NAME_LENGTH, s.name);
    phys.write(kho_block_entry_pa(sh.block_set, i), entry);
  }
  const first = kho_block_set_commit(luo.kernel, sh.block_set, sh.count);
  phys.writeU64(luo.luo_ser_pa + luo_ser.fields.sessions_pa[0], BigInt(first));
  yield* luo_up_write(luo, sh.rwsem);
  return 0;
}

/** The error path of deserialize: the session chain is released (sessions built so far stay). */
function luo_session_deserialize_failed(luo: Luo, chain: kho_block_chain, err: number): number {
  kho_block_chain_destroy(luo.kernel, chain);
  luo.incoming_sessions = null;
  return err;
}

/**
 * First open of /dev/liveupdate: rebuilds the incoming sessions. An error releases the session
 * chain; the sessions already built stay in the list (leaked, as in the kernel).
 */
export function* luo_session_deserialize(luo: Luo): Sched<number> {
  const chain = luo.incoming_sessions;
  if (chain === null) return 0;
  for (let i = 0; i < chain.count; i++) {
    const bytes = kho_block_chain_entry(luo.kernel, chain, i);
    const name = abi_get_string(bytes, LUO_SESSION_SER_NAME_OFFSET, LIVEUPDATE_SESSION_NAME_LENGTH);
    const s = new luo_session(luo.sim, name, true);
    let err = yield* luo_session_insert(luo, luo.incoming, s);
    if (err < 0) {
      luo.kernel.pr_warn(`Failed to insert session [${name}] ${err}`);
      return luo_session_deserialize_failed(luo, chain, err);
    }
    const ser = luo_session_ser.read(bytes);
    yield* mutex_lock(s.mutex);
    err = yield* luo_file_deserialize(luo, s.file_set, ser.files, ser.count);
    yield* mutex_unlock(s.mutex);
    if (err < 0) {
      luo.kernel.pr_warn(`Failed to deserialize files for session [${name}] ${err}`);
      return luo_session_deserialize_failed(luo, chain, err);
    }
  }
  kho_block_chain_destroy(luo.kernel, chain);
  luo.incoming_sessions = null;
  return 0;
}

interface SessionCtx {
  readonly luo: Luo;
  readonly s: luo_session;
}

function* luo_session_preserve_fd(ctx: SessionCtx, ucmd: luo_ucmd): Sched<number> {
  const { luo, s } = ctx;
  const argp = liveupdate_session_preserve_fd.read(ucmd.cmd);
  yield* mutex_lock(s.mutex);
  const err = yield* luo_preserve_file(luo, s.file_set, argp.token, argp.fd);
  yield* mutex_unlock(s.mutex);
  if (err < 0) return err;
  const ret = luo_ucmd_respond(ucmd, liveupdate_session_preserve_fd.size);
  if (ret < 0) luo.kernel.pr_warn(`file ${argp.token} preserved, but the reply faulted`);
  return ret;
}

function* luo_session_retrieve_fd(ctx: SessionCtx, ucmd: luo_ucmd): Sched<number> {
  const { luo, s } = ctx;
  const argp = liveupdate_session_retrieve_fd.read(ucmd.cmd);
  const files = current_files(luo.sim);
  const fd = yield* get_unused_fd_flags(files, O_CLOEXEC);
  if (fd < 0) return fd;
  yield* mutex_lock(s.mutex);
  const f = yield* luo_retrieve_file(luo, s.file_set, argp.token);
  yield* mutex_unlock(s.mutex);
  if (typeof f === 'number') {
    put_unused_fd(files, fd);
    return f;
  }
  return yield* luo_install_fd(fd, f, (n) => {
    liveupdate_session_retrieve_fd.write(ucmd.cmd, { ...argp, fd: n });
    return luo_ucmd_respond(ucmd, liveupdate_session_retrieve_fd.size);
  });
}

function* luo_session_finish(ctx: SessionCtx): Sched<number> {
  const locked = !mutant(ctx.luo.kernel, 'mutant-finish-without-session-mutex');
  if (locked) yield* mutex_lock(ctx.s.mutex);
  const err = yield* luo_file_finish(ctx.luo, ctx.s.file_set);
  if (locked) yield* mutex_unlock(ctx.s.mutex);
  return err;
}

// eslint-disable-next-line require-yield
function* luo_session_get_name(ctx: SessionCtx, ucmd: luo_ucmd): Sched<number> {
  if (liveupdate_session_get_name.read(ucmd.cmd).reserved !== 0) return -EINVAL;
  const name = LIVEUPDATE_NAME_OFFSET;
  abi_put_string(ucmd.cmd, name, LIVEUPDATE_SESSION_NAME_LENGTH, ctx.s.name);
  return luo_ucmd_respond(ucmd, liveupdate_session_get_name.size);
}

/** The session ioctl table, indexed by nr - LIVEUPDATE_CMD_SESSION_BASE. */
const luo_session_ioctl_ops: readonly luo_ioctl_op<SessionCtx>[] = [
  {
    size: liveupdate_session_preserve_fd.size,
    min_size: 16,
    ioctl_num: LIVEUPDATE_SESSION_PRESERVE_FD,
    dir: 'outgoing',
    execute: luo_session_preserve_fd,
  },
  {
    size: liveupdate_session_retrieve_fd.size,
    min_size: 16,
    ioctl_num: LIVEUPDATE_SESSION_RETRIEVE_FD,
    dir: 'incoming',
    execute: luo_session_retrieve_fd,
  },
  {
    size: liveupdate_session_finish.size,
    min_size: 8,
    ioctl_num: LIVEUPDATE_SESSION_FINISH,
    dir: 'incoming',
    execute: luo_session_finish,
  },
  {
    size: liveupdate_session_get_name.size,
    min_size: 72,
    ioctl_num: LIVEUPDATE_SESSION_GET_NAME,
    execute: luo_session_get_name,
  },
];

/** Session fd ioctl (spec §2.2): decode, then run under the serialize rwsem (read). */
export function* luo_session_ioctl(
  luo: Luo,
  s: luo_session,
  cmd: number,
  arg: UserPtr,
): Sched<number> {
  const d = luo_ioctl_decode(
    luo_session_ioctl_ops,
    LIVEUPDATE_CMD_SESSION_BASE,
    cmd,
    arg,
    s.incoming,
  );
  if (typeof d === 'number') return d;
  yield* luo_down_read(luo, luo.session_serialize_rwsem);
  const ret = yield* d.op.execute({ luo, s }, d.ucmd);
  yield* luo_up_read(luo, luo.session_serialize_rwsem);
  return ret;
}
