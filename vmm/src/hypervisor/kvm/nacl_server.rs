//! SBI NACL for a guest hypervisor on KVM ([`super::nesting::NestingPlan::NaclOverOneReg`]):
//! the `nacl` crate's [`NaclState`] serving the NACL calls that KVM forwards as
//! `KVM_EXIT_RISCV_SBI`, on the vCPU's registers over ONE_REG ([`OneRegHart`]).
//! The vCPU answers them inside its `run()`, as the soft backend does, without a trip
//! through the VMM's exit loop.
//!
//! What the spec asks of the L0 at the guest hypervisor's world switches is only
//! partly reachable from userspace:
//!
//! - Entering the nested guest is either a NACL `sync_sret` (served here: CSRs,
//!   HFENCEs, GPRs, autoswap, SRET) or a plain SRET, which the kernel emulates
//!   without an exit, so queued CSR writes and HFENCE entries wait for the next NACL
//!   call. Offer `sync_sret` for them to be applied at every entry (Linux uses it
//!   whenever it is offered).
//! - A trap from the nested guest back to the guest hypervisor is redirected in the
//!   kernel without an exit: the autoswap back and the refresh of the CSR space that
//!   the spec asks for at that moment happen at the guest hypervisor's next NACL call
//!   ([`NaclServer::serve`] does them first). Every NACL call also refreshes the clean
//!   words of the CSR space, which the kernel's own CSR emulation may have made
//!   stale. A guest hypervisor that reads the CSR space right after such a trap
//!   (Linux reads `hstatus`, `htval` and `htinst` there) sees values of the previous
//!   world switch until the kernel gives userspace an exit at that trap.
//!
//! This path is only unit tested: no host kernel here has both the nested
//! virtualization series and NACL forwarding, which the probes of
//! [`super::nesting`] require before the VM is built with it.

use nacl::{Features, NaclState, NaclStats, Outcome};

use super::onereg_hart::{GuestWords, OneReg, OneRegHart};

/// How the vCPU resumes after a NACL call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NaclAnswer {
    /// Return to the caller: KVM writes a0 = `error`, a1 = `value` and steps past
    /// the ECALL.
    Return {
        /// SBI error code.
        error: i64,
        /// Return value.
        value: u64,
    },
    /// `sync_sret` moved the vCPU (pc already set 4 bytes short of the target);
    /// KVM must write `a0` and `a1` of the SRET context when it completes the exit.
    Resumed {
        /// a0 to resume with.
        a0: u64,
        /// a1 to resume with.
        a1: u64,
    },
}

/// One vCPU's NACL: the protocol state and whether the vCPU was last sent into its
/// guest's guest.
#[derive(Debug)]
pub struct NaclServer {
    state: NaclState,
    in_nested_guest: bool,
}

impl NaclServer {
    /// NACL with `features` for one vCPU, no shared memory yet.
    pub fn new(features: Features) -> NaclServer {
        NaclServer {
            state: NaclState::new(features),
            in_nested_guest: false,
        }
    }

    /// The features offered.
    pub fn features(&self) -> Features {
        self.state.features()
    }

    /// The protocol's counters.
    pub fn stats(&self) -> NaclStats {
        self.state.stats
    }

    /// Serves NACL function `function` with arguments `args` (a0..a5 of the ECALL) on
    /// the vCPU behind `regs`, with guest RAM `ram`. An error is a ONE_REG failure: a
    /// host error that ends the VM.
    pub fn serve(
        &mut self,
        regs: &mut dyn OneReg,
        ram: &dyn GuestWords,
        function: u64,
        args: [u64; 6],
    ) -> Result<NaclAnswer, String> {
        let mut hart = OneRegHart::new(regs, ram);
        if std::mem::take(&mut self.in_nested_guest) {
            // The guest hypervisor is back in HS-mode: the nested guest trapped to it
            // in between, out of sight.
            self.state.on_guest_exit(&mut hart);
        } else {
            self.state.refresh(&mut hart);
        }
        let outcome = self.state.handle(&mut hart, function, args);
        if let Some(error) = hart.take_error() {
            return Err(error);
        }
        Ok(match outcome {
            Outcome::Return { error, value } => NaclAnswer::Return { error, value },
            Outcome::Resumed => {
                self.in_nested_guest = hart.entered_guest();
                let (a0, a1) = hart.resume_args((args[0], args[1]));
                NaclAnswer::Resumed { a0, a1 }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use nacl::{function, shmem};

    use super::super::onereg_hart::SBI_RETURN_PC_STEP;
    use super::super::onereg_hart::tests::{FakeRam, FakeVcpu, RAM_BASE};
    use super::super::regs::{self, GeneralCsr, HextCsr};
    use super::*;

    const SHMEM: u64 = RAM_BASE + 0x4000;
    const HSTATUS: u16 = 0x600;
    const HGATP: u16 = 0x680;
    const SPV: u64 = 1 << 7;

    fn ret(error: i64, value: u64) -> NaclAnswer {
        NaclAnswer::Return { error, value }
    }

    fn call(
        server: &mut NaclServer,
        vcpu: &mut FakeVcpu,
        ram: &FakeRam,
        function: u64,
        a: &[u64],
    ) -> NaclAnswer {
        let mut args = [0; 6];
        args[..a.len()].copy_from_slice(a);
        server
            .serve(vcpu, ram, function, args)
            .expect("no ONE_REG failure")
    }

    fn word(ram: &FakeRam, offset: u64) -> u64 {
        ram.read_u64(SHMEM + offset).expect("RAM")
    }

    fn set_word(ram: &FakeRam, offset: u64, value: u64) {
        assert!(ram.write_u64(SHMEM + offset, value));
    }

    /// What the guest hypervisor does to write a CSR through the CSR space.
    fn queue_csr(ram: &FakeRam, csr: u16, value: u64) {
        set_word(ram, shmem::csr_word(csr), value);
        let index = shmem::csr_index(csr);
        let bitmap = shmem::DIRTY_BITMAP + 8 * (index / 64);
        set_word(ram, bitmap, word(ram, bitmap) | 1 << (index % 64));
    }

    fn ready() -> (NaclServer, FakeVcpu, FakeRam) {
        let mut server = NaclServer::new(Features::all());
        let mut vcpu = FakeVcpu::with_h();
        let ram = FakeRam::default();
        assert_eq!(
            call(&mut server, &mut vcpu, &ram, function::SET_SHMEM, &[SHMEM]),
            ret(0, 0)
        );
        (server, vcpu, ram)
    }

    #[test]
    fn probe_and_set_shmem_fill_the_csr_space_from_one_reg() {
        let mut server = NaclServer::new(Features::all());
        let mut vcpu = FakeVcpu::with_h();
        vcpu.regs
            .insert(regs::hext_csr(HextCsr::Hgatp), 0x8000_0000_0000_0777);
        let ram = FakeRam::default();
        assert_eq!(
            call(&mut server, &mut vcpu, &ram, function::PROBE_FEATURE, &[2]),
            ret(0, 1)
        );
        assert_eq!(
            call(&mut server, &mut vcpu, &ram, function::SET_SHMEM, &[0x1000]),
            ret(nacl::error::INVALID_ADDRESS, 0)
        );
        assert_eq!(
            call(&mut server, &mut vcpu, &ram, function::SET_SHMEM, &[SHMEM]),
            ret(0, 0)
        );
        assert_eq!(word(&ram, shmem::csr_word(HGATP)), 0x8000_0000_0000_0777);
        assert_eq!(server.stats().calls[0], 1);
        assert_eq!(server.features(), Features::all());
    }

    #[test]
    fn sync_csr_applies_dirty_words_over_one_reg() {
        let (mut server, mut vcpu, ram) = ready();
        queue_csr(&ram, HGATP, (8 << 60) | 0x4_0001);
        assert_eq!(
            call(
                &mut server,
                &mut vcpu,
                &ram,
                function::SYNC_CSR,
                &[u64::MAX]
            ),
            ret(0, 0)
        );
        // Applied with hgatp's WARL rules, written back, the dirty bit cleared.
        assert_eq!(vcpu.hext(HextCsr::Hgatp), (8 << 60) | 0x4_0000);
        assert_eq!(word(&ram, shmem::csr_word(HGATP)), (8 << 60) | 0x4_0000);
        assert_eq!(word(&ram, shmem::DIRTY_BITMAP + 8 * (0x180 / 64)), 0);
        // hip has no register here: a single sync of it is an invalid parameter.
        assert_eq!(
            call(&mut server, &mut vcpu, &ram, function::SYNC_CSR, &[0x644]),
            ret(nacl::error::INVALID_PARAM, 0)
        );
    }

    #[test]
    fn sync_hfence_rewrites_the_root_and_clears_pending() {
        let (mut server, mut vcpu, ram) = ready();
        vcpu.writes.clear();
        // A pending GVMA_VMID_ALL entry for VMID 5.
        set_word(
            &ram,
            shmem::hfence_entry(0),
            (1 << 63) | (3 << 56) | (5 << 16),
        );
        assert_eq!(
            call(&mut server, &mut vcpu, &ram, function::SYNC_HFENCE, &[0]),
            ret(0, 0)
        );
        assert_eq!(word(&ram, shmem::hfence_entry(0)) >> 63, 0);
        assert!(
            vcpu.writes
                .contains(&(regs::hext_csr(HextCsr::Hgatp), vcpu.hext(HextCsr::Hgatp)))
        );
    }

    #[test]
    fn sync_sret_enters_the_nested_guest_and_the_next_call_catches_up() {
        let (mut server, mut vcpu, ram) = ready();
        // The guest hypervisor: returns to VS-mode at 0x1000 with SPV set, a
        // queued vsatp, hstatus for the guest in the autoswap area, and x1..x31.
        vcpu.regs
            .insert(regs::csr(GeneralCsr::Sstatus), 1 << 8 | 1 << 5);
        vcpu.regs.insert(regs::csr(GeneralCsr::Sepc), 0x1000);
        vcpu.regs.insert(regs::hext_csr(HextCsr::Hstatus), 2 << 32);
        queue_csr(&ram, 0x280, 0x8000_0000_0000_0042);
        set_word(&ram, shmem::AUTOSWAP_FLAGS, shmem::AUTOSWAP_FLAG_HSTATUS);
        set_word(&ram, shmem::AUTOSWAP_HSTATUS, (2 << 32) | SPV);
        for i in 1..32u64 {
            set_word(&ram, shmem::SRET_CONTEXT + 8 * i, 0x100 + i);
        }
        let answer = call(&mut server, &mut vcpu, &ram, function::SYNC_SRET, &[]);
        assert_eq!(
            answer,
            NaclAnswer::Resumed {
                a0: 0x10A,
                a1: 0x10B
            }
        );
        // In the nested guest, its vsatp running; pc set short of the target.
        assert_eq!(vcpu.reg(regs::core_virt()), 1);
        assert_eq!(vcpu.reg(regs::core_pc()), 0x1000 - SBI_RETURN_PC_STEP);
        assert_eq!(vcpu.csr(GeneralCsr::Satp), 0x8000_0000_0000_0042);
        assert_eq!(vcpu.reg(regs::core_x(31)), 0x11F);
        // Autoswap put the guest's hstatus in (SRET then cleared SPV) and kept the
        // hypervisor's.
        assert_eq!(vcpu.hext(HextCsr::Hstatus), 2 << 32);
        assert_eq!(word(&ram, shmem::AUTOSWAP_HSTATUS), 2 << 32);

        // The nested guest traps to the guest hypervisor inside the kernel, which
        // leaves V=0 and the trap's hstatus/htval; the next NACL call swaps hstatus
        // back and refreshes the CSR space before anything else.
        vcpu.regs.insert(regs::core_virt(), 0);
        vcpu.regs
            .insert(regs::hext_csr(HextCsr::Hstatus), (2 << 32) | SPV);
        vcpu.regs.insert(regs::hext_csr(HextCsr::Htval), 0x77);
        assert_eq!(
            call(&mut server, &mut vcpu, &ram, function::PROBE_FEATURE, &[0]),
            ret(0, 1)
        );
        assert_eq!(vcpu.hext(HextCsr::Hstatus), 2 << 32, "swapped back");
        assert_eq!(word(&ram, shmem::AUTOSWAP_HSTATUS), (2 << 32) | SPV);
        assert_eq!(word(&ram, shmem::csr_word(HSTATUS)), 2 << 32);
        assert_eq!(word(&ram, shmem::csr_word(0x643)), 0x77);
    }

    #[test]
    fn a_one_reg_failure_is_an_error_not_an_answer() {
        let (mut server, mut vcpu, ram) = ready();
        vcpu.fail_on = Some(regs::core_pc());
        let e = server
            .serve(&mut vcpu, &ram, function::SYNC_SRET, [0; 6])
            .expect_err("pc cannot be written");
        assert!(e.contains("ONE_REG"), "{e}");
    }

    #[test]
    fn without_sync_sret_the_call_is_not_supported() {
        let mut server = NaclServer::new(Features::from_iter([nacl::Feature::SyncCsr]));
        let mut vcpu = FakeVcpu::with_h();
        let ram = FakeRam::default();
        call(&mut server, &mut vcpu, &ram, function::SET_SHMEM, &[SHMEM]);
        assert_eq!(
            call(&mut server, &mut vcpu, &ram, function::SYNC_SRET, &[]),
            ret(nacl::error::NOT_SUPPORTED, 0)
        );
        assert_eq!(vcpu.reg(regs::core_virt()), 0);
    }
}
