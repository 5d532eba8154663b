//! The cache-block operations of Zicbom and Zicboz (CMO specification 1.0).
//!
//! Guest memory is host memory, coherent for every agent the VMM emulates, so
//! cbo.clean, cbo.flush and cbo.inval only check that the block may be accessed;
//! cbo.zero stores a block of zeros. The machine-level enables (menvcfg, the SBI
//! firmware's) are all on: cbo.inval runs as cbo.flush unless the supervisor sets
//! CBIE to 11, which is the same here.

use super::mmu::translate;
use super::ram;
use super::trap::{Access, Cause, Trap};
use super::{Hart, Privilege};
use crate::csr::envcfg;

/// Cache-block size in bytes, as the device tree's `riscv,cbo*-block-size` say.
pub const CACHE_BLOCK: u64 = 64;

/// Why an operation may not run at the current privilege.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Refused {
    /// An illegal-instruction exception.
    Illegal,
    /// A virtual-instruction exception.
    Virtual,
}

impl Hart {
    /// Whether the envcfg field `field` (CBIE, CBCFE or CBZE) lets the current mode
    /// run the operation: S always; U when senvcfg has it; VS when henvcfg has it;
    /// VU when both have it (section 2.5 of the CMO specification).
    pub(super) fn cache_block_allowed(&self, field: u64) -> Result<(), Refused> {
        let senvcfg = self.csr.senvcfg & field != 0;
        let henvcfg = self.csr.henvcfg & field != 0;
        match (self.virt, self.privilege) {
            (false, Privilege::Supervisor) => Ok(()),
            (false, Privilege::User) if senvcfg => Ok(()),
            (false, Privilege::User) => Err(Refused::Illegal),
            (true, Privilege::Supervisor) if henvcfg => Ok(()),
            (true, Privilege::User) if henvcfg && senvcfg => Ok(()),
            (true, _) => Err(Refused::Virtual),
        }
    }

    /// cbo.zero: writes zeros to the cache block holding `vaddr`. Faults as a store
    /// to the block's first byte; blocks outside RAM (device windows) give a store
    /// access fault. Goes through the store TLB like any store (Linux clears pages
    /// with it), translating only on a miss or to break an LR reservation.
    pub(super) fn zero_cache_block(&mut self, vaddr: u64) -> Result<(), Trap> {
        let block = vaddr & !(CACHE_BLOCK - 1);
        let host = match self.tlb.store(self.mmu_index, block, 8) {
            Some(host) if self.reservation.is_none() => host as *mut u8,
            _ => {
                let paddr = translate(&self.ram, block, Access::Store, &self.context())?;
                let host = self.ram.host_ptr(paddr, CACHE_BLOCK).ok_or(Trap {
                    gva: self.virt,
                    ..Trap::new(Cause::StoreAccess, block)
                })?;
                if let Some((reserved, _)) = self.reservation
                    && reserved & !(CACHE_BLOCK - 1) == paddr
                {
                    self.reservation = None;
                }
                let page = host as usize - (paddr & 0xFFF) as usize;
                self.tlb.fill_store(self.mmu_index, block, page);
                host
            }
        };
        for offset in (0..CACHE_BLOCK as usize).step_by(8) {
            // SAFETY: the block is 64-byte aligned, so it lies in the page the TLB
            // entry or host_ptr vouched for, which is RAM.
            unsafe { ram::store(host.add(offset), 8, 0) };
        }
        Ok(())
    }

    /// cbo.clean, cbo.flush, cbo.inval: the block must be readable or writable;
    /// if it is neither, the fault is that of a store (the specification's choice).
    pub(super) fn check_cache_block(&mut self, vaddr: u64) -> Result<(), Trap> {
        let block = vaddr & !(CACHE_BLOCK - 1);
        let ctx = self.context();
        if translate(&self.ram, block, Access::Load, &ctx).is_ok() {
            return Ok(());
        }
        translate(&self.ram, block, Access::Store, &ctx).map(|_| ())
    }
}

/// The envcfg field that enables `kind`'s cache-block operation.
pub(super) fn enable_field(kind: crate::isa::OpKind) -> u64 {
    use crate::isa::OpKind::*;
    match kind {
        CboZero => envcfg::CBZE,
        CboInval => envcfg::CBIE,
        _ => envcfg::CBCFE,
    }
}
