/**
 * Helpers for kernel-model tests: a Sim to boot kernels in, and a way to run kernel code (which
 * takes mutexes, i.e. visible operations) inside one task of an execution.
 */
import assert from 'node:assert/strict';
import { Execution, type Decider, type Sched, type Sim } from '../../src/sim/index.ts';
import { Machine } from '../../src/machine/machine.ts';
import { BootFailure, Kernel, kernelConfig, type KernelConfig } from '../../src/linux/kernel.ts';

const firstEnabled: Decider = {
  pickTask: (_enabled, _current, dflt) => dflt,
  pickChoice: () => 0,
};

export function newSim(): Execution {
  return new Execution(firstEnabled, { stepsMax: 1_000_000, trace: false });
}

/** Boots and asserts that the boot produced a kernel. */
export function boot(sim: Sim, machine: Machine, config: Partial<KernelConfig> = {}): Kernel {
  const k = Kernel.boot(sim, machine, kernelConfig(config));
  if (k instanceof BootFailure) assert.fail(`boot failed: ${k.toString()}`);
  return k;
}

/**
 * Runs `body` as the only task of a fresh execution and returns its value; an exception or an
 * engine failure inside the task fails the test with the engine's message.
 */
export function inTask<T>(body: (sim: Sim) => Sched<T>): T {
  const sim = newSim();
  const out: T[] = [];
  sim.spawn('test', function* () {
    out.push(yield* body(sim));
  });
  const r = sim.run();
  if (r.outcome.kind !== 'complete') assert.fail(`task ended with ${JSON.stringify(r.outcome)}`);
  assert.equal(out.length, 1);
  return out[0] as T;
}

/** Runs kernel code inside a task and returns its value (see inTask). */
export function run<T>(gen: () => Sched<T>): T {
  return inTask(() => gen());
}

export function bytesOf(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}
