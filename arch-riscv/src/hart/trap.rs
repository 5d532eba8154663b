//! Guest traps as values: exactly what trap entry writes (privileged spec 3.1.15, 4.1.8).

/// Synchronous exception causes (the `scause` codes with the interrupt bit clear).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum Cause {
    /// Instruction address misaligned.
    FetchMisaligned = 0,
    /// Instruction access fault.
    FetchAccess = 1,
    /// Illegal instruction.
    IllegalInstruction = 2,
    /// Breakpoint.
    Breakpoint = 3,
    /// Load address misaligned.
    LoadMisaligned = 4,
    /// Load access fault.
    LoadAccess = 5,
    /// Store/AMO address misaligned.
    StoreMisaligned = 6,
    /// Store/AMO access fault.
    StoreAccess = 7,
    /// Environment call from U-mode.
    EcallFromU = 8,
    /// Environment call from HS-mode (S-mode without virtualization).
    EcallFromS = 9,
    /// Environment call from VS-mode.
    EcallFromVS = 10,
    /// Instruction page fault.
    FetchPageFault = 12,
    /// Load page fault.
    LoadPageFault = 13,
    /// Store/AMO page fault.
    StorePageFault = 15,
    /// Instruction guest-page fault (G-stage).
    FetchGuestPageFault = 20,
    /// Load guest-page fault (G-stage).
    LoadGuestPageFault = 21,
    /// Virtual instruction (V=1 attempted something only HS may do).
    VirtualInstruction = 22,
    /// Store/AMO guest-page fault (G-stage).
    StoreGuestPageFault = 23,
}

/// A synchronous exception about to be taken: exactly what trap entry writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trap {
    /// Why.
    pub cause: Cause,
    /// Faulting address, instruction bits, or 0, as the cause defines (stval).
    pub tval: u64,
    /// Guest physical address >> 2 for guest-page faults, else 0 (htval).
    pub tval2: u64,
    /// Transformed instruction or pseudoinstruction, or 0 (htinst).
    pub tinst: u64,
    /// `tval` is a guest virtual address (hstatus.GVA).
    pub gva: bool,
}

impl Trap {
    /// An exception with the given cause and trap value.
    #[inline]
    pub const fn new(cause: Cause, tval: u64) -> Trap {
        Trap {
            cause,
            tval,
            tval2: 0,
            tinst: 0,
            gva: false,
        }
    }

    /// A virtual-instruction exception carrying the instruction's bits.
    #[inline]
    pub const fn virtual_instruction(bits: u64) -> Trap {
        Trap::new(Cause::VirtualInstruction, bits)
    }

    /// An illegal-instruction exception carrying the instruction's bits.
    #[inline]
    pub const fn illegal(bits: u64) -> Trap {
        Trap::new(Cause::IllegalInstruction, bits)
    }
}

/// The kind of memory access, which selects fault causes and permission checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Instruction fetch.
    Fetch,
    /// Data load (also LR).
    Load,
    /// Data store (also SC and AMOs).
    Store,
}

impl Access {
    /// The page-fault cause for this access.
    pub const fn page_fault(self) -> Cause {
        match self {
            Access::Fetch => Cause::FetchPageFault,
            Access::Load => Cause::LoadPageFault,
            Access::Store => Cause::StorePageFault,
        }
    }

    /// The access-fault cause for this access.
    pub const fn access_fault(self) -> Cause {
        match self {
            Access::Fetch => Cause::FetchAccess,
            Access::Load => Cause::LoadAccess,
            Access::Store => Cause::StoreAccess,
        }
    }

    /// The guest-page-fault cause for this access.
    pub const fn guest_page_fault(self) -> Cause {
        match self {
            Access::Fetch => Cause::FetchGuestPageFault,
            Access::Load => Cause::LoadGuestPageFault,
            Access::Store => Cause::StoreGuestPageFault,
        }
    }

    /// The misaligned-address cause for this access.
    pub const fn misaligned(self) -> Cause {
        match self {
            Access::Fetch => Cause::FetchMisaligned,
            Access::Load => Cause::LoadMisaligned,
            Access::Store => Cause::StoreMisaligned,
        }
    }
}
