//! Virtual-memory translation: the page-table walks of privileged spec 10.3.2 (Sv39,
//! Sv48, Sv57) and, for V=1, the two-stage translation of section 9.5 (VS-stage
//! through vsatp, G-stage Sv39x4/Sv48x4/Sv57x4 through hgatp, with the G-stage also
//! translating every VS-stage page-table access). A and D are set by the walk
//! (atomically, as a hart with hardware A/D updating does) instead of faulting.
//!
//! Svnapot's 64 KiB pages and Svpbmt's memory types are understood. The types
//! change nothing here: guest RAM is host memory, coherent with every agent the
//! VMM emulates, and device windows are always strongly ordered exits, so NC and
//! IO mappings of either behave as the specification asks. PBMT = 3 (reserved),
//! PBMT in a first stage whose PBMTE is clear, and N or PBMT in a non-leaf PTE
//! are page faults.
//!
//! The walk is the software TLB's miss path; it runs rarely and favours clarity. A
//! lazy shadow cache of combined translations for nested guests plugs in above it:
//! its misses call [`translate`], its invalidations follow the guest's HFENCEs.

use std::sync::atomic::{AtomicU64, Ordering};

use super::Privilege;
use super::ram::GuestRam;
use super::trap::{Access, Cause, Trap};
use crate::csr::{hgatp, satp};

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
/// PTE bit: a naturally aligned power-of-two (NAPOT) range, 64 KiB (Svnapot).
pub const PTE_N: u64 = 1 << 63;
/// PTE bits 62:61: page-based memory type (Svpbmt): 0 PMA, 1 NC, 2 IO, 3 reserved.
pub const PTE_PBMT: u64 = 3 << 61;
/// PTE bits 60:54: reserved, must be zero.
const PTE_RESERVED: u64 = 0x1FC0_0000_0000_0000;
/// The low PPN bits of a 64 KiB NAPOT leaf.
const NAPOT_64K: u64 = 0b1000;
const PTE_PPN_SHIFT: u32 = 10;
const PTE_PPN_MASK: u64 = (1 << 44) - 1;

/// htinst pseudoinstruction for a faulting implicit 64-bit read of a VS-stage PTE.
const PSEUDO_PTE_READ: u64 = 0x3000;
/// htinst pseudoinstruction for a faulting implicit 64-bit write (A/D update).
const PSEUDO_PTE_WRITE: u64 = 0x3020;

/// The translation scheme selected by `satp.MODE` (or `vsatp.MODE`).
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
    /// The mode named by a `satp.MODE` or `hgatp.MODE` value, if implemented
    /// (hgatp's Sv39x4/Sv48x4/Sv57x4 use the same numbers as Sv39/Sv48/Sv57).
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

/// Who translates, and under which modifiers.
#[derive(Clone, Copy, Debug)]
pub struct Context {
    /// The first-stage root: `satp` when V=0, `vsatp` when V=1.
    pub satp: u64,
    /// Effective privilege of the access (U/S, or VU/VS when `hgatp` is set).
    pub privilege: Privilege,
    /// First-stage SUM: S (or VS) may load and store U pages.
    pub sum: bool,
    /// First-stage MXR: loads may read execute-only pages (for V=1: vsstatus.MXR
    /// or sstatus.MXR).
    pub mxr: bool,
    /// `Some(hgatp)` for two-stage translation (V=1, or HLV/HSV).
    pub hgatp: Option<u64>,
    /// G-stage MXR (sstatus.MXR of HS).
    pub g_mxr: bool,
    /// HLVX: loads need execute permission instead of read permission.
    pub execute_as_read: bool,
    /// Svpbmt in the first stage: menvcfg.PBMTE (set) for V=0, henvcfg.PBMTE for
    /// V=1. The G-stage always has it.
    pub pbmte: bool,
}

/// What a leaf PTE must allow.
#[derive(Clone, Copy)]
struct Need {
    access: Access,
    privilege: Privilege,
    sum: bool,
    mxr: bool,
    execute_as_read: bool,
    /// G-stage leaves must have U set: every guest access counts as a user access.
    g_stage: bool,
    /// PBMT values other than 0 are allowed.
    pbmte: bool,
}

/// A fault while walking, before it is dressed as a trap.
enum WalkFault {
    /// The page is not mapped or the PTE forbids the access.
    Page,
    /// A page-table entry lies outside RAM.
    Access,
    /// A nested (G-stage) fault while reading a VS-stage PTE.
    Nested(Trap),
}

/// Translates `vaddr` for `access` under `ctx`, returning the physical address in
/// the machine's RAM (for V=1, the result of both stages).
///
/// Faults come back as the [`Trap`] trap entry needs: VS-stage or single-stage page
/// faults carry the virtual address; G-stage faults are guest-page faults with
/// htval = guest physical address >> 2; PTE reads outside RAM raise the access
/// fault of the original access.
pub fn translate(ram: &GuestRam, vaddr: u64, access: Access, ctx: &Context) -> Result<u64, Trap> {
    let virt = ctx.hgatp.is_some();
    let fault = |cause: Cause| Trap {
        gva: virt,
        ..Trap::new(cause, vaddr)
    };
    let need = Need {
        access,
        privilege: ctx.privilege,
        sum: ctx.sum,
        mxr: ctx.mxr,
        execute_as_read: ctx.execute_as_read,
        g_stage: false,
        pbmte: ctx.pbmte,
    };
    let mode = PagingMode::from_satp_mode(ctx.satp >> satp::MODE_SHIFT).unwrap_or(PagingMode::Bare);
    let first = match ctx.hgatp {
        None => walk(
            ram,
            vaddr,
            mode,
            (ctx.satp & satp::PPN_MASK) << 12,
            0,
            need,
            |pte_addr, _| Ok(pte_addr),
        ),
        Some(hgatp) => walk(
            ram,
            vaddr,
            mode,
            (ctx.satp & satp::PPN_MASK) << 12,
            0,
            need,
            |pte_gpa, write| {
                let tinst = if write {
                    PSEUDO_PTE_WRITE
                } else {
                    PSEUDO_PTE_READ
                };
                g_stage(
                    ram,
                    pte_gpa,
                    if write { Access::Store } else { Access::Load },
                    hgatp,
                    ctx,
                    vaddr,
                    tinst,
                )
                .map_err(|mut trap| {
                    // The fault is reported with the original access's type.
                    trap.cause = access.guest_page_fault();
                    WalkFault::Nested(trap)
                })
            },
        ),
    };
    let gpa = match first {
        Ok(gpa) => gpa,
        Err(WalkFault::Page) => return Err(fault(access.page_fault())),
        Err(WalkFault::Access) => return Err(fault(access.access_fault())),
        Err(WalkFault::Nested(trap)) => return Err(trap),
    };
    match ctx.hgatp {
        None => Ok(gpa),
        Some(hgatp) => g_stage(ram, gpa, access, hgatp, ctx, vaddr, 0),
    }
}

/// The G-stage translation of guest physical address `gpa` (spec 9.5.1).
fn g_stage(
    ram: &GuestRam,
    gpa: u64,
    access: Access,
    hgatp: u64,
    ctx: &Context,
    gva: u64,
    tinst: u64,
) -> Result<u64, Trap> {
    let mode = PagingMode::from_satp_mode(hgatp >> hgatp::MODE_SHIFT).unwrap_or(PagingMode::Bare);
    let need = Need {
        access,
        privilege: Privilege::User,
        sum: false,
        mxr: ctx.g_mxr,
        execute_as_read: ctx.execute_as_read,
        g_stage: true,
        pbmte: true,
    };
    let guest_fault = Trap {
        cause: access.guest_page_fault(),
        tval: gva,
        tval2: gpa >> 2,
        tinst,
        gva: true,
    };
    match walk(
        ram,
        gpa,
        mode,
        (hgatp & hgatp::PPN_MASK) << 12,
        2,
        need,
        |pte_addr, _| Ok(pte_addr),
    ) {
        Ok(pa) => Ok(pa),
        Err(WalkFault::Page) | Err(WalkFault::Nested(_)) => Err(guest_fault),
        Err(WalkFault::Access) => Err(Trap {
            cause: access.access_fault(),
            tinst,
            ..guest_fault
        }),
    }
}

/// One page-table walk of `mode` from `root`. `extra_root_bits` widens the root
/// index (2 for the G-stage's x4 modes). `pte_address` maps a PTE's address to the
/// address in RAM (the G-stage for VS-stage tables); its flag says whether the
/// access writes (A/D update).
fn walk(
    ram: &GuestRam,
    addr: u64,
    mode: PagingMode,
    root: u64,
    extra_root_bits: u32,
    need: Need,
    pte_address: impl Fn(u64, bool) -> Result<u64, WalkFault>,
) -> Result<u64, WalkFault> {
    if mode == PagingMode::Bare {
        return Ok(addr);
    }
    let levels = mode.levels();
    let addr_bits = 12 + 9 * levels + extra_root_bits;
    if extra_root_bits == 0 {
        // Virtual addresses must be sign-extended from their top bit.
        let shift = 64 - addr_bits;
        if (((addr << shift) as i64) >> shift) as u64 != addr {
            return Err(WalkFault::Page);
        }
    } else if addr >> addr_bits != 0 {
        // Guest physical addresses must be zero-extended.
        return Err(WalkFault::Page);
    }

    'walk: loop {
        let mut table = root;
        let mut level = levels - 1;
        loop {
            let index_bits = if level == levels - 1 {
                9 + extra_root_bits
            } else {
                9
            };
            let vpn = (addr >> (12 + 9 * level)) & ((1 << index_bits) - 1);
            let pte_addr = pte_address(table + vpn * 8, false)?;
            let pte_ptr = ram.host_ptr(pte_addr, 8).ok_or(WalkFault::Access)?;
            // SAFETY: host_ptr checked that the 8 bytes are inside guest RAM, and PTE
            // addresses are 8-byte aligned because `table` is page aligned.
            let pte_atomic = unsafe { AtomicU64::from_ptr(pte_ptr.cast()) };
            let pte = pte_atomic.load(Ordering::Relaxed);

            let pbmt = pte & PTE_PBMT;
            if pte & PTE_V == 0
                || (pte & PTE_R == 0 && pte & PTE_W != 0)
                || pte & PTE_RESERVED != 0
                || pbmt == PTE_PBMT
                || (pbmt != 0 && !need.pbmte)
            {
                return Err(WalkFault::Page);
            }
            let ppn = (pte >> PTE_PPN_SHIFT) & PTE_PPN_MASK;
            if pte & (PTE_R | PTE_X) == 0 {
                if level == 0 || pte & (PTE_N | PTE_PBMT) != 0 {
                    return Err(WalkFault::Page);
                }
                table = ppn << 12;
                level -= 1;
                continue;
            }

            if !permitted(pte, need) {
                return Err(WalkFault::Page);
            }
            let superpage_mask = (1u64 << (9 * level)) - 1;
            if ppn & superpage_mask != 0 {
                return Err(WalkFault::Page);
            }
            // Svnapot defines only 64 KiB ranges of 4 KiB leaves.
            let napot = pte & PTE_N != 0;
            if napot && (level != 0 || ppn & 0xF != NAPOT_64K) {
                return Err(WalkFault::Page);
            }

            let needed = PTE_A
                | if need.access == Access::Store {
                    PTE_D
                } else {
                    0
                };
            if pte & needed != needed {
                // The update is a write to the PTE: for VS-stage tables it needs
                // G-stage write permission too.
                pte_address(table + vpn * 8, true)?;
                if pte_atomic
                    .compare_exchange(pte, pte | needed, Ordering::AcqRel, Ordering::Relaxed)
                    .is_err()
                {
                    // Another hart changed the PTE under us: walk again (step 8).
                    continue 'walk;
                }
            }

            let page_offset_mask = if napot {
                0xFFFF
            } else {
                (1u64 << (12 + 9 * level)) - 1
            };
            return Ok((ppn << 12) & !page_offset_mask | (addr & page_offset_mask));
        }
    }
}

/// The leaf permission rules of spec 10.3.2 step 5, 4.1.1.2 (SUM, MXR) and 9.5.1
/// (G-stage leaves must be user pages).
fn permitted(pte: u64, need: Need) -> bool {
    let user_page = pte & PTE_U != 0;
    let privilege_ok = if need.g_stage {
        user_page
    } else {
        match need.privilege {
            Privilege::User => user_page,
            Privilege::Supervisor => !user_page || (need.sum && need.access != Access::Fetch),
        }
    };
    privilege_ok
        && match need.access {
            Access::Fetch => pte & PTE_X != 0,
            Access::Load if need.execute_as_read => pte & PTE_X != 0,
            Access::Load => pte & PTE_R != 0 || (need.mxr && pte & PTE_X != 0),
            Access::Store => pte & PTE_W != 0,
        }
}
