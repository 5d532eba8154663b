//! Privilege and virtualization transitions: trap entry into HS-mode or VS-mode
//! (privileged spec 9.6), SRET from either (3.3.2, 9.6.3), and the MMU index they
//! select.

use super::trap::Trap;
use super::{Hart, Privilege};
use crate::csr::{hstatus, status};

/// The interrupt bit of xcause.
const INTERRUPT: u64 = 1 << 63;

impl Hart {
    /// Recomputes the MMU index of the current mode: U, S, S+SUM (V=0) and VU,
    /// VS, VS+SUM (V=1), the SUM bit coming from sstatus or vsstatus.
    pub(super) fn update_mmu_index(&mut self) {
        let (base, status) = if self.virt {
            (3, self.csr.vsstatus)
        } else {
            (0, self.csr.sstatus)
        };
        self.mmu_index = base
            + match self.privilege {
                Privilege::User => 0,
                Privilege::Supervisor if status & status::SUM != 0 => 2,
                Privilege::Supervisor => 1,
            };
    }

    /// Resumes after an SBI non-retentive hart suspend or a system suspend (SBI
    /// spec tables "HSM Hart Resume Register State" and "SUSP System Resume Register
    /// State"): HS-mode at `pc` with satp = 0, sstatus.SIE = 0, a0 = hart id and
    /// a1 = `opaque`; every other register keeps what it held, which the spec
    /// leaves undefined.
    pub fn resume_non_retentive(&mut self, pc: u64, opaque: u64) {
        self.privilege = Privilege::Supervisor;
        self.virt = false;
        self.csr.satp = 0;
        self.csr.sstatus &= !status::SIE;
        self.reservation = None;
        self.waiting_for_interrupt = false;
        self.update_mmu_index();
        self.flush_caches();
        self.pc = pc;
        self.x[10] = self.hart_id;
        self.x[11] = opaque;
    }

    /// Takes a synchronous exception (trap entry, to VS-mode when V=1 and hedeleg
    /// delegates it, else to HS-mode).
    #[cold]
    pub fn raise(&mut self, trap: Trap) {
        self.stats.exceptions += 1;
        self.enter_trap(trap.cause as u64, false, trap);
    }

    /// Takes interrupt `cause` (an interrupt number).
    pub(super) fn take_interrupt(&mut self, cause: u64) {
        self.stats.interrupts += 1;
        self.enter_trap(
            cause,
            true,
            Trap::new(super::trap::Cause::IllegalInstruction, 0),
        );
    }

    /// Trap entry. `trap` supplies stval, htval, htinst and GVA (its cause is
    /// ignored for interrupts).
    fn enter_trap(&mut self, cause: u64, interrupt: bool, trap: Trap) {
        let delegation = if interrupt {
            self.csr.hideleg
        } else {
            self.csr.hedeleg
        };
        let to_vs = self.virt && cause < 64 && (delegation >> cause) & 1 != 0;
        let tval = if interrupt { 0 } else { trap.tval };
        if to_vs {
            // VS-level interrupts arrive in VS-mode as their S-level counterparts.
            let vs_cause = if interrupt { cause - 1 } else { cause };
            let s = &mut self.csr;
            s.vsepc = self.pc;
            s.vscause = vs_cause | if interrupt { INTERRUPT } else { 0 };
            s.vstval = tval;
            s.vsstatus = push_status(s.vsstatus, self.privilege);
            let base = s.vstvec & !3;
            self.pc = if interrupt && s.vstvec & 3 == 1 {
                base + 4 * vs_cause
            } else {
                base
            };
        } else {
            let was_virt = self.virt;
            let s = &mut self.csr;
            s.sepc = self.pc;
            s.scause = cause | if interrupt { INTERRUPT } else { 0 };
            s.stval = tval;
            if self.hypervisor {
                let mut h = s.hstatus & !(hstatus::SPV | hstatus::GVA);
                if was_virt {
                    h |= hstatus::SPV;
                    h = (h & !hstatus::SPVP)
                        | if self.privilege == Privilege::Supervisor {
                            hstatus::SPVP
                        } else {
                            0
                        };
                }
                if trap.gva && !interrupt {
                    h |= hstatus::GVA;
                }
                s.hstatus = h;
                s.htval = if interrupt { 0 } else { trap.tval2 };
                s.htinst = if interrupt { 0 } else { trap.tinst };
            }
            s.sstatus = push_status(s.sstatus, self.privilege);
            let base = s.stvec & !3;
            self.pc = if interrupt && s.stvec & 3 == 1 {
                base + 4 * cause
            } else {
                base
            };
            self.virt = false;
            if was_virt {
                self.stats.guest_exits += 1;
                self.nacl_guest_exit();
            }
        }
        self.privilege = Privilege::Supervisor;
        self.reservation = None;
        self.update_mmu_index();
    }

    /// SRET (3.3.2; from HS it may enter V=1 as hstatus.SPV says, 9.6.3).
    pub(super) fn sret(&mut self) {
        let s = &mut self.csr;
        if self.virt {
            self.privilege = pop_privilege(s.vsstatus);
            s.vsstatus = pop_status(s.vsstatus);
            self.pc = s.vsepc;
        } else {
            self.privilege = pop_privilege(s.sstatus);
            s.sstatus = pop_status(s.sstatus);
            self.pc = s.sepc;
            if self.hypervisor && s.hstatus & hstatus::SPV != 0 {
                s.hstatus &= !hstatus::SPV;
                self.virt = true;
                self.stats.guest_entries += 1;
            }
        }
        self.reservation = None;
        self.update_mmu_index();
    }
}

/// The status register after trap entry from `privilege`: SPP, SPIE = SIE, SIE = 0.
fn push_status(status: u64, privilege: Privilege) -> u64 {
    let spp = if privilege == Privilege::Supervisor {
        status::SPP
    } else {
        0
    };
    let spie = if status & status::SIE != 0 {
        status::SPIE
    } else {
        0
    };
    (status & !(status::SPP | status::SPIE | status::SIE)) | spp | spie
}

/// The privilege SRET returns to.
fn pop_privilege(status: u64) -> Privilege {
    if status & status::SPP != 0 {
        Privilege::Supervisor
    } else {
        Privilege::User
    }
}

/// The status register after SRET: SIE = SPIE, SPIE = 1, SPP = U.
fn pop_status(status: u64) -> u64 {
    let sie = if status & status::SPIE != 0 {
        status::SIE
    } else {
        0
    };
    (status & !(status::SIE | status::SPP)) | sie | status::SPIE
}
