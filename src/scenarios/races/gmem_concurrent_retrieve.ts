/**
 * Two threads of the new kernel's VMM retrieve the VM (0x1001) and its guest_memfd (0x1002) of
 * one incoming session at the same time (spec §2.1 step 6, §2.4 retrieve step 5, §5.4, §8.16).
 *
 * Stage 1 (one thread): a VM whose guest wrote the first byte of pages 0 and 1 of a 4-page
 * guest_memfd; session "race" preserves the VM and the guest_memfd; init reboots (KEXEC).
 * Stage 2: the VMM opens /dev/liveupdate, retrieves the session, then two threads race:
 * RETRIEVE_FD(0x1001) and RETRIEVE_FD(0x1002). Whichever runs first under the session mutex, the
 * guest_memfd retrieve retrieves the VM through liveupdate_get_file_incoming while holding its
 * own per-file mutex (the nested mutexes of §8.16), or finds it already retrieved.
 *
 * Properties: both retrieves succeed; the VM is retrieved once (one struct kvm, the guest_memfd is
 * bound to it, restored VM named "1", B.7); the guest's bytes read back (B.6); after FINISH no
 * handed-over page is left unrestored and none is in two page caches; reference counts balance;
 * the session ends finished; built in: no deadlock.
 */
import { defineScenario } from '../../explore/scenario.ts';
import { mutantVariants } from '../../user/kernel_variants.ts';
import { incomingPagesReleased, incomingRecordPfns } from '../../checkers/preserved_pages.ts';
import { refcountsBalance } from '../../checkers/refcounts_balance.ts';
import { sessionsEnded } from '../../checkers/sessions_ended.ts';
import { vmRetrievedOnce } from '../../checkers/vm_retrieved_once.ts';
import {
  luo_open_device,
  luo_retrieve_session,
  luo_session_finish,
  luo_session_retrieve_fd,
} from '../../user/libliveupdate.ts';
import { Process } from '../../user/process.ts';
import { thread_create, thread_join } from '../../user/threads.ts';
import {
  GMEM_TOKEN,
  VM_TOKEN,
  bootSystem,
  type SystemState,
  guestWritesPages,
  must,
  recordedProperty,
  pageByte,
  preserveSession,
  readGmemByte,
  rebootKexec,
  vmWithGmem,
} from './common.ts';

const PAGES = 4;
const WRITTEN = [0, 1];

interface State extends SystemState {
  /** The retrieve results: fd or -errno, by token name. */
  results: Record<string, number>;
  /** Failures of the stage-2 checks that need the fds (taken before FINISH). */
  checks: Record<string, true | string>;
  next: Process | null;
}

export default defineScenario<State>({
  name: 'gmem-concurrent-retrieve',
  description:
    'in the next kernel two threads retrieve the VM and its guest_memfd of one session at once: ' +
    'both succeed, the VM is retrieved once (one struct kvm, named "1"), the guest data reads ' +
    'back, no page leaks, refcounts balance, no deadlock on the nested per-file mutexes',
  variants: mutantVariants('mutant-incoming-retrieve-reruns-handler'),
  setup: (sim, { variant }) => {
    return { ...bootSystem(sim, variant), results: {}, checks: {}, next: null };
  },
  tasks: (s) => [
    {
      name: 'vmm',
      *body() {
        const proc = new Process(s.kernel, 'vmm');
        const { vm, gmem_fd } = yield* vmWithGmem(proc, PAGES);
        yield* guestWritesPages(vm, 0, WRITTEN);
        yield* preserveSession(proc, 'race', [
          [vm.fd, VM_TOKEN],
          [gmem_fd, GMEM_TOKEN],
        ]);
        const k2 = yield* rebootKexec(s.system, s.kernel);
        if (typeof k2 === 'number') throw new Error(`reboot(KEXEC) = ${k2}`);

        const p = new Process(k2, 'vmm-next');
        s.next = p;
        const sys = p.sys;
        const luo_fd = must('open(/dev/liveupdate)', yield* luo_open_device(sys));
        const session_fd = must(
          'RETRIEVE_SESSION',
          yield* luo_retrieve_session(sys, luo_fd, 'race'),
        );
        const records = incomingRecordPfns(p);
        const retrieve = (name: string, token: bigint) =>
          thread_create(s.sim, name, function* () {
            s.results[name] = yield* luo_session_retrieve_fd(sys, session_fd, token);
          });
        const a = retrieve('vm', VM_TOKEN);
        const b = retrieve('gmem', GMEM_TOKEN);
        yield* thread_join(a);
        yield* thread_join(b);

        const vm_fd = s.results.vm ?? -1;
        const gfd = s.results.gmem ?? -1;
        s.checks.both = (vm_fd >= 0 && gfd >= 0) || `RETRIEVE_FD: VM ${vm_fd}, guest_memfd ${gfd}`;
        if (s.checks.both !== true) return;
        s.checks.once = vmRetrievedOnce(p, vm_fd, gfd);
        const data: string[] = [];
        for (const i of WRITTEN) {
          const got = yield* readGmemByte(p, gfd, PAGES, i);
          if (got !== pageByte(i)) data.push(`page ${i}: 0x${got.toString(16)}`);
        }
        s.checks.data = data.length === 0 || `guest data lost: ${data.join(', ')}`;
        s.checks.refsRetrieved = refcountsBalance([p]);
        must('FINISH', yield* luo_session_finish(sys, session_fd));
        must('close(session)', yield* sys.close(session_fd));
        s.checks.refsFinished = refcountsBalance([p]);
        s.checks.pages = incomingPagesReleased([p], records, s.baseline);
        s.checks.sessions = sessionsEnded(p);
      },
    },
  ],
  properties: [
    recordedProperty(
      'both-retrieves-succeed',
      'RETRIEVE_FD of the VM and of the guest_memfd both return an fd, in any order',
      'both',
    ),
    recordedProperty(
      'vm-retrieved-once',
      'one struct kvm: the guest_memfd binds to the retrieved VM, named "1" (B.7)',
      'once',
    ),
    recordedProperty(
      'guest-data-survives',
      'the bytes the guest wrote before the kexec read back from the guest_memfd',
      'data',
    ),
    recordedProperty(
      'refcounts-balance',
      'file and struct kvm counts equal their holders, after retrieve and after FINISH',
      'refsRetrieved',
      'refsFinished',
    ),
    recordedProperty(
      'no-preserved-page-leak',
      'after FINISH no handed-over page is unrestored, none is cached twice',
      'pages',
    ),
    recordedProperty('sessions-end', 'the incoming session ends finished', 'sessions'),
  ],
  observe: (s) => JSON.stringify(s.checks),
  defaults: { strategy: 'dpor', expect: 'holds' },
});
