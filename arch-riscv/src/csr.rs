//! CSR numbers and the bit fields of the CSRs the hart implements.
//!
//! Numbers follow the privileged specification's CSR listing (section 2.2).

/// Floating-point accrued exceptions.
pub const FFLAGS: u16 = 0x001;
/// Floating-point dynamic rounding mode.
pub const FRM: u16 = 0x002;
/// Floating-point control and status (frm and fflags).
pub const FCSR: u16 = 0x003;
/// Vector start element index.
pub const VSTART: u16 = 0x008;
/// Vector fixed-point saturation flag.
pub const VXSAT: u16 = 0x009;
/// Vector fixed-point rounding mode.
pub const VXRM: u16 = 0x00A;
/// Vector control and status (vxrm and vxsat).
pub const VCSR: u16 = 0x00F;
/// Vector length.
pub const VL: u16 = 0xC20;
/// Vector data type.
pub const VTYPE: u16 = 0xC21;
/// VLEN / 8.
pub const VLENB: u16 = 0xC22;
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

/// Virtual supervisor status (the VS-mode sstatus).
pub const VSSTATUS: u16 = 0x200;
/// Virtual supervisor interrupt enable.
pub const VSIE: u16 = 0x204;
/// Virtual supervisor trap-vector base.
pub const VSTVEC: u16 = 0x205;
/// Virtual supervisor scratch.
pub const VSSCRATCH: u16 = 0x240;
/// Virtual supervisor exception pc.
pub const VSEPC: u16 = 0x241;
/// Virtual supervisor trap cause.
pub const VSCAUSE: u16 = 0x242;
/// Virtual supervisor trap value.
pub const VSTVAL: u16 = 0x243;
/// Virtual supervisor interrupt pending.
pub const VSIP: u16 = 0x244;
/// Virtual supervisor timer compare (Sstc).
pub const VSTIMECMP: u16 = 0x24D;
/// Virtual supervisor address translation.
pub const VSATP: u16 = 0x280;
/// Hypervisor status.
pub const HSTATUS: u16 = 0x600;
/// Hypervisor exception delegation.
pub const HEDELEG: u16 = 0x602;
/// Hypervisor interrupt delegation.
pub const HIDELEG: u16 = 0x603;
/// Hypervisor interrupt enable.
pub const HIE: u16 = 0x604;
/// Delta between the guest's time and the host's.
pub const HTIMEDELTA: u16 = 0x605;
/// Hypervisor counter enable.
pub const HCOUNTEREN: u16 = 0x606;
/// Hypervisor guest external interrupt enable.
pub const HGEIE: u16 = 0x607;
/// Hypervisor environment configuration.
pub const HENVCFG: u16 = 0x60A;
/// Hypervisor trap value (guest physical address >> 2).
pub const HTVAL: u16 = 0x643;
/// Hypervisor interrupt pending.
pub const HIP: u16 = 0x644;
/// Hypervisor virtual interrupt pending.
pub const HVIP: u16 = 0x645;
/// Hypervisor trap instruction (transformed).
pub const HTINST: u16 = 0x64A;
/// Hypervisor guest address translation and protection.
pub const HGATP: u16 = 0x680;
/// Hypervisor guest external interrupt pending (read-only).
pub const HGEIP: u16 = 0xE12;

/// The H and VS CSRs the hart implements, in the order a bulk write must apply them
/// (hvip before hip: hip's writable bit aliases hvip's).
pub const H_CSRS: [u16; 24] = [
    HSTATUS, HEDELEG, HIDELEG, HVIP, HIP, HIE, HTIMEDELTA, HCOUNTEREN, HGEIE, HENVCFG, HTVAL,
    HTINST, HGATP, HGEIP, VSSTATUS, VSIE, VSTVEC, VSSCRATCH, VSEPC, VSCAUSE, VSTVAL, VSIP,
    VSTIMECMP, VSATP,
];

/// `hstatus` fields (privileged spec 9.2.1).
pub mod hstatus {
    /// Guest virtual address: stval holds a guest virtual address.
    pub const GVA: u64 = 1 << 6;
    /// Virtualization mode before the last trap into HS.
    pub const SPV: u64 = 1 << 7;
    /// Privilege of the guest before the last trap into HS (1 = VS).
    pub const SPVP: u64 = 1 << 8;
    /// HLV/HSV allowed in U-mode.
    pub const HU: u64 = 1 << 9;
    /// Guest external interrupt number for VSEIP (0 without guest external lines).
    pub const VGEIN: u64 = 0x3F << 12;
    /// Trap VS-mode satp accesses and SFENCE.VMA.
    pub const VTVM: u64 = 1 << 20;
    /// Trap VS-mode WFI.
    pub const VTW: u64 = 1 << 21;
    /// Trap VS-mode SRET.
    pub const VTSR: u64 = 1 << 22;
    /// VS-mode XLEN: fixed at 64 (value 2).
    pub const VSXL_64: u64 = 2 << 32;
    /// Bits software may write.
    pub const WRITABLE: u64 = GVA | SPV | SPVP | HU | VTVM | VTW | VTSR;
}

/// `hgatp` fields.
pub mod hgatp {
    /// Translation mode in bits 63:60 (8 Sv39x4, 9 Sv48x4, 10 Sv57x4).
    pub const MODE_SHIFT: u32 = 60;
    /// Virtual machine identifier, 14 bits at 57:44.
    pub const VMID_MASK: u64 = 0x3FFF << 44;
    /// Root table physical page number; the root is 16 KiB aligned, so bits 1:0 are zero.
    pub const PPN_MASK: u64 = ((1 << 44) - 1) & !3;
}

/// `henvcfg` fields.
pub mod henvcfg {
    /// VS-mode may use stimecmp (vstimecmp).
    pub const STCE: u64 = 1 << 63;
    /// Svpbmt in the VS-stage page tables.
    pub const PBMTE: u64 = 1 << 62;
}

/// The cache-block fields `senvcfg` and `henvcfg` share (Zicbom, Zicboz).
pub mod envcfg {
    /// cbo.inval enable, 2 bits: 00 illegal, 01 runs as cbo.flush, 11 invalidates
    /// (10 is reserved).
    pub const CBIE: u64 = 3 << 4;
    /// cbo.clean and cbo.flush enable.
    pub const CBCFE: u64 = 1 << 6;
    /// cbo.zero enable.
    pub const CBZE: u64 = 1 << 7;

    /// `value`'s cache-block fields, the reserved CBIE value 10 read as 00.
    pub const fn cache_block_fields(value: u64) -> u64 {
        let fields = value & (CBIE | CBCFE | CBZE);
        if fields & CBIE == 2 << 4 {
            fields & !CBIE
        } else {
            fields
        }
    }
}

/// `sstatus` fields (the S-mode view of mstatus).
pub mod status {
    /// Supervisor interrupt enable.
    pub const SIE: u64 = 1 << 1;
    /// Interrupt enable before the last trap into S.
    pub const SPIE: u64 = 1 << 5;
    /// Privilege before the last trap into S (0 = U, 1 = S).
    pub const SPP: u64 = 1 << 8;
    /// Vector unit state (Off, Initial, Clean, Dirty).
    pub const VS: u64 = 3 << 9;
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
    /// Bits software may write (and VS on harts with V).
    pub const WRITABLE: u64 = SIE | SPIE | SPP | FS | SUM | MXR;

    /// SD as an sstatus/vsstatus value implies it: FS or VS dirty.
    pub const fn summary_dirty(value: u64) -> u64 {
        if value & FS == FS_DIRTY || value & VS == VS {
            SD
        } else {
            0
        }
    }
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
    /// Virtual supervisor software interrupt.
    pub const VSSI: u64 = 2;
    /// Virtual supervisor timer interrupt.
    pub const VSTI: u64 = 6;
    /// Virtual supervisor external interrupt.
    pub const VSEI: u64 = 10;
    /// Supervisor guest external interrupt.
    pub const SGEI: u64 = 12;
    /// Bit of VSSIP/VSSIE.
    pub const VSSIP: u64 = 1 << VSSI;
    /// Bit of VSTIP/VSTIE.
    pub const VSTIP: u64 = 1 << VSTI;
    /// Bit of VSEIP/VSEIE.
    pub const VSEIP: u64 = 1 << VSEI;
    /// Bit of SGEIP/SGEIE.
    pub const SGEIP: u64 = 1 << SGEI;
    /// VS-level interrupts (hip/hie/hvip/hideleg).
    pub const VS_MASK: u64 = VSSIP | VSTIP | VSEIP;
    /// Every interrupt the hart implements, in the priority order of trap delivery.
    pub const PRIORITY: [u64; 7] = [SEI, SSI, STI, SGEI, VSEI, VSSI, VSTI];
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
