//! The `soft` backend: guest harts interpreted by [`arch_riscv::hart`].

use std::sync::{Arc, Mutex};
use std::time::Instant;

use arch_riscv::hart::mmu::PagingMode;
use arch_riscv::hart::ram::GuestRam;
use arch_riscv::hart::signals::HartSignals;
use arch_riscv::hart::{Exit, Hart, HartConfig};

use super::{
    BackendKind, Hypervisor, HypervisorError, MemoryRegion, Vcpu, VcpuCounters, VcpuExit,
    VcpuSignals, Vm, VmSetup,
};

/// The software-hart hypervisor; available on every host.
pub struct SoftHypervisor;

impl Hypervisor for SoftHypervisor {
    fn kind(&self) -> BackendKind {
        BackendKind::Soft
    }

    fn create_vm(&self, setup: &VmSetup) -> Result<Arc<dyn Vm>, HypervisorError> {
        Ok(Arc::new(SoftVm {
            setup: setup.clone(),
            ram: Mutex::new(None),
            epoch: Instant::now(),
        }))
    }
}

/// A VM of software harts sharing one RAM region and one clock.
struct SoftVm {
    setup: VmSetup,
    ram: Mutex<Option<GuestRam>>,
    epoch: Instant,
}

impl Vm for SoftVm {
    fn add_memory_region(&self, region: MemoryRegion) -> Result<(), HypervisorError> {
        let mut ram = self.ram.lock().unwrap_or_else(|e| e.into_inner());
        if ram.is_some() {
            return Err(HypervisorError::Memory {
                gpa: region.gpa,
                reason: "the soft backend supports one RAM region".into(),
            });
        }
        if region.host as usize & 0xFFF != 0 {
            return Err(HypervisorError::Memory {
                gpa: region.gpa,
                reason: "host mapping not page aligned".into(),
            });
        }
        // SAFETY: the VMM keeps the mapping alive for the VM's lifetime (it owns the
        // GuestMemoryMmap and joins the vCPU threads before dropping it), the region
        // is `size` bytes long and page aligned (checked above), and while harts run
        // the VMM touches it only through atomic accesses.
        *ram = Some(unsafe { GuestRam::new(region.gpa, region.host, region.size) });
        Ok(())
    }

    fn create_vcpu(&self, id: u32) -> Result<Box<dyn Vcpu>, HypervisorError> {
        let ram =
            self.ram
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .ok_or(HypervisorError::Vcpu {
                    id,
                    reason: "no guest memory mapped".into(),
                })?;
        let hart = Hart::new(HartConfig {
            hart_id: id as u64,
            ram,
            mmio: self.setup.mmio_windows.clone(),
            max_paging: PagingMode::Sv57,
            epoch: self.epoch,
            hypervisor: self.setup.nesting.hypervisor,
            nacl: self.setup.nesting.nacl,
        });
        let signals = Arc::new(SoftSignals(hart.signals()));
        Ok(Box::new(SoftVcpu { hart, signals }))
    }
}

/// A software hart as a vCPU.
struct SoftVcpu {
    hart: Hart,
    signals: Arc<SoftSignals>,
}

/// [`VcpuSignals`] over the hart's own signal block.
struct SoftSignals(Arc<HartSignals>);

impl VcpuSignals for SoftSignals {
    fn kick(&self) {
        self.0.kick();
    }

    fn set_external_interrupt(&self, level: bool) {
        self.0.set_external_interrupt(level);
    }

    fn send_ipi(&self) {
        self.0.send_ipi();
    }

    fn remote_fence_i(&self) {
        self.0.request_fence_i();
    }

    fn remote_sfence_vma(&self) {
        self.0.request_tlb_flush();
    }
}

impl Vcpu for SoftVcpu {
    fn run(&mut self) -> Result<VcpuExit, HypervisorError> {
        loop {
            return Ok(match self.hart.run() {
                Exit::Sbi(call) if call.extension == nacl::EXTENSION_ID => {
                    // NACL is served here, next to the hart's state, without a
                    // round trip through the VMM's exit loop.
                    match self.hart.nacl_call(call.function, call.args) {
                        Some(nacl::Outcome::Return { error, value }) => {
                            self.hart.complete_sbi(error, value)
                        }
                        Some(nacl::Outcome::Resumed) => {}
                        None => self.hart.complete_sbi(nacl::error::NOT_SUPPORTED, 0),
                    }
                    continue;
                }
                Exit::Sbi(call) => VcpuExit::Sbi(call),
                Exit::MmioRead { addr, len } => VcpuExit::MmioRead { addr, len },
                Exit::MmioWrite { addr, len, data } => VcpuExit::MmioWrite { addr, len, data },
                Exit::Kicked => VcpuExit::Interrupted,
            });
        }
    }

    fn reset(&mut self, pc: u64, opaque: u64) -> Result<(), HypervisorError> {
        self.hart.reset(pc, opaque);
        Ok(())
    }

    fn complete_mmio_read(&mut self, data: u64) {
        self.hart.complete_mmio_read(data);
    }

    fn fail_mmio(&mut self, addr: u64) {
        self.hart.fail_mmio(addr);
    }

    fn set_sbi_return(&mut self, error: i64, value: u64) {
        self.hart.complete_sbi(error, value);
    }

    fn set_timer(&mut self, deadline: u64) {
        self.hart.set_timer(deadline);
    }

    fn time(&self) -> u64 {
        self.hart.time()
    }

    fn signals(&self) -> Arc<dyn VcpuSignals> {
        self.signals.clone()
    }

    fn counters(&self) -> VcpuCounters {
        let s = self.hart.stats();
        VcpuCounters {
            instructions: s.instructions,
            exceptions: s.exceptions,
            interrupts: s.interrupts,
            tlb_misses: s.tlb_misses,
            fetch_misses: s.fetch_misses,
            decodes: s.decodes,
            guest_entries: s.guest_entries,
            guest_exits: s.guest_exits,
            h_csr_accesses: s.h_csr_accesses,
            hfences: s.hfences,
            hypervisor_loads_stores: s.hypervisor_loads_stores,
            nacl: self.hart.nacl_stats(),
        }
    }

    fn nested_acceleration(&self) -> Option<nacl::Features> {
        self.hart.nacl_features()
    }
}
