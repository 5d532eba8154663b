//! Putting the guest in memory: the kernel Image, the initrd and the FDT, and the
//! boot registers they imply (pc = entry, a0 = hart id, a1 = FDT address).

use std::path::{Path, PathBuf};

use arch_riscv::fdt::{self, FdtConfig, InterruptController, VirtioMmioNode};
use arch_riscv::image;
use arch_riscv::layout::RAM_BASE;
use thiserror::Error;

use crate::config::VmConfig;
use crate::hypervisor::GuestCpu;
use crate::memory::GuestMemory;

/// Failures to load the guest.
#[derive(Debug, Error)]
pub enum BootError {
    /// A file could not be read.
    #[error("Cannot read {what} {path} ({field}): {source}")]
    Read {
        /// "kernel image" or "initrd".
        what: &'static str,
        /// The config field that named it.
        field: &'static str,
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The kernel image is not a RISC-V Linux Image or does not fit.
    #[error("Cannot load kernel image {path}: {source}")]
    Kernel {
        /// The path.
        path: PathBuf,
        /// Why.
        source: image::ImageError,
    },
    /// The initrd or FDT does not fit.
    #[error("Cannot place {what}: {source}")]
    Placement {
        /// "initrd" or "device tree".
        what: &'static str,
        /// Why.
        source: image::ImageError,
    },
    /// The FDT could not be built.
    #[error("Cannot build the device tree: {0}")]
    Fdt(#[from] fdt::FdtError),
}

/// Where the boot hart starts.
#[derive(Clone, Copy, Debug)]
pub struct BootInfo {
    /// Kernel entry (pc).
    pub entry: u64,
    /// Guest-physical address of the FDT (a1).
    pub fdt_addr: u64,
}

fn read(path: &Path, what: &'static str, field: &'static str) -> Result<Vec<u8>, BootError> {
    std::fs::read(path).map_err(|source| BootError::Read {
        what,
        field,
        path: path.to_owned(),
        source,
    })
}

/// What the device tree describes besides RAM and the boot files: the harts and
/// the interrupt controller, as the backend reports them ([`crate::hypervisor::Vm`]).
#[derive(Clone, Debug)]
pub struct MachineDescription {
    /// Number of harts.
    pub harts: u32,
    /// What each hart is.
    pub cpu: GuestCpu,
    /// The interrupt controller.
    pub irqchip: InterruptController,
    /// The virtio-mmio slots in use.
    pub virtio_mmio: Vec<VirtioMmioNode>,
}

/// Loads kernel, initrd and FDT into `memory` for the machine `machine` describes.
pub fn load(
    memory: &mut GuestMemory,
    config: &VmConfig,
    machine: &MachineDescription,
) -> Result<BootInfo, BootError> {
    let source = &config.boot_source;
    let kernel = read(
        &source.kernel_image_path,
        "kernel image",
        "boot-source.kernel_image_path",
    )?;
    let initrd = match &source.initrd_path {
        Some(path) => Some(read(path, "initrd", "boot-source.initrd_path")?),
        None => None,
    };
    let ram_size = memory.size();
    // SAFETY: no vCPU exists yet, and the slice is dropped before this returns.
    let ram = unsafe { memory.as_mut_slice() };
    let loaded =
        image::load_kernel(ram, RAM_BASE, &kernel).map_err(|source| BootError::Kernel {
            path: source_path(config),
            source,
        })?;

    let initrd_range = match &initrd {
        Some(initrd) => {
            let start = image::place_initrd(RAM_BASE, ram_size, loaded.end, initrd.len() as u64)
                .map_err(|source| BootError::Placement {
                    what: "initrd",
                    source,
                })?;
            let offset = (start - RAM_BASE) as usize;
            ram[offset..offset + initrd.len()].copy_from_slice(initrd);
            Some((start, start + initrd.len() as u64))
        }
        None => None,
    };

    let blob = fdt::create_fdt(&FdtConfig {
        num_harts: machine.harts,
        isa: machine.cpu.isa.clone(),
        mmu_type: machine.cpu.mmu_type,
        ram_base: RAM_BASE,
        ram_size,
        bootargs: boot_args(config),
        initrd: initrd_range,
        timebase_frequency: machine.cpu.timebase_frequency,
        virtio_mmio: machine.virtio_mmio.clone(),
        irqchip: machine.irqchip,
    })?;
    let fdt_addr =
        image::place_fdt(RAM_BASE, ram_size, loaded.end, blob.len()).map_err(|source| {
            BootError::Placement {
                what: "device tree",
                source,
            }
        })?;
    let offset = (fdt_addr - RAM_BASE) as usize;
    ram[offset..offset + blob.len()].copy_from_slice(&blob);
    Ok(BootInfo {
        entry: loaded.entry,
        fdt_addr,
    })
}

/// The configured command line, with what the root drive adds at its end.
fn boot_args(config: &VmConfig) -> String {
    let args = config.boot_source.boot_args.clone().unwrap_or_default();
    match config.root_boot_args() {
        Some(root) if args.is_empty() => root,
        Some(root) => format!("{args} {root}"),
        None => args,
    }
}

fn source_path(config: &VmConfig) -> PathBuf {
    config.boot_source.kernel_image_path.clone()
}
