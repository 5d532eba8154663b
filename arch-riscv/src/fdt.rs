//! The flattened device tree the VMM hands the guest, shaped like QEMU `virt`'s and
//! kvmtool's so that Linux's drivers bind unchanged:
//!
//! ```text
//! / (riscv-virtio)
//! ├── chosen              bootargs, stdout-path, linux,initrd-start/end
//! ├── cpus                timebase-frequency
//! │   ├── cpu@N           riscv,isa, riscv,isa-base, riscv,isa-extensions, mmu-type
//! │   │   └── interrupt-controller   riscv,cpu-intc
//! │   └── cpu-map/cluster0/coreN
//! ├── memory@80000000
//! └── soc (simple-bus)
//!     ├── plic@c000000    sifive,plic-1.0.0; one S-mode context per hart
//!     ├── serial@10000000 ns16550a, PLIC source 10
//!     └── virtio_mmio@... virtio,mmio, one per attached device
//! ```
//!
//! A machine with an AIA ([`InterruptController::Aia`], KVM's in-kernel APLIC and
//! IMSICs) has, instead of the PLIC, the nodes QEMU `virt,aia=aplic-imsic` has:
//!
//! ```text
//!     ├── imsics@28000000 riscv,imsics; one S-level file per hart, msi-controller
//!     ├── aplic@d000000   riscv,aplic; msi-parent = the IMSICs
//!     ├── serial@10000000 interrupt-parent = the APLIC, <10 level-high>
//! ```
//!
//! There is no poweroff or reboot node: the guest uses the SBI SRST extension.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use thiserror::Error;
use vm_fdt::FdtWriter;

use crate::layout::{
    IMSIC_FILE_SIZE, PLIC_BASE, PLIC_NUM_SOURCES, PLIC_SIZE, UART_BASE, UART_IRQ, UART_SIZE,
};

/// Canonical order of the single-letter extensions in an ISA string (unprivileged
/// specification, "ISA Extension Naming Conventions"; Linux's `cpufeature.c` uses
/// the same order for multi-letter `Z` categories).
pub const CANONICAL_ORDER: &str = "imafdqlcbkjtpvh";

/// Interrupt number of the S-mode external interrupt at the hart's local
/// interrupt controller (`mip.SEIP`).
const IRQ_S_EXT: u32 = 9;
/// Input clock of the 16550A, the PC's 1.8432 MHz times two, as QEMU states it.
const UART_CLOCK_FREQUENCY: u32 = 3_686_400;
/// Cache-block size for the Zicbom/Zicboz/Zicbop instructions, in bytes.
const CACHE_BLOCK_SIZE: u32 = 64;
/// `IRQ_TYPE_LEVEL_HIGH` of Linux's `dt-bindings/interrupt-controller/irq.h`: the
/// second cell of an APLIC interrupt specifier.
const IRQ_TYPE_LEVEL_HIGH: u32 = 4;
/// The phandle of the controller devices interrupt at (the PLIC, or the APLIC with an
/// AIA); each hart `n` gets `FIRST_CPU_PHANDLE + 2n` for its node and one more for its
/// interrupt controller. The IMSICs of an AIA take the first phandle after the harts'.
const PLIC_PHANDLE: u32 = 1;
const FIRST_CPU_PHANDLE: u32 = 2;

fn cpu_phandle(hart: u32) -> u32 {
    FIRST_CPU_PHANDLE + 2 * hart
}

fn intc_phandle(hart: u32) -> u32 {
    cpu_phandle(hart) + 1
}

fn imsic_phandle(num_harts: u32) -> u32 {
    cpu_phandle(num_harts)
}

/// Why a device tree could not be built.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum FdtError {
    /// An ISA string or extension list that Linux would not accept.
    #[error("Invalid ISA {isa:?}: {reason}")]
    InvalidIsa {
        /// The offending string or extension name.
        isa: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The machine has no harts, or more than the cells and phandles can number.
    #[error("Invalid number of harts: {0}")]
    InvalidHartCount(u32),
    /// `timebase-frequency` is a single cell, which Linux reads as a `u32`.
    #[error("Timebase frequency {0} Hz does not fit in 32 bits")]
    TimebaseTooLarge(u64),
    /// vm-fdt refused a node or property (e.g. a NUL byte in the command line).
    #[error("Cannot write the device tree")]
    Writer(#[source] VmFdtError),
}

/// vm-fdt's error, wrapped so that [`FdtError`] can be `Clone`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmFdtError(String);

impl fmt::Display for VmFdtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for VmFdtError {}

impl From<vm_fdt::Error> for FdtError {
    fn from(e: vm_fdt::Error) -> Self {
        FdtError::Writer(VmFdtError(e.to_string()))
    }
}

/// The virtual-memory scheme the harts implement, as the `mmu-type` property names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MmuType {
    /// 39-bit virtual addresses, three-level page tables.
    Sv39,
    /// 48-bit virtual addresses, four levels.
    Sv48,
    /// 57-bit virtual addresses, five levels.
    Sv57,
}

impl MmuType {
    /// The `mmu-type` property value, e.g. `"riscv,sv57"`.
    pub fn compatible(self) -> &'static str {
        match self {
            MmuType::Sv39 => "riscv,sv39",
            MmuType::Sv48 => "riscv,sv48",
            MmuType::Sv57 => "riscv,sv57",
        }
    }
}

/// The ISA the harts implement, kept in canonical order so that it renders both as
/// the `riscv,isa` string (`rv64imafdch_zicntr_zicsr_zifencei_sstc`) and as the
/// `riscv,isa-extensions` list.
///
/// Single-letter extensions come from [`CANONICAL_ORDER`] (`g` expands to `imafd`
/// plus `zicsr` and `zifencei`; `e` is refused, Linux needs `i`). Multi-letter ones
/// start with `z`, `s` or `x`; they are ordered as Linux documents it: `Z` extensions
/// first, by the category their second letter names and then alphabetically, then
/// `S` extensions alphabetically, then `X` extensions alphabetically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsaDescription {
    xlen: u32,
    /// Single-letter extensions in canonical order.
    letters: Vec<char>,
    /// Multi-letter extensions in canonical order, lower case.
    extensions: Vec<String>,
}

fn invalid(isa: &str, reason: &'static str) -> FdtError {
    FdtError::InvalidIsa {
        isa: isa.to_owned(),
        reason,
    }
}

/// Sort key of a multi-letter extension (see [`IsaDescription`]).
fn extension_order(name: &str) -> (u8, usize, &str) {
    let mut chars = name.chars();
    match chars.next() {
        Some('z') => {
            let category = chars
                .next()
                .and_then(|c| CANONICAL_ORDER.find(c))
                .unwrap_or(CANONICAL_ORDER.len());
            (0, category, name)
        }
        Some('s') => (1, 0, name),
        _ => (2, 0, name),
    }
}

impl IsaDescription {
    /// An ISA of register width `xlen` (32 or 64) with the single-letter extensions
    /// in `letters` (any order, e.g. `"imafdch"` or `"gc"`) and the multi-letter
    /// `extensions` (any order, e.g. `["zicsr", "sstc"]`).
    pub fn new(xlen: u32, letters: &str, extensions: &[&str]) -> Result<Self, FdtError> {
        if xlen != 32 && xlen != 64 {
            return Err(invalid(&format!("rv{xlen}"), "XLEN must be 32 or 64"));
        }
        let mut letter_set = BTreeSet::new();
        let mut ext_set = BTreeSet::new();
        for c in letters.chars().map(|c| c.to_ascii_lowercase()) {
            match c {
                'g' => {
                    letter_set.extend("imafd".chars());
                    ext_set.extend(["zicsr".to_owned(), "zifencei".to_owned()]);
                }
                'e' => return Err(invalid(letters, "the E base is not supported")),
                c if CANONICAL_ORDER.contains(c) => {
                    letter_set.insert(c);
                }
                _ => return Err(invalid(letters, "unknown single-letter extension")),
            }
        }
        if !letter_set.contains(&'i') {
            return Err(invalid(letters, "the I base is missing"));
        }
        for &ext in extensions {
            let name = ext.to_ascii_lowercase();
            let well_formed = name.len() >= 2
                && name.starts_with(['z', 's', 'x'])
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
            if !well_formed {
                return Err(invalid(ext, "not a multi-letter extension name"));
            }
            ext_set.insert(name);
        }
        let letters = CANONICAL_ORDER
            .chars()
            .filter(|c| letter_set.contains(c))
            .collect();
        let mut extensions: Vec<String> = ext_set.into_iter().collect();
        extensions.sort_by(|a, b| extension_order(a).cmp(&extension_order(b)));
        Ok(IsaDescription {
            xlen,
            letters,
            extensions,
        })
    }

    /// Parses an ISA string such as `"rv64imafdch_zicsr_zifencei_sstc"`: `rv32` or
    /// `rv64`, single letters, then multi-letter extensions each after an underscore.
    /// Version numbers (`i2p1`) are not accepted.
    pub fn parse(isa: &str) -> Result<Self, FdtError> {
        let lower = isa.to_ascii_lowercase();
        let (xlen, rest) = if let Some(rest) = lower.strip_prefix("rv64") {
            (64, rest)
        } else if let Some(rest) = lower.strip_prefix("rv32") {
            (32, rest)
        } else {
            return Err(invalid(isa, "must start with rv32 or rv64"));
        };
        let mut parts = rest.split('_');
        let letters = parts.next().unwrap_or_default();
        let extensions: Vec<&str> = parts.collect();
        if extensions.iter().any(|e| e.is_empty()) {
            return Err(invalid(isa, "empty extension name"));
        }
        Self::new(xlen, letters, &extensions).map_err(|e| match e {
            FdtError::InvalidIsa { reason, .. } => invalid(isa, reason),
            other => other,
        })
    }

    /// Register width in bits.
    pub fn xlen(&self) -> u32 {
        self.xlen
    }

    /// Whether the ISA includes `name`, a single letter (`"h"`) or a multi-letter
    /// extension (`"sstc"`), compared case-insensitively.
    pub fn has(&self, name: &str) -> bool {
        let name = name.to_ascii_lowercase();
        let mut chars = name.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => self.letters.contains(&c),
            _ => self.extensions.contains(&name),
        }
    }

    /// The `riscv,isa` string, e.g. `"rv64imafdch_zicntr_zicsr_zifencei_sstc"`.
    pub fn isa_string(&self) -> String {
        let mut s = format!("rv{}", self.xlen);
        s.extend(&self.letters);
        for ext in &self.extensions {
            s.push('_');
            s.push_str(ext);
        }
        s
    }

    /// The `riscv,isa-base` string, `"rv64i"` or `"rv32i"`.
    pub fn base(&self) -> String {
        format!("rv{}i", self.xlen)
    }

    /// The `riscv,isa-extensions` list: every extension, single letters first.
    pub fn extension_names(&self) -> Vec<String> {
        self.letters
            .iter()
            .map(char::to_string)
            .chain(self.extensions.iter().cloned())
            .collect()
    }
}

impl FromStr for IsaDescription {
    type Err = FdtError;

    fn from_str(s: &str) -> Result<Self, FdtError> {
        Self::parse(s)
    }
}

impl fmt::Display for IsaDescription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.isa_string())
    }
}

/// A virtio-mmio transport to list under `/soc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VirtioMmioNode {
    /// Guest-physical base of the register window.
    pub base: u64,
    /// Size of the register window in bytes.
    pub size: u64,
    /// PLIC source the device interrupts on.
    pub irq: u32,
}

/// The interrupt controller the device tree describes, which every device interrupts at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum InterruptController {
    /// The PLIC of [`crate::layout`], with one S-mode context per hart.
    #[default]
    Plic,
    /// An AIA: an APLIC domain that forwards wired interrupts as MSIs to one
    /// supervisor-level IMSIC interrupt file per hart.
    Aia(AiaNodes),
}

/// Where the parts of an AIA sit and how large they are, as the `riscv,aplic` and
/// `riscv,imsics` nodes state it (Linux `Documentation/devicetree/bindings/
/// interrupt-controller/riscv,aplic.yaml` and `riscv,imsics.yaml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AiaNodes {
    /// Guest-physical base of the APLIC domain.
    pub aplic_base: u64,
    /// Size of the APLIC domain's register window in bytes.
    pub aplic_size: u64,
    /// Wired interrupt sources of the APLIC, numbered `1..=num_sources`.
    pub num_sources: u32,
    /// Guest-physical base of hart 0's IMSIC file; hart n's is
    /// [`IMSIC_FILE_SIZE`]` * n` above it.
    pub imsic_base: u64,
    /// Interrupt identities of each IMSIC file (`riscv,num-ids`, 63 to 2047).
    pub num_ids: u32,
    /// Bits of the hart index in an IMSIC address (`riscv,hart-index-bits`).
    pub hart_index_bits: u32,
}

/// What the device tree describes. The PLIC and UART come from [`crate::layout`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FdtConfig {
    /// Number of harts, with hart IDs `0..num_harts`.
    pub num_harts: u32,
    /// The ISA every hart implements.
    pub isa: IsaDescription,
    /// The harts' virtual-memory scheme.
    pub mmu_type: MmuType,
    /// Guest-physical base of RAM.
    pub ram_base: u64,
    /// Size of RAM in bytes.
    pub ram_size: u64,
    /// The kernel command line.
    pub bootargs: String,
    /// Guest-physical `[start, end)` of the initrd, if there is one.
    pub initrd: Option<(u64, u64)>,
    /// Frequency of the `time` CSR in Hz; must fit in 32 bits.
    pub timebase_frequency: u64,
    /// virtio-mmio transports, in the order Linux should probe them.
    pub virtio_mmio: Vec<VirtioMmioNode>,
    /// The interrupt controller (the PLIC unless the backend provides an AIA).
    pub irqchip: InterruptController,
}

/// Writes `reg = <base size>` with two address and two size cells.
fn reg(fdt: &mut FdtWriter, base: u64, size: u64) -> Result<(), FdtError> {
    Ok(fdt.property_array_u64("reg", &[base, size])?)
}

/// Builds the device tree blob for `cfg`.
pub fn create_fdt(cfg: &FdtConfig) -> Result<Vec<u8>, FdtError> {
    // Phandles are u32 and two per hart; far beyond any real machine.
    if cfg.num_harts == 0 || cfg.num_harts > 0x1000_0000 {
        return Err(FdtError::InvalidHartCount(cfg.num_harts));
    }
    let timebase = u32::try_from(cfg.timebase_frequency)
        .map_err(|_| FdtError::TimebaseTooLarge(cfg.timebase_frequency))?;

    let mut fdt = FdtWriter::new()?;
    let root = fdt.begin_node("")?;
    fdt.property_u32("#address-cells", 2)?;
    fdt.property_u32("#size-cells", 2)?;
    fdt.property_string("compatible", "riscv-virtio")?;
    fdt.property_string("model", "rvnest,virt")?;

    let chosen = fdt.begin_node("chosen")?;
    fdt.property_string("bootargs", &cfg.bootargs)?;
    fdt.property_string("stdout-path", &format!("/soc/serial@{UART_BASE:x}"))?;
    if let Some((start, end)) = cfg.initrd {
        fdt.property_u64("linux,initrd-start", start)?;
        fdt.property_u64("linux,initrd-end", end)?;
    }
    fdt.end_node(chosen)?;

    write_cpus(&mut fdt, cfg, timebase)?;

    let memory = fdt.begin_node(&format!("memory@{:x}", cfg.ram_base))?;
    fdt.property_string("device_type", "memory")?;
    reg(&mut fdt, cfg.ram_base, cfg.ram_size)?;
    fdt.end_node(memory)?;

    write_soc(&mut fdt, cfg)?;

    fdt.end_node(root)?;
    Ok(fdt.finish()?)
}

fn write_cpus(fdt: &mut FdtWriter, cfg: &FdtConfig, timebase: u32) -> Result<(), FdtError> {
    let isa = cfg.isa.isa_string();
    let base = cfg.isa.base();
    let extensions = cfg.isa.extension_names();

    let cpus = fdt.begin_node("cpus")?;
    fdt.property_u32("#address-cells", 1)?;
    fdt.property_u32("#size-cells", 0)?;
    fdt.property_u32("timebase-frequency", timebase)?;
    for hart in 0..cfg.num_harts {
        let cpu = fdt.begin_node(&format!("cpu@{hart:x}"))?;
        fdt.property_string("device_type", "cpu")?;
        fdt.property_u32("reg", hart)?;
        fdt.property_string("status", "okay")?;
        fdt.property_string("compatible", "riscv")?;
        fdt.property_string("riscv,isa", &isa)?;
        fdt.property_string("riscv,isa-base", &base)?;
        fdt.property_string_list("riscv,isa-extensions", extensions.clone())?;
        fdt.property_string("mmu-type", cfg.mmu_type.compatible())?;
        // Linux refuses the cache-block instructions without their block sizes.
        for (ext, prop) in [
            ("zicbom", "riscv,cbom-block-size"),
            ("zicboz", "riscv,cboz-block-size"),
            ("zicbop", "riscv,cbop-block-size"),
        ] {
            if cfg.isa.has(ext) {
                fdt.property_u32(prop, CACHE_BLOCK_SIZE)?;
            }
        }
        fdt.property_phandle(cpu_phandle(hart))?;

        let intc = fdt.begin_node("interrupt-controller")?;
        fdt.property_string("compatible", "riscv,cpu-intc")?;
        fdt.property_u32("#address-cells", 0)?;
        fdt.property_u32("#interrupt-cells", 1)?;
        fdt.property_null("interrupt-controller")?;
        fdt.property_phandle(intc_phandle(hart))?;
        fdt.end_node(intc)?;

        fdt.end_node(cpu)?;
    }

    let map = fdt.begin_node("cpu-map")?;
    let cluster = fdt.begin_node("cluster0")?;
    for hart in 0..cfg.num_harts {
        let core = fdt.begin_node(&format!("core{hart}"))?;
        fdt.property_u32("cpu", cpu_phandle(hart))?;
        fdt.end_node(core)?;
    }
    fdt.end_node(cluster)?;
    fdt.end_node(map)?;

    fdt.end_node(cpus)?;
    Ok(())
}

fn write_soc(fdt: &mut FdtWriter, cfg: &FdtConfig) -> Result<(), FdtError> {
    let soc = fdt.begin_node("soc")?;
    fdt.property_u32("#address-cells", 2)?;
    fdt.property_u32("#size-cells", 2)?;
    fdt.property_string("compatible", "simple-bus")?;
    fdt.property_null("ranges")?;

    match &cfg.irqchip {
        InterruptController::Plic => write_plic(fdt, cfg)?,
        InterruptController::Aia(aia) => write_aia(fdt, cfg, aia)?,
    }

    let serial = fdt.begin_node(&format!("serial@{UART_BASE:x}"))?;
    fdt.property_string("compatible", "ns16550a")?;
    reg(fdt, UART_BASE, UART_SIZE)?;
    fdt.property_u32("clock-frequency", UART_CLOCK_FREQUENCY)?;
    write_interrupt(fdt, cfg, UART_IRQ)?;
    fdt.end_node(serial)?;

    for dev in &cfg.virtio_mmio {
        let node = fdt.begin_node(&format!("virtio_mmio@{:x}", dev.base))?;
        fdt.property_string("compatible", "virtio,mmio")?;
        reg(fdt, dev.base, dev.size)?;
        write_interrupt(fdt, cfg, dev.irq)?;
        fdt.end_node(node)?;
    }

    fdt.end_node(soc)?;
    Ok(())
}

/// A device's `interrupts` and `interrupt-parent`: one cell (the source) at the PLIC,
/// two (the source, level-high) at the APLIC.
fn write_interrupt(fdt: &mut FdtWriter, cfg: &FdtConfig, irq: u32) -> Result<(), FdtError> {
    match cfg.irqchip {
        InterruptController::Plic => fdt.property_u32("interrupts", irq)?,
        InterruptController::Aia(_) => {
            fdt.property_array_u32("interrupts", &[irq, IRQ_TYPE_LEVEL_HIGH])?
        }
    }
    fdt.property_u32("interrupt-parent", PLIC_PHANDLE)?;
    Ok(())
}

/// Each hart's S-mode external interrupt, in hart order (`interrupts-extended`).
fn hart_external_interrupts(cfg: &FdtConfig) -> Vec<u32> {
    (0..cfg.num_harts)
        .flat_map(|hart| [intc_phandle(hart), IRQ_S_EXT])
        .collect()
}

fn write_plic(fdt: &mut FdtWriter, cfg: &FdtConfig) -> Result<(), FdtError> {
    // Context i of the PLIC is hart i's S-mode external interrupt.
    let plic = fdt.begin_node(&format!("plic@{PLIC_BASE:x}"))?;
    fdt.property_string_list(
        "compatible",
        vec!["sifive,plic-1.0.0".to_owned(), "riscv,plic0".to_owned()],
    )?;
    reg(fdt, PLIC_BASE, PLIC_SIZE)?;
    fdt.property_u32("#address-cells", 0)?;
    fdt.property_u32("#interrupt-cells", 1)?;
    fdt.property_null("interrupt-controller")?;
    fdt.property_u32("riscv,ndev", PLIC_NUM_SOURCES - 1)?;
    fdt.property_array_u32("interrupts-extended", &hart_external_interrupts(cfg))?;
    fdt.property_phandle(PLIC_PHANDLE)?;
    fdt.end_node(plic)?;
    Ok(())
}

/// The IMSICs (one S-level file per hart, the MSI controller) and the APLIC domain
/// that turns wired interrupts into MSIs to them.
fn write_aia(fdt: &mut FdtWriter, cfg: &FdtConfig, aia: &AiaNodes) -> Result<(), FdtError> {
    let imsic_size = u64::from(cfg.num_harts) * IMSIC_FILE_SIZE;
    let imsic = fdt.begin_node(&format!("imsics@{:x}", aia.imsic_base))?;
    fdt.property_string("compatible", "riscv,imsics")?;
    reg(fdt, aia.imsic_base, imsic_size)?;
    fdt.property_u32("#address-cells", 0)?;
    fdt.property_u32("#interrupt-cells", 0)?;
    fdt.property_null("interrupt-controller")?;
    fdt.property_null("msi-controller")?;
    fdt.property_u32("riscv,num-ids", aia.num_ids)?;
    fdt.property_u32("riscv,hart-index-bits", aia.hart_index_bits)?;
    fdt.property_array_u32("interrupts-extended", &hart_external_interrupts(cfg))?;
    fdt.property_phandle(imsic_phandle(cfg.num_harts))?;
    fdt.end_node(imsic)?;

    let aplic = fdt.begin_node(&format!("aplic@{:x}", aia.aplic_base))?;
    fdt.property_string("compatible", "riscv,aplic")?;
    reg(fdt, aia.aplic_base, aia.aplic_size)?;
    fdt.property_u32("#address-cells", 0)?;
    fdt.property_u32("#interrupt-cells", 2)?;
    fdt.property_null("interrupt-controller")?;
    fdt.property_u32("riscv,num-sources", aia.num_sources)?;
    fdt.property_u32("msi-parent", imsic_phandle(cfg.num_harts))?;
    fdt.property_phandle(PLIC_PHANDLE)?;
    fdt.end_node(aplic)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::layout::{
        RAM_BASE, TIMEBASE_FREQUENCY, VIRTIO_MMIO_BASE, VIRTIO_MMIO_IRQ_BASE, VIRTIO_MMIO_SIZE,
    };

    /// Every node of a blob by path, with its properties' raw values.
    type Tree = BTreeMap<String, BTreeMap<String, Vec<u8>>>;

    fn be32(b: &[u8], at: usize) -> u32 {
        u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
    }

    fn cstr(b: &[u8], at: usize) -> &str {
        let len = b[at..].iter().position(|&c| c == 0).unwrap();
        std::str::from_utf8(&b[at..at + len]).unwrap()
    }

    /// A minimal reader for the flattened format (devicetree specification, ch. 5),
    /// independent of vm-fdt, checking the header and token structure as it goes.
    fn parse(blob: &[u8]) -> Tree {
        assert_eq!(be32(blob, 0), 0xd00d_feed, "magic");
        assert_eq!(be32(blob, 4) as usize, blob.len(), "totalsize");
        let (off_struct, off_strings) = (be32(blob, 8) as usize, be32(blob, 12) as usize);
        assert_eq!(be32(blob, 20), 17, "version");
        let size_struct = be32(blob, 36) as usize;
        let mut tree = Tree::new();
        let mut path: Vec<String> = Vec::new();
        let mut pos = off_struct;
        let align = |p: usize| (p + 3) & !3;
        loop {
            let token = be32(blob, pos);
            pos += 4;
            match token {
                1 => {
                    let name = cstr(blob, pos).to_owned();
                    pos = align(pos + name.len() + 1);
                    path.push(name);
                    let key = format!("/{}", path[1..].join("/"));
                    assert!(
                        tree.insert(key, BTreeMap::new()).is_none(),
                        "duplicate node"
                    );
                }
                2 => {
                    path.pop().expect("unbalanced END_NODE");
                }
                3 => {
                    let len = be32(blob, pos) as usize;
                    let name = cstr(blob, off_strings + be32(blob, pos + 4) as usize);
                    let value = blob[pos + 8..pos + 8 + len].to_vec();
                    pos = align(pos + 8 + len);
                    let key = format!("/{}", path[1..].join("/"));
                    let node = tree.get_mut(&key).unwrap();
                    assert!(node.insert(name.to_owned(), value).is_none(), "duplicate");
                }
                4 => {}
                9 => break,
                t => panic!("bad token {t}"),
            }
        }
        assert!(path.is_empty(), "unclosed node");
        assert_eq!(pos, off_struct + size_struct, "size_dt_struct");
        tree
    }

    fn prop<'a>(tree: &'a Tree, node: &str, name: &str) -> &'a [u8] {
        tree.get(node)
            .unwrap_or_else(|| panic!("no node {node}"))
            .get(name)
            .unwrap_or_else(|| panic!("no {node}:{name}"))
    }

    fn strings(tree: &Tree, node: &str, name: &str) -> Vec<String> {
        let raw = prop(tree, node, name);
        assert_eq!(raw.last(), Some(&0), "{node}:{name} not NUL-terminated");
        raw[..raw.len() - 1]
            .split(|&b| b == 0)
            .map(|s| String::from_utf8(s.to_vec()).unwrap())
            .collect()
    }

    fn string(tree: &Tree, node: &str, name: &str) -> String {
        let mut list = strings(tree, node, name);
        assert_eq!(list.len(), 1, "{node}:{name}");
        list.remove(0)
    }

    fn cells(tree: &Tree, node: &str, name: &str) -> Vec<u32> {
        let raw = prop(tree, node, name);
        assert_eq!(raw.len() % 4, 0);
        (0..raw.len()).step_by(4).map(|i| be32(raw, i)).collect()
    }

    fn u64s(tree: &Tree, node: &str, name: &str) -> Vec<u64> {
        cells(tree, node, name)
            .chunks(2)
            .map(|c| (u64::from(c[0]) << 32) | u64::from(c[1]))
            .collect()
    }

    fn config(num_harts: u32, isa: &str, initrd: Option<(u64, u64)>) -> FdtConfig {
        FdtConfig {
            num_harts,
            isa: isa.parse().unwrap(),
            mmu_type: MmuType::Sv57,
            ram_base: RAM_BASE,
            ram_size: 512 << 20,
            bootargs: "console=ttyS0 earlycon=sbi".to_owned(),
            initrd,
            timebase_frequency: TIMEBASE_FREQUENCY,
            virtio_mmio: Vec::new(),
            irqchip: InterruptController::Plic,
        }
    }

    const PLIC: &str = "/soc/plic@c000000";
    const SERIAL: &str = "/soc/serial@10000000";

    #[test]
    fn one_hart_without_initrd() {
        let cfg = config(1, "rv64imafdc_zicsr_zifencei_zicntr_sstc", None);
        let t = parse(&create_fdt(&cfg).unwrap());

        assert_eq!(string(&t, "/", "compatible"), "riscv-virtio");
        assert_eq!(cells(&t, "/", "#address-cells"), [2]);
        assert_eq!(cells(&t, "/", "#size-cells"), [2]);

        assert_eq!(string(&t, "/chosen", "bootargs"), cfg.bootargs);
        assert_eq!(string(&t, "/chosen", "stdout-path"), SERIAL);
        assert!(!t["/chosen"].contains_key("linux,initrd-start"));
        assert!(!t["/chosen"].contains_key("linux,initrd-end"));

        assert_eq!(cells(&t, "/cpus", "timebase-frequency"), [10_000_000]);
        assert_eq!(cells(&t, "/cpus", "#address-cells"), [1]);
        assert_eq!(cells(&t, "/cpus", "#size-cells"), [0]);
        let cpu = "/cpus/cpu@0";
        assert_eq!(string(&t, cpu, "device_type"), "cpu");
        assert_eq!(cells(&t, cpu, "reg"), [0]);
        assert_eq!(string(&t, cpu, "status"), "okay");
        assert_eq!(string(&t, cpu, "compatible"), "riscv");
        assert_eq!(
            string(&t, cpu, "riscv,isa"),
            "rv64imafdc_zicntr_zicsr_zifencei_sstc"
        );
        assert_eq!(string(&t, cpu, "riscv,isa-base"), "rv64i");
        assert_eq!(
            strings(&t, cpu, "riscv,isa-extensions"),
            [
                "i", "m", "a", "f", "d", "c", "zicntr", "zicsr", "zifencei", "sstc"
            ]
        );
        assert_eq!(string(&t, cpu, "mmu-type"), "riscv,sv57");
        assert!(!t[cpu].contains_key("riscv,cbom-block-size"));
        let intc = "/cpus/cpu@0/interrupt-controller";
        assert_eq!(string(&t, intc, "compatible"), "riscv,cpu-intc");
        assert_eq!(cells(&t, intc, "#interrupt-cells"), [1]);
        assert_eq!(cells(&t, intc, "#address-cells"), [0]);
        assert!(prop(&t, intc, "interrupt-controller").is_empty());
        let intc_phandle = cells(&t, intc, "phandle")[0];
        assert_eq!(
            cells(&t, "/cpus/cpu-map/cluster0/core0", "cpu"),
            cells(&t, cpu, "phandle")
        );

        assert_eq!(string(&t, "/memory@80000000", "device_type"), "memory");
        assert_eq!(u64s(&t, "/memory@80000000", "reg"), [RAM_BASE, 512 << 20]);

        assert_eq!(string(&t, "/soc", "compatible"), "simple-bus");
        assert!(prop(&t, "/soc", "ranges").is_empty());
        assert_eq!(
            strings(&t, PLIC, "compatible"),
            ["sifive,plic-1.0.0", "riscv,plic0"]
        );
        assert_eq!(u64s(&t, PLIC, "reg"), [0x0c00_0000, 0x60_0000]);
        assert!(prop(&t, PLIC, "interrupt-controller").is_empty());
        assert_eq!(cells(&t, PLIC, "#interrupt-cells"), [1]);
        assert_eq!(cells(&t, PLIC, "#address-cells"), [0]);
        assert_eq!(cells(&t, PLIC, "riscv,ndev"), [95]);
        assert_eq!(
            cells(&t, PLIC, "interrupts-extended"),
            [intc_phandle, IRQ_S_EXT]
        );

        assert_eq!(string(&t, SERIAL, "compatible"), "ns16550a");
        assert_eq!(u64s(&t, SERIAL, "reg"), [0x1000_0000, 0x100]);
        assert_eq!(cells(&t, SERIAL, "clock-frequency"), [3_686_400]);
        assert_eq!(cells(&t, SERIAL, "interrupts"), [10]);
        assert_eq!(
            cells(&t, SERIAL, "interrupt-parent"),
            cells(&t, PLIC, "phandle")
        );
        assert!(!t.keys().any(|k| k.contains("virtio")));
    }

    #[test]
    fn four_harts_with_initrd_and_h() {
        let initrd = (0x9f00_0000, 0x9f80_1234);
        let cfg = config(4, "rv64imafdch_zicntr_zicsr_zifencei_sstc", Some(initrd));
        let t = parse(&create_fdt(&cfg).unwrap());

        assert_eq!(u64s(&t, "/chosen", "linux,initrd-start"), [initrd.0]);
        assert_eq!(u64s(&t, "/chosen", "linux,initrd-end"), [initrd.1]);

        let mut phandles = BTreeSet::new();
        let mut contexts = Vec::new();
        for hart in 0..4u32 {
            let cpu = format!("/cpus/cpu@{hart}");
            assert_eq!(cells(&t, &cpu, "reg"), [hart]);
            assert_eq!(
                string(&t, &cpu, "riscv,isa"),
                "rv64imafdch_zicntr_zicsr_zifencei_sstc"
            );
            let exts = strings(&t, &cpu, "riscv,isa-extensions");
            assert_eq!(exts[..7], ["i", "m", "a", "f", "d", "c", "h"]);
            let intc = format!("{cpu}/interrupt-controller");
            let intc_phandle = cells(&t, &intc, "phandle")[0];
            let cpu_phandle = cells(&t, &cpu, "phandle")[0];
            assert!(phandles.insert(intc_phandle) && phandles.insert(cpu_phandle));
            assert_eq!(
                cells(&t, &format!("/cpus/cpu-map/cluster0/core{hart}"), "cpu"),
                [cpu_phandle]
            );
            contexts.extend([intc_phandle, IRQ_S_EXT]);
        }
        assert!(!t.contains_key("/cpus/cpu@4"));
        assert!(phandles.insert(cells(&t, PLIC, "phandle")[0]));
        // One S-mode context per hart, in hart order.
        assert_eq!(cells(&t, PLIC, "interrupts-extended"), contexts);
    }

    #[test]
    fn lists_virtio_devices_and_cache_block_sizes() {
        let mut cfg = config(2, "rv64gc_zicbom_zicboz", None);
        cfg.mmu_type = MmuType::Sv39;
        cfg.virtio_mmio = (0..2)
            .map(|n| VirtioMmioNode {
                base: VIRTIO_MMIO_BASE + n * VIRTIO_MMIO_SIZE,
                size: VIRTIO_MMIO_SIZE,
                irq: VIRTIO_MMIO_IRQ_BASE + n as u32,
            })
            .collect();
        let t = parse(&create_fdt(&cfg).unwrap());
        assert_eq!(string(&t, "/cpus/cpu@1", "mmu-type"), "riscv,sv39");
        assert_eq!(cells(&t, "/cpus/cpu@1", "riscv,cbom-block-size"), [64]);
        assert_eq!(cells(&t, "/cpus/cpu@1", "riscv,cboz-block-size"), [64]);
        assert!(!t["/cpus/cpu@1"].contains_key("riscv,cbop-block-size"));
        for (n, base) in [(0u32, 0x1000_1000u64), (1, 0x1000_2000)] {
            let node = format!("/soc/virtio_mmio@{base:x}");
            assert_eq!(string(&t, &node, "compatible"), "virtio,mmio");
            assert_eq!(u64s(&t, &node, "reg"), [base, 0x1000]);
            assert_eq!(cells(&t, &node, "interrupts"), [1 + n]);
            assert_eq!(
                cells(&t, &node, "interrupt-parent"),
                cells(&t, PLIC, "phandle")
            );
        }
    }

    fn aia(hart_index_bits: u32) -> InterruptController {
        InterruptController::Aia(AiaNodes {
            aplic_base: crate::layout::APLIC_BASE,
            aplic_size: crate::layout::APLIC_SIZE,
            num_sources: 95,
            imsic_base: crate::layout::IMSIC_BASE,
            num_ids: 255,
            hart_index_bits,
        })
    }

    #[test]
    fn aia_replaces_the_plic_and_devices_interrupt_at_the_aplic() {
        let mut cfg = config(3, "rv64imafdc_zicsr_ssaia", None);
        cfg.irqchip = aia(2);
        cfg.virtio_mmio = vec![VirtioMmioNode {
            base: VIRTIO_MMIO_BASE,
            size: VIRTIO_MMIO_SIZE,
            irq: VIRTIO_MMIO_IRQ_BASE,
        }];
        let t = parse(&create_fdt(&cfg).unwrap());
        assert!(!t.contains_key(PLIC));

        const IMSIC: &str = "/soc/imsics@28000000";
        const APLIC: &str = "/soc/aplic@d000000";
        assert_eq!(string(&t, IMSIC, "compatible"), "riscv,imsics");
        assert_eq!(u64s(&t, IMSIC, "reg"), [0x2800_0000, 3 * 0x1000]);
        assert!(prop(&t, IMSIC, "interrupt-controller").is_empty());
        assert!(prop(&t, IMSIC, "msi-controller").is_empty());
        assert_eq!(cells(&t, IMSIC, "#interrupt-cells"), [0]);
        assert_eq!(cells(&t, IMSIC, "riscv,num-ids"), [255]);
        assert_eq!(cells(&t, IMSIC, "riscv,hart-index-bits"), [2]);
        let contexts: Vec<u32> = (0..3)
            .flat_map(|hart| {
                let intc = format!("/cpus/cpu@{hart}/interrupt-controller");
                [cells(&t, &intc, "phandle")[0], IRQ_S_EXT]
            })
            .collect();
        assert_eq!(cells(&t, IMSIC, "interrupts-extended"), contexts);

        assert_eq!(string(&t, APLIC, "compatible"), "riscv,aplic");
        assert_eq!(u64s(&t, APLIC, "reg"), [0x0d00_0000, 0x4000]);
        assert!(prop(&t, APLIC, "interrupt-controller").is_empty());
        assert_eq!(cells(&t, APLIC, "#interrupt-cells"), [2]);
        assert_eq!(cells(&t, APLIC, "riscv,num-sources"), [95]);
        assert_eq!(
            cells(&t, APLIC, "msi-parent"),
            cells(&t, IMSIC, "phandle"),
            "the APLIC forwards to the IMSICs"
        );

        // Every phandle is distinct.
        let mut phandles: Vec<u32> = t
            .values()
            .filter_map(|node| node.get("phandle"))
            .map(|raw| be32(raw, 0))
            .collect();
        let count = phandles.len();
        phandles.sort_unstable();
        phandles.dedup();
        assert_eq!(phandles.len(), count);

        let aplic_phandle = cells(&t, APLIC, "phandle");
        assert_eq!(cells(&t, SERIAL, "interrupt-parent"), aplic_phandle);
        assert_eq!(cells(&t, SERIAL, "interrupts"), [10, 4]);
        let virtio = "/soc/virtio_mmio@10001000";
        assert_eq!(cells(&t, virtio, "interrupt-parent"), aplic_phandle);
        assert_eq!(cells(&t, virtio, "interrupts"), [1, 4]);
        assert!(strings(&t, "/cpus/cpu@2", "riscv,isa-extensions").contains(&"ssaia".to_owned()));
    }

    #[test]
    fn rejects_bad_configurations() {
        let mut cfg = config(0, "rv64gc", None);
        assert_eq!(create_fdt(&cfg), Err(FdtError::InvalidHartCount(0)));
        cfg.num_harts = 1;
        cfg.timebase_frequency = 1 << 32;
        assert_eq!(create_fdt(&cfg), Err(FdtError::TimebaseTooLarge(1 << 32)));
        cfg.timebase_frequency = TIMEBASE_FREQUENCY;
        cfg.bootargs = "nul\0inside".to_owned();
        assert!(matches!(create_fdt(&cfg), Err(FdtError::Writer(_))));
    }

    #[test]
    fn isa_strings_come_out_canonical() {
        let isa = IsaDescription::parse("RV64HCDFAMI_SSTC_ZIFENCEI_ZBB_ZICSR_XVENDOR_ZAAMO_SVADU")
            .unwrap();
        assert_eq!(
            isa.isa_string(),
            "rv64imafdch_zicsr_zifencei_zaamo_zbb_sstc_svadu_xvendor"
        );
        assert_eq!(isa.xlen(), 64);
        assert!(isa.has("h") && isa.has("H") && isa.has("zbb") && !isa.has("v"));
        assert_eq!(isa.to_string(), isa.isa_string());

        let g = IsaDescription::parse("rv64gc").unwrap();
        assert_eq!(g.isa_string(), "rv64imafdc_zicsr_zifencei");
        assert_eq!(
            g,
            IsaDescription::new(64, "cdfami", &["zifencei", "zicsr", "zicsr"]).unwrap()
        );
        assert_eq!(IsaDescription::parse("rv32i").unwrap().base(), "rv32i");
    }

    #[test]
    fn isa_strings_linux_would_refuse_are_rejected() {
        for bad in [
            "imafdc",          // no rv prefix
            "rv128i",          // bad XLEN
            "rv64e",           // E base
            "rv64mafd",        // no I
            "rv64imafdy",      // unknown letter
            "rv64i2p1",        // version numbers
            "rv64i__zicsr",    // empty extension
            "rv64i_",          // trailing underscore
            "rv64i_zi-csr",    // bad character
            "rv64i_q",         // single letter after an underscore
            "rv64i_vendorext", // not z/s/x
        ] {
            assert!(
                matches!(IsaDescription::parse(bad), Err(FdtError::InvalidIsa { .. })),
                "{bad}"
            );
        }
        assert!(IsaDescription::new(64, "i", &["h"]).is_err());
        assert!(IsaDescription::new(16, "i", &[]).is_err());
    }
}
