/**
 * Userspace threads of one program: pthread_create and pthread_join, as engine tasks.
 *
 * **Models:** what a VMM does with its threads in a live update: it starts vCPU or worker
 * threads, then waits for them (joins) before the next step, e.g. before reboot(KEXEC). A thread
 * is an engine task running a generator; its end is a visible operation (a wake of the thread's
 * object) and a join waits for it (a wait on the same object), so the explorer orders everything
 * the thread did before the joiner goes on.
 * **Abstracted:** no thread ids, no return-value passing beyond the generator's result, no
 * detach or cancellation; joining a thread twice is allowed and returns at once the second time.
 */
import { guardedOp, op, type ObjectId, type Sched, type Sim } from '../sim/index.ts';

export interface Thread<T> {
  readonly name: string;
  readonly id: ObjectId;
  done: boolean;
  result: T | undefined;
}

/** pthread_create: starts `body` as a new thread of the program. */
export function thread_create<T>(sim: Sim, name: string, body: () => Sched<T>): Thread<T> {
  const t: Thread<T> = {
    name,
    id: sim.newObject(`thread ${name}`),
    done: false,
    result: undefined,
  };
  sim.spawn(name, function* () {
    const r = yield* body();
    yield op(`thread ${name} exits`, [{ object: t.id, kind: 'wake' }]);
    t.result = r;
    t.done = true;
  });
  return t;
}

/** pthread_join: waits until the thread has returned; its result. */
export function* thread_join<T>(t: Thread<T>): Sched<T> {
  yield guardedOp(
    `pthread_join(${t.name})`,
    [{ object: t.id, kind: 'wait' }],
    () => t.done,
    () => `thread ${t.name} to exit`,
  );
  return t.result as T;
}
