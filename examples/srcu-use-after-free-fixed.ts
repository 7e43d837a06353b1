/**
 * The SRCU use-after-free of `srcu-use-after-free.ts`, fixed: the updater waits for a grace
 * period (synchronize_srcu) between unpublishing the object and freeing it, so every reader
 * that could still hold the pointer has left its read section. DFS proves it.
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
  synchronize_srcu,
} from 'luosim';

interface Obj {
  readonly memory: Shared<'live' | 'freed'>;
}

export default defineScenario({
  name: 'srcu-use-after-free-fixed',
  description: 'synchronize_srcu before the free keeps every reader safe',
  params: { readers: { default: 2, min: 1, max: 16, description: 'number of reader tasks' } },
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
        yield* synchronize_srcu(s.srcu);
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
  defaults: { strategy: 'dfs', expect: 'holds' },
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
