//! Data accesses: the TLB hit path inline, the miss path (walk, fill, MMIO,
//! misaligned and page-crossing accesses) out of line, and the A extension's atomics
//! as host atomics on guest RAM.

use std::sync::atomic::{AtomicI32, AtomicI64, AtomicU32, AtomicU64, Ordering};

use super::mmu::{Context, translate};
use super::ram;
use super::trap::{Access, Cause, Trap};
use super::{Exit, Hart};
use crate::csr::{henvcfg, status};
use crate::isa::OpKind;

/// Why an access did not complete: a guest trap, or an exit for the VMM.
#[derive(Clone, Copy, Debug)]
pub enum Stop {
    /// Deliver this exception.
    Trap(Trap),
    /// Return this to the VMM (MMIO).
    Exit(Exit),
}

impl From<Trap> for Stop {
    fn from(trap: Trap) -> Stop {
        Stop::Trap(trap)
    }
}

impl Hart {
    /// The translation context of a data or fetch access at the current privilege.
    pub(super) fn context(&self) -> Context {
        let s = &self.csr;
        if self.virt {
            Context {
                satp: s.vsatp,
                privilege: self.privilege,
                sum: s.vsstatus & status::SUM != 0,
                mxr: (s.vsstatus | s.sstatus) & status::MXR != 0,
                hgatp: Some(s.hgatp),
                g_mxr: s.sstatus & status::MXR != 0,
                execute_as_read: false,
                pbmte: s.henvcfg & henvcfg::PBMTE != 0,
            }
        } else {
            Context {
                satp: s.satp,
                privilege: self.privilege,
                sum: s.sstatus & status::SUM != 0,
                mxr: s.sstatus & status::MXR != 0,
                hgatp: None,
                g_mxr: false,
                execute_as_read: false,
                pbmte: true,
            }
        }
    }

    /// Whether guest-physical `paddr` belongs to a VMM device window.
    pub(super) fn is_mmio(&self, paddr: u64, len: u64) -> bool {
        self.mmio
            .iter()
            .any(|&(base, size)| paddr >= base && paddr + len <= base + size)
    }

    /// Loads `size` bytes at virtual `vaddr`, zero-extended.
    #[inline(always)]
    pub(super) fn load(&mut self, vaddr: u64, size: u64) -> Result<u64, Stop> {
        match self.tlb.load(self.mmu_index, vaddr, size) {
            // SAFETY: the TLB holds only RAM pages, and the hit implies the access is
            // aligned and inside the page.
            Some(host) => Ok(unsafe { ram::load(host as *mut u8, size) }),
            None => self.load_slow(vaddr, size),
        }
    }

    /// Stores the low `size` bytes of `value` at virtual `vaddr`.
    #[inline(always)]
    pub(super) fn store(&mut self, vaddr: u64, size: u64, value: u64) -> Result<(), Stop> {
        match self.tlb.store(self.mmu_index, vaddr, size) {
            Some(host) => {
                // SAFETY: as for loads; store entries exist only for writable, dirty pages.
                unsafe { ram::store(host as *mut u8, size, value) };
                Ok(())
            }
            None => self.store_slow(vaddr, size, value),
        }
    }

    #[cold]
    #[inline(never)]
    pub(super) fn load_slow(&mut self, vaddr: u64, size: u64) -> Result<u64, Stop> {
        self.stats.tlb_misses += 1;
        if vaddr & 0xFFF > 0x1000 - size {
            return self.split_load(vaddr, size);
        }
        let paddr = translate(&self.ram, vaddr, Access::Load, &self.context())?;
        if let Some(host) = self.ram.host_ptr(paddr, size) {
            let page = host as usize - (paddr & 0xFFF) as usize;
            self.tlb.fill_load(self.mmu_index, vaddr, page);
            // SAFETY: host_ptr checked the range lies in RAM.
            return Ok(unsafe { ram::load(host, size) });
        }
        if self.is_mmio(paddr, size) && paddr & (size - 1) == 0 {
            return Err(Stop::Exit(Exit::MmioRead {
                addr: paddr,
                len: size as u8,
            }));
        }
        Err(Trap {
            gva: self.virt,
            ..Trap::new(Cause::LoadAccess, vaddr)
        }
        .into())
    }

    #[cold]
    #[inline(never)]
    pub(super) fn store_slow(&mut self, vaddr: u64, size: u64, value: u64) -> Result<(), Stop> {
        self.stats.tlb_misses += 1;
        if vaddr & 0xFFF > 0x1000 - size {
            return self.split_store(vaddr, size, value);
        }
        let paddr = translate(&self.ram, vaddr, Access::Store, &self.context())?;
        if let Some(host) = self.ram.host_ptr(paddr, size) {
            let page = host as usize - (paddr & 0xFFF) as usize;
            self.tlb.fill_store(self.mmu_index, vaddr, page);
            // SAFETY: host_ptr checked the range lies in RAM.
            unsafe { ram::store(host, size, value) };
            self.note_store(paddr);
            return Ok(());
        }
        if self.is_mmio(paddr, size) && paddr & (size - 1) == 0 {
            return Err(Stop::Exit(Exit::MmioWrite {
                addr: paddr,
                len: size as u8,
                data: value,
            }));
        }
        Err(Trap {
            gva: self.virt,
            ..Trap::new(Cause::StoreAccess, vaddr)
        }
        .into())
    }

    /// A misaligned load that crosses a page: byte by byte, each translated.
    fn split_load(&mut self, vaddr: u64, size: u64) -> Result<u64, Stop> {
        let mut value = 0;
        for i in 0..size {
            let byte = self.load(vaddr.wrapping_add(i), 1)?;
            value |= byte << (8 * i);
        }
        Ok(value)
    }

    /// A misaligned store that crosses a page. Both pages are translated before any
    /// byte is written, so a fault leaves memory unchanged.
    fn split_store(&mut self, vaddr: u64, size: u64, value: u64) -> Result<(), Stop> {
        let ctx = self.context();
        let last = vaddr.wrapping_add(size - 1);
        for probe in [vaddr, last] {
            let paddr = translate(&self.ram, probe, Access::Store, &ctx)?;
            if !self.ram.contains(paddr, 1) {
                return Err(Trap::new(Cause::StoreAccess, probe).into());
            }
        }
        for i in 0..size {
            self.store(vaddr.wrapping_add(i), 1, value >> (8 * i))?;
        }
        Ok(())
    }

    /// Breaks an LR reservation another store of this hart hits.
    #[inline]
    fn note_store(&mut self, paddr: u64) {
        if let Some((reserved, _)) = self.reservation
            && reserved & !7 == paddr & !7
        {
            self.reservation = None;
        }
    }

    /// Translates an atomic access (AMO, LR, SC): it must be naturally aligned and
    /// in RAM. Returns the host address.
    fn atomic_address(
        &mut self,
        vaddr: u64,
        size: u64,
        access: Access,
    ) -> Result<(u64, usize), Trap> {
        if vaddr & (size - 1) != 0 {
            let cause = if access == Access::Load {
                Cause::LoadMisaligned
            } else {
                Cause::StoreMisaligned
            };
            return Err(Trap::new(cause, vaddr));
        }
        let paddr = translate(&self.ram, vaddr, access, &self.context())?;
        let host = self
            .ram
            .host_ptr(paddr, size)
            .ok_or(Trap::new(access.access_fault(), vaddr))?;
        Ok((paddr, host as usize))
    }

    /// Executes LR, SC or an AMO; returns the value for rd.
    pub(super) fn atomic(&mut self, kind: OpKind, vaddr: u64, src: u64) -> Result<u64, Trap> {
        use OpKind::*;
        let wide = matches!(
            kind,
            LrD | ScD
                | AmoswapD
                | AmoaddD
                | AmoxorD
                | AmoandD
                | AmoorD
                | AmominD
                | AmomaxD
                | AmominuD
                | AmomaxuD
        );
        let size = if wide { 8 } else { 4 };
        let access = if matches!(kind, LrW | LrD) {
            Access::Load
        } else {
            Access::Store
        };
        let (paddr, host) = self.atomic_address(vaddr, size, access)?;
        let sext = |v: u32| v as i32 as i64 as u64;
        const ORD: Ordering = Ordering::SeqCst;
        // SAFETY: `host` is a naturally aligned address inside guest RAM, checked by
        // atomic_address, and guest RAM is only ever accessed atomically.
        let (a64, a32) = unsafe {
            (
                AtomicU64::from_ptr(host as *mut u64),
                AtomicU32::from_ptr(host as *mut u32),
            )
        };
        // SAFETY: as above; the signed views alias the same aligned cell.
        let (i64s, i32s) = unsafe {
            (
                AtomicI64::from_ptr(host as *mut i64),
                AtomicI32::from_ptr(host as *mut i32),
            )
        };
        let value = match kind {
            LrW => {
                let v = sext(a32.load(ORD));
                self.reservation = Some((paddr, v));
                v
            }
            LrD => {
                let v = a64.load(ORD);
                self.reservation = Some((paddr, v));
                v
            }
            ScW | ScD => {
                let ok = match self.reservation.take() {
                    Some((reserved, expected)) if reserved == paddr => {
                        if wide {
                            a64.compare_exchange(expected, src, ORD, ORD).is_ok()
                        } else {
                            a32.compare_exchange(expected as u32, src as u32, ORD, ORD)
                                .is_ok()
                        }
                    }
                    _ => false,
                };
                u64::from(!ok)
            }
            AmoswapW => sext(a32.swap(src as u32, ORD)),
            AmoaddW => sext(a32.fetch_add(src as u32, ORD)),
            AmoxorW => sext(a32.fetch_xor(src as u32, ORD)),
            AmoandW => sext(a32.fetch_and(src as u32, ORD)),
            AmoorW => sext(a32.fetch_or(src as u32, ORD)),
            AmominW => i32s.fetch_min(src as i32, ORD) as i64 as u64,
            AmomaxW => i32s.fetch_max(src as i32, ORD) as i64 as u64,
            AmominuW => sext(a32.fetch_min(src as u32, ORD)),
            AmomaxuW => sext(a32.fetch_max(src as u32, ORD)),
            AmoswapD => a64.swap(src, ORD),
            AmoaddD => a64.fetch_add(src, ORD),
            AmoxorD => a64.fetch_xor(src, ORD),
            AmoandD => a64.fetch_and(src, ORD),
            AmoorD => a64.fetch_or(src, ORD),
            AmominD => i64s.fetch_min(src as i64, ORD) as u64,
            AmomaxD => i64s.fetch_max(src as i64, ORD) as u64,
            AmominuD => a64.fetch_min(src, ORD),
            AmomaxuD => a64.fetch_max(src, ORD),
            _ => return Err(Trap::illegal(0)),
        };
        if !matches!(kind, LrW | LrD) {
            self.note_store(paddr);
        }
        Ok(value)
    }
}
