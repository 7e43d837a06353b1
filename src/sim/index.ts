/** The engine's public surface. */
export * from './errors.ts';
export type * from './events.ts';
export * from './execution.ts';
export * from './op.ts';
export * from './prng.ts';
export * from './schedule.ts';
export * from './clone.ts';
