//! The kernel-backend abstraction: a [`Hypervisor`] makes [`Vm`]s, a VM makes
//! [`Vcpu`]s, and a vCPU's `run()` returns [`VcpuExit`]s that the VMM handles with the
//! same code whichever backend produced them (after Cloud Hypervisor's `hypervisor`
//! crate).

#[cfg(target_os = "linux")]
pub mod kvm;
pub mod soft;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arch_riscv::fdt::{InterruptController, IsaDescription, MmuType};
pub use arch_riscv::hart::Counter;
use arch_riscv::hart::{Compilation, CompileConfig, SharedCompiler};
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
    /// The configuration asks for something this backend does not offer.
    #[error("The {backend} backend does not support {what}")]
    Unsupported {
        /// Backend name.
        backend: &'static str,
        /// What was asked for, and what to use instead.
        what: String,
    },
    /// A wired interrupt was raised on a VM whose interrupt controller is the VMM's.
    #[error("No in-kernel interrupt controller to drive source {0} on")]
    NoIrqChip(u32),
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

impl MemoryRegion {
    /// Whether `[gpa, gpa + len)` lies in the region.
    pub fn contains(&self, gpa: u64, len: u64) -> bool {
        gpa >= self.gpa
            && gpa
                .checked_add(len)
                .is_some_and(|end| end <= self.gpa + self.size)
    }

    /// The host word of the 8-byte-aligned guest word at `gpa`, if it is in the region.
    fn word(&self, gpa: u64) -> Option<&AtomicU64> {
        if gpa & 7 != 0 || !self.contains(gpa, 8) {
            return None;
        }
        let offset = (gpa - self.gpa) as usize;
        let host = self.host.wrapping_add(offset);
        if host as usize & 7 != 0 {
            return None;
        }
        // SAFETY: `host` is 8 bytes inside the mapping (checked above), 8-byte aligned
        // (checked above), and the mapping outlives the region (the MemoryRegion
        // contract); guest memory is only ever accessed atomically or by the kernel
        // on the guest's behalf, never through references.
        Some(unsafe { AtomicU64::from_ptr(host.cast::<u64>()) })
    }

    /// Reads the little-endian guest word at `gpa` (8-byte aligned), as the guest's
    /// harts see memory (a relaxed atomic load); `None` outside the region.
    pub fn read_u64(&self, gpa: u64) -> Option<u64> {
        self.word(gpa)
            .map(|word| u64::from_le(word.load(Ordering::Relaxed)))
    }

    /// Writes the little-endian guest word at `gpa` (8-byte aligned); false outside
    /// the region.
    pub fn write_u64(&self, gpa: u64, value: u64) -> bool {
        self.word(gpa)
            .map(|word| word.store(value.to_le(), Ordering::Relaxed))
            .is_some()
    }
}

/// What the VM is built with.
#[derive(Clone, Debug, Default)]
pub struct VmSetup {
    /// Number of vCPUs.
    pub vcpu_count: u32,
    /// Guest-physical windows of the VMM's MMIO devices.
    pub mmio_windows: Vec<(u64, u64)>,
    /// Whether the guest is a hypervisor, and what NACL offers it.
    pub nesting: Nesting,
    /// The interrupt controller asked for (`machine-config.irqchip`).
    pub irqchip: IrqChipRequest,
    /// The soft hart's compiled tier (`machine-config.jit`); `None` interprets
    /// everything. Backends that run guest code natively ignore it.
    pub compile: Option<CompileConfig>,
}

/// The compiled tier a machine config asks for: on by default where this build has
/// one, off when `jit.enabled` is false.
///
/// The VM's harts share one compile worker; it runs `worker_setup` on its thread
/// first (the VMM's seccomp filter for it).
pub fn compile_config(
    machine: &crate::config::MachineConfig,
    worker_setup: impl FnOnce() -> bool + Send + 'static,
) -> Option<CompileConfig> {
    if !arch_riscv::hart::COMPILED_TIER {
        return None;
    }
    let jit = machine.jit.unwrap_or_default();
    jit.enabled.then(|| CompileConfig {
        // The config checked the range (at most JitConfig::MAX_THRESHOLD).
        threshold: u8::try_from(jit.threshold).unwrap_or(u8::MAX - 1),
        code_cache_bytes: (jit.code_cache_mib as usize) << 20,
        // One worker for all the VM's harts: they keep running while it compiles.
        compiler: Compilation::Background(SharedCompiler::with_thread_setup(worker_setup)),
    })
}

/// Which interrupt controller a VM should get (`machine-config.irqchip`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IrqChipRequest {
    /// The backend's own AIA where it has one, else the VMM's PLIC.
    #[default]
    Auto,
    /// The VMM's userspace PLIC.
    Plic,
    /// The backend's AIA (KVM's in-kernel APLIC and IMSICs); an error where there is
    /// none.
    Aia,
}

impl IrqChipRequest {
    /// The request a machine config makes.
    pub fn from_config(machine: &crate::config::MachineConfig) -> IrqChipRequest {
        use crate::config::IrqChip;
        match machine.irqchip {
            IrqChip::Auto => IrqChipRequest::Auto,
            IrqChip::Plic => IrqChipRequest::Plic,
            IrqChip::Aia => IrqChipRequest::Aia,
        }
    }
}

/// What a VM's harts are, as the device tree must describe them: the backend decides
/// (the soft hart's fixed ISA, or what KVM reports for its vCPUs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GuestCpu {
    /// The ISA every hart implements.
    pub isa: IsaDescription,
    /// The largest virtual-memory scheme the harts implement.
    pub mmu_type: MmuType,
    /// Frequency of the `time` CSR in Hz.
    pub timebase_frequency: u64,
}

/// How the interrupt controller of a VM is called in log lines.
pub fn irqchip_name(irqchip: &InterruptController) -> &'static str {
    match irqchip {
        InterruptController::Plic => "userspace PLIC",
        InterruptController::Aia(_) => "in-kernel AIA (APLIC + IMSIC)",
    }
}

/// Nested virtualization offered to the guest.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Nesting {
    /// The harts implement the H extension (`machine-config.nested`).
    pub hypervisor: bool,
    /// The NACL features offered, when NACL is on (`machine-config.nacl`).
    pub nacl: Option<nacl::Features>,
}

impl Nesting {
    /// The nesting a machine config asks for: the H extension when `nested` is set,
    /// and NACL with the listed features (all four by default) unless disabled.
    pub fn from_config(machine: &crate::config::MachineConfig) -> Nesting {
        use crate::config::NaclFeature;
        if !machine.nested {
            return Nesting::default();
        }
        let nacl = match &machine.nacl {
            None => Some(nacl::Features::all()),
            Some(config) if !config.enabled => None,
            Some(config) => Some(
                config
                    .features
                    .iter()
                    .map(|feature| match feature {
                        NaclFeature::SyncCsr => nacl::Feature::SyncCsr,
                        NaclFeature::SyncHfence => nacl::Feature::SyncHfence,
                        NaclFeature::SyncSret => nacl::Feature::SyncSret,
                        NaclFeature::AutoswapCsr => nacl::Feature::AutoswapCsr,
                    })
                    .collect(),
            ),
        };
        Nesting {
            hypervisor: true,
            nacl,
        }
    }
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
    /// Exits to the VMM: every return of the hart to the VMM, including the SBI
    /// calls (NACL among them) the backend serves itself.
    pub exits: u64,
    /// SBI calls (ECALLs from HS-mode), including NACL calls.
    pub sbi_calls: u64,
    /// Entries into the nested guest (V=1) by SRET or NACL sync_sret.
    pub guest_entries: u64,
    /// Exits from the nested guest (traps from V=1 into the guest hypervisor).
    pub guest_exits: u64,
    /// H/VS CSR accesses by the guest hypervisor (each a trap to the L0 on
    /// hardware that runs the guest hypervisor in VS-mode).
    pub h_csr_accesses: u64,
    /// HFENCE instructions executed by the guest hypervisor.
    pub hfences: u64,
    /// SRET instructions that entered the nested guest (not NACL's sync_sret).
    pub sret_to_guest: u64,
    /// HLV/HLVX/HSV executed.
    pub hypervisor_loads_stores: u64,
    /// NACL statistics, when NACL is offered.
    pub nacl: Option<nacl::NaclStats>,
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
    /// The compiled tier's statistics, when it is on (soft backend).
    pub compiled: Option<arch_riscv::hart::CompileStats>,
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
    /// Whether the backend's kernel holds this hart stopped until the guest starts
    /// it with SBI HSM (KVM): the VMM then runs its thread at once, without a
    /// userspace hart_start, and only the boot hart gets `reset()`.
    fn started_by_kernel(&self) -> bool {
        false
    }

    /// Sleeps outside `run()` until an interrupt is pending and enabled in sie, as
    /// SBI HSM hart_suspend and SUSP system_suspend wait: `Ok(true)` on that
    /// interrupt (not taken yet), `Ok(false)` when kicked first.
    fn wait_for_interrupt(&mut self) -> Result<bool, HypervisorError> {
        Err(HypervisorError::Unsupported {
            backend: "this",
            what: "suspending a hart in the VMM".into(),
        })
    }

    /// Resumes from a non-retentive suspend: S-mode at `pc`, a0 = hart id,
    /// a1 = `opaque`, satp = 0, sstatus.SIE = 0, other registers kept.
    fn resume_non_retentive(&mut self, pc: u64, opaque: u64) -> Result<(), HypervisorError> {
        let _ = (pc, opaque);
        Err(HypervisorError::Unsupported {
            backend: "this",
            what: "resuming a hart in the VMM".into(),
        })
    }

    /// Machine counter `counter` (mcycle/minstret) for the firmware's SBI PMU;
    /// `None` where the backend keeps counters to itself (KVM serves PMU in-kernel).
    fn machine_counter(&self, counter: Counter) -> Option<u64> {
        let _ = counter;
        None
    }

    /// Writes machine counter `counter` (if `value`) and lets it count or freezes it.
    fn set_machine_counter(&mut self, counter: Counter, value: Option<u64>, running: bool) {
        let _ = (counter, value, running);
    }

    /// The NACL features this vCPU's guest hypervisor is offered, if any. NACL calls
    /// are served inside the backend's `run()`; the VMM only answers probes.
    fn nested_acceleration(&self) -> Option<nacl::Features> {
        None
    }
}

/// A virtual machine: guest memory plus vCPUs.
pub trait Vm: Send + Sync {
    /// Maps a region of guest RAM.
    fn add_memory_region(&self, region: MemoryRegion) -> Result<(), HypervisorError>;
    /// Creates vCPU `id` (hart id = `id`).
    fn create_vcpu(&self, id: u32) -> Result<Box<dyn Vcpu>, HypervisorError>;
    /// What the guest's harts are: the ISA, MMU and timebase the device tree states.
    fn guest_cpu(&self) -> GuestCpu;
    /// The interrupt controller the guest has. [`InterruptController::Plic`] means
    /// the VMM's own PLIC, which drives [`VcpuSignals::set_external_interrupt`]; any
    /// other is the backend's, whose wired sources [`Vm::set_irq_line`] drives.
    fn interrupt_controller(&self) -> InterruptController {
        InterruptController::Plic
    }
    /// Sets the level of wired interrupt source `source` of the backend's own
    /// interrupt controller; an error for a VM without one.
    fn set_irq_line(&self, source: u32, level: bool) -> Result<(), HypervisorError> {
        let _ = level;
        Err(HypervisorError::NoIrqChip(source))
    }
}

/// A kernel backend.
pub trait Hypervisor: Send + Sync {
    /// Which backend this is.
    fn kind(&self) -> BackendKind;
    /// Creates a VM.
    fn create_vm(&self, setup: &VmSetup) -> Result<Arc<dyn Vm>, HypervisorError>;
}

/// The hypervisor for a requested backend (`None` = auto: KVM where `/dev/kvm`
/// opens on a riscv64 host, else the software hart). Asking for KVM where it cannot
/// work is an [`HypervisorError::Unavailable`] whose reason says why in one line.
pub fn new_hypervisor(kind: Option<BackendKind>) -> Result<Arc<dyn Hypervisor>, HypervisorError> {
    match kind {
        Some(BackendKind::Soft) => Ok(Arc::new(soft::SoftHypervisor)),
        Some(BackendKind::Kvm) => kvm_hypervisor().map_err(|reason| HypervisorError::Unavailable {
            backend: "kvm",
            reason,
        }),
        None => kvm_hypervisor().or_else(|reason| {
            tracing::info!(%reason, "backend auto: using the soft backend");
            Ok(Arc::new(soft::SoftHypervisor) as Arc<dyn Hypervisor>)
        }),
    }
}

/// The KVM hypervisor, or why there is none.
fn kvm_hypervisor() -> Result<Arc<dyn Hypervisor>, String> {
    #[cfg(all(target_os = "linux", target_arch = "riscv64"))]
    {
        kvm::KvmHypervisor::open()
            .map(|h| Arc::new(h) as Arc<dyn Hypervisor>)
            .map_err(|e| e.to_string())
    }
    #[cfg(not(all(target_os = "linux", target_arch = "riscv64")))]
    {
        Err(kvm_unavailable_reason())
    }
}

/// Why this build cannot use KVM (hosts other than riscv64 Linux).
#[cfg(not(all(target_os = "linux", target_arch = "riscv64")))]
fn kvm_unavailable_reason() -> String {
    format!(
        "the host is {} {}, KVM for RISC-V guests needs a riscv64 Linux host; use \"soft\"",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}
