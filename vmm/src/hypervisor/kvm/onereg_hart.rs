//! A KVM vCPU whose guest is a hypervisor, as the `nacl` crate's [`NestedHart`]: its H
//! and VS CSRs, GPRs, privilege and virtualization mode reached through ONE_REG, and
//! NACL's shared memory through guest RAM.
//!
//! Everything here goes through two small traits, [`OneReg`] (the vCPU's registers by
//! ONE_REG id) and [`GuestWords`] (guest RAM), so the logic is arch-neutral and tested
//! on every host against a fake register file; on riscv64 the KVM vCPU implements
//! them with `KVM_GET_ONE_REG`/`KVM_SET_ONE_REG` on its fd.
//!
//! The register layout is the one of the KVM RISC-V nested-virtualization series
//! posted in January 2026 (not merged; see [`regs::HextCsr`]): the H CSRs and the
//! nested guest's VS CSRs are the `KVM_REG_RISCV_CSR_HEXT` subtype, the core register
//! `virt` says whether the vCPU runs its guest's guest (V=1), and while V=0 the general
//! CSRs (`sstatus`, `sepc`, ...) are the guest hypervisor's own supervisor CSRs. NACL
//! calls are ECALLs from the guest hypervisor, so they always arrive with V=0.
//!
//! Choices this ABI forces, each also said where it is made:
//!
//! - **WARL**: a ONE_REG write stores the value as is, so [`warl`] applies the
//!   write rules an HS-mode CSR write has (the ones the series' own CSR emulation
//!   applies where they are known: VS-level bits only in `hvip`/`hideleg`, `hgatp`
//!   modes Bare and Sv39x4 only, its root 16 KiB aligned).
//! - **SRET** into the nested guest is done as the series' `sret` emulation and its
//!   mode switch do it: pop the status, then swap the VS CSRs with the vCPU's
//!   supervisor CSRs and set `virt`. The floating-point state field the kernel keeps
//!   in its own `sstatus` is out of ONE_REG's reach; the two status words are swapped
//!   whole.
//! - **HFENCE**: ONE_REG has no way to make KVM flush translations. The only
//!   writes userspace has to the nested guest's translations are the roots, so an
//!   HFENCE entry is applied by writing `hgatp` (GVMA) or `vsatp` (VVMA) back with
//!   its current value, which is where a kernel that serves NACL from userspace must
//!   drop the translations it caches for them (the posted series only stores the
//!   value: on it this is not enough, see [`OneRegHart::hfence`]).
//! - **The SBI return**: KVM completes a `KVM_EXIT_RISCV_SBI` on the next `KVM_RUN` by
//!   writing `ret[0]`/`ret[1]` to a0/a1 and stepping pc by 4, also after a sync_sret
//!   that moved the vCPU elsewhere. The SRET therefore sets pc 4 bytes short of its
//!   target and hands a0/a1 of the SRET context back as the return values
//!   ([`OneRegHart::resume_args`]).
//!
//! This path is only unit tested: no host kernel available here has the series.

use std::cell::RefCell;

use nacl::{Hfence, NestedHart};

use super::regs::{self, GeneralCsr, HextCsr};
use crate::hypervisor::MemoryRegion;

/// ONE_REG access to one vCPU's 64-bit registers.
pub trait OneReg {
    /// Reads register `id`.
    fn get(&self, id: u64) -> Result<u64, String>;
    /// Writes register `id`.
    fn set(&mut self, id: u64, value: u64) -> Result<(), String>;
}

/// Guest RAM as NACL's shared memory needs it: aligned 64-bit words.
pub trait GuestWords {
    /// The word at guest-physical `gpa` (8-byte aligned), if it is RAM.
    fn read_u64(&self, gpa: u64) -> Option<u64>;
    /// Writes the word at guest-physical `gpa` (8-byte aligned); false if not RAM.
    fn write_u64(&self, gpa: u64, value: u64) -> bool;
    /// Whether `[gpa, gpa + len)` is RAM.
    fn is_ram(&self, gpa: u64, len: u64) -> bool;
}

/// The VM's RAM, or none before it is mapped (then nothing is RAM).
impl GuestWords for Option<MemoryRegion> {
    fn read_u64(&self, gpa: u64) -> Option<u64> {
        self.as_ref()?.read_u64(gpa)
    }

    fn write_u64(&self, gpa: u64, value: u64) -> bool {
        self.as_ref().is_some_and(|ram| ram.write_u64(gpa, value))
    }

    fn is_ram(&self, gpa: u64, len: u64) -> bool {
        self.as_ref().is_some_and(|ram| ram.contains(gpa, len))
    }
}

/// How far KVM moves pc when it completes an SBI exit (the ECALL's length).
pub const SBI_RETURN_PC_STEP: u64 = 4;

/// `sstatus` fields an SRET uses.
mod status {
    pub const SIE: u64 = 1 << 1;
    pub const SPIE: u64 = 1 << 5;
    pub const SPP: u64 = 1 << 8;
}

/// `hstatus.SPV`: the guest hypervisor's SRET enters its guest (V=1).
const HSTATUS_SPV: u64 = 1 << 7;

/// The VS-level interrupt bits (VSSIP, VSTIP, VSEIP), the writable bits of `hvip` and
/// `hideleg`.
const VS_INTERRUPTS: u64 = (1 << 2) | (1 << 6) | (1 << 10);

/// `hgatp` fields (RV64).
mod hgatp {
    pub const MODE_SHIFT: u32 = 60;
    pub const MODE_BARE: u64 = 0;
    pub const MODE_SV39X4: u64 = 8;
    pub const VMID: u64 = 0x3FFF << 44;
    pub const PPN: u64 = (1 << 44) - 1;
}

/// The value an HS-mode write of `new` makes of `reg` holding `old`, where the rules
/// are known; the rest are stored as written.
pub fn warl(reg: HextCsr, old: u64, new: u64) -> u64 {
    match reg {
        HextCsr::Hvip | HextCsr::Hideleg => (old & !VS_INTERRUPTS) | (new & VS_INTERRUPTS),
        HextCsr::Hgatp => {
            // The series gives guest hypervisors Sv39x4 only (its software walk of the
            // guest's G stage); another mode turns translation off. The root table of
            // an x4 mode is 16 KiB aligned.
            let mode = match new >> hgatp::MODE_SHIFT {
                hgatp::MODE_SV39X4 => hgatp::MODE_SV39X4,
                _ => hgatp::MODE_BARE,
            };
            (mode << hgatp::MODE_SHIFT) | (new & hgatp::VMID) | (new & hgatp::PPN & !3)
        }
        _ => new,
    }
}

/// The general CSR that holds what a VS CSR holds while the vCPU runs its guest's
/// guest (V=1): the pairs the mode switch swaps (`vsie` stays).
const SWAPPED: [(GeneralCsr, HextCsr); 7] = [
    (GeneralCsr::Sstatus, HextCsr::Vsstatus),
    (GeneralCsr::Stvec, HextCsr::Vstvec),
    (GeneralCsr::Sscratch, HextCsr::Vsscratch),
    (GeneralCsr::Sepc, HextCsr::Vsepc),
    (GeneralCsr::Scause, HextCsr::Vscause),
    (GeneralCsr::Stval, HextCsr::Vstval),
    (GeneralCsr::Satp, HextCsr::Vsatp),
];

/// The H and VS CSRs NACL's CSR space covers on this vCPU: the HEXT registers that
/// exist on RV64, in the subtype's order.
const H_CSRS: [u16; 18] = {
    let mut out = [0u16; 18];
    let mut i = 0;
    let mut o = 0;
    while i < HextCsr::ALL.len() {
        if !HextCsr::ALL[i].rv32_only() {
            out[o] = HextCsr::ALL[i].csr();
            o += 1;
        }
        i += 1;
    }
    out
};

/// One vCPU as NACL drives it, for the duration of one NACL call. ONE_REG failures
/// are host errors: the first is kept ([`OneRegHart::take_error`]) and the call's
/// outcome must then be discarded.
pub struct OneRegHart<'a> {
    regs: &'a mut dyn OneReg,
    ram: &'a dyn GuestWords,
    /// a0 and a1 as set from the SRET context (KVM overwrites them from `ret`).
    gprs: [Option<u64>; 2],
    entered_guest: bool,
    /// The first failure (a cell: `read_h_csr` only has `&self`).
    error: RefCell<Option<String>>,
}

impl<'a> OneRegHart<'a> {
    /// The vCPU behind `regs`, with guest RAM `ram`.
    pub fn new(regs: &'a mut dyn OneReg, ram: &'a dyn GuestWords) -> OneRegHart<'a> {
        OneRegHart {
            regs,
            ram,
            gprs: [None; 2],
            entered_guest: false,
            error: RefCell::new(None),
        }
    }

    /// The first ONE_REG failure, if any.
    pub fn take_error(&mut self) -> Option<String> {
        self.error.get_mut().take()
    }

    /// Whether an SRET entered the nested guest (V=1).
    pub fn entered_guest(&self) -> bool {
        self.entered_guest
    }

    /// What KVM must write to a0 and a1 when it completes the SBI exit after an SRET:
    /// the SRET context's values (`current` where the call set none).
    pub fn resume_args(&self, current: (u64, u64)) -> (u64, u64) {
        (
            self.gprs[0].unwrap_or(current.0),
            self.gprs[1].unwrap_or(current.1),
        )
    }

    fn note(&self, result: Result<(), String>) {
        if let Err(e) = result {
            self.error.borrow_mut().get_or_insert(e);
        }
    }

    fn get(&mut self, id: u64) -> u64 {
        match self.regs.get(id) {
            Ok(value) => value,
            Err(e) => {
                self.note(Err(format!("ONE_REG get {id:#x}: {e}")));
                0
            }
        }
    }

    fn set(&mut self, id: u64, value: u64) {
        let result = self
            .regs
            .set(id, value)
            .map_err(|e| format!("ONE_REG set {id:#x}: {e}"));
        self.note(result);
    }

    /// Swaps the VS CSRs with the vCPU's supervisor CSRs and sets `virt`: the state
    /// layout of a vCPU that runs its guest's guest.
    fn enter_guest(&mut self) {
        for (general, vs) in SWAPPED {
            let running = self.get(regs::csr(general));
            let stored = self.get(regs::hext_csr(vs));
            self.set(regs::csr(general), stored);
            self.set(regs::hext_csr(vs), running);
        }
        self.set(regs::core_virt(), 1);
        self.entered_guest = true;
    }
}

impl NestedHart for OneRegHart<'_> {
    fn h_csrs(&self) -> &'static [u16] {
        &H_CSRS
    }

    fn read_h_csr(&self, csr: u16) -> Option<u64> {
        let reg = HextCsr::from_csr(csr).filter(|reg| !reg.rv32_only())?;
        let id = regs::hext_csr(reg);
        match self.regs.get(id) {
            Ok(value) => Some(value),
            Err(e) => {
                self.note(Err(format!("ONE_REG get {id:#x}: {e}")));
                None
            }
        }
    }

    fn write_h_csr(&mut self, csr: u16, value: u64) {
        let Some(reg) = HextCsr::from_csr(csr).filter(|reg| !reg.rv32_only()) else {
            return;
        };
        let id = regs::hext_csr(reg);
        let old = self.get(id);
        self.set(id, warl(reg, old, value));
    }

    fn set_gpr(&mut self, index: usize, value: u64) {
        if let Some(slot) = index.checked_sub(10).and_then(|i| self.gprs.get_mut(i)) {
            *slot = Some(value);
        }
        if (1..32).contains(&index) {
            self.set(regs::core_x(index as u8), value);
        }
    }

    /// Applies an HFENCE by writing the translation root it concerns back with its
    /// current value (`hgatp` for GVMA, `vsatp` for VVMA; a ranged or per-ASID fence
    /// becomes a fence of the whole root). ONE_REG has no flush: this is the one
    /// write to those translations userspace has. A kernel that passes NACL calls to
    /// userspace must drop what it caches of the nested guest's translations when
    /// they are written; the posted series stores the value without a flush, and
    /// with it HFENCEs through NACL are not enough to make L1 page-table changes
    /// visible. Nothing here can detect that, which is one reason this path is only
    /// unit tested.
    fn hfence(&mut self, fence: Hfence) {
        let reg = match fence {
            Hfence::Gvma { .. } => HextCsr::Hgatp,
            Hfence::Vvma { .. } => HextCsr::Vsatp,
        };
        let id = regs::hext_csr(reg);
        let value = self.get(id);
        self.set(id, value);
    }

    /// SRET executed by the guest hypervisor (V=0, HS-mode): pc = sepc, privilege =
    /// sstatus.SPP, SIE = SPIE, SPIE = 1, SPP = U; with hstatus.SPV set, V=1 (SPV is
    /// cleared, as the soft hart does).
    fn sret(&mut self) {
        let sstatus = self.get(regs::csr(GeneralCsr::Sstatus));
        let sepc = self.get(regs::csr(GeneralCsr::Sepc));
        let hstatus_id = regs::hext_csr(HextCsr::Hstatus);
        let hstatus = self.get(hstatus_id);
        let spie = if sstatus & status::SPIE != 0 {
            status::SIE
        } else {
            0
        };
        let popped = (sstatus & !(status::SIE | status::SPP)) | spie | status::SPIE;
        self.set(regs::csr(GeneralCsr::Sstatus), popped);
        let mode = if sstatus & status::SPP != 0 {
            regs::MODE_S
        } else {
            regs::MODE_U
        };
        if hstatus & HSTATUS_SPV != 0 {
            self.set(hstatus_id, hstatus & !HSTATUS_SPV);
            self.enter_guest();
        }
        self.set(regs::core_mode(), mode);
        self.set(regs::core_pc(), sepc.wrapping_sub(SBI_RETURN_PC_STEP));
    }

    fn read_phys(&self, gpa: u64) -> Option<u64> {
        self.ram.read_u64(gpa)
    }

    fn write_phys(&mut self, gpa: u64, value: u64) -> bool {
        self.ram.write_u64(gpa, value)
    }

    fn is_ram(&self, gpa: u64, len: u64) -> bool {
        self.ram.is_ram(gpa, len)
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::collections::BTreeMap;

    use super::*;

    /// A register file that knows every id it was given, and RAM as a word map.
    #[derive(Default)]
    pub struct FakeVcpu {
        pub regs: BTreeMap<u64, u64>,
        pub writes: Vec<(u64, u64)>,
        pub fail_on: Option<u64>,
    }

    impl FakeVcpu {
        /// A vCPU with H: every HEXT register, the general CSRs and the core
        /// registers exist (zero).
        pub fn with_h() -> FakeVcpu {
            let mut regs = BTreeMap::new();
            for reg in HextCsr::ALL {
                regs.insert(regs::hext_csr(reg), 0);
            }
            for (general, _) in SWAPPED {
                regs.insert(regs::csr(general), 0);
            }
            for n in 1..32 {
                regs.insert(regs::core_x(n), 0);
            }
            regs.insert(regs::core_pc(), 0);
            regs.insert(regs::core_mode(), regs::MODE_S);
            regs.insert(regs::core_virt(), 0);
            FakeVcpu {
                regs,
                ..FakeVcpu::default()
            }
        }

        pub fn reg(&self, id: u64) -> u64 {
            self.regs[&id]
        }

        pub fn hext(&self, reg: HextCsr) -> u64 {
            self.reg(regs::hext_csr(reg))
        }

        pub fn csr(&self, reg: GeneralCsr) -> u64 {
            self.reg(regs::csr(reg))
        }
    }

    impl OneReg for FakeVcpu {
        fn get(&self, id: u64) -> Result<u64, String> {
            if self.fail_on == Some(id) {
                return Err("EIO".into());
            }
            self.regs.get(&id).copied().ok_or_else(|| "ENOENT".into())
        }

        fn set(&mut self, id: u64, value: u64) -> Result<(), String> {
            if self.fail_on == Some(id) || !self.regs.contains_key(&id) {
                return Err("ENOENT".into());
            }
            self.regs.insert(id, value);
            self.writes.push((id, value));
            Ok(())
        }
    }

    pub const RAM_BASE: u64 = 0x8000_0000;
    pub const RAM_SIZE: u64 = 0x10_0000;

    /// 1 MiB of RAM at 0x8000_0000.
    #[derive(Default)]
    pub struct FakeRam(pub RefCell<BTreeMap<u64, u64>>);

    impl GuestWords for FakeRam {
        fn read_u64(&self, gpa: u64) -> Option<u64> {
            (gpa & 7 == 0 && self.is_ram(gpa, 8))
                .then(|| self.0.borrow().get(&gpa).copied().unwrap_or(0))
        }

        fn write_u64(&self, gpa: u64, value: u64) -> bool {
            let ok = gpa & 7 == 0 && self.is_ram(gpa, 8);
            if ok {
                self.0.borrow_mut().insert(gpa, value);
            }
            ok
        }

        fn is_ram(&self, gpa: u64, len: u64) -> bool {
            gpa >= RAM_BASE
                && gpa
                    .checked_add(len)
                    .is_some_and(|end| end <= RAM_BASE + RAM_SIZE)
        }
    }

    #[test]
    fn the_csr_space_covers_the_rv64_hext_registers() {
        let mut vcpu = FakeVcpu::with_h();
        let ram = FakeRam::default();
        let hart = OneRegHart::new(&mut vcpu, &ram);
        let csrs = hart.h_csrs();
        assert_eq!(csrs.len(), 18);
        assert_eq!(csrs[0], 0x600);
        assert_eq!(csrs[17], 0x280);
        assert!(!csrs.contains(&0x615) && !csrs.contains(&0x61A));
        assert!(csrs.iter().all(|&c| nacl::shmem::is_h_csr(u64::from(c))));
        // hip and vstimecmp have no ONE_REG register: not implemented here.
        assert_eq!(hart.read_h_csr(0x644), None);
        assert_eq!(hart.read_h_csr(0x24D), None);
        assert_eq!(hart.read_h_csr(0x615), None);
        assert_eq!(hart.read_h_csr(0x680), Some(0));
    }

    #[test]
    fn writes_go_to_the_hext_ids_with_warl_rules() {
        let mut vcpu = FakeVcpu::with_h();
        vcpu.regs.insert(regs::hext_csr(HextCsr::Hvip), 1 << 1);
        let ram = FakeRam::default();
        let mut hart = OneRegHart::new(&mut vcpu, &ram);
        hart.write_h_csr(0x645, u64::MAX); // hvip: VS bits only, others kept
        hart.write_h_csr(0x602, 0xB1FF); // hedeleg: as written
        // hgatp: Sv48x4 is not offered (Bare), the root is 16 KiB aligned.
        hart.write_h_csr(0x680, (9 << 60) | (5 << 44) | 0x8_0003);
        hart.write_h_csr(0x280, (8 << 60) | 0x1234); // vsatp
        hart.write_h_csr(0x615, 7); // htimedeltah: RV32 only, ignored
        assert_eq!(hart.take_error(), None);
        assert_eq!(vcpu.hext(HextCsr::Hvip), (1 << 1) | VS_INTERRUPTS);
        assert_eq!(vcpu.hext(HextCsr::Hedeleg), 0xB1FF);
        assert_eq!(vcpu.hext(HextCsr::Hgatp), (5 << 44) | 0x8_0000);
        assert_eq!(vcpu.hext(HextCsr::Vsatp), (8 << 60) | 0x1234);
        assert_eq!(vcpu.hext(HextCsr::Htimedeltah), 0);
        assert_eq!(
            warl(HextCsr::Hgatp, 0, (8 << 60) | 7),
            (8 << 60) | 4,
            "Sv39x4 stays"
        );
    }

    #[test]
    fn sret_into_the_nested_guest_swaps_the_vs_state_and_sets_virt() {
        let mut vcpu = FakeVcpu::with_h();
        let set = |v: &mut FakeVcpu, id: u64, value: u64| {
            v.regs.insert(id, value);
        };
        // The guest hypervisor's own state (V=0): SPP = S, SPIE = 1, sepc = guest pc.
        set(
            &mut vcpu,
            regs::csr(GeneralCsr::Sstatus),
            status::SPIE | status::SPP,
        );
        set(&mut vcpu, regs::csr(GeneralCsr::Sepc), 0x1000);
        set(&mut vcpu, regs::csr(GeneralCsr::Stvec), 0xAAAA);
        set(&mut vcpu, regs::csr(GeneralCsr::Satp), 0x5555);
        // The nested guest's VS state, and hstatus.SPV.
        set(&mut vcpu, regs::hext_csr(HextCsr::Vsstatus), 0x22);
        set(&mut vcpu, regs::hext_csr(HextCsr::Vsepc), 0x9000);
        set(&mut vcpu, regs::hext_csr(HextCsr::Vstvec), 0xBBBB);
        set(&mut vcpu, regs::hext_csr(HextCsr::Vsatp), 0x6666);
        set(&mut vcpu, regs::hext_csr(HextCsr::Vsie), 0x222);
        set(
            &mut vcpu,
            regs::hext_csr(HextCsr::Hstatus),
            HSTATUS_SPV | (2 << 32),
        );
        let ram = FakeRam::default();
        let mut hart = OneRegHart::new(&mut vcpu, &ram);
        hart.sret();
        assert!(hart.entered_guest());
        assert_eq!(hart.take_error(), None);

        // V=1, the privilege is the old SPP, pc is sepc less KVM's SBI step.
        assert_eq!(vcpu.reg(regs::core_virt()), 1);
        assert_eq!(vcpu.reg(regs::core_mode()), regs::MODE_S);
        assert_eq!(vcpu.reg(regs::core_pc()), 0x1000 - SBI_RETURN_PC_STEP);
        assert_eq!(vcpu.hext(HextCsr::Hstatus), 2 << 32, "SPV cleared");
        // The running supervisor CSRs are now the nested guest's...
        assert_eq!(vcpu.csr(GeneralCsr::Sstatus), 0x22);
        assert_eq!(vcpu.csr(GeneralCsr::Sepc), 0x9000);
        assert_eq!(vcpu.csr(GeneralCsr::Stvec), 0xBBBB);
        assert_eq!(vcpu.csr(GeneralCsr::Satp), 0x6666);
        // ...and the guest hypervisor's are kept in the VS slots, its status popped
        // (SIE = SPIE, SPIE = 1, SPP = U).
        assert_eq!(vcpu.hext(HextCsr::Vsstatus), status::SIE | status::SPIE);
        assert_eq!(vcpu.hext(HextCsr::Vsepc), 0x1000);
        assert_eq!(vcpu.hext(HextCsr::Vstvec), 0xAAAA);
        assert_eq!(vcpu.hext(HextCsr::Vsatp), 0x5555);
        assert_eq!(vcpu.hext(HextCsr::Vsie), 0x222, "vsie is not swapped");
    }

    #[test]
    fn sret_without_spv_stays_in_the_guest_hypervisor() {
        let mut vcpu = FakeVcpu::with_h();
        vcpu.regs
            .insert(regs::csr(GeneralCsr::Sstatus), status::SIE);
        vcpu.regs.insert(regs::csr(GeneralCsr::Sepc), 0x4000);
        vcpu.regs.insert(regs::hext_csr(HextCsr::Vsepc), 0x9000);
        let ram = FakeRam::default();
        let mut hart = OneRegHart::new(&mut vcpu, &ram);
        hart.sret();
        assert!(!hart.entered_guest());
        assert_eq!(vcpu.reg(regs::core_virt()), 0);
        assert_eq!(vcpu.reg(regs::core_mode()), regs::MODE_U);
        assert_eq!(vcpu.reg(regs::core_pc()), 0x4000 - 4);
        assert_eq!(
            vcpu.csr(GeneralCsr::Sstatus),
            status::SPIE,
            "SIE = SPIE = 0"
        );
        assert_eq!(vcpu.hext(HextCsr::Vsepc), 0x9000);
    }

    #[test]
    fn gprs_go_to_core_registers_and_a0_a1_to_the_sbi_return() {
        let mut vcpu = FakeVcpu::with_h();
        let ram = FakeRam::default();
        let mut hart = OneRegHart::new(&mut vcpu, &ram);
        for i in 1..32 {
            hart.set_gpr(i, 100 + i as u64);
        }
        hart.set_gpr(0, 1); // x0: nothing
        hart.set_gpr(32, 1); // out of range: nothing
        assert_eq!(hart.resume_args((0, 0)), (110, 111));
        assert_eq!(hart.take_error(), None);
        assert_eq!(vcpu.reg(regs::core_x(5)), 105);
        assert_eq!(vcpu.reg(regs::core_x(31)), 131);
        let mut untouched = FakeVcpu::with_h();
        let hart = OneRegHart::new(&mut untouched, &ram);
        assert_eq!(hart.resume_args((7, 8)), (7, 8));
    }

    #[test]
    fn hfences_rewrite_the_translation_roots() {
        let mut vcpu = FakeVcpu::with_h();
        vcpu.regs
            .insert(regs::hext_csr(HextCsr::Hgatp), 0x8000_0000_0000_1234);
        vcpu.regs
            .insert(regs::hext_csr(HextCsr::Vsatp), 0x9000_0000_0000_0042);
        let ram = FakeRam::default();
        let mut hart = OneRegHart::new(&mut vcpu, &ram);
        hart.hfence(Hfence::Gvma {
            vmid: Some(3),
            range: Some((0x1000, 0x2000)),
        });
        hart.hfence(Hfence::Vvma {
            vmid: 3,
            asid: None,
            range: None,
        });
        assert_eq!(
            vcpu.writes,
            [
                (regs::hext_csr(HextCsr::Hgatp), 0x8000_0000_0000_1234),
                (regs::hext_csr(HextCsr::Vsatp), 0x9000_0000_0000_0042)
            ]
        );
    }

    #[test]
    fn one_reg_failures_are_kept_as_host_errors() {
        let mut vcpu = FakeVcpu::with_h();
        vcpu.fail_on = Some(regs::core_virt());
        vcpu.regs
            .insert(regs::hext_csr(HextCsr::Hstatus), HSTATUS_SPV);
        let ram = FakeRam::default();
        let mut hart = OneRegHart::new(&mut vcpu, &ram);
        hart.sret();
        let error = hart.take_error().expect("the virt write failed");
        assert!(error.contains("ONE_REG set 0x8030000002000021"), "{error}");
        assert_eq!(hart.take_error(), None, "taken once");
    }

    #[test]
    fn guest_ram_words_are_read_and_written_in_place() {
        let memory = crate::memory::GuestMemory::new(1).expect("memory");
        let ram = Some(memory.region());
        assert!(ram.write_u64(RAM_BASE + 0x10, 0x1122_3344_5566_7788));
        let mut bytes = [0u8; 8];
        assert!(memory.read(RAM_BASE + 0x10, &mut bytes));
        assert_eq!(u64::from_le_bytes(bytes), 0x1122_3344_5566_7788);
        assert_eq!(ram.read_u64(RAM_BASE + 0x10), Some(0x1122_3344_5566_7788));
        assert_eq!(ram.read_u64(RAM_BASE + 0x11), None, "unaligned");
        assert_eq!(ram.read_u64(RAM_BASE + (1 << 20) - 4), None, "past the end");
        assert!(!ram.write_u64(RAM_BASE - 8, 1));
        assert!(ram.is_ram(RAM_BASE, 1 << 20) && !ram.is_ram(RAM_BASE, (1 << 20) + 1));
        let none: Option<MemoryRegion> = None;
        assert!(!none.is_ram(RAM_BASE, 8) && none.read_u64(RAM_BASE).is_none());
    }

    #[test]
    fn shared_memory_words_go_to_guest_ram() {
        let mut vcpu = FakeVcpu::with_h();
        let ram = FakeRam::default();
        let mut hart = OneRegHart::new(&mut vcpu, &ram);
        assert!(hart.write_phys(RAM_BASE + 8, 42));
        assert_eq!(hart.read_phys(RAM_BASE + 8), Some(42));
        assert!(!hart.write_phys(0x1000, 1));
        assert_eq!(hart.read_phys(RAM_BASE + 4), None, "unaligned");
        assert!(hart.is_ram(RAM_BASE, nacl::shmem::SIZE));
        assert!(!hart.is_ram(RAM_BASE + RAM_SIZE - 8, 16));
    }
}
