/** Kernel synchronization primitives with kernel names and semantics, built on the engine. */
export * from './atomic.ts';
export * from './completion.ts';
export { might_sleep } from './context.ts';
export * from './mutex.ts';
export * from './refcount.ts';
export * from './rwsem.ts';
export * from './sched.ts';
export * from './spinlock.ts';
export * from './srcu.ts';
