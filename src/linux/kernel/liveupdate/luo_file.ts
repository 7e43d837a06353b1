/**
 * LUO files: the file-handler registry and the per-session file lifecycle — preserve,
 * unpreserve, freeze/unfreeze at reboot, deserialize, retrieve and finish in the next kernel.
 *
 * **Models:** kernel/liveupdate/luo_file.c (v7.2-era mainline with block-set file lists, spec
 * §1.6–1.8, §2.4, §3): liveupdate_register_file_handler, liveupdate_unregister_file_handler,
 * luo_preserve_file, luo_file_unpreserve_files, luo_file_freeze, luo_file_unfreeze,
 * luo_retrieve_file, luo_file_finish, luo_file_deserialize.
 * **Abstracted:** FLB calls and module pinning (always succeed); record allocation never fails.
 * Paths of luo_preserve_file: 1. token already in this session → -EEXIST; 2. block grow fails →
 * -ENOMEM/-ENOSPC; 3. bad fd → -EBADF; 4. no handler → -ENOENT; 5. id already preserved
 * anywhere → -EBUSY; 6. handler preserve error → that error; each undoes the steps before it.
 * The caller holds the session mutex for every function here except registration.
 */
import { mutant } from '../../mutants.ts';
import { op, type Sched } from '../../../sim/index.ts';
import { down_read, mutex_lock, mutex_unlock, up_read } from '../../../sync/index.ts';
import {
  LIVEUPDATE_HNDL_COMPAT_LENGTH,
  LUO_FILE_SER_COMPATIBLE_OFFSET,
  abi_get_string,
  abi_put_string,
  luo_file_ser,
} from '../../include/linux/kho/abi/luo.ts';
import type {
  liveupdate_file_handler,
  liveupdate_file_op_args,
} from '../../include/linux/liveupdate.ts';
import {
  EBADF,
  EBUSY,
  EEXIST,
  EINVAL,
  ENOENT,
  ENOSPC,
  EOPNOTSUPP,
} from '../../include/uapi/asm-generic/errno.ts';
import { current_files, fget, fput, get_file, type file } from '../../fs/file.ts';
import {
  kho_block_chain_destroy,
  kho_block_chain_entry,
  kho_block_entry_pa,
  kho_block_set_clear,
  kho_block_set_commit,
  kho_block_set_destroy,
  kho_block_set_grow,
  kho_block_set_restore,
  kho_block_set_shrink,
} from './kho_block.ts';
import {
  luo_down_write,
  luo_file,
  luo_up_write,
  type Luo,
  type luo_file_set,
  type luo_session,
} from './luo_internal.ts';

export function* liveupdate_register_file_handler(
  luo: Luo,
  fh: liveupdate_file_handler,
): Sched<number> {
  if (!luo.enabled) return -EOPNOTSUPP;
  const o = fh.ops;
  if (!o.preserve || !o.unpreserve || !o.retrieve || !o.finish || !o.can_preserve) return -EINVAL;
  yield* luo_down_write(luo, luo.luo_register_rwlock);
  let err = 0;
  if (luo.file_handlers.some((h) => h.compatible === fh.compatible)) err = -EEXIST;
  else luo.file_handlers.push(fh);
  yield* luo_up_write(luo, luo.luo_register_rwlock);
  return err;
}

export function* liveupdate_unregister_file_handler(luo: Luo, fh: liveupdate_file_handler): Sched {
  if (!luo.enabled) return;
  yield* luo_down_write(luo, luo.luo_register_rwlock);
  const i = luo.file_handlers.indexOf(fh);
  if (i >= 0) luo.file_handlers.splice(i, 1);
  yield* luo_up_write(luo, luo.luo_register_rwlock);
}

function args_of(lf: luo_file, retrieve_status = 0): liveupdate_file_op_args {
  return {
    handler: lf.fh,
    session: lf.session,
    retrieve_status,
    file: lf.file,
    serialized_data: lf.serialized_data,
    private_data: lf.private_data,
  };
}

function file_id(fh: liveupdate_file_handler, f: file): unknown {
  return fh.ops.get_id ? fh.ops.get_id(f) : f;
}

/** xa_insert into the preserved-files registry: 0 or -EBUSY. */
function* luo_preserved_insert(luo: Luo, id: unknown, f: file): Sched<number> {
  yield op('xa_insert(luo_preserved_files)', [{ object: luo.preserved_files_id, kind: 'rmw' }]);
  if (luo.preserved_files.has(id)) return -EBUSY;
  luo.preserved_files.set(id, f);
  return 0;
}

function* luo_preserved_erase(luo: Luo, id: unknown): Sched {
  yield op('xa_erase(luo_preserved_files)', [{ object: luo.preserved_files_id, kind: 'rmw' }]);
  luo.preserved_files.delete(id);
}

export function* luo_preserve_file(
  luo: Luo,
  fs: luo_file_set,
  token: bigint,
  fd: number,
): Sched<number> {
  if (fs.files_list.some((lf) => lf.token === token)) return -EEXIST;
  let err = yield* kho_block_set_grow(luo.kernel, fs.block_set, fs.count + 1);
  if (err < 0) return err;
  const f = yield* fget(current_files(luo.sim), fd);
  if (f === null) {
    yield* kho_block_set_shrink(luo.kernel, fs.block_set, fs.count);
    return -EBADF;
  }
  let fh: liveupdate_file_handler | null = null;
  yield* down_read(luo.luo_register_rwlock);
  for (const h of luo.file_handlers) {
    if (yield* (h.ops.can_preserve as NonNullable<typeof h.ops.can_preserve>)(h, f)) {
      fh = h;
      break;
    }
  }
  yield* up_read(luo.luo_register_rwlock);
  err = fh === null ? -ENOENT : yield* luo_preserved_insert(luo, file_id(fh, f), f);
  if (fh !== null && err === 0) {
    const lf = new luo_file(luo.sim, fh, f, 0n, token);
    lf.session = fs.owner;
    const args = args_of(lf);
    err = yield* (fh.ops.preserve as NonNullable<typeof fh.ops.preserve>)(args);
    if (err === 0) {
      lf.serialized_data = args.serialized_data;
      lf.private_data = args.private_data;
      fs.files_list.push(lf);
      return 0;
    }
    yield* luo_preserved_erase(luo, file_id(fh, f));
  }
  yield* fput(f);
  yield* kho_block_set_shrink(luo.kernel, fs.block_set, fs.count);
  return err;
}

/** Unpreserves every file, newest first (outgoing session closed), and frees the blocks. */
export function* luo_file_unpreserve_files(luo: Luo, fs: luo_file_set): Sched {
  while (fs.files_list.length > 0) {
    const lf = fs.files_list.pop() as luo_file;
    const f = lf.file as file;
    yield* (lf.fh.ops.unpreserve as NonNullable<typeof lf.fh.ops.unpreserve>)(args_of(lf));
    yield* luo_preserved_erase(luo, file_id(lf.fh, f));
    yield* kho_block_set_shrink(luo.kernel, fs.block_set, fs.count);
    yield* fput(f);
  }
  yield* kho_block_set_destroy(luo.kernel, fs.block_set);
}

/** Calls unfreeze on the files before `upto` (all when null), in list order. */
function* __luo_file_unfreeze(luo: Luo, fs: luo_file_set, upto: luo_file | null): Sched {
  for (const lf of fs.files_list) {
    if (lf === upto) break;
    // luo_file_unfreeze_one takes the file's mutex whether or not the handler has unfreeze.
    yield* mutex_lock(lf.mutex);
    if (lf.fh.ops.unfreeze) yield* lf.fh.ops.unfreeze(args_of(lf));
    yield* mutex_unlock(lf.mutex);
  }
  kho_block_set_clear(luo.kernel, fs.block_set);
}

/** Freezes every file oldest first and writes its luo_file_ser; the file set's {files, count}
 * or -errno after unfreezing the earlier files. */
export function* luo_file_freeze(
  luo: Luo,
  fs: luo_file_set,
): Sched<{ files: bigint; count: bigint } | number> {
  if (fs.count === 0) return { files: 0n, count: 0n };
  for (const [i, lf] of fs.files_list.entries()) {
    if (i >= fs.block_set.capacity) {
      luo.kernel.WARN_ON(true, 'luo_file_freeze: no file slot left');
      yield* __luo_file_unfreeze(luo, fs, lf);
      return -ENOSPC;
    }
    let err = 0;
    yield* mutex_lock(lf.mutex);
    if (lf.fh.ops.freeze) {
      const args = args_of(lf);
      err = yield* lf.fh.ops.freeze(args);
      if (err === 0) lf.serialized_data = args.serialized_data;
    }
    yield* mutex_unlock(lf.mutex);
    if (err < 0) {
      yield* __luo_file_unfreeze(luo, fs, lf);
      return err;
    }
    const entry = luo_file_ser.encode({ data: lf.serialized_data, token: lf.token });
    abi_put_string(
      entry,
      LUO_FILE_SER_COMPATIBLE_OFFSET,
      LIVEUPDATE_HNDL_COMPAT_LENGTH,
      lf.fh.compatible,
    );
    luo.kernel.machine.physmem.write(kho_block_entry_pa(fs.block_set, i), entry);
  }
  const files = kho_block_set_commit(luo.kernel, fs.block_set, fs.count);
  return { files: BigInt(files), count: BigInt(fs.count) };
}

/** Undoes a successful luo_file_freeze (a later session failed to freeze). */
export function* luo_file_unfreeze(luo: Luo, fs: luo_file_set): Sched {
  yield* __luo_file_unfreeze(luo, fs, null);
}

/** The file for `token` with a new reference for the caller, or -errno (permanent on failure). */
export function* luo_retrieve_file(
  luo: Luo,
  fs: luo_file_set,
  token: bigint,
  rerun = false,
): Sched<file | number> {
  const lf = fs.files_list.find((x) => x.token === token);
  if (lf === undefined) return -ENOENT;
  yield* mutex_lock(lf.mutex);
  let ret: file | number;
  if (lf.retrieve_status < 0) {
    ret = lf.retrieve_status;
  } else if (lf.retrieve_status > 0 && !rerun) {
    ret = yield* get_file(lf.file as file);
  } else {
    const args = args_of(lf);
    const err = yield* (lf.fh.ops.retrieve as NonNullable<typeof lf.fh.ops.retrieve>)(args);
    if (err < 0 || args.file === null) {
      lf.retrieve_status = err < 0 ? err : -EINVAL;
      ret = lf.retrieve_status;
    } else {
      lf.file = args.file;
      const dup = yield* luo_preserved_insert(luo, file_id(lf.fh, args.file), args.file);
      luo.kernel.WARN_ON(dup < 0, 'luo_retrieve_file: retrieved file already in the registry');
      lf.retrieve_status = 1;
      ret = yield* get_file(args.file);
    }
  }
  yield* mutex_unlock(lf.mutex);
  return ret;
}

/** FINISH: can_finish on all (oldest first), then finish each (newest first); 0 or -EBUSY. */
export function* luo_file_finish(luo: Luo, fs: luo_file_set): Sched<number> {
  if (fs.count === 0) return 0;
  for (const lf of fs.files_list) {
    // luo_file_can_finish_one takes the file's mutex whether or not the handler has can_finish.
    yield* mutex_lock(lf.mutex);
    const ok = lf.fh.ops.can_finish
      ? yield* lf.fh.ops.can_finish(args_of(lf, lf.retrieve_status))
      : true;
    yield* mutex_unlock(lf.mutex);
    if (!ok) return -EBUSY;
  }
  while (fs.files_list.length > 0) {
    const lf = fs.files_list.pop() as luo_file;
    yield* mutex_lock(lf.mutex);
    yield* (lf.fh.ops.finish as NonNullable<typeof lf.fh.ops.finish>)(
      args_of(lf, lf.retrieve_status),
    );
    yield* mutex_unlock(lf.mutex);
    if (lf.file !== null) {
      yield* luo_preserved_erase(luo, file_id(lf.fh, lf.file));
      yield* fput(lf.file);
    }
  }
  if (fs.incoming_chain) kho_block_chain_destroy(luo.kernel, fs.incoming_chain);
  fs.incoming_chain = null;
  return 0;
}

/** Rebuilds an incoming session's files from its chain; 0, -EINVAL (bad chain or count) or
 * -ENOENT (no handler for a compatible string). On error nothing of this set is left. */
export function* luo_file_deserialize(
  luo: Luo,
  fs: luo_file_set,
  files_pa: bigint,
  count: bigint,
): Sched<number> {
  if (files_pa === 0n) {
    if (count !== 0n) luo.kernel.pr_warn(`session has no file chain but count ${count}`);
    return 0;
  }
  const chain = kho_block_set_restore(luo.kernel, Number(files_pa), luo_file_ser.size);
  if (typeof chain === 'number') return chain;
  let err = 0;
  for (let i = 0; i < chain.count; i++) {
    // luo_file_deserialize_one: the handler list is read-locked per entry.
    yield* down_read(luo.luo_register_rwlock);
    const bytes = kho_block_chain_entry(luo.kernel, chain, i);
    const compat = abi_get_string(
      bytes,
      LUO_FILE_SER_COMPATIBLE_OFFSET,
      LIVEUPDATE_HNDL_COMPAT_LENGTH,
    );
    const fh = luo.file_handlers.find((h) => h.compatible === compat);
    if (fh === undefined) {
      yield* up_read(luo.luo_register_rwlock);
      luo.kernel.pr_warn(`No registered handler for compatible '${compat}'`);
      err = -ENOENT;
      break;
    }
    const ser = luo_file_ser.read(bytes);
    const lf = new luo_file(luo.sim, fh, null, ser.data, ser.token);
    lf.session = fs.owner;
    fs.files_list.push(lf);
    yield* up_read(luo.luo_register_rwlock);
  }
  if (err === 0 && BigInt(fs.count) !== count) err = -EINVAL;
  if (err < 0) {
    fs.files_list.length = 0;
    kho_block_chain_destroy(luo.kernel, chain);
    return err;
  }
  fs.incoming_chain = chain;
  return 0;
}

/**
 * liveupdate_get_token_outgoing (patch 01, RFC v2): the token under which `f` is preserved in
 * `session`, or -ENOENT when it is not preserved there (in another session, or not at all).
 * Context: called from a handler's freeze at reboot, with the session mutex held.
 */
export function liveupdate_get_token_outgoing(session: unknown, f: file): bigint | number {
  const s = session as luo_session | null;
  if (s === null) return -ENOENT;
  const lf = s.file_set.files_list.find((x) => x.file === f);
  return lf === undefined ? -ENOENT : lf.token;
}

/**
 * liveupdate_get_file_incoming (patch 01, RFC v2): retrieves, from kernel code, the file preserved
 * under `token` in the incoming `session`, exactly as the RETRIEVE_FD ioctl would (first retrieve
 * runs the handler; a retrieved file gets one more reference; a failed one returns its stored
 * error). The caller owns one reference to the returned file.
 * Context: called from a handler's retrieve, with the session mutex held by the outer ioctl and
 * the outer file's mutex held; the inner file's mutex is a different object.
 */
export function* liveupdate_get_file_incoming(
  luo: Luo,
  session: unknown,
  token: bigint,
): Sched<file | number> {
  const s = session as luo_session | null;
  if (s === null) return -ENOENT;
  const rerun = mutant(luo.kernel, 'mutant-incoming-retrieve-reruns-handler');
  return yield* luo_retrieve_file(luo, s.file_set, token, rerun);
}
