//! Virtual-memory translation: the page-table walk of privileged spec section 10.3.2
//! (Sv39, Sv48, Sv57), with hardware A/D updates and the spec's permission rules.
//!
//! The walk is the software TLB's miss path; it runs rarely and favours clarity.

use std::sync::atomic::{AtomicU64, Ordering};

use super::Privilege;
use super::ram::GuestRam;
use super::trap::{Access, Trap};
use crate::csr::satp;

/// PTE bit: valid.
pub const PTE_V: u64 = 1 << 0;
/// PTE bit: readable.
pub const PTE_R: u64 = 1 << 1;
/// PTE bit: writable.
pub const PTE_W: u64 = 1 << 2;
/// PTE bit: executable.
pub const PTE_X: u64 = 1 << 3;
/// PTE bit: accessible to U-mode.
pub const PTE_U: u64 = 1 << 4;
/// PTE bit: global mapping.
pub const PTE_G: u64 = 1 << 5;
/// PTE bit: accessed.
pub const PTE_A: u64 = 1 << 6;
/// PTE bit: dirty.
pub const PTE_D: u64 = 1 << 7;
/// Bits 63:54: N, PBMT and reserved; must be zero without Svnapot and Svpbmt.
const PTE_RESERVED: u64 = 0xFFC0_0000_0000_0000;
const PTE_PPN_SHIFT: u32 = 10;
const PTE_PPN_MASK: u64 = (1 << 44) - 1;

/// The translation scheme selected by `satp.MODE`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PagingMode {
    /// No translation.
    Bare,
    /// Three-level, 39-bit virtual addresses.
    Sv39,
    /// Four-level, 48-bit virtual addresses.
    Sv48,
    /// Five-level, 57-bit virtual addresses.
    Sv57,
}

impl PagingMode {
    /// The mode named by a `satp.MODE` value, if it is one the hart implements.
    pub fn from_satp_mode(mode: u64) -> Option<PagingMode> {
        match mode {
            satp::MODE_BARE => Some(PagingMode::Bare),
            satp::MODE_SV39 => Some(PagingMode::Sv39),
            satp::MODE_SV48 => Some(PagingMode::Sv48),
            satp::MODE_SV57 => Some(PagingMode::Sv57),
            _ => None,
        }
    }

    /// Number of page-table levels (0 for Bare).
    pub const fn levels(self) -> u32 {
        match self {
            PagingMode::Bare => 0,
            PagingMode::Sv39 => 3,
            PagingMode::Sv48 => 4,
            PagingMode::Sv57 => 5,
        }
    }
}

/// Who translates, and under which `sstatus` modifiers.
#[derive(Clone, Copy, Debug)]
pub struct Context {
    /// The `satp` value in force.
    pub satp: u64,
    /// Effective privilege of the access.
    pub privilege: Privilege,
    /// `sstatus.SUM`: S-mode may load and store U pages.
    pub sum: bool,
    /// `sstatus.MXR`: loads may read execute-only pages.
    pub mxr: bool,
}

/// Translates `vaddr` for `access` under `ctx`, returning the guest-physical address.
///
/// Faults come back as the [`Trap`] trap entry needs (page faults carry the virtual
/// address; PTE reads outside RAM raise the access fault of the original access, as
/// spec 10.3.2 step 2 says). A and D are set by the walk (atomically, as a hart
/// with hardware A/D updating does) instead of faulting.
pub fn translate(ram: &GuestRam, vaddr: u64, access: Access, ctx: &Context) -> Result<u64, Trap> {
    let mode = PagingMode::from_satp_mode(ctx.satp >> satp::MODE_SHIFT).unwrap_or(PagingMode::Bare);
    if mode == PagingMode::Bare {
        return Ok(vaddr);
    }
    let page_fault = Trap::new(access.page_fault(), vaddr);
    let levels = mode.levels();
    let va_bits = 12 + 9 * levels;
    let shift = 64 - va_bits;
    if (((vaddr << shift) as i64) >> shift) as u64 != vaddr {
        return Err(page_fault);
    }

    'walk: loop {
        let mut table = (ctx.satp & satp::PPN_MASK) << 12;
        let mut level = levels - 1;
        loop {
            let vpn = (vaddr >> (12 + 9 * level)) & 0x1FF;
            let pte_addr = table + vpn * 8;
            let pte_ptr = ram
                .host_ptr(pte_addr, 8)
                .ok_or(Trap::new(access.access_fault(), vaddr))?;
            // SAFETY: host_ptr checked that the 8 bytes are inside guest RAM, and PTE
            // addresses are 8-byte aligned because `table` is page aligned.
            let pte_atomic = unsafe { AtomicU64::from_ptr(pte_ptr.cast()) };
            let pte = pte_atomic.load(Ordering::Relaxed);

            if pte & PTE_V == 0 || (pte & PTE_R == 0 && pte & PTE_W != 0) || pte & PTE_RESERVED != 0
            {
                return Err(page_fault);
            }
            let ppn = (pte >> PTE_PPN_SHIFT) & PTE_PPN_MASK;
            if pte & (PTE_R | PTE_X) == 0 {
                if level == 0 {
                    return Err(page_fault);
                }
                table = ppn << 12;
                level -= 1;
                continue;
            }

            if !permitted(pte, access, ctx) {
                return Err(page_fault);
            }
            let superpage_mask = (1u64 << (9 * level)) - 1;
            if ppn & superpage_mask != 0 {
                return Err(page_fault);
            }

            let needed = PTE_A | if access == Access::Store { PTE_D } else { 0 };
            if pte & needed != needed
                && pte_atomic
                    .compare_exchange(pte, pte | needed, Ordering::AcqRel, Ordering::Relaxed)
                    .is_err()
            {
                // Another hart changed the PTE under us: walk again (spec 10.3.2 step 8).
                continue 'walk;
            }

            let page_offset_mask = (1u64 << (12 + 9 * level)) - 1;
            return Ok((ppn << 12) & !page_offset_mask | (vaddr & page_offset_mask));
        }
    }
}

/// The leaf permission rules of spec 10.3.2 step 5 and 4.1.1.2 (SUM, MXR).
fn permitted(pte: u64, access: Access, ctx: &Context) -> bool {
    let user_page = pte & PTE_U != 0;
    let privilege_ok = match ctx.privilege {
        Privilege::User => user_page,
        Privilege::Supervisor => !user_page || (ctx.sum && access != Access::Fetch),
    };
    privilege_ok
        && match access {
            Access::Fetch => pte & PTE_X != 0,
            Access::Load => pte & PTE_R != 0 || (ctx.mxr && pte & PTE_X != 0),
            Access::Store => pte & PTE_W != 0,
        }
}
