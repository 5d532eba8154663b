//! The KVM hypervisor and VM: `/dev/kvm`, the VM fd, memslots, and the vCPUs,
//! configured (ISA and SBI extensions) before anything runs.

use std::sync::{Arc, Mutex, OnceLock};

use arch_riscv::fdt::{InterruptController, IsaDescription};
use kvm_bindings::{KVM_API_VERSION, kvm_userspace_memory_region};
use kvm_ioctls::{Cap, Kvm, VcpuFd, VmFd};
use thiserror::Error;

use super::KVM_DEVICE;
use super::aia::{AiaLayout, IrqChip, KvmAia, attr};
use super::nesting::{self, NestingPlan, NestingRequest};
use super::probe;
use super::regs::{self, ConfigReg, IsaExt, SbiExt, TimerReg};
use super::vcpu::{KvmVcpu, get_reg, install_kick_handler, set_reg};
use crate::hypervisor::{
    BackendKind, GuestCpu, Hypervisor, HypervisorError, IrqChipRequest, MemoryRegion, Vcpu, Vm,
    VmSetup, irqchip_name,
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

    /// Creates a VM for `setup`, with the nesting `request` checked against what the
    /// host kernel was probed to support and the interrupt controller
    /// `setup.irqchip` asks for: the in-kernel AIA where the host has one and the
    /// request allows it, else the userspace PLIC.
    pub fn create_kvm_vm(
        &self,
        setup: &VmSetup,
        request: NestingRequest,
    ) -> Result<Arc<KvmVm>, HypervisorError> {
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
        let plan =
            nesting::plan(request, support.as_ref()).map_err(|e| unavailable(e.to_string()))?;
        let max = self.kvm.get_max_vcpus();
        if setup.vcpu_count as usize > max {
            return Err(unavailable(format!(
                "the host's KVM allows {max} vCPUs, the config asks for {}",
                setup.vcpu_count
            )));
        }
        let aia = IrqChip::InKernelAia(AiaLayout::for_machine(setup.vcpu_count));
        // A PLIC VM has no AIA to fail on: its inner error cannot happen.
        let plic = || {
            self.build(setup, plan, IrqChip::UserspacePlic)?
                .map_err(unavailable)
        };
        let vm = match setup.irqchip {
            IrqChipRequest::Plic => plic()?,
            IrqChipRequest::Aia => self.build(setup, plan, aia)?.map_err(|reason| {
                unavailable(format!(
                    "machine-config.irqchip is \"aia\", but {reason}; use \"plic\" or \"auto\""
                ))
            })?,
            IrqChipRequest::Auto => match self.build(setup, plan, aia)? {
                Ok(vm) => vm,
                Err(reason) => {
                    tracing::info!(%reason, "no in-kernel AIA: using the userspace PLIC");
                    plic()?
                }
            },
        };
        Ok(Arc::new(vm))
    }

    /// Builds a VM with `irqchip` on a fresh VM fd. The outer error is a host failure;
    /// the inner one says why the in-kernel AIA could not be set up (a PLIC VM never
    /// has one), so that the caller can fall back to the PLIC on a fresh VM: KVM keeps
    /// a half-configured AIA device until the VM is destroyed.
    fn build(
        &self,
        setup: &VmSetup,
        plan: NestingPlan,
        irqchip: IrqChip,
    ) -> Result<Result<KvmVm, String>, HypervisorError> {
        let vm = self
            .kvm
            .create_vm()
            .map_err(|e| unavailable(format!("KVM_CREATE_VM failed: {e}")))?;
        let aia_support = KvmAia::probe(&vm);
        if let (IrqChip::InKernelAia(_), Err(reason)) = (irqchip, &aia_support) {
            return Ok(Err(reason.clone()));
        }
        let ram = Arc::new(OnceLock::new());
        let mut vcpus = Vec::with_capacity(setup.vcpu_count as usize);
        for id in 0..setup.vcpu_count {
            let fd = vm
                .create_vcpu(u64::from(id))
                .map_err(|e| HypervisorError::Vcpu {
                    id,
                    reason: format!("KVM_CREATE_VCPU failed: {e}"),
                })?;
            if let Err(reason) = configure_vcpu(id, &fd, plan, irqchip)? {
                return Ok(Err(reason));
            }
            let nacl = match plan {
                NestingPlan::NaclOverOneReg => setup.nesting.nacl,
                NestingPlan::Off | NestingPlan::KernelH => None,
            };
            vcpus.push(Some(KvmVcpu::new(
                id,
                fd,
                self.run_size,
                nacl,
                ram.clone(),
            )?));
        }
        let aia = match irqchip {
            IrqChip::UserspacePlic => None,
            IrqChip::InKernelAia(layout) => match KvmAia::create(&vm, &layout) {
                Ok(aia) => Some((aia, layout)),
                Err(reason) => return Ok(Err(reason)),
            },
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
        let interrupt_controller = match &aia {
            Some((_, layout)) => InterruptController::Aia(layout.fdt_nodes()),
            None => InterruptController::Plic,
        };
        tracing::info!(
            isa = %guest.isa.isa_string(),
            mmu = guest.mmu_type.compatible(),
            timebase_hz = guest.timebase_frequency,
            in_kernel_aia_available = aia_support.is_ok(),
            irqchip = irqchip_name(&interrupt_controller),
            aia_mode = aia.as_ref().map(|(aia, _)| attr::mode_name(aia.mode())),
            nacl = ?setup.nesting.nacl.filter(|_| plan == NestingPlan::NaclOverOneReg),
            "KVM guest CPU"
        );
        Ok(Ok(KvmVm {
            vm,
            aia: aia.map(|(aia, _)| aia),
            interrupt_controller,
            vcpus: Mutex::new(vcpus),
            next_slot: Mutex::new(0),
            guest,
            ram,
        }))
    }
}

/// A one-line reason the kvm backend cannot build the VM.
fn unavailable(reason: String) -> HypervisorError {
    HypervisorError::Unavailable {
        backend: "kvm",
        reason,
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
        let vm: Arc<dyn Vm> = self.create_kvm_vm(setup, request)?;
        Ok(vm)
    }
}

/// A KVM VM.
pub struct KvmVm {
    vm: VmFd,
    /// The in-kernel AIA, when the VM was built with one.
    aia: Option<KvmAia>,
    /// What the guest's device tree describes.
    interrupt_controller: InterruptController,
    /// vCPUs are created with the VM (KVM reads the ISA from one, and the in-kernel
    /// AIA needs them to exist); `create_vcpu` hands each out once.
    vcpus: Mutex<Vec<Option<KvmVcpu>>>,
    next_slot: Mutex<u32>,
    guest: GuestCpu,
    /// Guest RAM, once mapped, for the vCPUs that serve NACL (its shared memory).
    ram: Arc<OnceLock<MemoryRegion>>,
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
        // NACL's shared memory lives in guest RAM: the first region is the RAM the
        // vCPUs read it from (the machine has one).
        let _ = self.ram.set(region);
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

    fn guest_cpu(&self) -> GuestCpu {
        self.guest.clone()
    }

    fn interrupt_controller(&self) -> InterruptController {
        self.interrupt_controller
    }

    fn set_irq_line(&self, source: u32, level: bool) -> Result<(), HypervisorError> {
        match &self.aia {
            Some(aia) => aia.set_irq(&self.vm, source, level).map_err(unavailable),
            None => Err(HypervisorError::NoIrqChip(source)),
        }
    }
}

/// Sets up a new vCPU's ISA and SBI extensions (before its first run, when KVM
/// still accepts changes). The inner error says why the vCPU cannot have the
/// in-kernel AIA `irqchip` asks for.
fn configure_vcpu(
    id: u32,
    fd: &VcpuFd,
    plan: NestingPlan,
    irqchip: IrqChip,
) -> Result<Result<(), String>, HypervisorError> {
    let fail = |reason: String| HypervisorError::Vcpu { id, reason };
    // Forwarded SBI extensions the VMM serves: the debug console (off by default in
    // KVM) and system suspend. A kernel that predates one answers with an error;
    // the guest then simply does not see the extension.
    for ext in [SbiExt::Dbcn, SbiExt::Susp] {
        if let Err(e) = set_reg(fd, regs::sbi_ext(ext), 1) {
            tracing::info!(vcpu = id, ?ext, error = %e, "SBI extension not available");
        }
    }
    match irqchip {
        // With the userspace PLIC there is no IMSIC behind the AIA CSRs: hide Ssaia so
        // that the guest never touches them (they would trap to userspace). A kernel
        // that cannot hide it reports it, and the device tree says so.
        IrqChip::UserspacePlic => {
            if let Err(e) = set_reg(fd, regs::isa_ext(IsaExt::SSAIA), 0) {
                tracing::debug!(vcpu = id, error = %e, "cannot disable Ssaia");
            }
        }
        // The IMSIC is reached through the AIA CSRs: the guest needs Ssaia.
        IrqChip::InKernelAia(_) => {
            let ssaia = regs::isa_ext(IsaExt::SSAIA);
            if let Err(e) = set_reg(fd, ssaia, 1) {
                return Ok(Err(format!("KVM cannot give the guest Ssaia ({e})")));
            }
            if get_reg(fd, ssaia) != Ok(1) {
                return Ok(Err("KVM does not report Ssaia for the guest".into()));
            }
        }
    }
    match plan {
        NestingPlan::Off => {}
        NestingPlan::KernelH | NestingPlan::NaclOverOneReg => {
            set_reg(fd, regs::isa_ext(IsaExt::H), 1)
                .map_err(|e| fail(format!("cannot enable the H extension: {e}")))?
        }
    }
    Ok(Ok(()))
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
