//! CSR instructions: a fallible access check, then infallible reads and writes
//! (privileged spec 2.1 for the address conventions, chapter 10 for the S CSRs).

use super::mmu::PagingMode;
use super::trap::Trap;
use super::{Hart, Privilege};
use crate::csr::{self, irq, satp, status};
use crate::isa::{Op, OpKind};

impl Hart {
    /// Whether the current privilege may access `number`, for writing if `write`.
    fn csr_accessible(&self, number: u16, write: bool) -> bool {
        let read_only = number >> 10 == 3;
        let min_privilege = (number >> 8) & 3;
        if write && read_only {
            return false;
        }
        if min_privilege > self.privilege as u16 {
            return false;
        }
        match number {
            csr::CYCLE..=csr::HPMCOUNTER31 => {
                self.privilege == Privilege::Supervisor
                    || self.csr.scounteren & (1 << (number - csr::CYCLE)) != 0
            }
            csr::FFLAGS | csr::FRM | csr::FCSR => self.csr.sstatus & status::FS != 0,
            _ => true,
        }
    }

    /// Reads CSR `number` without side effects or privilege checks (for the VMM's
    /// state dumps and tests); `None` if the hart does not implement it.
    pub fn csr(&self, number: u16) -> Option<u64> {
        self.csr_read(number)
    }

    /// Reads an implemented CSR; `None` for unimplemented numbers.
    fn csr_read(&self, number: u16) -> Option<u64> {
        let s = &self.csr;
        Some(match number {
            csr::FFLAGS => s.fflags as u64,
            csr::FRM => s.frm as u64,
            csr::FCSR => ((s.frm as u64) << 5) | s.fflags as u64,
            csr::CYCLE | csr::INSTRET => self.stats.instructions,
            csr::TIME => self.time(),
            csr::HPMCOUNTER3..=csr::HPMCOUNTER31 => 0,
            csr::SSTATUS => {
                let dirty = if s.sstatus & status::FS == status::FS_DIRTY {
                    status::SD
                } else {
                    0
                };
                s.sstatus | dirty
            }
            csr::SIE => s.sie,
            csr::STVEC => s.stvec,
            csr::SCOUNTEREN => s.scounteren,
            csr::SENVCFG => s.senvcfg,
            csr::SSCRATCH => s.sscratch,
            csr::SEPC => s.sepc,
            csr::SCAUSE => s.scause,
            csr::STVAL => s.stval,
            csr::SIP => self.pending_interrupts(),
            csr::STIMECMP => s.stimecmp,
            csr::SATP => s.satp,
            _ => return None,
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
                s.sstatus = (old & !status::WRITABLE) | (value & status::WRITABLE);
                if (old ^ s.sstatus) & status::MXR != 0 {
                    self.flush_caches();
                }
                self.update_mmu_index();
            }
            csr::SIE => s.sie = value & irq::S_MASK,
            csr::STVEC => s.stvec = value & !2, // MODE 0 (direct) or 1 (vectored)
            csr::SCOUNTEREN => s.scounteren = value & 0xFFFF_FFFF,
            csr::SENVCFG => s.senvcfg = 0, // FIOM, CBIE, CBCFE, CBZE: none implemented
            csr::SSCRATCH => s.sscratch = value,
            csr::SEPC => s.sepc = value & !1,
            csr::SCAUSE => s.scause = value,
            csr::STVAL => s.stval = value,
            csr::SIP => s.sip = (s.sip & !irq::SSIP) | (value & irq::SSIP),
            csr::STIMECMP => s.stimecmp = value,
            csr::SATP => {
                let mode = value >> satp::MODE_SHIFT;
                let legal = PagingMode::from_satp_mode(mode)
                    .is_some_and(|m| m.levels() <= self.max_paging.levels());
                if legal {
                    // ASIDs are not implemented (ASIDLEN = 0): the field reads zero.
                    s.satp = value & !satp::ASID_MASK;
                    self.tlb.flush_all();
                    self.icache.flush_translations();
                }
            }
            _ => {}
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
        let illegal = Trap::illegal(self.instruction_bits(op));
        if !self.csr_accessible(number, writes) {
            return Err(illegal);
        }
        let old = self.csr_read(number).ok_or(illegal)?;
        if writes {
            let new = match op.kind {
                OpKind::Csrrw | OpKind::Csrrwi => source,
                OpKind::Csrrs | OpKind::Csrrsi => old | source,
                _ => old & !source,
            };
            if matches!(number, csr::FFLAGS | csr::FRM | csr::FCSR) {
                self.csr.sstatus |= status::FS_DIRTY;
            }
            self.csr_write(number, new);
        }
        self.x[(op.rd & 63) as usize] = old;
        Ok(writes)
    }

    /// The raw bits of the instruction at pc, for `stval` on illegal instructions.
    pub(super) fn instruction_bits(&self, op: Op) -> u64 {
        if op.kind == OpKind::Illegal {
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
