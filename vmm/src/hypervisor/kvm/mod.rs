//! The `kvm` backend: guests run on the host's KVM (Linux on a riscv64 host with the
//! H extension, `/dev/kvm`).
//!
//! ```text
//!  KvmHypervisor ── /dev/kvm
//!   └─ KvmVm ──────── VM fd: memslots, the in-kernel AIA (or none: userspace PLIC)
//!       └─ KvmVcpu ── vCPU fd + its kvm_run page (RunArea)
//!           ├─ run(): KVM_RUN, exits decoded by `exits` -> VcpuExit
//!           └─ KvmSignals (other threads): KVM_INTERRUPT on a dup of the vCPU fd,
//!              kick = immediate_exit + a signal to the vCPU thread
//! ```
//!
//! What the kernel does and what the VMM does:
//!
//! - KVM implements SBI BASE, TIME, IPI, RFENCE, HSM, SRST and PMU itself. Secondary
//!   vCPUs are created powered off by the kernel and come up through its HSM, so
//!   every vCPU thread enters `KVM_RUN` at once, and only the boot hart is reset by
//!   the VMM.
//! - DBCN and SUSP are enabled before the first run; they and the v0.1 console calls
//!   exit as `KVM_EXIT_RISCV_SBI` and are answered by the VMM's own SBI code, as for
//!   the soft backend. SRST arrives as `KVM_EXIT_SYSTEM_EVENT`.
//! - MMIO (PLIC, UART, virtio) exits as `KVM_EXIT_MMIO` to the same devices. The
//!   userspace PLIC drives each vCPU's external interrupt with `KVM_INTERRUPT`,
//!   which the kernel accepts from any thread (an asynchronous vCPU ioctl on RISC-V).
//! - The guest's ISA string, MMU type and timebase come from KVM (CONFIG, ISA_EXT and
//!   TIMER registers of vCPU 0) and are what the FDT must describe.
//! - With Ssaia on the host, KVM emulates the guest's APLIC and IMSICs in the kernel
//!   ([`aia`]); `machine-config.irqchip` chooses (`auto`: the in-kernel AIA where
//!   the host has it, else the userspace PLIC). With the AIA the UART's line is
//!   `KVM_IRQ_LINE` into the APLIC, the guest gets Ssaia, and its device tree has
//!   `riscv,imsics` and `riscv,aplic` nodes instead of the PLIC.
//! - A guest hypervisor (`nested`) gets the kernel's H where the kernel offers it
//!   ([`nesting`]); with NACL, the NACL calls the kernel forwards are served over
//!   ONE_REG ([`nacl_server`], [`onereg_hart`]).
//!
//! Register-id math ([`regs`]), `kvm_run` decoding ([`exits`]), ioctl numbers
//! ([`ioctls`]), the AIA layout ([`aia`]), the nesting decision ([`nesting`]) and NACL
//! over ONE_REG ([`onereg_hart`], [`nacl_server`]) are arch-neutral and tested on
//! every host; the parts that issue ioctls compile only on riscv64 Linux.

pub mod aia;
pub mod exits;
pub mod ioctls;
pub mod nacl_server;
pub mod nesting;
pub mod onereg_hart;
pub mod regs;

#[cfg(target_arch = "riscv64")]
mod backend;
#[cfg(target_arch = "riscv64")]
mod probe;
#[cfg(target_arch = "riscv64")]
mod run_area;
#[cfg(target_arch = "riscv64")]
mod vcpu;

#[cfg(target_arch = "riscv64")]
pub use backend::{KvmHypervisor, KvmVm};

/// The device node the backend opens.
pub const KVM_DEVICE: &str = "/dev/kvm";

#[cfg(all(test, not(target_arch = "riscv64")))]
mod tests {
    use crate::hypervisor::{BackendKind, HypervisorError, new_hypervisor};

    #[test]
    fn auto_picks_soft_where_kvm_cannot_run_riscv_guests() {
        let h = new_hypervisor(None).expect("auto always finds a backend");
        assert_eq!(h.kind(), BackendKind::Soft);
    }

    #[test]
    fn asking_for_kvm_here_is_a_one_line_error() {
        let Err(e) = new_hypervisor(Some(BackendKind::Kvm)) else {
            panic!("kvm cannot work on this host");
        };
        assert!(matches!(
            e,
            HypervisorError::Unavailable { backend: "kvm", .. }
        ));
        let msg = e.to_string();
        assert!(!msg.contains('\n'), "{msg}");
        assert!(msg.contains(std::env::consts::ARCH), "{msg}");
        assert!(msg.contains("riscv64") && msg.contains("\"soft\""), "{msg}");
    }
}
