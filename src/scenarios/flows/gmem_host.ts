/**
 * What the flows check from the host side of a guest_memfd: the frozen and unfrozen behaviour of
 * fallocate and host faults (spec §3.3, Appendix A), and where its pages are in physical memory
 * (pagemap / kpageflags), carried across the kexec in the state session like the stage number.
 */
import type { Sched } from '../../sim/index.ts';
import { KPF_BUDDY, KPF_RESERVED, kpageflags, pagemap_pfn } from '../../user/introspect.ts';
import { create_and_preserve_memfd, restore_and_read_memfd } from '../../user/libliveupdate.ts';
import type { ProgramContext } from '../../user/two_stage.ts';
import {
  EPERM,
  FALLOC_FL_KEEP_SIZE,
  FALLOC_FL_PUNCH_HOLE,
  MAP_SHARED,
  PROT_READ,
  PROT_WRITE,
  SIGBUS,
} from '../../user/uapi.ts';
import { FLOW_DATA_SIZE, FLOW_GMEM_SIZE, PAGE, pattern } from './common.ts';

/** The state session's token for the sampled pfns (the stage number is another token). */
export const PFNS_TOKEN = 0x99an;

/** A byte read through a shared mapping of `fd` at `offset`: the value, or the signal. */
export function* read_gmem_byte(
  ctx: ProgramContext,
  fd: number,
  offset: number,
  size = FLOW_GMEM_SIZE,
): Sched<{ value: number } | { signal: number }> {
  const { sys, t } = ctx;
  const addr = yield* sys.mmap(0, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  t.ASSERT_GE(addr, 0, 'mmap(guest_memfd)');
  const r = yield* sys.load(addr + offset, 1);
  t.ASSERT_EQ(yield* sys.munmap(addr, size), 0, 'munmap(guest_memfd)');
  return r.ok ? { value: r.bytes[0] ?? 0 } : { signal: r.signal };
}

/**
 * The frozen guest_memfd of spec §3.3: fallocate in both modes fails with EPERM, a page that
 * exists still reads the guest's pattern, a page never populated raises SIGBUS.
 */
export function* expect_frozen(ctx: ProgramContext, gmem_fd: number, what: string): Sched {
  const { sys, t } = ctx;
  const allocate = yield* sys.fallocate(gmem_fd, FALLOC_FL_KEEP_SIZE, FLOW_DATA_SIZE, PAGE);
  t.EXPECT_EQ(allocate, -EPERM, `${what}: fallocate(KEEP_SIZE) of a new page`);
  const punch = FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE;
  t.EXPECT_EQ(yield* sys.fallocate(gmem_fd, punch, 0, PAGE), -EPERM, `${what}: PUNCH_HOLE`);
  const old = yield* read_gmem_byte(ctx, gmem_fd, 0);
  t.EXPECT_EQ('value' in old ? old.value : -1, pattern(0), `${what}: existing page via mmap`);
  const fresh = yield* read_gmem_byte(ctx, gmem_fd, FLOW_DATA_SIZE);
  t.EXPECT_EQ('signal' in fresh ? fresh.signal : 0, SIGBUS, `${what}: new page via mmap`);
}

/** The same guest_memfd unfrozen: fallocate allocates, a host fault on a new page reads 0. */
export function* expect_unfrozen(ctx: ProgramContext, gmem_fd: number, what: string): Sched {
  const { sys, t } = ctx;
  const allocate = yield* sys.fallocate(gmem_fd, FALLOC_FL_KEEP_SIZE, FLOW_DATA_SIZE, PAGE);
  t.EXPECT_EQ(allocate, 0, `${what}: fallocate(KEEP_SIZE) of a new page`);
  const fresh = yield* read_gmem_byte(ctx, gmem_fd, FLOW_DATA_SIZE + PAGE);
  t.EXPECT_EQ('value' in fresh ? fresh.value : -1, 0, `${what}: new page via mmap`);
  const old = yield* read_gmem_byte(ctx, gmem_fd, 0);
  t.EXPECT_EQ('value' in old ? old.value : -1, pattern(0), `${what}: existing page via mmap`);
}

/** The pfns of the first, a middle and the last page the guest wrote (via pagemap). */
export function* sample_pfns(ctx: ProgramContext, gmem_fd: number): Sched<number[]> {
  const { sys, t, proc } = ctx;
  const addr = yield* sys.mmap(0, FLOW_GMEM_SIZE, PROT_READ, MAP_SHARED, gmem_fd, 0);
  t.ASSERT_GE(addr, 0, 'mmap(guest_memfd) for pagemap');
  const pages = [0, FLOW_DATA_SIZE / PAGE / 2, FLOW_DATA_SIZE / PAGE - 1];
  const pfns: number[] = [];
  for (const p of pages) {
    const r = yield* sys.load(addr + p * PAGE, 1);
    t.ASSERT_EQ(r.ok, true, `read of guest page ${p}`);
    const pfn = pagemap_pfn(proc, addr + p * PAGE);
    if (pfn === null) return t.fail_exit(`pagemap: guest page ${p} not present`);
    pfns.push(pfn);
  }
  t.ASSERT_EQ(yield* sys.munmap(addr, FLOW_GMEM_SIZE), 0, 'munmap(guest_memfd)');
  return pfns;
}

/** Stage 1: keeps `pfns` in the state session, as a memfd next to the stage number. */
export function* save_pfns(ctx: ProgramContext, state_fd: number, pfns: number[]): Sched {
  const r = yield* create_and_preserve_memfd(ctx.sys, state_fd, PFNS_TOKEN, pfns.join(','));
  ctx.t.ASSERT_EQ(r, 0, 'preserve the pfn list in the state session');
}

/** Stage 2: the pfns stage 1 saved. */
export function* load_pfns(ctx: ProgramContext, state_fd: number): Sched<number[]> {
  const r = yield* restore_and_read_memfd(ctx.sys, state_fd, PFNS_TOKEN, 4095);
  if (typeof r === 'number') return ctx.t.fail_exit(`restore the pfn list: ${r}`);
  yield* ctx.sys.close(r.fd);
  return r.text.split(',').map(Number);
}

/** EXPECTs each pfn's /proc/kpageflags to be `state`: still reserved by KHO, or free. */
export function expect_pages(
  ctx: ProgramContext,
  pfns: readonly number[],
  state: 'reserved' | 'free',
  what: string,
): void {
  const bit = state === 'free' ? KPF_BUDDY : KPF_RESERVED;
  const show = (f: bigint): string => (f === 0n ? '0' : `0x${f.toString(16)}`);
  kpageflags(ctx.proc, pfns).forEach((flags, i) => {
    const ok = (flags & bit) !== 0n;
    ctx.t.EXPECT_EQ(ok, true, `${what}: pfn ${pfns[i]} ${state} (kpageflags ${show(flags)})`);
  });
}
