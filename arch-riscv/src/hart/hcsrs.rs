//! The hypervisor extension's CSRs (privileged spec 9.2 and 9.3): HS-level H CSRs,
//! the VS CSRs that stand in for S CSRs while V=1, and the interrupt-pending and
//! -enable views they share.

use super::Hart;
use super::mmu::PagingMode;
use super::tlb::GUEST_INDICES;
use crate::csr::{self, henvcfg, hgatp, hstatus, irq, status};

/// hedeleg bits that may be set: exceptions 0-8, 12, 13, 15 (not ECALLs from
/// HS/VS/M, guest-page faults or virtual instructions).
const HEDELEG_WRITABLE: u64 = 0xB1FF;

impl Hart {
    /// Pending interrupts of every level: SSIP (software), STIP (stimecmp), SEIP
    /// (the PLIC line), and with H: hvip's VS bits and VSTIP from vstimecmp.
    pub(super) fn pending_interrupts(&self) -> u64 {
        let time = self.time();
        let mut pending = self.csr.sip & irq::SSIP;
        if time >= self.csr.stimecmp {
            pending |= irq::STIP;
        }
        if self.signals.external_level() {
            pending |= irq::SEIP;
        }
        if self.hypervisor {
            pending |= self.csr.hvip & irq::VS_MASK;
            if self.csr.henvcfg & henvcfg::STCE != 0
                && time.wrapping_add(self.csr.htimedelta) >= self.csr.vstimecmp
            {
                pending |= irq::VSTIP;
            }
        }
        pending
    }

    /// The VS-mode view of VS-level bits: delegated bits shifted to their S
    /// positions (VSSIP -> SSIP, VSTIP -> STIP, VSEIP -> SEIP).
    fn vs_view(&self, bits: u64) -> u64 {
        (bits & self.csr.hideleg & irq::VS_MASK) >> 1
    }

    /// Reads H or VS CSR `number`; `None` if not implemented (or no H extension).
    pub(super) fn read_h_csr(&self, number: u16) -> Option<u64> {
        if !self.hypervisor {
            return None;
        }
        let s = &self.csr;
        Some(match number {
            csr::HSTATUS => s.hstatus,
            csr::HEDELEG => s.hedeleg,
            csr::HIDELEG => s.hideleg,
            csr::HIE => s.ie & (irq::VS_MASK | irq::SGEIP),
            csr::HTIMEDELTA => s.htimedelta,
            csr::HCOUNTEREN => s.hcounteren,
            csr::HGEIE | csr::HGEIP => 0, // GEILEN = 0: no guest external interrupt lines
            csr::HENVCFG => s.henvcfg,
            csr::HTVAL => s.htval,
            csr::HIP => self.pending_interrupts() & (irq::VS_MASK | irq::SGEIP),
            csr::HVIP => s.hvip,
            csr::HTINST => s.htinst,
            csr::HGATP => s.hgatp,
            csr::VSSTATUS => s.vsstatus | status::summary_dirty(s.vsstatus),
            csr::VSIE => self.vs_view(s.ie),
            csr::VSTVEC => s.vstvec,
            csr::VSSCRATCH => s.vsscratch,
            csr::VSEPC => s.vsepc,
            csr::VSCAUSE => s.vscause,
            csr::VSTVAL => s.vstval,
            csr::VSIP => self.vs_view(self.pending_interrupts()),
            csr::VSTIMECMP => s.vstimecmp,
            csr::VSATP => s.vsatp,
            _ => return None,
        })
    }

    /// Writes H or VS CSR `number` with its WARL rules (unimplemented: ignored).
    pub(super) fn write_h_csr(&mut self, number: u16, value: u64) {
        if !self.hypervisor {
            return;
        }
        let max_levels = self.max_paging.levels();
        let s = &mut self.csr;
        match number {
            csr::HSTATUS => s.hstatus = (value & hstatus::WRITABLE) | hstatus::VSXL_64,
            csr::HEDELEG => s.hedeleg = value & HEDELEG_WRITABLE,
            csr::HIDELEG => s.hideleg = value & irq::VS_MASK,
            csr::HIE => {
                s.ie = (s.ie & !(irq::VS_MASK | irq::SGEIP)) | (value & (irq::VS_MASK | irq::SGEIP))
            }
            csr::HTIMEDELTA => s.htimedelta = value,
            csr::HCOUNTEREN => s.hcounteren = value & 0xFFFF_FFFF,
            csr::HENVCFG => {
                s.henvcfg = value & (henvcfg::STCE | henvcfg::PBMTE)
                    | csr::envcfg::cache_block_fields(value)
            }
            csr::HTVAL => s.htval = value,
            csr::HTINST => s.htinst = value,
            csr::HIP => s.hvip = (s.hvip & !irq::VSSIP) | (value & irq::VSSIP),
            csr::HVIP => s.hvip = value & irq::VS_MASK,
            csr::HGATP => {
                let legal = PagingMode::from_satp_mode(value >> hgatp::MODE_SHIFT)
                    .is_some_and(|m| m.levels() <= max_levels);
                let new = value & (0xF << hgatp::MODE_SHIFT | hgatp::VMID_MASK | hgatp::PPN_MASK);
                // Rewriting the same value (NACL syncs do, at every world switch)
                // keeps the combined translations.
                if legal && new != s.hgatp {
                    s.hgatp = new;
                    self.flush_guest_translations();
                }
            }
            csr::VSSTATUS => {
                let old = s.vsstatus;
                let writable = status::WRITABLE | self.vector.as_ref().map_or(0, |_| status::VS);
                s.vsstatus = (old & !writable) | (value & writable);
                if (old ^ s.vsstatus) & status::MXR != 0 {
                    self.flush_guest_translations();
                }
                self.update_mmu_index();
            }
            csr::VSIE => {
                let delegated = s.hideleg & irq::VS_MASK;
                s.ie = (s.ie & !delegated) | ((value << 1) & delegated);
            }
            csr::VSTVEC => s.vstvec = value & !2,
            csr::VSSCRATCH => s.vsscratch = value,
            csr::VSEPC => s.vsepc = value & !1,
            csr::VSCAUSE => s.vscause = value,
            csr::VSTVAL => s.vstval = value,
            csr::VSIP => {
                let writable = s.hideleg & irq::VSSIP;
                s.hvip = (s.hvip & !writable) | ((value << 1) & writable);
            }
            csr::VSTIMECMP => s.vstimecmp = value,
            csr::VSATP => {
                let legal = PagingMode::from_satp_mode(value >> csr::satp::MODE_SHIFT)
                    .is_some_and(|m| m.levels() <= max_levels);
                let new = value & !csr::satp::ASID_MASK;
                if legal && new != s.vsatp {
                    s.vsatp = new;
                    self.flush_guest_translations();
                }
            }
            _ => {}
        }
    }

    /// Drops every combined (V=1) translation.
    pub(super) fn flush_guest_translations(&mut self) {
        self.tlb.flush(GUEST_INDICES);
        self.icache.flush_indices(GUEST_INDICES);
    }
}
