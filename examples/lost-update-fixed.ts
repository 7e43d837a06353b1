/**
 * The lost update of `lost-update.ts`, fixed: each read-modify-write of the counter happens
 * under a mutex, so no interleaving loses an increment. DFS proves it over every schedule.
 */
import {
  Mutex,
  READ_ONCE,
  Shared,
  WRITE_ONCE,
  defineScenario,
  mutex_lock,
  mutex_unlock,
} from 'luosim';

export default defineScenario({
  name: 'lost-update-fixed',
  description: 'the same counter updated under a mutex keeps every increment',
  params: {
    tasks: { default: 2, min: 1, max: 16, description: 'number of incrementing tasks' },
    increments: { default: 1, min: 1, max: 100, description: 'increments per task' },
  },
  setup: (sim, { params }) => ({
    lock: new Mutex(sim, 'counter_lock'),
    counter: new Shared(sim, 'counter', 0),
    expected: Number(params.tasks) * Number(params.increments),
  }),
  tasks: (s, { params }) =>
    Array.from({ length: Number(params.tasks) }, (_, i) => ({
      name: `inc${i}`,
      *body() {
        for (let k = 0; k < Number(params.increments); k++) {
          yield* mutex_lock(s.lock);
          const v = yield* READ_ONCE(s.counter);
          yield* WRITE_ONCE(s.counter, v + 1);
          yield* mutex_unlock(s.lock);
        }
      },
    })),
  defaults: { strategy: 'dfs', expect: 'holds' },
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
