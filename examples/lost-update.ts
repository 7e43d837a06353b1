/**
 * Lost update: tasks increment a shared counter with a plain read followed by a write and no
 * lock. Two reads can see the same value, and one increment is lost. The explorer finds the
 * interleaving; `lost-update-fixed.ts` takes a mutex around the update and is proved correct.
 */
import { READ_ONCE, Shared, WRITE_ONCE, defineScenario } from 'luosim';

export default defineScenario({
  name: 'lost-update',
  description: 'unlocked read-modify-write of a shared counter loses increments',
  params: {
    tasks: { default: 2, min: 1, max: 16, description: 'number of incrementing tasks' },
    increments: { default: 1, min: 1, max: 100, description: 'increments per task' },
  },
  setup: (sim, { params }) => ({
    counter: new Shared(sim, 'counter', 0),
    expected: Number(params.tasks) * Number(params.increments),
  }),
  tasks: (s, { params }) =>
    Array.from({ length: Number(params.tasks) }, (_, i) => ({
      name: `inc${i}`,
      *body() {
        for (let k = 0; k < Number(params.increments); k++) {
          const v = yield* READ_ONCE(s.counter);
          yield* WRITE_ONCE(s.counter, v + 1);
        }
      },
    })),
  defaults: { strategy: 'dfs', expect: 'violated' },
  observe: (s) => `counter=${s.counter.value}`,
  properties: [
    {
      name: 'no-lost-update',
      description: 'the counter ends at tasks x increments',
      check: (s) =>
        s.counter.value === s.expected || `counter is ${s.counter.value}, expected ${s.expected}`,
    },
  ],
});
