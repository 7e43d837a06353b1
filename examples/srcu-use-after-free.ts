/**
 * SRCU use-after-free: a reader dereferences an SRCU-protected pointer inside a read section;
 * an updater unpublishes the object and frees it at once, without waiting for a grace period.
 * A reader that fetched the pointer before it was cleared then reads freed memory. The fixed
 * version (`srcu-use-after-free-fixed.ts`) calls synchronize_srcu() between unpublish and free.
 */
import {
  Shared,
  SrcuStruct,
  READ_ONCE,
  WRITE_ONCE,
  defineScenario,
  rcu_assign_pointer,
  srcu_dereference,
  srcu_read_lock,
  srcu_read_unlock,
} from 'luosim';

interface Obj {
  /** The object's memory: 'live' until freed. */
  readonly memory: Shared<'live' | 'freed'>;
}

export default defineScenario({
  name: 'srcu-use-after-free',
  description: 'freeing an SRCU-protected object without synchronize_srcu lets a reader use it',
  params: { readers: { default: 1, min: 1, max: 16, description: 'number of reader tasks' } },
  setup: (sim) => {
    const obj: Obj = { memory: new Shared(sim, 'obj', 'live') };
    return {
      srcu: new SrcuStruct(sim, 'obj_srcu'),
      gp: new Shared<Obj | null>(sim, 'gp', obj),
      obj,
      useAfterFree: [] as string[],
    };
  },
  tasks: (s, { params }) => [
    {
      name: 'updater',
      *body() {
        yield* rcu_assign_pointer(s.gp, null);
        yield* WRITE_ONCE(s.obj.memory, 'freed');
      },
    },
    ...Array.from({ length: Number(params.readers) }, (_, i) => ({
      name: `reader${i}`,
      *body() {
        const idx = yield* srcu_read_lock(s.srcu);
        const p = yield* srcu_dereference(s.gp, s.srcu);
        if (p !== null && (yield* READ_ONCE(p.memory)) === 'freed')
          s.useAfterFree.push(`reader${i}`);
        yield* srcu_read_unlock(s.srcu, idx);
      },
    })),
  ],
  defaults: { strategy: 'dfs', expect: 'violated' },
  observe: (s) => `uaf=${[...s.useAfterFree].sort().join('+')}`,
  properties: [
    {
      name: 'no-use-after-free',
      description: 'no reader reads the object after it was freed',
      check: (s) =>
        s.useAfterFree.length === 0 || `${s.useAfterFree.join(', ')} read the object after kfree`,
    },
  ],
});
