//! The KVM hypervisor and VM: `/dev/kvm`, the VM fd, memslots, and the vCPUs,
//! configured (ISA and SBI extensions) before anything runs.

use std::sync::{Arc, Mutex};

use arch_riscv::fdt::{IsaDescription, MmuType};
use kvm_bindings::{KVM_API_VERSION, kvm_userspace_memory_region};
use kvm_ioctls::{Cap, Kvm, VcpuFd, VmFd};
use thiserror::Error;

use super::KVM_DEVICE;
use super::aia::{IrqChip, KvmAia};
use super::nesting::{self, NestingPlan, NestingRequest};
use super::probe;
use super::regs::{self, ConfigReg, IsaExt, SbiExt, TimerReg};
use super::vcpu::{KvmVcpu, get_reg, install_kick_handler, set_reg};
use crate::hypervisor::{
    BackendKind, Hypervisor, HypervisorError, MemoryRegion, Vcpu, Vm, VmSetup,
};

/// Why the KVM backend cannot be used. Each message is one line.
#[derive(Debug, Error)]
pub enum KvmError {
    /// `/dev/kvm` could not be opened.
    #[error(
        "cannot open {KVM_DEVICE}: {0} (load kvm.ko on a riscv64 host with the H extension, \
         or use \"soft\")"
    )]
    Open(vmm_sys_util::errno::Error),
    /// The kernel's KVM API is not the one this backend speaks.
    #[error(
        "{KVM_DEVICE} speaks KVM API version {0}, rvnest needs {KVM_API_VERSION}; use \"soft\""
    )]
    ApiVersion(i32),
    /// A capability the backend relies on is missing.
    #[error("the host's KVM lacks {0}; use \"soft\"")]
    MissingCap(&'static str),
    /// The kick signal handler could not be installed.
    #[error("{0}")]
    Signal(String),
}

/// The KVM hypervisor (an open `/dev/kvm`).
pub struct KvmHypervisor {
    kvm: Kvm,
    run_size: usize,
}

impl KvmHypervisor {
    /// Opens `/dev/kvm` and checks what the backend relies on.
    pub fn open() -> Result<KvmHypervisor, KvmError> {
        let kvm = Kvm::new().map_err(KvmError::Open)?;
        let version = kvm.get_api_version();
        if version != KVM_API_VERSION as i32 {
            return Err(KvmError::ApiVersion(version));
        }
        for (cap, name) in [
            (Cap::OneReg, "KVM_CAP_ONE_REG"),
            (Cap::ImmediateExit, "KVM_CAP_IMMEDIATE_EXIT"),
            (Cap::UserMemory, "KVM_CAP_USER_MEMORY"),
        ] {
            if !kvm.check_extension(cap) {
                return Err(KvmError::MissingCap(name));
            }
        }
        let run_size = kvm
            .get_vcpu_mmap_size()
            .map_err(|_| KvmError::MissingCap("KVM_GET_VCPU_MMAP_SIZE"))?;
        install_kick_handler().map_err(KvmError::Signal)?;
        Ok(KvmHypervisor { kvm, run_size })
    }

    /// Creates a VM for `setup` with interrupt controller `irqchip`, with the nesting
    /// `request` checked against what the host kernel was probed to support.
    pub fn create_kvm_vm(
        &self,
        setup: &VmSetup,
        request: NestingRequest,
        irqchip: IrqChip,
    ) -> Result<Arc<KvmVm>, HypervisorError> {
        let fail = |reason: String| HypervisorError::Unavailable {
            backend: "kvm",
            reason,
        };
        let support = if request.nested || request.nacl {
            Some(probe::nesting_support(&self.kvm, self.run_size))
        } else {
            None
        };
        if let Some(support) = &support {
            tracing::info!(
                h = %support.h_extension,
                hext_csrs = %support.hext_csrs,
                nacl_forwarding = %support.nacl_forwarding,
                "KVM nesting probes"
            );
        }
        let plan = nesting::plan(request, support.as_ref()).map_err(|e| fail(e.to_string()))?;

        let vm = self
            .kvm
            .create_vm()
            .map_err(|e| fail(format!("KVM_CREATE_VM failed: {e}")))?;
        let max = self.kvm.get_max_vcpus();
        if setup.vcpu_count as usize > max {
            return Err(fail(format!(
                "the host's KVM allows {max} vCPUs, the config asks for {}",
                setup.vcpu_count
            )));
        }
        let mut vcpus = Vec::with_capacity(setup.vcpu_count as usize);
        for id in 0..setup.vcpu_count {
            let fd = vm
                .create_vcpu(u64::from(id))
                .map_err(|e| HypervisorError::Vcpu {
                    id,
                    reason: format!("KVM_CREATE_VCPU failed: {e}"),
                })?;
            configure_vcpu(id, &fd, plan, irqchip)?;
            vcpus.push(Some(KvmVcpu::new(id, fd, self.run_size)?));
        }
        let aia_available = KvmAia::available(&vm);
        let aia = match irqchip {
            IrqChip::UserspacePlic => None,
            IrqChip::InKernelAia(layout) => {
                Some(KvmAia::create(&vm, &layout).map_err(|e| fail(e.to_string()))?)
            }
        };
        let guest = match vcpus.first() {
            Some(Some(vcpu0)) => read_guest_cpu(vcpu0.fd())?,
            _ => {
                return Err(HypervisorError::Vcpu {
                    id: 0,
                    reason: "a VM needs at least one vCPU".into(),
                });
            }
        };
        tracing::info!(
            isa = %guest.isa.isa_string(),
            mmu = guest.mmu_type.compatible(),
            timebase_hz = guest.timebase_frequency,
            in_kernel_aia_available = aia_available,
            irqchip = if aia.is_some() { "in-kernel AIA" } else { "userspace PLIC" },
            "KVM guest CPU"
        );
        Ok(Arc::new(KvmVm {
            vm,
            aia,
            aia_available,
            vcpus: Mutex::new(vcpus),
            next_slot: Mutex::new(0),
            guest,
        }))
    }
}

impl Hypervisor for KvmHypervisor {
    fn kind(&self) -> BackendKind {
        BackendKind::Kvm
    }

    fn create_vm(&self, setup: &VmSetup) -> Result<Arc<dyn Vm>, HypervisorError> {
        let request = NestingRequest {
            nested: setup.nesting.hypervisor,
            nacl: setup.nesting.nacl.is_some(),
        };
        // The machine model and its FDT have a PLIC (see `aia` for the other path).
        let vm: Arc<dyn Vm> = self.create_kvm_vm(setup, request, IrqChip::UserspacePlic)?;
        Ok(vm)
    }
}

/// What KVM gives the guest's harts, as the FDT must describe them.
#[derive(Clone, Debug)]
pub struct GuestCpu {
    /// The ISA (CONFIG `isa` letters plus every enabled ISA_EXT).
    pub isa: IsaDescription,
    /// The largest satp mode (CONFIG `satp_mode`).
    pub mmu_type: MmuType,
    /// The `time` CSR's frequency in Hz (TIMER `frequency`).
    pub timebase_frequency: u64,
}

/// A KVM VM.
pub struct KvmVm {
    vm: VmFd,
    /// The in-kernel AIA, when the VM was built with one.
    aia: Option<KvmAia>,
    /// Whether this host could have given the VM an in-kernel AIA.
    aia_available: bool,
    /// vCPUs are created with the VM (KVM reads the ISA from one, and the in-kernel
    /// AIA needs them to exist); `create_vcpu` hands each out once.
    vcpus: Mutex<Vec<Option<KvmVcpu>>>,
    next_slot: Mutex<u32>,
    guest: GuestCpu,
}

impl KvmVm {
    /// What the guest's harts are.
    pub fn guest_cpu(&self) -> &GuestCpu {
        &self.guest
    }

    /// Whether the host's KVM can create an in-kernel AIA.
    pub fn in_kernel_aia_available(&self) -> bool {
        self.aia_available
    }

    /// Drives wired interrupt source `source` of the in-kernel AIA's APLIC.
    pub fn set_irq_line(&self, source: u32, level: bool) -> Result<(), HypervisorError> {
        let fail = |reason: String| HypervisorError::Unavailable {
            backend: "kvm",
            reason,
        };
        match &self.aia {
            Some(aia) => aia.set_irq(&self.vm, source, level).map_err(fail),
            None => Err(fail("the VM has no in-kernel AIA".into())),
        }
    }
}

impl Vm for KvmVm {
    fn add_memory_region(&self, region: MemoryRegion) -> Result<(), HypervisorError> {
        let fail = |reason: String| HypervisorError::Memory {
            gpa: region.gpa,
            reason,
        };
        if region.host as usize & 0xFFF != 0 || region.gpa & 0xFFF != 0 || region.size & 0xFFF != 0
        {
            return Err(fail("region not page aligned".into()));
        }
        let mut slot = self.next_slot.lock().unwrap_or_else(|e| e.into_inner());
        let mem = kvm_userspace_memory_region {
            slot: *slot,
            flags: 0,
            guest_phys_addr: region.gpa,
            memory_size: region.size,
            userspace_addr: region.host as u64,
        };
        // SAFETY: the VMM keeps the host mapping (`size` bytes at `host`) alive for the
        // VM's lifetime and only drops it after every vCPU thread has ended (the
        // MemoryRegion contract); the slot number is fresh.
        unsafe { self.vm.set_user_memory_region(mem) }
            .map_err(|e| fail(format!("KVM_SET_USER_MEMORY_REGION failed: {e}")))?;
        *slot += 1;
        Ok(())
    }

    fn create_vcpu(&self, id: u32) -> Result<Box<dyn Vcpu>, HypervisorError> {
        let mut vcpus = self.vcpus.lock().unwrap_or_else(|e| e.into_inner());
        let vcpu = vcpus
            .get_mut(id as usize)
            .and_then(Option::take)
            .ok_or_else(|| HypervisorError::Vcpu {
                id,
                reason: "no such vCPU, or already handed out".into(),
            })?;
        Ok(Box::new(vcpu))
    }
}

/// Sets up a new vCPU's ISA and SBI extensions (before its first run, when KVM
/// still accepts changes).
fn configure_vcpu(
    id: u32,
    fd: &VcpuFd,
    plan: NestingPlan,
    irqchip: IrqChip,
) -> Result<(), HypervisorError> {
    let fail = |reason: String| HypervisorError::Vcpu { id, reason };
    // Forwarded SBI extensions the VMM serves: the debug console (off by default in
    // KVM) and system suspend. A kernel that predates one answers with an error;
    // the guest then simply does not see the extension.
    for ext in [SbiExt::Dbcn, SbiExt::Susp] {
        if let Err(e) = set_reg(fd, regs::sbi_ext(ext), 1) {
            tracing::info!(vcpu = id, ?ext, error = %e, "SBI extension not available");
        }
    }
    // With the userspace PLIC there is no IMSIC behind the AIA CSRs: hide Ssaia so
    // that the guest never touches them (they would trap to userspace).
    if irqchip == IrqChip::UserspacePlic
        && let Err(e) = set_reg(fd, regs::isa_ext(IsaExt::SSAIA), 0)
    {
        tracing::debug!(vcpu = id, error = %e, "cannot disable Ssaia");
    }
    match plan {
        NestingPlan::Off => {}
        NestingPlan::KernelH => set_reg(fd, regs::isa_ext(IsaExt::H), 1)
            .map_err(|e| fail(format!("cannot enable the H extension: {e}")))?,
    }
    Ok(())
}

/// Reads what KVM gives the guest from a configured vCPU.
fn read_guest_cpu(fd: &VcpuFd) -> Result<GuestCpu, HypervisorError> {
    let fail = |reason: String| HypervisorError::Vcpu { id: 0, reason };
    let get =
        |id: u64, what: &str| get_reg(fd, id).map_err(|e| fail(format!("cannot read {what}: {e}")));
    let letters = regs::isa_letters(get(regs::config(ConfigReg::Isa), "CONFIG isa")?);
    let mut extensions = Vec::new();
    for ext in IsaExt::known() {
        let Some(name) = ext.name() else { continue };
        // Single letters come from the CONFIG bitmap; an id this kernel does not know
        // reads as an error and is left out.
        if name.len() > 1 && get_reg(fd, regs::isa_ext(ext)) == Ok(1) {
            extensions.push(name);
        }
    }
    let isa = IsaDescription::new(64, &letters, &extensions)
        .map_err(|e| fail(format!("KVM reports an ISA the FDT cannot describe: {e}")))?;
    let satp_mode = get(regs::config(ConfigReg::SatpMode), "CONFIG satp_mode")?;
    let mmu_type = regs::mmu_type(satp_mode)
        .ok_or_else(|| fail(format!("unknown satp mode {satp_mode} from KVM")))?;
    let timebase_frequency = get(regs::timer(TimerReg::Frequency), "TIMER frequency")?;
    Ok(GuestCpu {
        isa,
        mmu_type,
        timebase_frequency,
    })
}
