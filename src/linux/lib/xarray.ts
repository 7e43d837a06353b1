/**
 * A sparse array indexed by non-negative integers, ordered by index: the page cache's i_pages
 * and the page allocator's memmap.
 *
 * **Models:** the data-structure side of lib/xarray.c and include/linux/xarray.h (v7.2-era
 * mainline): xa_load, xa_store, xa_erase, xa_find (the first present index in a range) and
 * ordered iteration, with 64-slot nodes (XA_CHUNK_SHIFT 6).
 *
 * **Abstracted:** one level of nodes found through a Map by index / 64 instead of a radix tree
 * of nodes; no marks, no multi-index entries (a large folio is stored at each index it covers),
 * no RCU and no xa_lock: callers make their own visible operations. The API is the subset of
 * Map's that the model uses (get/set/has/delete/size and iteration), so iteration is in index
 * order, as with xa_for_each. Memory follows the present entries: a node exists only while one of
 * its 64 slots is used. The node of the last access is remembered, so runs of neighbouring
 * indices (allocation, walks, restores) cost no lookup at all.
 */

const XA_CHUNK_SHIFT = 6;
const XA_CHUNK_SIZE = 1 << XA_CHUNK_SHIFT;
const XA_CHUNK_MASK = XA_CHUNK_SIZE - 1;

/** A node: its slots and how many of them are used. */
class xa_node<T> {
  count = 0;
  readonly slots: Array<T | undefined> = new Array<T | undefined>(XA_CHUNK_SIZE);
}

/** Node number of an index: a shift while the index is an int32 (V8 keeps the result a small
 * integer), a division above (indices go up to 2^53). */
const node_of = (index: number): number =>
  index <= 0x7fff_ffff ? index >> XA_CHUNK_SHIFT : Math.floor(index / XA_CHUNK_SIZE);

export class xarray<T> {
  private readonly nodes = new Map<number, xa_node<T>>();
  /** Node numbers in ascending order, or null until the next ordered access rebuilds it. */
  private order: number[] | null = [];
  private present = 0;
  private last_id = -1;
  private last: xa_node<T> | null = null;

  get size(): number {
    return this.present;
  }

  private node(id: number): xa_node<T> | undefined {
    if (id === this.last_id) return this.last ?? undefined;
    const n = this.nodes.get(id);
    if (n !== undefined) {
      this.last_id = id;
      this.last = n;
    }
    return n;
  }

  /** xa_load. */
  get(index: number): T | undefined {
    return this.node(node_of(index))?.slots[index & XA_CHUNK_MASK];
  }

  has(index: number): boolean {
    return this.get(index) !== undefined;
  }

  /** xa_store; `value` must not be undefined (use delete). */
  set(index: number, value: T): this {
    if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`xarray index ${index}`);
    const id = node_of(index);
    let n = this.node(id);
    if (n === undefined) {
      n = new xa_node<T>();
      this.nodes.set(id, n);
      const order = this.order;
      if (order !== null && (order.length === 0 || (order[order.length - 1] as number) < id))
        order.push(id);
      else this.order = null;
      this.last_id = id;
      this.last = n;
    }
    const slot = index & XA_CHUNK_MASK;
    if (n.slots[slot] === undefined) {
      n.count++;
      this.present++;
    }
    n.slots[slot] = value;
    return this;
  }

  /** xa_erase; true when an entry was present. */
  delete(index: number): boolean {
    const id = node_of(index);
    const n = this.node(id);
    const slot = index & XA_CHUNK_MASK;
    if (n?.slots[slot] === undefined) return false;
    n.slots[slot] = undefined;
    n.count--;
    this.present--;
    if (n.count === 0) {
      this.nodes.delete(id);
      if (this.last_id === id) {
        this.last_id = -1;
        this.last = null;
      }
      const order = this.order;
      if (order !== null && order[order.length - 1] === id) order.pop();
      else this.order = null;
    }
    return true;
  }

  private ordered(): number[] {
    this.order ??= [...this.nodes.keys()].sort((a, b) => a - b);
    return this.order;
  }

  /** xa_find: the first present index in [start, end] (inclusive), or -1. */
  find(start: number, end: number): number {
    // The node of `start` first: an ordered walk finds its next entry there without a search.
    const first = node_of(start);
    const here = this.node(first);
    if (here !== undefined) {
      const base = first * XA_CHUNK_SIZE;
      for (let s = start - base; s < XA_CHUNK_SIZE; s++) {
        if (base + s > end) return -1;
        if (here.slots[s] !== undefined) return base + s;
      }
    }
    const order = this.ordered();
    let lo = 0;
    let hi = order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((order[mid] as number) < first) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < order.length; i++) {
      const id = order[i] as number;
      const base = id * XA_CHUNK_SIZE;
      if (base > end) return -1;
      const slots = (this.nodes.get(id) as xa_node<T>).slots;
      for (let s = Math.max(0, start - base); s < XA_CHUNK_SIZE; s++) {
        if (base + s > end) return -1;
        if (slots[s] !== undefined) return base + s;
      }
    }
    return -1;
  }

  /**
   * Appends to `out` the entries of [start, end] (inclusive) in index order until it holds `max`
   * (xa_extract). An entry stored at neighbouring indices (a large folio) is appended once.
   */
  extract(start: number, end: number, max: number, out: T[]): void {
    let last: T | undefined = undefined;
    for (let index = this.find(start, end); index >= 0;) {
      const id = node_of(index);
      const slots = (this.node(id) as xa_node<T>).slots;
      const base = id * XA_CHUNK_SIZE;
      for (let s = index - base; s < XA_CHUNK_SIZE && base + s <= end; s++) {
        const v = slots[s];
        if (v === undefined || v === last) continue;
        if (out.length >= max) return;
        out.push(v);
        last = v;
      }
      index = base + XA_CHUNK_SIZE > end ? -1 : this.find(base + XA_CHUNK_SIZE, end);
    }
  }

  /** [index, entry] in index order (xa_for_each). */
  *entries(): IterableIterator<[number, T]> {
    for (const id of [...this.ordered()]) {
      const n = this.nodes.get(id);
      if (n === undefined) continue;
      for (let s = 0; s < XA_CHUNK_SIZE; s++) {
        const v = n.slots[s];
        if (v !== undefined) yield [id * XA_CHUNK_SIZE + s, v];
      }
    }
  }

  *keys(): IterableIterator<number> {
    for (const [index] of this.entries()) yield index;
  }

  *values(): IterableIterator<T> {
    for (const [, v] of this.entries()) yield v;
  }

  [Symbol.iterator](): IterableIterator<[number, T]> {
    return this.entries();
  }
}
