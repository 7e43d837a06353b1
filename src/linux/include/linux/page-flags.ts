/**
 * Folio flags: the PG_ bits the page cache, shmem and guest_memfd use.
 *
 * **Models:** include/linux/page-flags.h (v7.2-era mainline): PG_locked, PG_uptodate, PG_dirty,
 * PG_lru, PG_swapbacked with folio_test_*, folio_mark_*, folio_clear_* and the non-atomic
 * __folio_set_* forms.
 * **Abstracted:** the bits live in the model's `Page.flags`, numbered as in the kernel's enum
 * for readability only (nothing serializes them: struct page flags do not cross a kexec, spec
 * §4.9). Flag updates are plain writes: callers hold the lock that orders them. folio_lock is
 * not a sleeping lock here; PG_locked only records the state for assertions.
 */
import type { Folio } from './mm_types.ts';

export const PG_locked = 1 << 0;
export const PG_uptodate = 1 << 3;
export const PG_dirty = 1 << 4;
export const PG_lru = 1 << 5;
export const PG_swapbacked = 1 << 19;

const test = (folio: Folio, bit: number): boolean => (folio.flags & bit) !== 0;
const set = (folio: Folio, bit: number): void => {
  folio.flags |= bit;
};
const clear = (folio: Folio, bit: number): void => {
  folio.flags &= ~bit;
};

export const folio_test_locked = (folio: Folio): boolean => test(folio, PG_locked);
export function __folio_set_locked(folio: Folio): void {
  set(folio, PG_locked);
}
export function folio_unlock(folio: Folio): void {
  clear(folio, PG_locked);
}

export const folio_test_uptodate = (folio: Folio): boolean => test(folio, PG_uptodate);
export function folio_mark_uptodate(folio: Folio): void {
  set(folio, PG_uptodate);
}
export function folio_clear_uptodate(folio: Folio): void {
  clear(folio, PG_uptodate);
}

export const folio_test_dirty = (folio: Folio): boolean => test(folio, PG_dirty);
/** folio_mark_dirty: returns true if the folio was clean before. */
export function folio_mark_dirty(folio: Folio): boolean {
  const was = test(folio, PG_dirty);
  set(folio, PG_dirty);
  return !was;
}
export function folio_clear_dirty(folio: Folio): void {
  clear(folio, PG_dirty);
}

export const folio_test_lru = (folio: Folio): boolean => test(folio, PG_lru);
export function folio_add_lru(folio: Folio): void {
  set(folio, PG_lru);
}

export const folio_test_swapbacked = (folio: Folio): boolean => test(folio, PG_swapbacked);
export function __folio_set_swapbacked(folio: Folio): void {
  set(folio, PG_swapbacked);
}
