/**
 * FINISH against RETRIEVE_FD on the same incoming session (spec §2.1 steps 6 and 7, §2.4 finish,
 * §5.4, Appendix B.8/B.9).
 *
 * Stage 1 (one thread): a VM whose guest wrote pages 0 and 1 of a 4-page guest_memfd, both
 * preserved in session "race"; init reboots (KEXEC). Stage 2: after RETRIEVE_SESSION, three
 * threads race: FINISH, RETRIEVE_FD(guest_memfd 0x1002) and (param `vm`) RETRIEVE_FD(VM 0x1001).
 * All three run under the session mutex, so each retrieve sees the session either before FINISH
 * (it gets the file, and FINISH then drops LUO's references) or after it (the records are gone:
 * -ENOENT). Neither handler has can_finish, so FINISH never returns -EBUSY here.
 *
 * Properties: FINISH returns 0 or -EBUSY and each retrieve an fd or -ENOENT, consistently (a
 * retrieve that saw the records after a successful FINISH is a bug); a retrieved guest_memfd holds
 * the guest's bytes and is bound to the retrieved VM when both were retrieved (one struct kvm);
 * no handed-over page is left unrestored or restored twice; file and struct kvm reference counts
 * balance; the session ends finished.
 */
import { defineScenario } from '../../explore/scenario.ts';
import { mutantVariants } from '../../user/kernel_variants.ts';
import type { Sched } from '../../sim/index.ts';
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
import { EBUSY, ENOENT } from '../../user/uapi.ts';
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
  /** Stage 2, set by the prologue: the process, its session fd and the handed-over records. */
  next: {
    proc: Process;
    session_fd: number;
    records: ReturnType<typeof incomingRecordPfns>;
  } | null;
  results: Record<string, number>;
  checks: Record<string, true | string>;
}

const outcome = (r: number | undefined): string =>
  r === undefined ? 'none' : r >= 0 ? 'fd' : String(r);

/** FINISH ∈ {0, -EBUSY}, retrieves ∈ {fd, -ENOENT}, and -ENOENT only after a FINISH of 0. */
function consistent(results: Record<string, number>): true | string {
  const finish = results.finish;
  const bad: string[] = [];
  if (finish !== 0 && finish !== -EBUSY) bad.push(`FINISH returned ${finish}`);
  for (const name of ['gmem', 'vm']) {
    const r = results[name];
    if (r === undefined || r >= 0) continue;
    if (r !== -ENOENT) bad.push(`RETRIEVE_FD(${name}) returned ${r}`);
    else if (finish !== 0) bad.push(`RETRIEVE_FD(${name}) found no record, but FINISH failed`);
  }
  return bad.length === 0 || bad.join('; ');
}

export default defineScenario<State>({
  name: 'luo-finish-vs-retrieve',
  description:
    'FINISH races RETRIEVE_FD of a guest_memfd and of its VM on one incoming session: FINISH is ' +
    '0 (or -EBUSY), each retrieve an fd or -ENOENT consistently, retrieved data intact, no page ' +
    'restored twice or leaked, refcounts balance, the session ends finished',
  params: {
    vm: { default: true, description: 'a third thread retrieves the VM (0x1001)' },
  },
  variants: mutantVariants('mutant-finish-without-session-mutex'),
  setup: (sim, { variant }) => {
    return { ...bootSystem(sim, variant), next: null, results: {}, checks: {} };
  },
  // Stage 1, the kexec and RETRIEVE_SESSION are deterministic: the explorer runs them once and
  // starts every execution from a snapshot of their end state.
  *prologue(s) {
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
    const sys = p.sys;
    const luo_fd = must('open(/dev/liveupdate)', yield* luo_open_device(sys));
    const session_fd = must('RETRIEVE_SESSION', yield* luo_retrieve_session(sys, luo_fd, 'race'));
    s.next = { proc: p, session_fd, records: incomingRecordPfns(p) };
  },
  tasks: (s, { params }) => [
    {
      name: 'vmm',
      *body() {
        if (s.next === null) throw new Error('the prologue did not reach stage 2');
        const { proc: p, session_fd, records } = s.next;
        const sys = p.sys;
        const run = (name: string, call: () => Sched<number>) =>
          thread_create(s.sim, name, function* () {
            s.results[name] = yield* call();
          });
        const threads = [
          run('finish', () => luo_session_finish(sys, session_fd)),
          run('gmem', () => luo_session_retrieve_fd(sys, session_fd, GMEM_TOKEN)),
        ];
        if (params.vm === true)
          threads.push(run('vm', () => luo_session_retrieve_fd(sys, session_fd, VM_TOKEN)));
        for (const t of threads) yield* thread_join(t);

        s.checks.results = consistent(s.results);
        const gfd = s.results.gmem ?? -1;
        const vm_fd = s.results.vm ?? -1;
        const data: string[] = [];
        if (gfd >= 0)
          for (const i of WRITTEN) {
            const got = yield* readGmemByte(p, gfd, PAGES, i);
            if (got !== pageByte(i)) data.push(`page ${i}: 0x${got.toString(16)}`);
          }
        s.checks.data = data.length === 0 || `guest data lost: ${data.join(', ')}`;
        s.checks.once = gfd >= 0 && vm_fd >= 0 ? vmRetrievedOnce(p, vm_fd, gfd) : true;
        // A FINISH that returned -EBUSY leaves the records: finish again so the session ends.
        if (s.results.finish !== 0)
          must('FINISH (again)', yield* luo_session_finish(sys, session_fd));
        must('close(session)', yield* sys.close(session_fd));
        s.checks.refs = refcountsBalance([p]);
        s.checks.pages = incomingPagesReleased([p], records, s.baseline);
        s.checks.sessions = sessionsEnded(p);
      },
    },
  ],
  properties: [
    recordedProperty(
      'consistent-results',
      'FINISH is 0 or -EBUSY; a retrieve is an fd, or -ENOENT after a successful FINISH',
      'results',
    ),
    recordedProperty(
      'retrieved-data-intact',
      'a retrieved guest_memfd holds the guest bytes and binds to the retrieved VM',
      'data',
      'once',
    ),
    recordedProperty(
      'no-preserved-page-leak',
      'no handed-over page is left unrestored, none is cached twice',
      'pages',
    ),
    recordedProperty(
      'refcounts-balance',
      'file and struct kvm counts equal their holders at the end',
      'refs',
    ),
    recordedProperty('sessions-end', 'the incoming session ends finished', 'sessions'),
  ],
  observe: (s) =>
    `finish=${s.results.finish} gmem=${outcome(s.results.gmem)} vm=${outcome(s.results.vm)}`,
  defaults: { strategy: 'dpor', expect: 'holds' },
});
