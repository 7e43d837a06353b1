/**
 * Physical memory: the page frames whose bytes a kexec can carry to the next kernel.
 *
 * **Models:** the RAM of the machine as seen through the kernel's direct map (phys_to_virt /
 * memcpy on physical addresses) and the effect of kexec on it: preserved frames keep their
 * bytes at the same address, every other frame is lost (kernel/liveupdate/kexec_handover.c,
 * v7.2-era mainline, spec §4.9).
 *
 * **Abstracted:** no struct page, no NUMA nodes, no holes in the memory map, no caches or
 * DMA. Memory is sparse: a frame gets its 4096 bytes only when a write puts a non-zero byte in
 * it, and an absent frame reads as zeros, so a 64 GiB machine costs only its written pages.
 *
 * Addresses and lengths are JS numbers, not bigints: arithmetic on them is much faster, and every
 * safe integer (below 2^53, 8 PiB) is far above any modelled machine. The constructor refuses
 * sizes past that bound; ABI fields stay u64 bigints and convert with `physToAddr`.
 * Out-of-range addresses, lengths and pfns throw RangeError: the model reached memory the
 * machine does not have.
 */

export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 1 << PAGE_SHIFT;
export const GiB = 1024 * 1024 * 1024;

/** A u64 physical address as a JS number for PhysMem; RangeError past 2^53. */
export function physToAddr(phys: bigint): number {
  if (phys < 0n || phys > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new RangeError(`physical address 0x${phys.toString(16)} is not modelled`);
  }
  return Number(phys);
}

const isIndex = (n: number): boolean => Number.isSafeInteger(n) && n >= 0;

/** The frame number of a page-aligned address, as an int32 when it is one: V8 keys its Map by
 * small integers faster than by boxed doubles. */
function frameOf(pageAddr: number): number {
  const pfn = pageAddr / PAGE_SIZE;
  return pfn === (pfn | 0) ? pfn | 0 : pfn;
}

function allZero(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

export class PhysMem {
  /** Size in bytes, a multiple of PAGE_SIZE. */
  readonly size: number;
  /** Number of page frames: valid pfns are 0 .. pageCount - 1. */
  readonly pageCount: number;
  private readonly pages = new Map<number, Uint8Array>();
  private readonly views = new Map<number, DataView>();

  constructor(size: number = 4 * GiB) {
    if (!isIndex(size) || size === 0 || size % PAGE_SIZE !== 0) {
      throw new RangeError(`memory size ${size} is not a positive multiple of ${PAGE_SIZE}`);
    }
    this.size = size;
    this.pageCount = size / PAGE_SIZE;
  }

  private checkRange(addr: number, len: number): void {
    if (!isIndex(addr) || !isIndex(len) || len > this.size - addr || addr > this.size) {
      throw new RangeError(`access of ${len} bytes at ${addr} is outside ${this.size} bytes`);
    }
  }

  private checkPfn(pfn: number): void {
    if (!isIndex(pfn) || pfn >= this.pageCount) {
      throw new RangeError(`pfn ${pfn} is outside 0..${this.pageCount - 1}`);
    }
  }

  /** A copy of `len` bytes at physical address `addr`; absent frames read as zeros. */
  read(addr: number, len: number): Uint8Array {
    this.checkRange(addr, len);
    const out = new Uint8Array(len);
    this.readInto(addr, out);
    return out;
  }

  /** Fills `out` with the bytes at physical address `addr` (read without a new buffer). */
  readInto(addr: number, out: Uint8Array): void {
    const len = out.length;
    this.checkRange(addr, len);
    for (let done = 0; done < len;) {
      const at = addr + done;
      const offset = at % PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - offset, len - done);
      const page = this.pages.get(frameOf(at - offset));
      if (page) out.set(n === PAGE_SIZE ? page : page.subarray(offset, offset + n), done);
      else out.fill(0, done, done + n);
      done += n;
    }
  }

  /** Copies `bytes` to physical address `addr`. Zeros written to an absent frame allocate
   * nothing, since the frame reads as zeros already. */
  write(addr: number, bytes: Uint8Array): void {
    this.checkRange(addr, bytes.length);
    for (let done = 0; done < bytes.length;) {
      const at = addr + done;
      const offset = at % PAGE_SIZE;
      const n = Math.min(PAGE_SIZE - offset, bytes.length - done);
      const pfn = frameOf(at - offset);
      const chunk = bytes.subarray(done, done + n);
      let page = this.pages.get(pfn);
      if (!page && !allZero(chunk)) {
        page = new Uint8Array(PAGE_SIZE);
        this.pages.set(pfn, page);
      }
      page?.set(chunk, offset);
      done += n;
    }
  }

  /** A DataView over a present page (cached: the radix tracker and records use many u64s). */
  private view(pfn: number, page: Uint8Array): DataView {
    let v = this.views.get(pfn);
    if (v?.buffer !== page.buffer) {
      v = new DataView(page.buffer, page.byteOffset, PAGE_SIZE);
      this.views.set(pfn, v);
    }
    return v;
  }

  readU64(addr: number): bigint {
    const offset = addr % PAGE_SIZE;
    if (offset > PAGE_SIZE - 8) {
      const bytes = this.read(addr, 8);
      return new DataView(bytes.buffer).getBigUint64(0, true);
    }
    this.checkRange(addr, 8);
    const pfn = frameOf(addr - offset);
    const page = this.pages.get(pfn);
    return page ? this.view(pfn, page).getBigUint64(offset, true) : 0n;
  }

  writeU64(addr: number, value: bigint): void {
    if (value < 0n || value > 0xffff_ffff_ffff_ffffn) throw new RangeError(`${value} is not a u64`);
    const offset = addr % PAGE_SIZE;
    if (offset > PAGE_SIZE - 8) {
      const bytes = new Uint8Array(8);
      new DataView(bytes.buffer).setBigUint64(0, value, true);
      this.write(addr, bytes);
      return;
    }
    this.checkRange(addr, 8);
    const pfn = frameOf(addr - offset);
    let page = this.pages.get(pfn);
    if (!page) {
      if (value === 0n) return;
      page = new Uint8Array(PAGE_SIZE);
      this.pages.set(pfn, page);
    }
    this.view(pfn, page).setBigUint64(offset, value, true);
  }

  /**
   * The u64 at `addr` as a JS number: exact below 2^53, rounded above as `Number(readU64(addr))`
   * rounds. For pointers and counts in hot loops (no bigint is made).
   */
  readU64Number(addr: number): number {
    const offset = addr % PAGE_SIZE;
    if (offset > PAGE_SIZE - 8) return Number(this.readU64(addr));
    this.checkRange(addr, 8);
    const pfn = frameOf(addr - offset);
    const page = this.pages.get(pfn);
    if (!page) return 0;
    const v = this.view(pfn, page);
    return v.getUint32(offset + 4, true) * 2 ** 32 + v.getUint32(offset, true);
  }

  /** The byte at `addr`. */
  readU8(addr: number): number {
    this.checkRange(addr, 1);
    const offset = addr % PAGE_SIZE;
    return this.pages.get(frameOf(addr - offset))?.[offset] ?? 0;
  }

  /** Writes one byte; a zero byte written to an absent frame allocates nothing. */
  writeU8(addr: number, value: number): void {
    this.checkRange(addr, 1);
    const offset = addr % PAGE_SIZE;
    const pfn = frameOf(addr - offset);
    let page = this.pages.get(pfn);
    if (!page) {
      if ((value & 0xff) === 0) return;
      page = new Uint8Array(PAGE_SIZE);
      this.pages.set(pfn, page);
    }
    page[offset] = value;
  }

  /**
   * The bytes of frame `pfn` for edits in place (hot loops that update one frame many times), or
   * null when it holds none and `create` is false. With `create`, an absent frame gets zeroed
   * bytes, and the caller must put a non-zero byte in them (only frames with data hold bytes).
   * The array stays the frame's until the frame is zeroed, scrubbed or restored.
   */
  frameBytes(pfn: number, create: boolean): Uint8Array | null {
    this.checkPfn(pfn);
    let page = this.pages.get(pfn);
    if (!page && create) {
      page = new Uint8Array(PAGE_SIZE);
      this.pages.set(pfn, page);
    }
    return page ?? null;
  }

  /** Clears a frame; it holds no bytes afterwards. */
  zeroPage(pfn: number): void {
    this.checkPfn(pfn);
    this.pages.delete(pfn);
    this.views.delete(pfn);
  }

  /** A copy of the frame's bytes, or null if it holds none (never written with a non-zero
   * byte, or zeroed or scrubbed since). */
  pageBytes(pfn: number): Uint8Array | null {
    this.checkPfn(pfn);
    return this.pages.get(pfn)?.slice() ?? null;
  }

  /** Installs a whole frame as given, even all zeros; used to load a saved image exactly. */
  restorePage(pfn: number, bytes: Uint8Array): void {
    this.checkPfn(pfn);
    if (bytes.length !== PAGE_SIZE) {
      throw new RangeError(`a page is ${PAGE_SIZE} bytes, not ${bytes.length}`);
    }
    this.pages.set(pfn, bytes.slice());
  }

  /** The frames that hold bytes, ascending. */
  touchedPfns(): number[] {
    return [...this.pages.keys()].sort((a, b) => a - b);
  }

  /** How many frames hold bytes (each costs PAGE_SIZE bytes of host memory). */
  get touchedCount(): number {
    return this.pages.size;
  }

  /** Drops every frame for which `keep(pfn)` is false: the memory the next kernel does not
   * inherit. */
  scrub(keep: (pfn: number) => boolean): void {
    for (const pfn of [...this.pages.keys()])
      if (!keep(pfn)) {
        this.pages.delete(pfn);
        this.views.delete(pfn);
      }
  }
}
