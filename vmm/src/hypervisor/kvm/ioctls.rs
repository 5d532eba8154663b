//! The ioctls this backend issues itself, numbered with vmm-sys-util's macros:
//! `KVM_RUN` (kvm-ioctls has it, but its `run()` hides the RISC-V exits and keeps the
//! `kvm_run` mapping to itself), `KVM_INTERRUPT`, which kvm-ioctls does not wrap for
//! RISC-V, and `KVM_CREATE_DEVICE` for its `KVM_CREATE_DEVICE_TEST` probe, where
//! kvm-ioctls' wrapper would wrap the untouched `fd` field (0) in a `File` and close
//! stdin when dropping it. The numbers follow the generic `_IO`/`_IOW`/`_IOWR`
//! encoding, the same on x86_64 and riscv64, so they are tested on every host.

#![allow(missing_docs)] // The macros generate undocumented functions.

use vmm_sys_util::{ioctl_io_nr, ioctl_iow_nr, ioctl_iowr_nr};

/// `KVMIO`, the ioctl type of every KVM ioctl.
pub const KVMIO: u32 = 0xAE;

/// `struct kvm_interrupt` (the argument of `KVM_INTERRUPT`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct KvmInterrupt {
    /// On RISC-V: [`KVM_INTERRUPT_SET`] or [`KVM_INTERRUPT_UNSET`] (the vCPU's
    /// supervisor external interrupt line).
    pub irq: u32,
}

/// `KVM_INTERRUPT_SET` (-1U): raise the vCPU's external interrupt.
pub const KVM_INTERRUPT_SET: u32 = u32::MAX;
/// `KVM_INTERRUPT_UNSET` (-2U): lower it.
pub const KVM_INTERRUPT_UNSET: u32 = u32::MAX - 1;

/// `struct kvm_create_device` (the argument of `KVM_CREATE_DEVICE`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct KvmCreateDevice {
    /// `KVM_DEV_TYPE_*`.
    pub type_: u32,
    /// Out: the new device's fd (untouched with [`KVM_CREATE_DEVICE_TEST`]).
    pub fd: u32,
    /// [`KVM_CREATE_DEVICE_TEST`] or 0.
    pub flags: u32,
}

/// `KVM_CREATE_DEVICE_TEST`: only ask whether the device type can be created.
pub const KVM_CREATE_DEVICE_TEST: u32 = 1;

/// `struct kvm_one_reg` (the argument of `KVM_GET_ONE_REG` / `KVM_SET_ONE_REG`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct KvmOneReg {
    pub id: u64,
    pub addr: u64,
}

/// `struct kvm_irq_level` (the argument of `KVM_IRQ_LINE`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct KvmIrqLevel {
    pub irq: u32,
    pub level: u32,
}

ioctl_io_nr!(KVM_RUN, KVMIO, 0x80);
ioctl_iow_nr!(KVM_IRQ_LINE, KVMIO, 0x61, KvmIrqLevel);
ioctl_iow_nr!(KVM_GET_ONE_REG, KVMIO, 0xAB, KvmOneReg);
ioctl_iow_nr!(KVM_SET_ONE_REG, KVMIO, 0xAC, KvmOneReg);
ioctl_iow_nr!(KVM_INTERRUPT, KVMIO, 0x86, KvmInterrupt);
ioctl_iowr_nr!(KVM_CREATE_DEVICE, KVMIO, 0xE0, KvmCreateDevice);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioctl_numbers_match_the_kernel_headers() {
        // _IO(KVMIO, 0x80)
        assert_eq!(KVM_RUN(), 0xAE80);
        // _IOW(KVMIO, 0x86, struct kvm_interrupt): dir 1 << 30, size 4 << 16.
        assert_eq!(KVM_INTERRUPT(), 0x4004_AE86);
        // _IOWR(KVMIO, 0xe0, struct kvm_create_device): dir 3 << 30, size 12 << 16.
        assert_eq!(KVM_CREATE_DEVICE(), 0xC00C_AEE0);
        // _IOW(KVMIO, 0x61, struct kvm_irq_level), _IOW(KVMIO, 0xab/0xac, struct kvm_one_reg).
        assert_eq!(KVM_IRQ_LINE(), 0x4008_AE61);
        assert_eq!(KVM_GET_ONE_REG(), 0x4010_AEAB);
        assert_eq!(KVM_SET_ONE_REG(), 0x4010_AEAC);
        assert_eq!(size_of::<KvmCreateDevice>(), 12);
        assert_eq!(KVM_INTERRUPT_SET as i32, -1);
        assert_eq!(KVM_INTERRUPT_UNSET as i32, -2);
    }
}
