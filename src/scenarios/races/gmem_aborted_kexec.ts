/**
 * An aborted kexec leaves the guest_memfd frozen until the session is closed, and a second
 * reboot after fixing the session succeeds (spec §8.6, §2.4 LUO freeze, §3.5 "PRESERVED_FROZEN →
 * reboot: LUO freeze callback fails", §5.4 "VM not preserved", Appendix B.2 and B.5).
 *
 * Stage 1: a VM whose guest wrote pages 0 and 1 of a 4-page guest_memfd; session "race"
 * preserves only the guest_memfd. Then a vCPU thread runs a guest that stores to present page 0
 * and to absent page 3, while the VMM calls reboot(KEXEC): the guest_memfd's LUO freeze finds
 * the VM not preserved in the session and the reboot fails with -ENOENT. guest_memfd has no LUO
 * unfreeze, so the inode stays frozen: fallocate is -EPERM and the guest's store to the absent
 * page exits with KVM_EXIT_MEMORY_FAULT / -EPERM, whichever side ran first. The VMM joins the
 * vCPU, then fixes the session (param `fix`):
 * - "preserve-vm" (default): preserves the VM in the same session and reboots again, which
 *   succeeds; the next kernel retrieves the guest_memfd (and through it the VM), reads back the
 *   bytes the guest wrote, finishes and closes the session;
 * - "close": closes the session instead, which unpreserves the guest_memfd and unfreezes it
 *   (fallocate succeeds again) and leaves KHO with only what the kernel itself preserved.
 * - "none": reboots again without fixing anything: it fails with -ENOENT again (a negative
 *   control: the second reboot is judged by `second-reboot-succeeds` and fails).
 *
 * Two gmem_files on one inode (§8.5, the freeze being per inode while LUO tracks files) cannot be
 * built here: KVM_CREATE_GUEST_MEMFD always creates a new inode with one gmem_file, and a
 * retrieve does the same; no uAPI path binds an existing guest_memfd inode to a second VM, so
 * that scenario is not modelled (nothing would be faked in its place).
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
import { GUEST_DONE, guest_store } from '../../user/guest.ts';
import { vcpu_exit_reason, vcpu_run, vm_vcpu_add } from '../../user/kvm_util.ts';
import {
  luo_open_device,
  luo_retrieve_session,
  luo_session_finish,
  luo_session_preserve_fd,
  luo_session_retrieve_fd,
} from '../../user/libliveupdate.ts';
import { Process } from '../../user/process.ts';
import { thread_create, thread_join } from '../../user/threads.ts';
import { ENOENT, EPERM, FALLOC_FL_KEEP_SIZE, KVM_EXIT_MEMORY_FAULT } from '../../user/uapi.ts';
import {
  GMEM_TOKEN,
  GPA,
  PAGE,
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
const RACE_BYTE = 0xe0;

interface State extends SystemState {
  results: Record<string, number>;
  checks: Record<string, true | string>;
}

const expect = (what: string, got: number, want: number): true | string =>
  got === want || `${what} = ${got}, expected ${want}`;
const all = (...r: Array<true | string>): true | string =>
  r.every((x) => x === true) || r.filter((x) => x !== true).join('; ');

export default defineScenario<State>({
  name: 'gmem-aborted-kexec',
  description:
    'a reboot that fails because the VM is not preserved leaves the guest_memfd frozen (fallocate ' +
    'and a racing guest fault on an absent page get -EPERM) until the session is closed; after ' +
    'preserving the VM a second reboot succeeds and the guest data survives (§8.6). Two ' +
    'gmem_files on one inode (§8.5) have no uAPI path, so they are not modelled',
  params: {
    fix: {
      default: 'preserve-vm',
      choices: ['preserve-vm', 'close', 'none'],
      description: 'after the failed reboot: preserve-vm (then reboot), close the session, or none',
    },
  },
  variants: mutantVariants('mutant-get-folio-skips-frozen-check'),
  setup: (sim, { variant }) => {
    return { ...bootSystem(sim, variant), results: {}, checks: {} };
  },
  tasks: (s, { params }) => [
    {
      name: 'vmm',
      *body() {
        const proc = new Process(s.kernel, 'vmm');
        const sys = proc.sys;
        const { vm, gmem_fd } = yield* vmWithGmem(proc, PAGES);
        yield* guestWritesPages(vm, 0, [0, 1]);
        const { session_fd } = yield* preserveSession(proc, 'race', [[gmem_fd, GMEM_TOKEN]]);
        const vcpu = yield* vm_vcpu_add(vm, 1, function* () {
          yield* guest_store(GPA, new Uint8Array([RACE_BYTE]));
          yield* guest_store(GPA + 3 * PAGE, new Uint8Array([0xe3]));
          yield* GUEST_DONE();
        });
        if (typeof vcpu === 'number') throw new Error(`vm_vcpu_add = ${vcpu}`);
        const guest = thread_create(s.sim, 'vcpu1', function* () {
          s.results.run = yield* vcpu_run(vcpu);
          s.results.exit = yield* vcpu_exit_reason(vcpu);
        });
        const first = yield* rebootKexec(s.system, s.kernel);
        s.results.reboot1 = typeof first === 'number' ? first : 0;
        if (typeof first !== 'number') throw new Error('the first reboot(KEXEC) succeeded');
        s.checks.aborted = all(
          expect('reboot(KEXEC) without the VM', first, -ENOENT),
          frozenMatchesPreserve(proc, gmem_fd, true),
          expect(
            'fallocate after the aborted kexec',
            yield* sys.fallocate(gmem_fd, FALLOC_FL_KEEP_SIZE, 2 * PAGE, PAGE),
            -EPERM,
          ),
          noPreservedPageLeaks(proc, s.baseline),
        );
        yield* thread_join(guest);
        s.checks.guest = all(
          expect('KVM_RUN on the absent page', s.results.run ?? 0, -EPERM),
          expect('exit reason', s.results.exit ?? 0, KVM_EXIT_MEMORY_FAULT),
        );

        if (params.fix === 'close') {
          must('close(session)', yield* sys.close(session_fd));
          s.checks.fixed = all(
            frozenMatchesPreserve(proc, gmem_fd, false),
            expect(
              'fallocate after close',
              yield* sys.fallocate(gmem_fd, FALLOC_FL_KEEP_SIZE, 2 * PAGE, PAGE),
              0,
            ),
            noPreservedPageLeaks(proc, s.baseline),
            sessionsEnded(proc),
          );
          return;
        }
        if (params.fix === 'preserve-vm')
          must('PRESERVE_FD(VM)', yield* luo_session_preserve_fd(sys, session_fd, vm.fd, VM_TOKEN));
        const k2 = yield* rebootKexec(s.system, s.kernel);
        if (typeof k2 === 'number') {
          s.checks.fixed = `the second reboot(KEXEC) = ${k2}`;
          return;
        }
        const p = new Process(k2, 'vmm-next');
        const luo_fd = must('open(/dev/liveupdate)', yield* luo_open_device(p.sys));
        const sfd = must('RETRIEVE_SESSION', yield* luo_retrieve_session(p.sys, luo_fd, 'race'));
        const records = incomingRecordPfns(p);
        const gfd = must(
          'RETRIEVE_FD(guest_memfd)',
          yield* luo_session_retrieve_fd(p.sys, sfd, GMEM_TOKEN),
        );
        const data = [
          expect('page 0', yield* readGmemByte(p, gfd, PAGES, 0), RACE_BYTE),
          expect('page 1', yield* readGmemByte(p, gfd, PAGES, 1), pageByte(1)),
        ];
        must('FINISH', yield* luo_session_finish(p.sys, sfd));
        must('close(session)', yield* p.sys.close(sfd));
        s.checks.fixed = all(
          ...data,
          incomingPagesReleased([p], records, s.baseline),
          refcountsBalance([p]),
          sessionsEnded(p),
        );
      },
    },
  ],
  properties: [
    recordedProperty(
      'aborted-kexec-stays-frozen',
      'the reboot fails with -ENOENT; the guest_memfd stays frozen (fallocate -EPERM) and KHO ' +
        'holds exactly the records',
      'aborted',
    ),
    recordedProperty(
      'frozen-fault-exits',
      'the racing guest store to the absent page exits: KVM_EXIT_MEMORY_FAULT, -EPERM',
      'guest',
    ),
    recordedProperty(
      'second-reboot-succeeds',
      'after the fix: the second reboot succeeds and the guest data, pages, refcounts and ' +
        'session are consistent in the next kernel (or, after a close, the guest_memfd is ' +
        'unfrozen and nothing stays preserved)',
      'fixed',
    ),
  ],
  observe: (s) => `reboot1=${s.results.reboot1} run=${s.results.run} exit=${s.results.exit}`,
  defaults: { strategy: 'dpor', expect: 'holds' },
});
