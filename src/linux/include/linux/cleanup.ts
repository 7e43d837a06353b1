/**
 * Scoped lock guards, and running boot-time code before the kernel has tasks.
 *
 * **Models:** guard(mutex) of include/linux/cleanup.h and include/linux/mutex.h, and the
 * single-threaded nature of early boot (init/main.c before the first task is scheduled),
 * v7.2-era mainline.
 *
 * **Abstracted:** while the kernel is booting there is one CPU and no other task, so a guard
 * runs its body without the lock, and boot code must not reach any scheduling point: run_boot
 * asserts it. Afterwards the guard is a real mutex_lock/mutex_unlock pair (two visible
 * operations) around a body that runs atomically.
 */
import { ModelAssertion, type Sched } from '../../../sim/index.ts';
import { mutex_lock, mutex_unlock, type Mutex } from '../../../sync/index.ts';

export interface BootState {
  readonly booting: boolean;
}

/** guard(mutex)(m) around `body`, except while booting. */
export function* guard_mutex<T>(k: BootState, m: Mutex, body: () => T): Sched<T> {
  if (k.booting) return body();
  yield* mutex_lock(m);
  const r = body();
  yield* mutex_unlock(m);
  return r;
}

/**
 * Runs boot-time kernel code to completion. It must finish without reaching a visible operation
 * or a choose: there is no scheduler yet.
 */
export function run_boot<T>(gen: Sched<T>): T {
  const r = gen.next(0);
  if (r.done === true) return r.value;
  throw new ModelAssertion(
    `boot code reached '${r.value.label}', a scheduling point, while the kernel was booting`,
  );
}
