//! KVM's in-kernel AIA (APLIC + one IMSIC per vCPU, `KVM_DEV_TYPE_RISCV_AIA`): the
//! layout and the device attributes that describe it (arch-neutral, tested
//! everywhere), and on riscv64 the device itself.
//!
//! The device ABI (Linux `Documentation/virt/kvm/devices/riscv-aia.rst`,
//! `arch/riscv/kvm/aia_device.c`): after the vCPUs exist and before any runs,
//! userspace writes the CONFIG group (u32 values: mode, number of MSI ids, number of
//! wired sources, hart/group/guest index bits), the ADDR group (u64: the APLIC base,
//! then one IMSIC base per vCPU) and finally CTRL/INIT. Wired sources are then driven
//! with `KVM_IRQ_LINE`; the APLIC and IMSIC MMIO and the guest's AIA CSRs are served
//! in the kernel. The guest's device tree gets the matching `riscv,aplic` and
//! `riscv,imsics` nodes from [`AiaLayout::fdt_nodes`].

use arch_riscv::fdt::AiaNodes;
use arch_riscv::layout;
use thiserror::Error;

/// `KVM_DEV_TYPE_RISCV_AIA`.
pub const KVM_DEV_TYPE_RISCV_AIA: u32 = 11;
/// IMSIC interrupt files are 4 KiB pages (`IMSIC_MMIO_PAGE_SHIFT`).
pub const IMSIC_PAGE_SHIFT: u32 = 12;

const _: () = assert!(1 << IMSIC_PAGE_SHIFT == layout::IMSIC_FILE_SIZE);

/// Device attribute groups and attributes.
pub mod attr {
    /// `KVM_DEV_RISCV_AIA_GRP_CONFIG` (u32 values).
    pub const GRP_CONFIG: u32 = 0;
    /// `KVM_DEV_RISCV_AIA_CONFIG_MODE`.
    pub const CONFIG_MODE: u64 = 0;
    /// `KVM_DEV_RISCV_AIA_CONFIG_IDS`.
    pub const CONFIG_IDS: u64 = 1;
    /// `KVM_DEV_RISCV_AIA_CONFIG_SRCS`.
    pub const CONFIG_SRCS: u64 = 2;
    /// `KVM_DEV_RISCV_AIA_CONFIG_GROUP_BITS`.
    pub const CONFIG_GROUP_BITS: u64 = 3;
    /// `KVM_DEV_RISCV_AIA_CONFIG_HART_BITS`.
    pub const CONFIG_HART_BITS: u64 = 5;
    /// `KVM_DEV_RISCV_AIA_CONFIG_GUEST_BITS`.
    pub const CONFIG_GUEST_BITS: u64 = 6;
    /// `KVM_DEV_RISCV_AIA_GRP_ADDR` (u64 values).
    pub const GRP_ADDR: u32 = 1;
    /// `KVM_DEV_RISCV_AIA_ADDR_APLIC`.
    pub const ADDR_APLIC: u64 = 0;
    /// `KVM_DEV_RISCV_AIA_ADDR_IMSIC(vcpu)`.
    pub const fn addr_imsic(vcpu: u32) -> u64 {
        1 + vcpu as u64
    }
    /// `KVM_DEV_RISCV_AIA_GRP_CTRL`.
    pub const GRP_CTRL: u32 = 2;
    /// `KVM_DEV_RISCV_AIA_CTRL_INIT`.
    pub const CTRL_INIT: u64 = 0;
    /// `KVM_DEV_RISCV_AIA_MODE_EMUL`: IMSICs emulated in software.
    pub const MODE_EMUL: u32 = 0;
    /// `KVM_DEV_RISCV_AIA_MODE_HWACCEL`: guest interrupt files only.
    pub const MODE_HWACCEL: u32 = 1;
    /// `KVM_DEV_RISCV_AIA_MODE_AUTO`: guest interrupt files while the host has free
    /// ones, else emulated. KVM refuses it on a host without guest interrupt files.
    pub const MODE_AUTO: u32 = 2;

    /// A mode's name for log lines.
    pub fn mode_name(mode: u32) -> &'static str {
        match mode {
            MODE_EMUL => "emulated IMSICs",
            MODE_HWACCEL => "IMSIC guest files",
            MODE_AUTO => "IMSIC guest files where free, else emulated",
            _ => "unknown mode",
        }
    }
}

/// Which interrupt controller a KVM VM gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IrqChip {
    /// The VMM's PLIC; external interrupts through `KVM_INTERRUPT`. Ssaia is hidden
    /// from the guest where KVM can hide it (a host with Smstateen), so that the
    /// guest has no reason to touch IMSIC CSRs; elsewhere the guest and its device
    /// tree keep Ssaia, without an IMSIC node.
    UserspacePlic,
    /// KVM's APLIC + IMSICs, at the addresses of this layout.
    InKernelAia(AiaLayout),
}

/// Where the in-kernel AIA sits in guest-physical memory, and its size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AiaLayout {
    /// Base of the APLIC (S-mode domain).
    pub aplic_base: u64,
    /// Base of hart 0's IMSIC (S-level file); hart n's is `n` pages above.
    pub imsic_base: u64,
    /// Number of harts (vCPUs).
    pub harts: u32,
    /// Wired interrupt sources of the APLIC (source 0 is reserved).
    pub sources: u32,
    /// MSI identities per IMSIC: 64n - 1, at least 63.
    pub ids: u32,
    /// Let KVM use the host's IMSIC guest interrupt files: KVM then picks its own
    /// default mode (AUTO where the host has guest files, EMUL elsewhere); `false`
    /// forces EMUL.
    pub hw_accel: bool,
}

/// A layout KVM would refuse.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum AiaLayoutError {
    /// A base address is not aligned.
    #[error("{what} base {addr:#x} is not aligned to {align:#x}")]
    Misaligned {
        /// "APLIC" or "IMSIC".
        what: &'static str,
        /// The address.
        addr: u64,
        /// The alignment KVM needs.
        align: u64,
    },
    /// The MSI id count is not 64n - 1 in [63, 2047].
    #[error("invalid number of MSI ids {0} (must be 64n - 1, 63 to 2047)")]
    Ids(u32),
    /// More wired sources than ids, or than the APLIC has.
    #[error("invalid number of wired sources {0}")]
    Sources(u32),
    /// No harts, or more than the hart index bits can number.
    #[error("invalid number of harts {0}")]
    Harts(u32),
}

impl AiaLayout {
    /// The machine's AIA for `harts` harts ([`arch_riscv::layout`], where QEMU
    /// `virt,aia=aplic-imsic` has it: APLIC-S at 0x0D00_0000, S-level IMSICs from
    /// 0x2800_0000), with 255 MSI ids and the PLIC's sources (1 to 95).
    pub fn for_machine(harts: u32) -> AiaLayout {
        AiaLayout {
            aplic_base: layout::APLIC_BASE,
            imsic_base: layout::IMSIC_BASE,
            harts,
            sources: layout::PLIC_NUM_SOURCES - 1,
            ids: 255,
            hw_accel: true,
        }
    }

    /// What the guest's device tree says about this AIA.
    pub fn fdt_nodes(&self) -> AiaNodes {
        AiaNodes {
            aplic_base: self.aplic_base,
            aplic_size: layout::APLIC_SIZE,
            num_sources: self.sources,
            imsic_base: self.imsic_base,
            num_ids: self.ids,
            hart_index_bits: self.hart_bits(),
        }
    }

    /// Bits of the hart index in an IMSIC address (`ceil(log2(harts))`).
    pub fn hart_bits(&self) -> u32 {
        self.harts.max(1).next_power_of_two().trailing_zeros()
    }

    /// Guest-physical base of hart `hart`'s IMSIC file.
    pub fn imsic_addr(&self, hart: u32) -> u64 {
        self.imsic_base + (u64::from(hart) << IMSIC_PAGE_SHIFT)
    }

    /// Checks what `aia_device.c` checks, so that a bad layout is a clear error here
    /// rather than an `EINVAL` from INIT.
    pub fn validate(&self) -> Result<(), AiaLayoutError> {
        if self.harts == 0 || self.harts > 1 << 15 {
            return Err(AiaLayoutError::Harts(self.harts));
        }
        if self.aplic_base & 0xFFF != 0 {
            return Err(AiaLayoutError::Misaligned {
                what: "APLIC",
                addr: self.aplic_base,
                align: 0x1000,
            });
        }
        // All IMSICs must share one base once the hart index bits are masked off.
        let align = 1u64 << (self.hart_bits() + IMSIC_PAGE_SHIFT);
        if self.imsic_base & (align - 1) != 0 {
            return Err(AiaLayoutError::Misaligned {
                what: "IMSIC",
                addr: self.imsic_base,
                align,
            });
        }
        if !(63..2048).contains(&self.ids) || self.ids & 63 != 63 {
            return Err(AiaLayoutError::Ids(self.ids));
        }
        if self.sources >= 1024 || self.sources > self.ids {
            return Err(AiaLayoutError::Sources(self.sources));
        }
        Ok(())
    }

    /// The CONFIG attributes to write, in order: (attribute, u32 value). The mode is
    /// only written to force EMUL: KVM's default is already AUTO where AUTO is
    /// possible, and writing AUTO on a host without guest files fails with EINVAL.
    pub fn config_attrs(&self) -> Vec<(u64, u32)> {
        let mode = (!self.hw_accel).then_some((attr::CONFIG_MODE, attr::MODE_EMUL));
        mode.into_iter()
            .chain([
                (attr::CONFIG_IDS, self.ids),
                (attr::CONFIG_SRCS, self.sources),
                (attr::CONFIG_GROUP_BITS, 0),
                (attr::CONFIG_HART_BITS, self.hart_bits()),
                (attr::CONFIG_GUEST_BITS, 0),
            ])
            .collect()
    }

    /// The ADDR attributes to write: the APLIC, then each hart's IMSIC.
    pub fn addr_attrs(&self) -> Vec<(u64, u64)> {
        std::iter::once((attr::ADDR_APLIC, self.aplic_base))
            .chain((0..self.harts).map(|h| (attr::addr_imsic(h), self.imsic_addr(h))))
            .collect()
    }
}

#[cfg(target_arch = "riscv64")]
pub use device::KvmAia;

#[cfg(target_arch = "riscv64")]
mod device {
    use std::os::fd::{FromRawFd, RawFd};

    use kvm_bindings::kvm_device_attr;
    use kvm_ioctls::{DeviceFd, VmFd};
    use vmm_sys_util::errno;
    use vmm_sys_util::ioctl::ioctl_with_mut_ref;

    use super::{AiaLayout, KVM_DEV_TYPE_RISCV_AIA, attr};
    use crate::hypervisor::kvm::ioctls::{
        KVM_CREATE_DEVICE, KVM_CREATE_DEVICE_TEST, KvmCreateDevice,
    };

    /// An initialized in-kernel AIA.
    pub struct KvmAia {
        _device: DeviceFd,
        mode: u32,
    }

    fn set(device: &DeviceFd, group: u32, attr: u64, value_addr: u64) -> Result<(), String> {
        device
            .set_device_attr(&kvm_device_attr {
                flags: 0,
                group,
                attr,
                addr: value_addr,
            })
            .map_err(|e| format!("AIA attribute {group}/{attr}: {e}"))
    }

    /// `KVM_CREATE_DEVICE` of the AIA type with `flags`: the new device's fd, or
    /// `None` for a successful [`KVM_CREATE_DEVICE_TEST`].
    fn create_device(vm: &VmFd, flags: u32) -> Result<Option<RawFd>, errno::Error> {
        let mut create = KvmCreateDevice {
            type_: KVM_DEV_TYPE_RISCV_AIA,
            fd: 0,
            flags,
        };
        // SAFETY: `vm` is a VM fd; KVM_CREATE_DEVICE reads and writes exactly one
        // `struct kvm_create_device`, which `create` is (size checked in `ioctls`);
        // the result is checked.
        let ret = unsafe { ioctl_with_mut_ref(vm, KVM_CREATE_DEVICE(), &mut create) };
        if ret < 0 {
            return Err(errno::Error::last());
        }
        if flags & KVM_CREATE_DEVICE_TEST != 0 {
            return Ok(None);
        }
        Ok(Some(create.fd as RawFd))
    }

    impl KvmAia {
        /// Whether this host's KVM can create an in-kernel AIA (its host has Ssaia):
        /// `KVM_CREATE_DEVICE` with `KVM_CREATE_DEVICE_TEST`; the error says why not.
        pub fn probe(vm: &VmFd) -> Result<(), String> {
            create_device(vm, KVM_CREATE_DEVICE_TEST)
                .map(|_| ())
                .map_err(|e| {
                    format!("KVM cannot create an AIA device ({e}): the host has no AIA (Ssaia)")
                })
        }

        /// Creates, configures and initializes the AIA of `layout` on `vm`, whose
        /// vCPUs must all exist and none have run.
        pub fn create(vm: &VmFd, layout: &AiaLayout) -> Result<KvmAia, String> {
            layout.validate().map_err(|e| e.to_string())?;
            let fd = create_device(vm, 0)
                .map_err(|e| format!("cannot create the in-kernel AIA: {e}"))?
                .ok_or("KVM_CREATE_DEVICE returned no fd")?;
            // SAFETY: the ioctl succeeded without TEST, so `fd` is a new device fd that
            // nothing else owns; the DeviceFd takes it over and closes it once.
            let device = unsafe { DeviceFd::from_raw_fd(fd) };
            for (attr, value) in layout.config_attrs() {
                // The kernel reads a u32 at `addr` during the ioctl.
                set(&device, attr::GRP_CONFIG, attr, &value as *const u32 as u64)?;
            }
            for (attr, addr) in layout.addr_attrs() {
                // The kernel reads a u64 at `addr` during the ioctl.
                set(&device, attr::GRP_ADDR, attr, &addr as *const u64 as u64)?;
            }
            set(&device, attr::GRP_CTRL, attr::CTRL_INIT, 0)?;
            let mut mode = u32::MAX;
            let mut query = kvm_device_attr {
                flags: 0,
                group: attr::GRP_CONFIG,
                attr: attr::CONFIG_MODE,
                // The kernel writes a u32 at `addr` during the ioctl.
                addr: &mut mode as *mut u32 as u64,
            };
            // SAFETY: `query.addr` points at `mode`, a live u32, which is exactly what
            // the kernel writes for a CONFIG attribute.
            if let Err(e) = unsafe { device.get_device_attr(&mut query) } {
                tracing::debug!(error = %e, "cannot read the AIA mode back");
            }
            Ok(KvmAia {
                _device: device,
                mode,
            })
        }

        /// The mode KVM runs the IMSICs in (`attr::MODE_*`; `u32::MAX` if unknown).
        pub fn mode(&self) -> u32 {
            self.mode
        }

        /// Drives wired source `source` (1-based) of the APLIC.
        pub fn set_irq(&self, vm: &VmFd, source: u32, level: bool) -> Result<(), String> {
            vm.set_irq_line(source, level)
                .map_err(|e| format!("KVM_IRQ_LINE {source}: {e}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qemu_virt_layout_is_valid() {
        for harts in [1, 2, 3, 4, 32] {
            let l = AiaLayout::for_machine(harts);
            assert_eq!(l.validate(), Ok(()), "{harts} harts");
        }
        let l = AiaLayout::for_machine(3);
        assert_eq!(l.hart_bits(), 2);
        assert_eq!(l.imsic_addr(2), 0x2800_2000);
        assert_eq!(AiaLayout::for_machine(1).hart_bits(), 0);
        assert_eq!(AiaLayout::for_machine(32).hart_bits(), 5);
    }

    #[test]
    fn attributes_in_kernel_order() {
        let l = AiaLayout::for_machine(2);
        assert_eq!(
            l.config_attrs(),
            vec![(1, 255), (2, 95), (3, 0), (5, 1), (6, 0)]
        );
        let emulated = AiaLayout {
            hw_accel: false,
            ..l
        };
        assert_eq!(emulated.config_attrs()[0], (0, attr::MODE_EMUL));
        assert_eq!(emulated.config_attrs().len(), 6);
        assert_eq!(
            l.addr_attrs(),
            vec![(0, 0x0D00_0000), (1, 0x2800_0000), (2, 0x2800_1000)]
        );
    }

    #[test]
    fn the_device_tree_matches_what_kvm_is_told() {
        let l = AiaLayout::for_machine(3);
        let nodes = l.fdt_nodes();
        assert_eq!(nodes.aplic_base, l.addr_attrs()[0].1);
        assert_eq!(nodes.imsic_base, l.addr_attrs()[1].1);
        assert_eq!(nodes.num_ids, 255);
        assert_eq!(nodes.num_sources, 95);
        assert_eq!(nodes.hart_index_bits, 2);
        assert_eq!(nodes.aplic_size, 0x4000);
        // The UART's source exists on the APLIC.
        assert!(arch_riscv::layout::UART_IRQ <= nodes.num_sources);
    }

    #[test]
    fn bad_layouts_are_refused() {
        let good = AiaLayout::for_machine(4);
        let bad = |f: fn(&mut AiaLayout)| {
            let mut l = good;
            f(&mut l);
            l.validate()
        };
        assert!(matches!(
            bad(|l| l.aplic_base += 8),
            Err(AiaLayoutError::Misaligned { .. })
        ));
        // 4 harts need the IMSIC base aligned to 4 pages.
        assert!(matches!(
            bad(|l| l.imsic_base += 0x1000),
            Err(AiaLayoutError::Misaligned { .. })
        ));
        assert_eq!(bad(|l| l.ids = 64), Err(AiaLayoutError::Ids(64)));
        assert_eq!(bad(|l| l.ids = 2047 + 64), Err(AiaLayoutError::Ids(2111)));
        assert_eq!(bad(|l| l.sources = 300), Err(AiaLayoutError::Sources(300)));
        assert_eq!(bad(|l| l.harts = 0), Err(AiaLayoutError::Harts(0)));
    }
}
