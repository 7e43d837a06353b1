/**
 * Session close (unpreserve) against reboot(KEXEC) on the same system (spec §2.1 steps 2 and 3,
 * §2.4 LUO freeze and unpreserve, §3.5, §5.4 "VM preserved in a different session").
 *
 * Stage 1: a VM whose guest wrote pages 0 and 1 of guest_memfd A (4 pages) and page 0 of
 * guest_memfd B (2 pages). Session "keep" preserves the VM and A; session "doomed" preserves B
 * alone, so B's LUO freeze cannot find its VM in its own session. A thread closes "doomed" while
 * the VMM calls reboot(KEXEC). Both take luo_session_serialize_rwsem, so one runs first:
 * - reboot first: "keep" freezes, "doomed" fails with -ENOENT, "keep" is rolled back and the
 *   reboot returns -ENOENT; then the close unpreserves B (B unfrozen). The VMM joins the closer,
 *   checks the old kernel (B unfrozen, KHO holds exactly the records of "keep") and reboots
 *   again, which succeeds;
 * - close first: "doomed" is gone and the reboot succeeds at once.
 * Either way the next kernel sees session "keep" whole ("doomed" is absent), retrieves A (and
 * through it the VM), reads the guest's bytes back, finishes and closes the session.
 *
 * Properties: every session ends finished (in the next kernel) or unpreserved (closed before the
 * kexec); no preserved page leaks in the old kernel after a failed reboot, nor in the next kernel
 * after FINISH; the reboot either fails with everything consistent or succeeds with a consistent
 * next session; refcounts balance; built in: no deadlock.
 *
 * Not modelled: "doomed" holding its VM too. Then a close that loses the race against a
 * successful reboot blocks forever in the old kernel (the serialize rwsem stays write-held for
 * the jump), which is what the kernel does: that CPU never runs again. The engine has no notion
 * of tasks stopped by a kexec and would report the blocked closer as a deadlock.
 */
import { defineScenario } from '../../explore/scenario.ts';
import { mutantVariants } from '../../user/kernel_variants.ts';
import { frozenMatchesPreserve } from '../../checkers/gmem_frozen.ts';
import {
  incomingPagesReleased,
  incomingRecordPfns,
  noPreservedPageLeaks,
} from '../../checkers/preserved_pages.ts';
import { refcountsBalance } from '../../checkers/refcounts_balance.ts';
import { sessionsEnded } from '../../checkers/sessions_ended.ts';
import { vm_create_guest_memfd, vm_set_user_memory_region2 } from '../../user/kvm_util.ts';
import {
  luo_create_session,
  luo_open_device,
  luo_retrieve_session,
  luo_session_finish,
  luo_session_preserve_fd,
  luo_session_retrieve_fd,
} from '../../user/libliveupdate.ts';
import { Process } from '../../user/process.ts';
import { thread_create, thread_join } from '../../user/threads.ts';
import { ENOENT, KVM_MEM_GUEST_MEMFD } from '../../user/uapi.ts';
import {
  GMEM_TOKEN,
  GPA,
  PAGE,
  SHARED_FLAGS,
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
const B_PAGES = 2;
const B_TOKEN = 0x2002n;

interface State extends SystemState {
  results: Record<string, number>;
  checks: Record<string, true | string>;
}

const all = (...r: Array<true | string>): true | string =>
  r.every((x) => x === true) || r.filter((x) => x !== true).join('; ');

export default defineScenario<State>({
  name: 'luo-close-vs-reboot',
  description:
    'a thread closes a session (unpreserve) while the VMM reboots (KEXEC): the reboot fails ' +
    'with everything consistent (then succeeds once the session is closed) or succeeds with a ' +
    'consistent next session; every session ends finished or unpreserved; no page leaks',
  variants: mutantVariants(
    'mutant-release-without-serialize-lock',
    'mutant-unpreserve-keeps-folios',
  ),
  setup: (sim, { variant }) => {
    return { ...bootSystem(sim, variant), results: {}, checks: {} };
  },
  tasks: (s) => [
    {
      name: 'vmm',
      *body() {
        const proc = new Process(s.kernel, 'vmm');
        const sys = proc.sys;
        const { vm, gmem_fd } = yield* vmWithGmem(proc, PAGES);
        const b = must(
          'KVM_CREATE_GUEST_MEMFD (B)',
          yield* vm_create_guest_memfd(vm, B_PAGES * PAGE, SHARED_FLAGS),
        );
        const gpaB = GPA + PAGES * PAGE;
        must(
          'memslot B',
          yield* vm_set_user_memory_region2(
            vm,
            2,
            KVM_MEM_GUEST_MEMFD,
            gpaB,
            B_PAGES * PAGE,
            0,
            b,
            0,
          ),
        );
        yield* guestWritesPages(vm, 0, [0, 1, PAGES]);
        const { luo_fd } = yield* preserveSession(proc, 'keep', [
          [vm.fd, VM_TOKEN],
          [gmem_fd, GMEM_TOKEN],
        ]);
        const doomed = must(
          'CREATE_SESSION(doomed)',
          yield* luo_create_session(sys, luo_fd, 'doomed'),
        );
        must('PRESERVE_FD(B)', yield* luo_session_preserve_fd(sys, doomed, b, B_TOKEN));

        const closer = thread_create(s.sim, 'closer', function* () {
          s.results.close = yield* sys.close(doomed);
        });
        let next = yield* rebootKexec(s.system, s.kernel);
        s.results.reboot = typeof next === 'number' ? next : 0;
        yield* thread_join(closer);
        if (typeof next === 'number') {
          s.checks.failed = all(
            next === -ENOENT || `reboot(KEXEC) = ${next}, expected -ENOENT`,
            frozenMatchesPreserve(proc, b, false),
            frozenMatchesPreserve(proc, gmem_fd, true),
            noPreservedPageLeaks(proc, s.baseline),
          );
          next = yield* rebootKexec(s.system, s.kernel);
          if (typeof next === 'number') {
            s.checks.next = `the reboot after the close = ${next}`;
            return;
          }
        } else s.checks.failed = true;

        const p = new Process(next, 'vmm-next');
        const nfd = must('open(/dev/liveupdate)', yield* luo_open_device(p.sys));
        const gone = yield* luo_retrieve_session(p.sys, nfd, 'doomed');
        const sfd = must('RETRIEVE_SESSION(keep)', yield* luo_retrieve_session(p.sys, nfd, 'keep'));
        const records = incomingRecordPfns(p);
        const gfd = must('RETRIEVE_FD(A)', yield* luo_session_retrieve_fd(p.sys, sfd, GMEM_TOKEN));
        const data: string[] = [];
        for (const i of [0, 1]) {
          const got = yield* readGmemByte(p, gfd, PAGES, i);
          if (got !== pageByte(i)) data.push(`page ${i}: 0x${got.toString(16)}`);
        }
        must('FINISH', yield* luo_session_finish(p.sys, sfd));
        must('close(keep)', yield* p.sys.close(sfd));
        s.checks.next = all(
          gone === -ENOENT || `RETRIEVE_SESSION(doomed) = ${gone}: the closed session came back`,
          data.length === 0 || `guest data lost: ${data.join(', ')}`,
        );
        s.checks.pages = incomingPagesReleased([p], records, s.baseline);
        s.checks.refs = refcountsBalance([p]);
        s.checks.sessions = sessionsEnded(p);
      },
    },
  ],
  properties: [
    recordedProperty(
      'failed-reboot-consistent',
      'a reboot that lost the race fails with -ENOENT; the closed session is unpreserved (B ' +
        'unfrozen), A stays frozen, KHO holds exactly the records of the live session',
      'failed',
    ),
    recordedProperty(
      'next-session-consistent',
      'the next kernel sees "keep" whole with the guest data and not "doomed"',
      'next',
    ),
    recordedProperty(
      'no-preserved-page-leak',
      'after FINISH no handed-over page is left unrestored, none is cached twice',
      'pages',
    ),
    recordedProperty(
      'refcounts-balance',
      'file and struct kvm counts equal their holders at the end',
      'refs',
    ),
    recordedProperty(
      'sessions-end',
      'every session ends finished (next kernel) or unpreserved (closed before)',
      'sessions',
    ),
  ],
  observe: (s) => `close=${s.results.close} reboot=${s.results.reboot}`,
  defaults: { strategy: 'dpor', expect: 'holds' },
});
