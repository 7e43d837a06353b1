/**
 * Preserve a guest_memfd while a vCPU writes to it, then kexec and read the guest's bytes back
 * (spec §3.3, §3.4, §7.1.6, §8.4, Appendix B.2 and B.6).
 *
 * Stage 1: a VM and a 4-page guest_memfd; the setup guest wrote page 0 (present, uptodate); with
 * `fallocated` (default) page 1 is fallocated but never touched (present, not uptodate); page 3
 * is absent. The VM is preserved in session "race". Then a vCPU thread runs a guest that stores
 * one byte to page 0, to page 1 (with `fallocated`) and to absent page 3, reporting each store
 * with GUEST_SYNC, while the VMM preserves the guest_memfd (freeze, then the two page-cache
 * walks). Stores to present pages are allowed while frozen (their content may change, §3.4); the
 * store to the absent page either allocates before the freeze or exits with
 * KVM_EXIT_MEMORY_FAULT and -EPERM (the VMM then stops the vCPU, §7.1.6). The VMM joins the vCPU,
 * reboots (KEXEC), retrieves the guest_memfd in the next kernel and reads every page the guest
 * wrote through a shared mapping.
 *
 * Properties: KVM_RUN ends with GUEST_DONE or with the documented memory-fault exit on the
 * absent page only; every byte written before the kexec reads back, or its loss is the
 * documented UPTODATE sampling (§8.4: the folio was recorded without UPTODATE, so the next kernel
 * zeroes it on first access) — reported in `observe`, and a violation with `strict`. The loss
 * needs the guest's first touch of a folio to come after pass 2: for the fallocated page, and
 * also for the absent page when its fault allocated the folio before the freeze but marked it
 * uptodate after the walk (the allocation's read section ends before the zeroing).
 * Variants: the freeze design alternatives (a fault allocating after the walk is lost for good).
 */
import { defineScenario } from '../../explore/scenario.ts';
import {
  judgeGuestWrites,
  recordPreserved,
  type GuestWrite,
  type PreservedSample,
  type WritesVerdict,
} from '../../checkers/guest_writes_survive.ts';
import { GUEST_DONE, GUEST_SYNC, UCALL_DONE, UCALL_SYNC, guest_store } from '../../user/guest.ts';
import { GMEM_FREEZE_VARIANTS, mutantVariants } from '../../user/kernel_variants.ts';
import {
  get_ucall,
  vcpu_exit_reason,
  vcpu_memory_fault,
  vcpu_run,
  vm_vcpu_add,
} from '../../user/kvm_util.ts';
import {
  luo_open_device,
  luo_retrieve_session,
  luo_session_finish,
  luo_session_preserve_fd,
  luo_session_retrieve_fd,
} from '../../user/libliveupdate.ts';
import { Process } from '../../user/process.ts';
import { thread_create, thread_join } from '../../user/threads.ts';
import { EPERM, FALLOC_FL_KEEP_SIZE, KVM_EXIT_MEMORY_FAULT } from '../../user/uapi.ts';
import {
  GMEM_TOKEN,
  GPA,
  PAGE,
  VM_TOKEN,
  bootSystem,
  type SystemState,
  guestWritesPages,
  must,
  preserveSession,
  readGmemByte,
  rebootKexec,
  vmWithGmem,
} from './common.ts';

const PAGES = 4;
const ABSENT = 3;
const raceByte = (page: number): number => 0xa0 + page;

interface State extends SystemState {
  /** Pages whose store the guest reported done (GUEST_SYNC) before the kexec. */
  written: number[];
  /** The vCPU's last KVM_RUN: 'done', or how it failed. */
  run: string;
  preserve: number | null;
  sample: PreservedSample | null;
  writes: WritesVerdict | null;
  unexpected: string[];
  readonly strict: boolean;
}

export default defineScenario<State>({
  name: 'gmem-preserve-vs-guest-writes',
  description:
    'preserve a guest_memfd while a vCPU writes to present pages (allowed while frozen) and to ' +
    'an absent page (KVM_EXIT_MEMORY_FAULT, -EPERM once frozen); after the kexec every byte ' +
    'written before it reads back, or its loss is the documented UPTODATE sampling (§8.4)',
  params: {
    fallocated: {
      default: true,
      description:
        'page 1 is fallocated but never touched before the preserve, and the guest writes it',
    },
    strict: {
      default: false,
      description: 'count the documented UPTODATE-sampling loss as a violation',
    },
  },
  variants: { ...GMEM_FREEZE_VARIANTS, ...mutantVariants('mutant-get-folio-skips-frozen-check') },
  setup: (sim, { variant, params }) => {
    return {
      ...bootSystem(sim, variant),
      written: [],
      run: 'not run',
      preserve: null,
      sample: null,
      writes: null,
      unexpected: [],
      strict: params.strict === true,
    };
  },
  tasks: (s, { params }) => [
    {
      name: 'vmm',
      *body() {
        const proc = new Process(s.kernel, 'vmm');
        const sys = proc.sys;
        const { vm, gmem_fd } = yield* vmWithGmem(proc, PAGES);
        yield* guestWritesPages(vm, 0, [0]);
        const pages = params.fallocated === true ? [0, 1, ABSENT] : [0, ABSENT];
        if (params.fallocated === true)
          must('fallocate(page 1)', yield* sys.fallocate(gmem_fd, FALLOC_FL_KEEP_SIZE, PAGE, PAGE));
        const { session_fd } = yield* preserveSession(proc, 'race', [[vm.fd, VM_TOKEN]]);
        const vcpu = yield* vm_vcpu_add(vm, 1, function* () {
          for (const i of pages) {
            yield* guest_store(GPA + i * PAGE, new Uint8Array([raceByte(i)]));
            yield* GUEST_SYNC(i);
          }
          yield* GUEST_DONE();
        });
        if (typeof vcpu === 'number') throw new Error(`vm_vcpu_add = ${vcpu}`);
        const guest = thread_create(s.sim, 'vcpu1', function* () {
          for (;;) {
            const r = yield* vcpu_run(vcpu);
            if (r !== 0) {
              const exit = yield* vcpu_exit_reason(vcpu);
              const gpa = Number((yield* vcpu_memory_fault(vcpu)).gpa);
              s.run = `${r} exit=${exit} page=${(gpa - GPA) / PAGE}`;
              if (r !== -EPERM || exit !== KVM_EXIT_MEMORY_FAULT || gpa !== GPA + ABSENT * PAGE)
                s.unexpected.push(`KVM_RUN = ${s.run}`);
              return;
            }
            const uc = yield* get_ucall(vcpu);
            if (uc.cmd === UCALL_DONE) {
              s.run = 'done';
              return;
            }
            if (uc.cmd !== UCALL_SYNC) {
              s.unexpected.push(`unexpected ucall ${uc.cmd}`);
              return;
            }
            s.written.push(Number(uc.args[0]));
          }
        });
        s.preserve = yield* luo_session_preserve_fd(sys, session_fd, gmem_fd, GMEM_TOKEN);
        if (s.preserve !== 0) s.unexpected.push(`preserve returned ${s.preserve}`);
        s.sample = recordPreserved(proc, GMEM_TOKEN);
        yield* thread_join(guest);

        const k2 = yield* rebootKexec(s.system, s.kernel);
        if (typeof k2 === 'number') throw new Error(`reboot(KEXEC) = ${k2}`);
        const p = new Process(k2, 'vmm-next');
        const luo_fd = must('open(/dev/liveupdate)', yield* luo_open_device(p.sys));
        const sfd = must('RETRIEVE_SESSION', yield* luo_retrieve_session(p.sys, luo_fd, 'race'));
        const gfd = must('RETRIEVE_FD', yield* luo_session_retrieve_fd(p.sys, sfd, GMEM_TOKEN));
        const writes: GuestWrite[] = [];
        for (const page of s.written)
          writes.push({
            page,
            wrote: raceByte(page),
            readBack: yield* readGmemByte(p, gfd, PAGES, page),
          });
        s.writes = judgeGuestWrites(s.sample, writes);
        must('FINISH', yield* luo_session_finish(p.sys, sfd));
      },
    },
  ],
  properties: [
    {
      name: 'documented-guest-exits',
      description:
        'preserve succeeds; KVM_RUN ends in GUEST_DONE or in KVM_EXIT_MEMORY_FAULT/-EPERM on the ' +
        'absent page only (present pages stay writable while frozen)',
      check: (s) => s.unexpected.length === 0 || s.unexpected.join('; '),
    },
    {
      name: 'guest-writes-survive',
      description:
        'every byte the guest wrote before the kexec reads back after retrieve, or was lost by ' +
        'the documented UPTODATE sampling (§8.4; a violation with strict=true)',
      check: (s) => s.writes?.verdict ?? 'the writes were not checked',
    },
    {
      name: 'strict-no-loss',
      description: 'with strict=true: no write is lost at all, not even by the documented sampling',
      check: (s) => {
        const lost = s.writes?.documentedLoss ?? [];
        return (
          !s.strict ||
          lost.length === 0 ||
          `writes to page(s) ${lost.join(', ')} lost by the UPTODATE sampling of §8.4 (documented)`
        );
      },
    },
  ],
  observe: (s) =>
    `written=${s.written.join(',')} run=${s.run} lost=${s.writes?.documentedLoss.join(',') ?? '?'}`,
  defaults: { strategy: 'dpor', expect: 'holds' },
});
