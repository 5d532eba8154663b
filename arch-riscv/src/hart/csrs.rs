//! CSR instructions: a fallible access check (privilege, virtualization, read-only)
//! that also picks the CSR an access really reaches (S CSRs become VS CSRs while
//! V=1), then infallible reads and writes (privileged spec 2.1, 9.2.1, 9.6.1).

use super::mmu::PagingMode;
use super::tlb::HOST_INDICES;
use super::trap::Trap;
use super::{Hart, Privilege};
use crate::csr::{self, henvcfg, hstatus, irq, satp, status};
use crate::isa::{Op, OpKind};

/// Why an access is refused.
enum Refusal {
    Illegal,
    Virtual,
}

impl Hart {
    /// Reads CSR `number` without side effects or privilege checks (for the VMM's
    /// state dumps and tests); `None` if the hart does not implement it.
    pub fn csr(&self, number: u16) -> Option<u64> {
        self.csr_read(number)
    }

    /// Checks an access from the current mode; returns the CSR it reaches.
    fn csr_access(&self, number: u16, write: bool) -> Result<u16, Refusal> {
        let read_only = number >> 10 == 3;
        let level = (number >> 8) & 3; // 0 U, 1 S, 2 hypervisor/VS, 3 M
        if level == 3 || (level == 2 && !self.hypervisor) {
            return Err(Refusal::Illegal);
        }
        if let csr::CYCLE..=csr::HPMCOUNTER31 = number {
            return self.counter_access(number, write).map(|()| number);
        }
        if write && read_only {
            return Err(Refusal::Illegal);
        }
        let user = self.privilege == Privilege::User;
        let target = match (self.virt, level) {
            (false, 1 | 2) if user => return Err(Refusal::Illegal),
            (true, 2) => return Err(Refusal::Virtual),
            (true, 1) if user => return Err(Refusal::Virtual),
            (true, 1) => self.vs_substitute(number)?,
            _ => number,
        };
        if matches!(target, csr::FFLAGS | csr::FRM | csr::FCSR) && !self.fp_enabled() {
            return Err(Refusal::Illegal);
        }
        if matches!(
            target,
            csr::VSTART | csr::VXSAT | csr::VXRM | csr::VCSR | csr::VL | csr::VTYPE | csr::VLENB
        ) && !self.vector_enabled()
        {
            return Err(Refusal::Illegal);
        }
        Ok(target)
    }

    /// The VS CSR a VS-mode access to S CSR `number` reaches (9.2.1).
    fn vs_substitute(&self, number: u16) -> Result<u16, Refusal> {
        Ok(match number {
            csr::SSTATUS => csr::VSSTATUS,
            csr::SIE => csr::VSIE,
            csr::STVEC => csr::VSTVEC,
            csr::SSCRATCH => csr::VSSCRATCH,
            csr::SEPC => csr::VSEPC,
            csr::SCAUSE => csr::VSCAUSE,
            csr::STVAL => csr::VSTVAL,
            csr::SIP => csr::VSIP,
            csr::SATP if self.csr.hstatus & hstatus::VTVM != 0 => return Err(Refusal::Virtual),
            csr::SATP => csr::VSATP,
            csr::STIMECMP if self.csr.henvcfg & henvcfg::STCE == 0 => return Err(Refusal::Virtual),
            csr::STIMECMP => csr::VSTIMECMP,
            other => other,
        })
    }

    /// The counter-enable rules (3.1.11, 9.2.5): scounteren for U, hcounteren for
    /// V=1; M-mode (the VMM) enables every counter.
    fn counter_access(&self, number: u16, write: bool) -> Result<(), Refusal> {
        if write {
            return Err(Refusal::Illegal);
        }
        let bit = 1u64 << (number - csr::CYCLE);
        let s_allows = self.csr.scounteren & bit != 0;
        let h_allows = self.csr.hcounteren & bit != 0;
        match (self.virt, self.privilege) {
            (false, Privilege::Supervisor) => Ok(()),
            (false, Privilege::User) if s_allows => Ok(()),
            (false, Privilege::User) => Err(Refusal::Illegal),
            (true, Privilege::Supervisor) if h_allows => Ok(()),
            (true, Privilege::User) if h_allows && s_allows => Ok(()),
            (true, _) => Err(Refusal::Virtual),
        }
    }

    /// Whether F/D state is on: sstatus.FS, and vsstatus.FS too while V=1.
    #[inline]
    pub(super) fn fp_enabled(&self) -> bool {
        self.csr.sstatus & status::FS != 0 && (!self.virt || self.csr.vsstatus & status::FS != 0)
    }

    /// Marks F/D state dirty (in vsstatus too while V=1).
    #[inline]
    pub(super) fn fp_dirty(&mut self) {
        self.csr.sstatus |= status::FS_DIRTY;
        if self.virt {
            self.csr.vsstatus |= status::FS_DIRTY;
        }
    }

    /// Reads an implemented CSR; `None` for unimplemented numbers.
    fn csr_read(&self, number: u16) -> Option<u64> {
        let s = &self.csr;
        Some(match number {
            csr::FFLAGS => s.fflags as u64,
            csr::FRM => s.frm as u64,
            csr::FCSR => ((s.frm as u64) << 5) | s.fflags as u64,
            csr::CYCLE => self.counter(super::Counter::Cycle),
            csr::INSTRET => self.counter(super::Counter::Instret),
            csr::TIME if self.virt => self.time().wrapping_add(s.htimedelta),
            csr::TIME => self.time(),
            csr::HPMCOUNTER3..=csr::HPMCOUNTER31 => 0,
            csr::SSTATUS => s.sstatus | status::summary_dirty(s.sstatus),
            csr::VSTART
            | csr::VXSAT
            | csr::VXRM
            | csr::VCSR
            | csr::VL
            | csr::VTYPE
            | csr::VLENB => {
                return self.read_vector_csr(number);
            }
            csr::SIE => s.ie & irq::S_MASK,
            csr::STVEC => s.stvec,
            csr::SCOUNTEREN => s.scounteren,
            csr::SENVCFG => s.senvcfg,
            csr::SSCRATCH => s.sscratch,
            csr::SEPC => s.sepc,
            csr::SCAUSE => s.scause,
            csr::STVAL => s.stval,
            csr::SIP => self.pending_interrupts() & irq::S_MASK,
            csr::STIMECMP => s.stimecmp,
            csr::SATP => s.satp,
            _ => return self.read_h_csr(number),
        })
    }

    /// Writes an implemented CSR, keeping WARL fields legal.
    fn csr_write(&mut self, number: u16, value: u64) {
        let s = &mut self.csr;
        match number {
            csr::FFLAGS => s.fflags = (value & 0x1F) as u8,
            csr::FRM => s.frm = (value & 7) as u8,
            csr::FCSR => {
                s.fflags = (value & 0x1F) as u8;
                s.frm = ((value >> 5) & 7) as u8;
            }
            csr::SSTATUS => {
                let old = s.sstatus;
                let writable = status::WRITABLE | self.vector.as_ref().map_or(0, |_| status::VS);
                s.sstatus = (old & !writable) | (value & writable);
                if (old ^ s.sstatus) & status::MXR != 0 {
                    self.flush_caches();
                }
                self.update_mmu_index();
            }
            csr::SIE => s.ie = (s.ie & !irq::S_MASK) | (value & irq::S_MASK),
            csr::STVEC => s.stvec = value & !2, // MODE 0 (direct) or 1 (vectored)
            csr::SCOUNTEREN => s.scounteren = value & 0xFFFF_FFFF,
            csr::SENVCFG => s.senvcfg = csr::envcfg::cache_block_fields(value),
            csr::SSCRATCH => s.sscratch = value,
            csr::SEPC => s.sepc = value & !1,
            csr::SCAUSE => s.scause = value,
            csr::STVAL => s.stval = value,
            csr::SIP => s.sip = (s.sip & !irq::SSIP) | (value & irq::SSIP),
            csr::STIMECMP => s.stimecmp = value,
            csr::SATP => {
                let legal = PagingMode::from_satp_mode(value >> satp::MODE_SHIFT)
                    .is_some_and(|m| m.levels() <= self.max_paging.levels());
                if legal {
                    // ASIDs are not implemented (ASIDLEN = 0): the field reads zero.
                    s.satp = value & !satp::ASID_MASK;
                    self.tlb.flush(HOST_INDICES);
                    self.icache.flush_indices(HOST_INDICES);
                }
            }
            csr::VSTART | csr::VXSAT | csr::VXRM | csr::VCSR => {
                self.write_vector_csr(number, value)
            }
            _ => self.write_h_csr(number, value),
        }
    }

    /// Executes a Zicsr instruction. Returns whether it wrote the CSR (the caller
    /// then re-evaluates interrupts and translations).
    pub(super) fn execute_csr(&mut self, op: Op) -> Result<bool, Trap> {
        let number = (op.imm as u32 & 0xFFF) as u16;
        let source = match op.kind {
            OpKind::Csrrwi | OpKind::Csrrsi | OpKind::Csrrci => op.rs1 as u64,
            _ => self.x[(op.rs1 & 63) as usize],
        };
        let writes = match op.kind {
            OpKind::Csrrw | OpKind::Csrrwi => true,
            _ => op.rs1 != 0,
        };
        let target = match self.csr_access(number, writes) {
            Ok(target) => target,
            Err(Refusal::Illegal) => return Err(Trap::illegal(self.instruction_bits(op))),
            Err(Refusal::Virtual) => {
                return Err(Trap::virtual_instruction(self.instruction_bits(op)));
            }
        };
        let old = self
            .csr_read(target)
            .ok_or(Trap::illegal(self.instruction_bits(op)))?;
        let hypervisor_csr = (number >> 8) & 3 == 2;
        if hypervisor_csr {
            self.stats.h_csr_accesses += 1;
        }
        if writes {
            let new = match op.kind {
                OpKind::Csrrw | OpKind::Csrrwi => source,
                OpKind::Csrrs | OpKind::Csrrsi => old | source,
                _ => old & !source,
            };
            if matches!(target, csr::FFLAGS | csr::FRM | csr::FCSR) {
                self.fp_dirty();
            }
            self.csr_write(target, new);
            if hypervisor_csr {
                // The NACL CSR space must show every H/VS CSR's current value.
                self.nacl_csr_written(target);
            }
        }
        self.x[(op.rd & 63) as usize] = old;
        Ok(writes)
    }

    /// The raw bits of the instruction at pc, for `stval` on illegal instructions.
    pub(super) fn instruction_bits(&self, op: Op) -> u64 {
        if matches!(op.kind, OpKind::Illegal | OpKind::Vector) {
            return op.imm as u32 as u64;
        }
        // Re-read the instruction from the page it was decoded from.
        let Some(page) = self.icache.lookup(self.mmu_index, self.pc) else {
            return 0;
        };
        // SAFETY: the decode cache keeps `page` alive until its next flush, and no
        // flush happens while an instruction of it executes.
        let host = unsafe { (*page).host } + (self.pc & 0xFFF) as usize;
        let len = if op.len == 2 || self.pc & 0xFFF == 0xFFE {
            2
        } else {
            4
        };
        // SAFETY: `host..host + len` lies inside the decoded RAM page.
        unsafe { super::ram::load(host as *mut u8, len) }
    }
}
