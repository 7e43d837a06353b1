/**
 * Appendix A rows of the next kernel: the LUO retrieve ioctl and the guest_memfd and VM
 * retrieve callbacks. Stage 1 preserves a VM (0x1001) and its guest_memfd (0x1002, 3 folios)
 * through syscalls and kexecs; the handover is then corrupted byte by byte in the machine's
 * memory (only bytes cross a kexec) at addresses found from the bytes alone; stage 2 boots from
 * the machine and retrieves through /dev/liveupdate. Rows whose result differs between RFC v2
 * and the later revisions run under each.
 */
import assert from 'node:assert/strict';
import type { Machine } from '../../../../../src/machine/machine.ts';
import * as E from '../../../../../src/linux/include/uapi/asm-generic/errno.ts';
import { KVM_X86_SW_PROTECTED_VM } from '../../../../../src/linux/include/uapi/linux/kvm.ts';
import { luo_session_retrieve_fd } from '../../../../../src/user/libliveupdate.ts';
import {
  GMEM_TOKEN,
  MEMFD_TOKEN,
  REVISIONS,
  VM_TOKEN,
  afterKexec,
  kexecWithGmem,
  locate,
  type Handover,
} from '../../../../helpers/gmem_handover.ts';
import { rowName, type Row } from './row.ts';

const P = 4096;
/** guest_memfd_luo_ser offsets: size 0, flags 8, nr_folios 16, vm_token 24, folios 32. */
const SIZE = 0;
const FLAGS = 8;
const VM_TOKEN_AT = 24;
const TOTAL_PAGES_AT = 32 + 8;
/** A page far from anything the first boot allocated: never preserved. */
const UNPRESERVED_PFN = 0x80000n;

type Corrupt = (m: Machine, h: Handover) => void;

/** Retrieves `token` after `corrupt`; `want` is an errno, or 'fd' for any fd. */
function retrieveRow(
  op: string,
  condition: string,
  result: string,
  corrupt: Corrupt,
  token: bigint,
  want: number | 'fd',
  opts: {
    rev?: { name: string; switches: Record<string, boolean> };
    memfd?: boolean;
    /** The kernel WARNs on the way (recorded instead of failing the run). */
    warns?: boolean;
  } = {},
): Row {
  return {
    name: rowName(op, condition, result, opts.rev?.name),
    run: () => {
      const switches = opts.rev?.switches ?? {};
      const m = kexecWithGmem({ switches, memfd: opts.memfd ?? false });
      corrupt(m, locate(m));
      const warns = opts.warns ?? false;
      afterKexec(m, { switches, panic_on_warn: !warns }, function* (k, p, s) {
        const r = yield* luo_session_retrieve_fd(p.sys, s, token);
        if (want === 'fd') assert.ok(r >= 0, `retrieve: ${r}`);
        else assert.equal(r, want);
        assert.equal(k.warnings.length > 0, warns, k.warnings.join('; '));
      });
    },
  };
}

const u64 =
  (at: (h: Handover) => number, value: bigint): Corrupt =>
  (m, h) => {
    m.physmem.writeU64(at(h), value);
  };

const LUO = 'LUO retrieve ioctl';
const GMEM = 'gmem retrieve';
const VM = 'VM retrieve';
const v2orV3 = (name: string): boolean => name !== 'post-v3';

export const RETRIEVE_ROWS: readonly Row[] = [
  retrieveRow(LUO, 'token unknown', '-ENOENT', () => {}, 0x7777n, -E.ENOENT),
  {
    name: rowName(LUO, 'previous attempt failed', 'the stored error'),
    run: () => {
      const m = kexecWithGmem();
      const h = locate(m);
      m.physmem.writeU64(h.gmemSer + FLAGS, 0x7n);
      afterKexec(m, {}, function* (k, p, s) {
        assert.equal(yield* luo_session_retrieve_fd(p.sys, s, GMEM_TOKEN), -E.EOPNOTSUPP);
        // Repairing the bytes changes nothing: the handler is not called again.
        k.machine.physmem.writeU64(h.gmemSer + FLAGS, 0x3n);
        assert.equal(yield* luo_session_retrieve_fd(p.sys, s, GMEM_TOKEN), -E.EOPNOTSUPP);
      });
    },
  },
  retrieveRow(
    GMEM,
    'no serialized data',
    '-EINVAL',
    u64((h) => h.dataField.get(GMEM_TOKEN) ?? 0, 0n),
    GMEM_TOKEN,
    -E.EINVAL,
  ),
  retrieveRow(
    GMEM,
    'unknown ABI flags',
    '-EOPNOTSUPP',
    u64((h) => h.gmemSer + FLAGS, 0x7n),
    GMEM_TOKEN,
    -E.EOPNOTSUPP,
  ),
  retrieveRow(
    GMEM,
    'VM token lookup failure',
    'propagated (-ENOENT)',
    u64((h) => h.gmemSer + VM_TOKEN_AT, 0x7777n),
    GMEM_TOKEN,
    -E.ENOENT,
  ),
  {
    name: rowName(GMEM, 'VM retrieve failure', "propagated (the VM's error)"),
    run: () => {
      const m = kexecWithGmem();
      m.physmem.writeU64(locate(m).vmSer, 7n);
      afterKexec(m, {}, function* (_k, p, s) {
        assert.equal(yield* luo_session_retrieve_fd(p.sys, s, GMEM_TOKEN), -E.EINVAL);
        assert.equal(yield* luo_session_retrieve_fd(p.sys, s, VM_TOKEN), -E.EINVAL, 'stored');
      });
    },
  },
  {
    name: rowName(GMEM, 'token refers to a non-VM file', '-EINVAL'),
    run: () => {
      const m = kexecWithGmem({ memfd: true });
      m.physmem.writeU64(locate(m).gmemSer + VM_TOKEN_AT, MEMFD_TOKEN);
      afterKexec(m, {}, function* (_k, p, s) {
        assert.equal(yield* luo_session_retrieve_fd(p.sys, s, GMEM_TOKEN), -E.EINVAL);
        const memfd = yield* luo_session_retrieve_fd(p.sys, s, MEMFD_TOKEN);
        assert.ok(memfd >= 0, 'the memfd was retrieved as a side effect and stays retrievable');
      });
    },
  },
  ...REVISIONS.flatMap((rev) => {
    const result = v2orV3(rev.name) ? 'retrieved (not validated)' : '-EINVAL';
    const want = v2orV3(rev.name) ? 'fd' : -E.EINVAL;
    return [
      retrieveRow(
        GMEM,
        '(post-v3) bad size: 0',
        result,
        u64((h) => h.gmemSer + SIZE, 0n),
        GMEM_TOKEN,
        want,
        { rev },
      ),
      retrieveRow(
        GMEM,
        '(post-v3) bad size: not page aligned',
        result,
        u64((h) => h.gmemSer + SIZE, BigInt(16 * P + 1)),
        GMEM_TOKEN,
        want,
        { rev },
      ),
      // post-v3 validates the size before anything else: the flags and the VM token after it.
      ...(
        [
          ['unknown ABI flags', FLAGS, 0x7n, 'EOPNOTSUPP'],
          ['a VM token lookup failure', VM_TOKEN_AT, 0x7777n, 'ENOENT'],
        ] as const
      ).map(([also, at, value, v2errno]) =>
        retrieveRow(
          GMEM,
          `(post-v3) bad size (0) and ${also}`,
          v2orV3(rev.name) ? `-${v2errno}` : '-EINVAL (the size is checked first)',
          (m, h) => {
            m.physmem.writeU64(h.gmemSer + SIZE, 0n);
            m.physmem.writeU64(h.gmemSer + at, value);
          },
          GMEM_TOKEN,
          v2orV3(rev.name) ? -E[v2errno] : -E.EINVAL,
          { rev },
        ),
      ),
      retrieveRow(
        GMEM,
        '(post-v3) flags unsupported by the new VM (INIT_SHARED on a VM with private memory)',
        result,
        u64((h) => h.vmSer, BigInt(KVM_X86_SW_PROTECTED_VM)),
        GMEM_TOKEN,
        want,
        { rev },
      ),
    ];
  }),
  {
    name: rowName(GMEM, 'file creation failure', '-ENOMEM / -ENOENT / other'),
    skip:
      '__kvm_gmem_create_file cannot fail in the model: inode and file allocation never fail ' +
      'and fops_get (-ENOENT) is not modelled (guest_memfd_file.ts, Abstracted)',
  },
  retrieveRow(
    GMEM,
    'folio array restore fails',
    '-EINVAL',
    (m, h) => {
      m.physmem.write(h.gmemSer + TOTAL_PAGES_AT, new Uint8Array([2, 0, 0, 0]));
    },
    GMEM_TOKEN,
    -E.EINVAL,
  ),
  retrieveRow(
    GMEM,
    'a folio cannot be restored',
    '-EIO (KHO WARNs: not a preserved page)',
    (m, h) => {
      const flags = m.physmem.readU64(h.gmemArray) >> 52n;
      m.physmem.writeU64(h.gmemArray, (flags << 52n) | UNPRESERVED_PFN);
    },
    GMEM_TOKEN,
    -E.EIO,
    { warns: true },
  ),
  retrieveRow(
    GMEM,
    'page-cache insertion fails',
    'propagated (-EEXIST for a duplicate index)',
    u64((h) => h.gmemArray + 16 + 8, 0n),
    GMEM_TOKEN,
    -E.EEXIST,
  ),
  retrieveRow(
    VM,
    'no serialized data',
    '-EINVAL',
    u64((h) => h.dataField.get(VM_TOKEN) ?? 0, 0n),
    VM_TOKEN,
    -E.EINVAL,
  ),
  retrieveRow(
    VM,
    'VM creation fails (e.g. unsupported type)',
    'propagated (-EINVAL)',
    u64((h) => h.vmSer, 7n),
    VM_TOKEN,
    -E.EINVAL,
  ),
];
