//! The vCPU ioctls this backend issues itself, numbered with vmm-sys-util's macros:
//! `KVM_RUN` (kvm-ioctls has it, but its `run()` hides the RISC-V exits and keeps the
//! `kvm_run` mapping to itself) and `KVM_INTERRUPT`, which kvm-ioctls does not wrap
//! for RISC-V. The numbers follow the generic `_IO`/`_IOW` encoding, the same on
//! x86_64 and riscv64, so they are tested on every host.

#![allow(missing_docs)] // The macros generate undocumented functions.

use vmm_sys_util::{ioctl_io_nr, ioctl_iow_nr};

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

ioctl_io_nr!(KVM_RUN, KVMIO, 0x80);
ioctl_iow_nr!(KVM_INTERRUPT, KVMIO, 0x86, KvmInterrupt);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ioctl_numbers_match_the_kernel_headers() {
        // _IO(KVMIO, 0x80)
        assert_eq!(KVM_RUN(), 0xAE80);
        // _IOW(KVMIO, 0x86, struct kvm_interrupt): dir 1 << 30, size 4 << 16.
        assert_eq!(KVM_INTERRUPT(), 0x4004_AE86);
        assert_eq!(KVM_INTERRUPT_SET as i32, -1);
        assert_eq!(KVM_INTERRUPT_UNSET as i32, -2);
    }
}
