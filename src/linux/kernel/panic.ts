/**
 * panic(): the kernel stops and reports why.
 *
 * **Models:** kernel/panic.c — panic() (v7.2-era mainline).
 *
 * **Abstracted:** no notifier chains, kdump or reboot timeout. A panic is a KernelPanic, a kind
 * of model assertion: during boot Kernel.boot turns it into a fatal BootFailure; in a task the
 * engine reports it as a violation with the schedule that reached it.
 */
import { ModelAssertion } from '../../sim/index.ts';

export class KernelPanic extends ModelAssertion {}

export function panic(msg: string): never {
  throw new KernelPanic(`Kernel panic - not syncing: ${msg}`);
}
