//! The kernel-backend abstraction: a [`Hypervisor`] makes [`Vm`]s, a VM makes
//! [`Vcpu`]s, and a vCPU's `run()` returns [`VcpuExit`]s that the VMM handles with the
//! same code whichever backend produced them (after Cloud Hypervisor's `hypervisor`
//! crate).

pub mod soft;

use std::sync::Arc;

use thiserror::Error;

/// Which backend runs the guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    /// The software hart.
    Soft,
    /// Linux KVM (riscv64 hosts).
    Kvm,
}

/// Host-side failures of a backend (never a guest's misbehaviour).
#[derive(Debug, Error)]
pub enum HypervisorError {
    /// The backend cannot run on this host.
    #[error("The {backend} backend is not available on this host: {reason}")]
    Unavailable {
        /// Backend name.
        backend: &'static str,
        /// Why not.
        reason: String,
    },
    /// A memory region was rejected.
    #[error("Cannot map guest memory at {gpa:#x}: {reason}")]
    Memory {
        /// Guest-physical address of the region.
        gpa: u64,
        /// Why.
        reason: String,
    },
    /// A vCPU could not be created or configured.
    #[error("vCPU {id}: {reason}")]
    Vcpu {
        /// vCPU index.
        id: u32,
        /// Why.
        reason: String,
    },
}

/// A contiguous range of guest RAM backed by host memory the VMM owns.
#[derive(Clone, Copy, Debug)]
pub struct MemoryRegion {
    /// Guest-physical base.
    pub gpa: u64,
    /// Size in bytes.
    pub size: u64,
    /// Host address of the first byte; the mapping outlives the VM.
    pub host: *mut u8,
}

// SAFETY: a MemoryRegion only describes a mapping; the VMM keeps the mapping alive for
// the VM's lifetime and every user accesses it as guest memory (atomically in the soft
// backend, through the kernel in KVM).
unsafe impl Send for MemoryRegion {}
// SAFETY: as above.
unsafe impl Sync for MemoryRegion {}

/// What the VM is built with.
#[derive(Clone, Debug)]
pub struct VmSetup {
    /// Number of vCPUs.
    pub vcpu_count: u32,
    /// Guest-physical windows of the VMM's MMIO devices.
    pub mmio_windows: Vec<(u64, u64)>,
}

/// An SBI call a vCPU made that the VMM must answer.
pub use arch_riscv::hart::SbiCall;

/// Why a vCPU's `run()` returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VcpuExit {
    /// A load from MMIO: the VMM answers with [`Vcpu::complete_mmio_read`].
    MmioRead {
        /// Guest-physical address.
        addr: u64,
        /// Width in bytes.
        len: u8,
    },
    /// A store to MMIO.
    MmioWrite {
        /// Guest-physical address.
        addr: u64,
        /// Width in bytes.
        len: u8,
        /// The value, zero-extended.
        data: u64,
    },
    /// An SBI call: the VMM answers with [`Vcpu::set_sbi_return`].
    Sbi(SbiCall),
    /// The guest asked for shutdown (a backend that handles SRST itself).
    Shutdown,
    /// The guest asked for reset (a backend that handles SRST itself).
    Reset,
    /// Another thread asked the vCPU to return ([`VcpuSignals::kick`]).
    Interrupted,
}

/// The handle other threads use to reach a running vCPU.
pub trait VcpuSignals: Send + Sync {
    /// Asks the vCPU to return from `run()` soon.
    fn kick(&self);
    /// Sets the level of the vCPU's supervisor external interrupt (from the PLIC).
    fn set_external_interrupt(&self, level: bool);
    /// Raises a supervisor software interrupt (SBI IPI).
    fn send_ipi(&self);
    /// Makes the vCPU discard stale instruction fetches (SBI remote fence.i).
    fn remote_fence_i(&self);
    /// Makes the vCPU drop stale translations (SBI remote sfence.vma), waiting until
    /// it has if it is executing.
    fn remote_sfence_vma(&self);
}

/// Counters one vCPU keeps about itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VcpuCounters {
    /// Guest instructions executed (soft backend).
    pub instructions: u64,
    /// Exceptions delivered to the guest (soft backend).
    pub exceptions: u64,
    /// Interrupts delivered to the guest (soft backend).
    pub interrupts: u64,
    /// Data TLB misses (soft backend).
    pub tlb_misses: u64,
    /// Fetch-TLB misses (soft backend).
    pub fetch_misses: u64,
    /// Instructions decoded (soft backend).
    pub decodes: u64,
}

/// One virtual hart.
pub trait Vcpu: Send {
    /// Runs the vCPU until the VMM must act.
    fn run(&mut self) -> Result<VcpuExit, HypervisorError>;
    /// Puts the vCPU in the SBI boot state: S-mode at `pc`, a0 = its hart id,
    /// a1 = `opaque`, MMU off, interrupts off.
    fn reset(&mut self, pc: u64, opaque: u64) -> Result<(), HypervisorError>;
    /// Answers the pending MMIO load.
    fn complete_mmio_read(&mut self, data: u64);
    /// Answers the pending MMIO access with an access fault (nothing is mapped).
    fn fail_mmio(&mut self, addr: u64);
    /// Answers the pending SBI call with a0 = `error`, a1 = `value`.
    fn set_sbi_return(&mut self, error: i64, value: u64);
    /// Programs the supervisor timer (SBI set_timer), in timebase ticks.
    fn set_timer(&mut self, deadline: u64);
    /// Reads the `time` CSR as the guest sees it.
    fn time(&self) -> u64;
    /// The handle other threads use to reach this vCPU.
    fn signals(&self) -> Arc<dyn VcpuSignals>;
    /// This vCPU's counters.
    fn counters(&self) -> VcpuCounters;
}

/// A virtual machine: guest memory plus vCPUs.
pub trait Vm: Send + Sync {
    /// Maps a region of guest RAM.
    fn add_memory_region(&self, region: MemoryRegion) -> Result<(), HypervisorError>;
    /// Creates vCPU `id` (hart id = `id`).
    fn create_vcpu(&self, id: u32) -> Result<Box<dyn Vcpu>, HypervisorError>;
}

/// A kernel backend.
pub trait Hypervisor: Send + Sync {
    /// Which backend this is.
    fn kind(&self) -> BackendKind;
    /// Creates a VM.
    fn create_vm(&self, setup: &VmSetup) -> Result<Arc<dyn Vm>, HypervisorError>;
}

/// The hypervisor for a requested backend (`None` = auto: KVM where it can work,
/// else the software hart).
pub fn new_hypervisor(kind: Option<BackendKind>) -> Result<Arc<dyn Hypervisor>, HypervisorError> {
    match kind {
        Some(BackendKind::Soft) | None => Ok(Arc::new(soft::SoftHypervisor)),
        Some(BackendKind::Kvm) => Err(HypervisorError::Unavailable {
            backend: "kvm",
            reason: kvm_unavailable_reason(),
        }),
    }
}

fn kvm_unavailable_reason() -> String {
    if cfg!(not(target_arch = "riscv64")) {
        format!(
            "the host is {}, KVM for RISC-V guests needs a riscv64 host; use \"soft\"",
            std::env::consts::ARCH
        )
    } else {
        "this build has no KVM support yet; use \"soft\"".to_string()
    }
}
