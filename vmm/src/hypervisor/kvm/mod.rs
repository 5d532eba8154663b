//! The `kvm` backend: guests run on the host's KVM (Linux on a riscv64 host with the
//! H extension, `/dev/kvm`).
//!
//! ```text
//!  KvmHypervisor ── /dev/kvm
//!   └─ KvmVm ──────── VM fd: memslots, (in-kernel AIA probe)
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
//!   every vCPU thread enters `KVM_RUN` at once (see [`KVM_STARTS_SECONDARIES`]).
//! - DBCN and SUSP are enabled before the first run; they and the v0.1 console calls
//!   exit as `KVM_EXIT_RISCV_SBI` and are answered by the VMM's own SBI code, as for
//!   the soft backend. SRST arrives as `KVM_EXIT_SYSTEM_EVENT`.
//! - MMIO (PLIC, UART, virtio) exits as `KVM_EXIT_MMIO` to the same devices. The
//!   userspace PLIC drives each vCPU's external interrupt with `KVM_INTERRUPT`,
//!   which the kernel accepts from any thread (an asynchronous vCPU ioctl on RISC-V).
//! - The guest's ISA string, MMU type and timebase come from KVM (CONFIG, ISA_EXT and
//!   TIMER registers of vCPU 0) and are what the FDT must describe.
//!
//! Register-id math ([`regs`]), `kvm_run` decoding ([`exits`]), ioctl numbers
//! ([`ioctls`]) and the nesting decision ([`nesting`]) are arch-neutral and tested
//! on every host; the parts that issue ioctls compile only on riscv64 Linux.

pub mod exits;
pub mod ioctls;
pub mod nesting;
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

/// Whether KVM, not the VMM, starts secondary harts (HSM in the kernel): the VMM's
/// vCPU threads must then run every vCPU from the start instead of waiting for a
/// userspace HSM hart_start.
pub const KVM_STARTS_SECONDARIES: bool = true;

/// The device node the backend opens.
pub const KVM_DEVICE: &str = "/dev/kvm";
