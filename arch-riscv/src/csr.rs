//! CSR numbers and the bit fields of the CSRs the hart implements.
//!
//! Numbers follow the privileged specification's CSR listing (section 2.2).

/// Floating-point accrued exceptions.
pub const FFLAGS: u16 = 0x001;
/// Floating-point dynamic rounding mode.
pub const FRM: u16 = 0x002;
/// Floating-point control and status (frm and fflags).
pub const FCSR: u16 = 0x003;
/// Cycle counter (read-only shadow).
pub const CYCLE: u16 = 0xC00;
/// Real-time counter (read-only shadow).
pub const TIME: u16 = 0xC01;
/// Instructions-retired counter (read-only shadow).
pub const INSTRET: u16 = 0xC02;
/// First of the hpmcounter3..31 shadows (read as zero).
pub const HPMCOUNTER3: u16 = 0xC03;
/// Last of the hpmcounter3..31 shadows.
pub const HPMCOUNTER31: u16 = 0xC1F;

/// Supervisor status.
pub const SSTATUS: u16 = 0x100;
/// Supervisor interrupt enable.
pub const SIE: u16 = 0x104;
/// Supervisor trap-vector base.
pub const STVEC: u16 = 0x105;
/// Supervisor counter enable.
pub const SCOUNTEREN: u16 = 0x106;
/// Supervisor environment configuration.
pub const SENVCFG: u16 = 0x10A;
/// Supervisor scratch.
pub const SSCRATCH: u16 = 0x140;
/// Supervisor exception pc.
pub const SEPC: u16 = 0x141;
/// Supervisor trap cause.
pub const SCAUSE: u16 = 0x142;
/// Supervisor trap value.
pub const STVAL: u16 = 0x143;
/// Supervisor interrupt pending.
pub const SIP: u16 = 0x144;
/// Supervisor timer compare (Sstc).
pub const STIMECMP: u16 = 0x14D;
/// Supervisor address translation and protection.
pub const SATP: u16 = 0x180;

/// `sstatus` fields (the S-mode view of mstatus).
pub mod status {
    /// Supervisor interrupt enable.
    pub const SIE: u64 = 1 << 1;
    /// Interrupt enable before the last trap into S.
    pub const SPIE: u64 = 1 << 5;
    /// Privilege before the last trap into S (0 = U, 1 = S).
    pub const SPP: u64 = 1 << 8;
    /// Floating-point unit state (Off, Initial, Clean, Dirty).
    pub const FS: u64 = 3 << 13;
    /// FS = Dirty.
    pub const FS_DIRTY: u64 = 3 << 13;
    /// FS = Initial.
    pub const FS_INITIAL: u64 = 1 << 13;
    /// Permit supervisor access to user memory.
    pub const SUM: u64 = 1 << 18;
    /// Make executable pages readable.
    pub const MXR: u64 = 1 << 19;
    /// User XLEN: fixed at 64 (value 2).
    pub const UXL_64: u64 = 2 << 32;
    /// Summary dirty bit (FS, VS or XS dirty).
    pub const SD: u64 = 1 << 63;
    /// Bits software may write.
    pub const WRITABLE: u64 = SIE | SPIE | SPP | FS | SUM | MXR;
}

/// Interrupt numbers and their bits in sip/sie.
pub mod irq {
    /// Supervisor software interrupt.
    pub const SSI: u64 = 1;
    /// Supervisor timer interrupt.
    pub const STI: u64 = 5;
    /// Supervisor external interrupt.
    pub const SEI: u64 = 9;
    /// Bit of SSIP/SSIE.
    pub const SSIP: u64 = 1 << SSI;
    /// Bit of STIP/STIE.
    pub const STIP: u64 = 1 << STI;
    /// Bit of SEIP/SEIE.
    pub const SEIP: u64 = 1 << SEI;
    /// Interrupts visible in sip/sie.
    pub const S_MASK: u64 = SSIP | STIP | SEIP;
}

/// `satp` fields.
pub mod satp {
    /// Translation mode in bits 63:60.
    pub const MODE_SHIFT: u32 = 60;
    /// No translation.
    pub const MODE_BARE: u64 = 0;
    /// Sv39.
    pub const MODE_SV39: u64 = 8;
    /// Sv48.
    pub const MODE_SV48: u64 = 9;
    /// Sv57.
    pub const MODE_SV57: u64 = 10;
    /// Root page-table physical page number.
    pub const PPN_MASK: u64 = (1 << 44) - 1;
    /// Address-space identifier field (16 bits at 59:44).
    pub const ASID_MASK: u64 = 0xFFFF << 44;
}
