//! The hart as a guest hypervisor's machine: NACL served in place (the hart keeps
//! its NACL state so a trap out of the nested guest updates the shared memory
//! without an exit), HFENCE, and the hypervisor loads and stores (HLV, HLVX, HSV).

use nacl::{Hfence, NaclState, NestedHart, Outcome};

use super::memory::Stop;
use super::mmu::{Context, translate};
use super::ram;
use super::tlb::GUEST_INDICES;
use super::trap::{Access, Cause, Trap};
use super::{Exit, Hart, Privilege};
use crate::csr::{self, henvcfg, hstatus, status};

/// Above this many pages a ranged VVMA fence flushes everything instead.
const MAX_PAGES_PER_FENCE: u64 = 64;

impl Hart {
    /// The NACL features offered to this guest hypervisor, if any.
    pub fn nacl_features(&self) -> Option<nacl::Features> {
        self.nacl.as_ref().map(NaclState::features)
    }

    /// Serves a NACL call the hart made; `None` if NACL is not offered.
    pub fn nacl_call(&mut self, function: u64, args: [u64; 6]) -> Option<Outcome> {
        let mut state = self.nacl.take()?;
        let outcome = state.handle(self, function, args);
        self.nacl = Some(state);
        Some(outcome)
    }

    /// After a trap from V=1 into HS: NACL's autoswap and CSR-space refresh.
    pub(super) fn nacl_guest_exit(&mut self) {
        if let Some(mut state) = self.nacl.take() {
            state.on_guest_exit(self);
            self.nacl = Some(state);
        }
    }

    /// Before a plain SRET from HS into V=1: apply what the guest hypervisor queued.
    pub(super) fn nacl_before_guest_entry(&mut self) {
        if let Some(mut state) = self.nacl.take() {
            state.before_guest_entry(self);
            self.nacl = Some(state);
        }
    }

    /// After a CSR instruction wrote H/VS CSR `csr`: bring the CSR space up to date.
    pub(super) fn nacl_csr_written(&mut self, csr: u16) {
        if let Some(mut state) = self.nacl.take() {
            state.csr_written(self, csr);
            self.nacl = Some(state);
        }
    }

    /// Applies an HFENCE. Combined translations are not tagged by VMID or ASID, so
    /// a fence drops all of them, or only the pages of a small guest-virtual range.
    pub(super) fn apply_hfence(&mut self, fence: Hfence) {
        match fence {
            Hfence::Vvma {
                range: Some((start, size)),
                ..
            } if size <= MAX_PAGES_PER_FENCE << 12 => {
                for page in (start & !0xFFF..start.saturating_add(size)).step_by(0x1000) {
                    self.tlb.flush_page(GUEST_INDICES, page);
                    self.icache.flush_page(GUEST_INDICES, page);
                }
            }
            _ => self.flush_guest_translations(),
        }
    }

    /// The translation context of HLV/HLVX/HSV: V=1 rules at privilege hstatus.SPVP.
    fn hypervisor_access_context(&self, execute_as_read: bool) -> Context {
        let s = &self.csr;
        Context {
            satp: s.vsatp,
            privilege: if s.hstatus & hstatus::SPVP != 0 {
                Privilege::Supervisor
            } else {
                Privilege::User
            },
            sum: s.vsstatus & status::SUM != 0,
            mxr: (s.vsstatus | s.sstatus) & status::MXR != 0,
            hgatp: Some(s.hgatp),
            g_mxr: s.sstatus & status::MXR != 0,
            execute_as_read,
            pbmte: s.henvcfg & henvcfg::PBMTE != 0,
        }
    }

    /// The physical address of a hypervisor access, byte by byte for accesses that
    /// cross a page.
    fn hypervisor_translate(&self, vaddr: u64, access: Access, execute: bool) -> Result<u64, Trap> {
        translate(
            &self.ram,
            vaddr,
            access,
            &self.hypervisor_access_context(execute),
        )
    }

    /// HLV/HLVX: loads `size` bytes at guest virtual `vaddr` as the guest would.
    pub(super) fn hypervisor_load(
        &mut self,
        vaddr: u64,
        size: u64,
        execute: bool,
    ) -> Result<u64, Stop> {
        self.stats.hypervisor_loads_stores += 1;
        if vaddr & 0xFFF > 0x1000 - size {
            let mut value = 0;
            for i in 0..size {
                let paddr =
                    self.hypervisor_translate(vaddr.wrapping_add(i), Access::Load, execute)?;
                let byte = self.ram.read(paddr, 1).ok_or(Trap {
                    gva: true,
                    ..Trap::new(Cause::LoadAccess, vaddr)
                })?;
                value |= byte << (8 * i);
            }
            return Ok(value);
        }
        let paddr = self.hypervisor_translate(vaddr, Access::Load, execute)?;
        if let Some(host) = self.ram.host_ptr(paddr, size) {
            // SAFETY: host_ptr checked that the range lies in RAM.
            return Ok(unsafe { ram::load(host, size) });
        }
        if self.is_mmio(paddr, size) && paddr & (size - 1) == 0 {
            return Err(Stop::Exit(Exit::MmioRead {
                addr: paddr,
                len: size as u8,
            }));
        }
        Err(Trap {
            gva: true,
            ..Trap::new(Cause::LoadAccess, vaddr)
        }
        .into())
    }

    /// HSV: stores the low `size` bytes of `value` at guest virtual `vaddr`.
    pub(super) fn hypervisor_store(
        &mut self,
        vaddr: u64,
        size: u64,
        value: u64,
    ) -> Result<(), Stop> {
        self.stats.hypervisor_loads_stores += 1;
        let fault = Trap {
            gva: true,
            ..Trap::new(Cause::StoreAccess, vaddr)
        };
        if vaddr & 0xFFF > 0x1000 - size {
            let first = self.hypervisor_translate(vaddr, Access::Store, false)?;
            let last =
                self.hypervisor_translate(vaddr.wrapping_add(size - 1), Access::Store, false)?;
            if !self.ram.contains(first, 1) || !self.ram.contains(last, 1) {
                return Err(fault.into());
            }
            for i in 0..size {
                let paddr =
                    self.hypervisor_translate(vaddr.wrapping_add(i), Access::Store, false)?;
                self.ram.write(paddr, 1, value >> (8 * i));
            }
            return Ok(());
        }
        let paddr = self.hypervisor_translate(vaddr, Access::Store, false)?;
        if self.ram.write(paddr, size, value) {
            return Ok(());
        }
        if self.is_mmio(paddr, size) && paddr & (size - 1) == 0 {
            return Err(Stop::Exit(Exit::MmioWrite {
                addr: paddr,
                len: size as u8,
                data: value,
            }));
        }
        Err(fault.into())
    }
}

impl NestedHart for Hart {
    fn h_csrs(&self) -> &'static [u16] {
        &csr::H_CSRS
    }

    fn read_h_csr(&self, csr: u16) -> Option<u64> {
        Hart::read_h_csr(self, csr)
    }

    fn write_h_csr(&mut self, csr: u16, value: u64) {
        Hart::write_h_csr(self, csr, value);
    }

    fn set_gpr(&mut self, index: usize, value: u64) {
        self.set_reg(index, value);
    }

    fn hfence(&mut self, fence: Hfence) {
        self.apply_hfence(fence);
    }

    fn sret(&mut self) {
        Hart::sret(self);
    }

    fn read_phys(&self, gpa: u64) -> Option<u64> {
        (gpa & 7 == 0).then(|| self.ram.read(gpa, 8)).flatten()
    }

    fn write_phys(&mut self, gpa: u64, value: u64) -> bool {
        gpa & 7 == 0 && self.ram.write(gpa, 8, value)
    }

    fn is_ram(&self, gpa: u64, len: u64) -> bool {
        self.ram.contains(gpa, len)
    }
}
