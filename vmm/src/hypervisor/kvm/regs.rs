//! KVM ONE_REG register ids for RISC-V guests, computed here rather than taken from
//! kvm-bindings, which only has the RISC-V constants when the *host* is riscv64. The
//! ids are arch-neutral numbers, so this module compiles (and is unit tested) on
//! every host.
//!
//! An id is (Linux `arch/riscv/include/uapi/asm/kvm.h`, `Documentation/virt/kvm/api.rst`
//! section 4.68):
//!
//! ```text
//!  63      56 55  52 51        32 31    24 23      16 15            0
//! ┌──────────┬──────┬────────────┬────────┬──────────┬───────────────┐
//! │ 0x80     │ size │ 0          │ type   │ subtype  │ index         │
//! │ RISCV    │ log2 │            │        │          │ (in unsigned  │
//! │          │ bytes│            │        │          │  longs)       │
//! └──────────┴──────┴────────────┴────────┴──────────┴───────────────┘
//! ```
//!
//! Registers that the uapi declares as `unsigned long` are 64 bits wide on a riscv64
//! host, the only host that runs this backend.

/// `KVM_REG_RISCV`: the architecture field of every RISC-V register id.
pub const KVM_REG_RISCV: u64 = 0x8000_0000_0000_0000;
/// `KVM_REG_SIZE_SHIFT`: where log2 of the register size in bytes sits.
pub const KVM_REG_SIZE_SHIFT: u32 = 52;
/// `KVM_REG_SIZE_U32`.
pub const KVM_REG_SIZE_U32: u64 = 2 << KVM_REG_SIZE_SHIFT;
/// `KVM_REG_SIZE_U64`.
pub const KVM_REG_SIZE_U64: u64 = 3 << KVM_REG_SIZE_SHIFT;
/// `KVM_REG_SIZE_MASK`.
pub const KVM_REG_SIZE_MASK: u64 = 0xF << KVM_REG_SIZE_SHIFT;
/// `KVM_REG_RISCV_TYPE_SHIFT`.
pub const TYPE_SHIFT: u32 = 24;
/// `KVM_REG_RISCV_SUBTYPE_SHIFT`.
pub const SUBTYPE_SHIFT: u32 = 16;

/// The register classes (`KVM_REG_RISCV_<TYPE>`, the `type` field).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum RegType {
    /// `kvm_riscv_config`: isa, block sizes, machine ids, satp_mode.
    Config = 1,
    /// `kvm_riscv_core`: pc, x1..x31 in `user_regs_struct` order, then mode.
    Core = 2,
    /// Supervisor CSRs, by subtype ([`CsrSubtype`]).
    Csr = 3,
    /// `kvm_riscv_timer`: frequency, time, compare, state.
    Timer = 4,
    /// F registers.
    FpF = 5,
    /// D registers.
    FpD = 6,
    /// One ISA extension each, value 0 or 1 ([`IsaExt`]).
    IsaExt = 7,
    /// One SBI extension each, value 0 or 1 ([`SbiExt`]).
    SbiExt = 8,
    /// Vector registers.
    Vector = 9,
    /// SBI extension state (STA shared memory).
    SbiState = 10,
}

/// Subtypes of [`RegType::Csr`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum CsrSubtype {
    /// `kvm_riscv_csr`: sstatus ... senvcfg ([`GeneralCsr`]).
    General = 0,
    /// `kvm_riscv_aia_csr`.
    Aia = 1,
    /// `kvm_riscv_smstateen_csr`.
    Smstateen = 2,
    /// The H-extension CSRs of a guest hypervisor ([`HextCsr`]). Not in mainline
    /// Linux: the proposed KVM RISC-V nested-virtualization series adds it; a host
    /// kernel without it answers the ONE_REG access with an error, which is how the
    /// backend probes for it.
    Hext = 3,
}

/// The id of a 64-bit register of class `ty`, `subtype`, `index`.
pub const fn reg_id(ty: RegType, subtype: u64, index: u64) -> u64 {
    KVM_REG_RISCV
        | KVM_REG_SIZE_U64
        | (ty as u64) << TYPE_SHIFT
        | (subtype & 0xFF) << SUBTYPE_SHIFT
        | (index & 0xFFFF)
}

/// The size in bytes that register id `id` declares.
pub const fn reg_size(id: u64) -> usize {
    1 << ((id & KVM_REG_SIZE_MASK) >> KVM_REG_SIZE_SHIFT)
}

/// Fields of `kvm_riscv_config` (index = field position).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum ConfigReg {
    /// Single-letter extensions as a bitmap (`a` = bit 0).
    Isa = 0,
    /// Zicbom block size in bytes.
    ZicbomBlockSize = 1,
    /// mvendorid.
    Mvendorid = 2,
    /// marchid.
    Marchid = 3,
    /// mimpid.
    Mimpid = 4,
    /// Zicboz block size in bytes.
    ZicbozBlockSize = 5,
    /// The satp MODE the guest may use at most (8 = Sv39, 9 = Sv48, 10 = Sv57).
    SatpMode = 6,
}

/// The id of a config register.
pub const fn config(reg: ConfigReg) -> u64 {
    reg_id(RegType::Config, 0, reg as u64)
}

/// Core register index of pc.
pub const CORE_PC: u64 = 0;
/// Core register index of `xN` (N = 1..=31) is N: `user_regs_struct` is pc, ra, sp,
/// gp, tp, t0-t2, s0-s1, a0-a7, s2-s11, t3-t6.
pub const fn core_x(n: u8) -> u64 {
    reg_id(RegType::Core, 0, n as u64 & 31)
}
/// Core register index of mode (1 = S, 0 = U), after x31.
pub const CORE_MODE: u64 = 32;
/// Core register index of `virt` (1 = the guest runs its own guest, V=1), after mode.
/// Proposed by the nested-virtualization series (not in mainline Linux); a ONE_REG
/// write only sets the flag: the CSR state must already be laid out for that mode.
pub const CORE_VIRT: u64 = 33;
/// `KVM_RISCV_MODE_U`.
pub const MODE_U: u64 = 0;
/// `KVM_RISCV_MODE_S`.
pub const MODE_S: u64 = 1;

/// The id of pc.
pub const fn core_pc() -> u64 {
    reg_id(RegType::Core, 0, CORE_PC)
}

/// The id of the privilege mode register.
pub const fn core_mode() -> u64 {
    reg_id(RegType::Core, 0, CORE_MODE)
}

/// The id of the `virt` register (proposed ABI; probe before use).
pub const fn core_virt() -> u64 {
    reg_id(RegType::Core, 0, CORE_VIRT)
}

/// Fields of `kvm_riscv_csr` (the general subtype).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum GeneralCsr {
    /// sstatus.
    Sstatus = 0,
    /// sie.
    Sie = 1,
    /// stvec.
    Stvec = 2,
    /// sscratch.
    Sscratch = 3,
    /// sepc.
    Sepc = 4,
    /// scause.
    Scause = 5,
    /// stval.
    Stval = 6,
    /// sip.
    Sip = 7,
    /// satp.
    Satp = 8,
    /// scounteren.
    Scounteren = 9,
    /// senvcfg.
    Senvcfg = 10,
}

/// The id of a general supervisor CSR.
pub const fn csr(reg: GeneralCsr) -> u64 {
    reg_id(RegType::Csr, CsrSubtype::General as u64, reg as u64)
}

/// The H-extension CSRs of the proposed `KVM_REG_RISCV_CSR_HEXT` subtype: the fields of
/// `struct kvm_riscv_hext_csr` in the posted KVM RISC-V nested-virtualization series
/// (January 2026, "RISC-V: KVM: Add ONE_REG interface for nested virtualization
/// CSRs"), where the index is the field's position in `unsigned long`s. The RV32
/// halves (`htimedeltah`, `henvcfgh`) keep their slots on riscv64 too. Until the
/// series is merged this layout can change: [`super::nesting`] probes the kernel
/// before anything uses it.
///
/// A ONE_REG write stores the value as is (the series applies no WARL masks there)
/// and the VS CSRs swap places with the vCPU's supervisor CSRs when the guest enters
/// or leaves its own guest; [`super::onereg_hart`] handles both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u64)]
pub enum HextCsr {
    /// hstatus (0x600).
    Hstatus = 0,
    /// hedeleg (0x602).
    Hedeleg = 1,
    /// hideleg (0x603).
    Hideleg = 2,
    /// hvip (0x645).
    Hvip = 3,
    /// hcounteren (0x606).
    Hcounteren = 4,
    /// htimedelta (0x605).
    Htimedelta = 5,
    /// htimedeltah (0x615, RV32 only).
    Htimedeltah = 6,
    /// htval (0x643).
    Htval = 7,
    /// htinst (0x64A).
    Htinst = 8,
    /// henvcfg (0x60A).
    Henvcfg = 9,
    /// henvcfgh (0x61A, RV32 only).
    Henvcfgh = 10,
    /// hgatp (0x680).
    Hgatp = 11,
    /// vsstatus (0x200).
    Vsstatus = 12,
    /// vsie (0x204).
    Vsie = 13,
    /// vstvec (0x205).
    Vstvec = 14,
    /// vsscratch (0x240).
    Vsscratch = 15,
    /// vsepc (0x241).
    Vsepc = 16,
    /// vscause (0x242).
    Vscause = 17,
    /// vstval (0x243).
    Vstval = 18,
    /// vsatp (0x280).
    Vsatp = 19,
}

impl HextCsr {
    /// Every register of the subtype, by index.
    pub const ALL: [HextCsr; 20] = [
        HextCsr::Hstatus,
        HextCsr::Hedeleg,
        HextCsr::Hideleg,
        HextCsr::Hvip,
        HextCsr::Hcounteren,
        HextCsr::Htimedelta,
        HextCsr::Htimedeltah,
        HextCsr::Htval,
        HextCsr::Htinst,
        HextCsr::Henvcfg,
        HextCsr::Henvcfgh,
        HextCsr::Hgatp,
        HextCsr::Vsstatus,
        HextCsr::Vsie,
        HextCsr::Vstvec,
        HextCsr::Vsscratch,
        HextCsr::Vsepc,
        HextCsr::Vscause,
        HextCsr::Vstval,
        HextCsr::Vsatp,
    ];

    /// The CSR number (privileged specification, table "Hypervisor and VS CSRs").
    pub const fn csr(self) -> u16 {
        match self {
            HextCsr::Hstatus => 0x600,
            HextCsr::Hedeleg => 0x602,
            HextCsr::Hideleg => 0x603,
            HextCsr::Hvip => 0x645,
            HextCsr::Hcounteren => 0x606,
            HextCsr::Htimedelta => 0x605,
            HextCsr::Htimedeltah => 0x615,
            HextCsr::Htval => 0x643,
            HextCsr::Htinst => 0x64A,
            HextCsr::Henvcfg => 0x60A,
            HextCsr::Henvcfgh => 0x61A,
            HextCsr::Hgatp => 0x680,
            HextCsr::Vsstatus => 0x200,
            HextCsr::Vsie => 0x204,
            HextCsr::Vstvec => 0x205,
            HextCsr::Vsscratch => 0x240,
            HextCsr::Vsepc => 0x241,
            HextCsr::Vscause => 0x242,
            HextCsr::Vstval => 0x243,
            HextCsr::Vsatp => 0x280,
        }
    }

    /// The register holding CSR `csr`, if the subtype has one.
    pub fn from_csr(csr: u16) -> Option<HextCsr> {
        HextCsr::ALL.into_iter().find(|reg| reg.csr() == csr)
    }

    /// Whether the CSR exists only on RV32 (the high halves).
    pub const fn rv32_only(self) -> bool {
        matches!(self, HextCsr::Htimedeltah | HextCsr::Henvcfgh)
    }
}

/// The id of an H-extension CSR (proposed ABI; probe before use).
pub const fn hext_csr(reg: HextCsr) -> u64 {
    reg_id(RegType::Csr, CsrSubtype::Hext as u64, reg as u64)
}

/// Fields of `kvm_riscv_timer`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum TimerReg {
    /// Timebase frequency in Hz (read-only).
    Frequency = 0,
    /// The guest's `time`.
    Time = 1,
    /// The supervisor timer deadline.
    Compare = 2,
    /// [`TIMER_STATE_ON`] or [`TIMER_STATE_OFF`].
    State = 3,
}

/// `KVM_RISCV_TIMER_STATE_OFF`.
pub const TIMER_STATE_OFF: u64 = 0;
/// `KVM_RISCV_TIMER_STATE_ON`.
pub const TIMER_STATE_ON: u64 = 1;

/// The id of a timer register.
pub const fn timer(reg: TimerReg) -> u64 {
    reg_id(RegType::Timer, 0, reg as u64)
}

/// `KVM_REG_RISCV_ISA_SINGLE` / `KVM_REG_RISCV_SBI_SINGLE`: one extension per register.
const SINGLE: u64 = 0;

/// The id of ISA extension `ext`'s enable register.
pub const fn isa_ext(ext: IsaExt) -> u64 {
    reg_id(RegType::IsaExt, SINGLE, ext.0)
}

/// The id of SBI extension `ext`'s enable register.
pub const fn sbi_ext(ext: SbiExt) -> u64 {
    reg_id(RegType::SbiExt, SINGLE, ext as u64)
}

/// A KVM ISA extension id (`enum KVM_RISCV_ISA_EXT_ID`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IsaExt(pub u64);

impl IsaExt {
    /// `KVM_RISCV_ISA_EXT_H`: the hypervisor extension.
    pub const H: IsaExt = IsaExt(4);
    /// `KVM_RISCV_ISA_EXT_SSAIA`: the AIA's supervisor CSRs.
    pub const SSAIA: IsaExt = IsaExt(14);

    /// The extension's name as an ISA string or `riscv,isa-extensions` spells it.
    pub fn name(self) -> Option<&'static str> {
        ISA_EXT_NAMES.get(self.0 as usize).copied()
    }

    /// Every id this build knows a name for.
    pub fn known() -> impl Iterator<Item = IsaExt> {
        (0..ISA_EXT_NAMES.len() as u64).map(IsaExt)
    }
}

/// Names of `KVM_RISCV_ISA_EXT_*` by id (uapi order; Linux 6.15).
const ISA_EXT_NAMES: [&str; 71] = [
    "a",
    "c",
    "d",
    "f",
    "h",
    "i",
    "m",
    "svpbmt",
    "sstc",
    "svinval", // 0-9
    "zihintpause",
    "zicbom",
    "zicboz",
    "zbb",
    "ssaia",
    "v",
    "svnapot",
    "zba",
    "zbs", // 10-18
    "zicntr",
    "zicsr",
    "zifencei",
    "zihpm",
    "smstateen",
    "zicond",
    "zbc",
    "zbkb", // 19-26
    "zbkc",
    "zbkx",
    "zknd",
    "zkne",
    "zknh",
    "zkr",
    "zksed",
    "zksh",
    "zkt", // 27-35
    "zvbb",
    "zvbc",
    "zvkb",
    "zvkg",
    "zvkned",
    "zvknha",
    "zvknhb",
    "zvksed", // 36-43
    "zvksh",
    "zvkt",
    "zfh",
    "zfhmin",
    "zihintntl",
    "zvfh",
    "zvfhmin",
    "zfa", // 44-51
    "ztso",
    "zacas",
    "sscofpmf",
    "zimop",
    "zca",
    "zcb",
    "zcd",
    "zcf",
    "zcmop", // 52-60
    "zawrs",
    "smnpm",
    "ssnpm",
    "svade",
    "svadu",
    "svvptc",
    "zabha",
    "ziccrse", // 61-68
    "zaamo",
    "zalrsc", // 69-70
];

/// KVM's SBI extension ids (`enum KVM_RISCV_SBI_EXT_ID`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u64)]
pub enum SbiExt {
    /// The v0.1 legacy calls.
    V01 = 0,
    /// TIME.
    Time = 1,
    /// IPI.
    Ipi = 2,
    /// RFENCE.
    Rfence = 3,
    /// SRST.
    Srst = 4,
    /// HSM.
    Hsm = 5,
    /// PMU.
    Pmu = 6,
    /// The experimental range, forwarded to userspace.
    Experimental = 7,
    /// The vendor range, forwarded to userspace.
    Vendor = 8,
    /// The debug console, forwarded to userspace once enabled.
    Dbcn = 9,
    /// Steal-time accounting.
    Sta = 10,
    /// System suspend, forwarded to userspace once enabled.
    Susp = 11,
    /// Firmware features.
    Fwft = 12,
}

/// Builds the ISA description the FDT gives the guest from what KVM reports: the
/// single-letter bitmap of the CONFIG `isa` register (bit n = letter `'a' + n`) and
/// the multi-letter extensions whose ISA_EXT register reads 1. Letters outside the
/// canonical set (KVM reports none today) are dropped.
pub fn isa_letters(isa_bitmap: u64) -> String {
    (0..26u8)
        .filter(|bit| isa_bitmap & (1 << bit) != 0)
        .map(|bit| char::from(b'a' + bit))
        .filter(|c| arch_riscv::fdt::CANONICAL_ORDER.contains(*c))
        .collect()
}

/// The satp MODE value that [`ConfigReg::SatpMode`] reports, as an FDT `mmu-type`.
pub fn mmu_type(satp_mode: u64) -> Option<arch_riscv::fdt::MmuType> {
    use arch_riscv::fdt::MmuType;
    match satp_mode {
        8 => Some(MmuType::Sv39),
        9 => Some(MmuType::Sv48),
        10 => Some(MmuType::Sv57),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values computed by hand from the uapi macros, e.g.
    // KVM_REG_RISCV | KVM_REG_SIZE_U64 | KVM_REG_RISCV_CORE | KVM_REG_RISCV_CORE_REG(regs.pc).

    #[test]
    fn core_ids() {
        assert_eq!(core_pc(), 0x8030_0000_0200_0000);
        assert_eq!(core_x(10), 0x8030_0000_0200_000A); // a0
        assert_eq!(core_x(11), 0x8030_0000_0200_000B); // a1
        assert_eq!(core_mode(), 0x8030_0000_0200_0020);
    }

    #[test]
    fn config_csr_timer_ids() {
        assert_eq!(config(ConfigReg::Isa), 0x8030_0000_0100_0000);
        assert_eq!(config(ConfigReg::SatpMode), 0x8030_0000_0100_0006);
        assert_eq!(csr(GeneralCsr::Sstatus), 0x8030_0000_0300_0000);
        assert_eq!(csr(GeneralCsr::Satp), 0x8030_0000_0300_0008);
        assert_eq!(csr(GeneralCsr::Senvcfg), 0x8030_0000_0300_000A);
        assert_eq!(timer(TimerReg::Frequency), 0x8030_0000_0400_0000);
        assert_eq!(timer(TimerReg::State), 0x8030_0000_0400_0003);
    }

    #[test]
    fn extension_and_subtype_ids() {
        assert_eq!(isa_ext(IsaExt::H), 0x8030_0000_0700_0004);
        assert_eq!(sbi_ext(SbiExt::Dbcn), 0x8030_0000_0800_0009);
        assert_eq!(sbi_ext(SbiExt::Susp), 0x8030_0000_0800_000B);
        // KVM_REG_RISCV_CSR_HEXT (subtype 3) << 16, index = field position in
        // struct kvm_riscv_hext_csr: hstatus 0 ... htval 7 (after htimedeltah),
        // hgatp 11 (after henvcfgh), vsatp 19.
        assert_eq!(hext_csr(HextCsr::Hstatus), 0x8030_0000_0303_0000);
        assert_eq!(hext_csr(HextCsr::Htimedelta), 0x8030_0000_0303_0005);
        assert_eq!(hext_csr(HextCsr::Htval), 0x8030_0000_0303_0007);
        assert_eq!(hext_csr(HextCsr::Hgatp), 0x8030_0000_0303_000B);
        assert_eq!(hext_csr(HextCsr::Vsstatus), 0x8030_0000_0303_000C);
        assert_eq!(hext_csr(HextCsr::Vsatp), 0x8030_0000_0303_0013);
        // The core `virt` register follows `mode`.
        assert_eq!(core_virt(), 0x8030_0000_0200_0021);
        assert_eq!(
            reg_id(RegType::Csr, CsrSubtype::Aia as u64, 0),
            0x8030_0000_0301_0000
        );
    }

    #[test]
    fn hext_table_is_the_uapi_struct_in_order() {
        for (index, reg) in HextCsr::ALL.into_iter().enumerate() {
            assert_eq!(reg as u64, index as u64, "{reg:?}");
            assert_eq!(HextCsr::from_csr(reg.csr()), Some(reg));
            // Every one is an H or VS CSR (address bits 9:8 = 0b10) as NACL's CSR
            // space numbers them.
            assert_eq!(reg.csr() & 0x300, 0x200, "{reg:?}");
        }
        assert_eq!(HextCsr::from_csr(0x644), None); // hip: not in the subtype
        assert_eq!(
            HextCsr::ALL.iter().filter(|r| r.rv32_only()).count(),
            2,
            "htimedeltah and henvcfgh"
        );
    }

    #[test]
    fn sizes() {
        assert_eq!(reg_size(core_pc()), 8);
        assert_eq!(reg_size(KVM_REG_RISCV | KVM_REG_SIZE_U32), 4);
    }

    #[test]
    fn isa_ext_names_match_uapi_ids() {
        assert_eq!(IsaExt(0).name(), Some("a"));
        assert_eq!(IsaExt::H.name(), Some("h"));
        assert_eq!(IsaExt::SSAIA.name(), Some("ssaia"));
        assert_eq!(IsaExt(8).name(), Some("sstc"));
        assert_eq!(IsaExt(19).name(), Some("zicntr"));
        assert_eq!(IsaExt(21).name(), Some("zifencei"));
        assert_eq!(IsaExt(54).name(), Some("sscofpmf"));
        assert_eq!(IsaExt(70).name(), Some("zalrsc"));
        assert_eq!(IsaExt(71).name(), None);
        assert_eq!(IsaExt::known().count(), 71);
    }

    #[test]
    fn isa_bitmap_to_letters() {
        // QEMU rv64 under KVM: rv64imafdc (+h on the host, which KVM never shows).
        let bitmap = [b'i', b'm', b'a', b'f', b'd', b'c']
            .iter()
            .fold(0u64, |m, c| m | 1 << (c - b'a'));
        assert_eq!(isa_letters(bitmap), "acdfim");
        let isa = arch_riscv::fdt::IsaDescription::new(64, &isa_letters(bitmap), &["zicsr"])
            .expect("valid");
        assert_eq!(isa.isa_string(), "rv64imafdc_zicsr");
        // 'e' (bit 4), 'x' (bit 23) and 's'/'u' (bits 18, 20) are not letters the FDT takes.
        assert_eq!(
            isa_letters(1 << 4 | 1 << 23 | 1 << 18 | 1 << 20 | 1 << 8),
            "i"
        );
    }

    #[test]
    fn satp_modes() {
        use arch_riscv::fdt::MmuType;
        assert_eq!(mmu_type(8), Some(MmuType::Sv39));
        assert_eq!(mmu_type(10), Some(MmuType::Sv57));
        assert_eq!(mmu_type(0), None);
    }
}
