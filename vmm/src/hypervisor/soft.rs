//! The `soft` backend: guest harts interpreted by [`arch_riscv::hart`].

use std::sync::{Arc, Mutex};
use std::time::Instant;

use arch_riscv::hart::icache::FenceEpoch;
use arch_riscv::hart::mmu::PagingMode;
use arch_riscv::hart::ram::GuestRam;
use arch_riscv::hart::signals::HartSignals;
use arch_riscv::hart::{Exit, Hart, HartConfig};

use arch_riscv::fdt::{IsaDescription, MmuType};
use arch_riscv::layout::TIMEBASE_FREQUENCY;

use super::{
    BackendKind, Counter, GuestCpu, Hypervisor, HypervisorError, IrqChipRequest, MemoryRegion,
    Vcpu, VcpuCounters, VcpuExit, VcpuSignals, Vm, VmSetup,
};

/// The single-letter extensions of the soft hart.
pub const ISA_LETTERS: &str = "imafdc";
/// The single-letter extensions of the soft hart when the guest is a hypervisor.
pub const ISA_LETTERS_NESTED: &str = "imafdch";
/// The multi-letter extensions of the soft hart.
pub const ISA_EXTENSIONS: [&str; 20] = [
    "zicbom",
    "zicbop",
    "zicboz",
    "zicntr",
    "zicond",
    "zicsr",
    "zifencei",
    "zihintntl",
    "zihintpause",
    "zimop",
    "zawrs",
    "zcb",
    "zcmop",
    "zba",
    "zbb",
    "zbs",
    "sstc",
    "svinval",
    "svnapot",
    "svpbmt",
];

/// What the soft hart is: RV64IMAFDC (+H when the guest is a hypervisor) with
/// [`ISA_EXTENSIONS`], Sv57, and the machine's fixed timebase.
pub fn guest_cpu(hypervisor: bool) -> Result<GuestCpu, HypervisorError> {
    let letters = if hypervisor {
        ISA_LETTERS_NESTED
    } else {
        ISA_LETTERS
    };
    let isa = IsaDescription::new(64, letters, &ISA_EXTENSIONS).map_err(|e| {
        HypervisorError::Unsupported {
            backend: "soft",
            what: format!("its own ISA ({e})"),
        }
    })?;
    Ok(GuestCpu {
        isa,
        mmu_type: MmuType::Sv57,
        timebase_frequency: TIMEBASE_FREQUENCY,
    })
}

/// The software-hart hypervisor; available on every host.
pub struct SoftHypervisor;

impl Hypervisor for SoftHypervisor {
    fn kind(&self) -> BackendKind {
        BackendKind::Soft
    }

    fn create_vm(&self, setup: &VmSetup) -> Result<Arc<dyn Vm>, HypervisorError> {
        if setup.irqchip == IrqChipRequest::Aia {
            return Err(HypervisorError::Unsupported {
                backend: "soft",
                what: "machine-config.irqchip \"aia\": it emulates a PLIC (use \"plic\" or \
                       \"auto\", or the kvm backend on a host with an in-kernel AIA)"
                    .into(),
            });
        }
        Ok(Arc::new(SoftVm {
            setup: setup.clone(),
            cpu: guest_cpu(setup.nesting.hypervisor)?,
            ram: Mutex::new(None),
            epoch: Instant::now(),
            fences: Arc::default(),
        }))
    }
}

/// A VM of software harts sharing one RAM region, one clock and one FENCE.I count.
struct SoftVm {
    setup: VmSetup,
    cpu: GuestCpu,
    ram: Mutex<Option<GuestRam>>,
    epoch: Instant,
    fences: Arc<FenceEpoch>,
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
            fences: self.fences.clone(),
            vlen: None,
            compile: self.setup.compile.clone(),
        });
        let signals = Arc::new(SoftSignals(hart.signals()));
        Ok(Box::new(SoftVcpu {
            hart,
            signals,
            exits: 0,
            sbi_calls: 0,
        }))
    }

    fn guest_cpu(&self) -> GuestCpu {
        self.cpu.clone()
    }
}

/// A software hart as a vCPU.
struct SoftVcpu {
    hart: Hart,
    signals: Arc<SoftSignals>,
    /// Returns of the hart to the VMM, and SBI calls among them.
    exits: u64,
    sbi_calls: u64,
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
            let exit = self.hart.run();
            self.exits += 1;
            if matches!(exit, Exit::Sbi(_)) {
                self.sbi_calls += 1;
            }
            return Ok(match exit {
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
            exits: self.exits,
            sbi_calls: self.sbi_calls,
            exceptions: s.exceptions,
            interrupts: s.interrupts,
            tlb_misses: s.tlb_misses,
            fetch_misses: s.fetch_misses,
            decodes: s.decodes,
            guest_entries: s.guest_entries,
            guest_exits: s.guest_exits,
            h_csr_accesses: s.h_csr_accesses,
            hfences: s.hfences,
            sret_to_guest: s.sret_to_guest,
            hypervisor_loads_stores: s.hypervisor_loads_stores,
            nacl: self.hart.nacl_stats(),
            compiled: self.hart.compile_stats(),
        }
    }

    fn nested_acceleration(&self) -> Option<nacl::Features> {
        self.hart.nacl_features()
    }

    fn machine_counter(&self, counter: Counter) -> Option<u64> {
        Some(self.hart.counter(counter))
    }

    fn set_machine_counter(&mut self, counter: Counter, value: Option<u64>, running: bool) {
        self.hart.set_counter(counter, value, running);
    }

    fn wait_for_interrupt(&mut self) -> Result<bool, HypervisorError> {
        Ok(self.hart.wait_for_interrupt())
    }

    fn resume_non_retentive(&mut self, pc: u64, opaque: u64) -> Result<(), HypervisorError> {
        self.hart.resume_non_retentive(pc, opaque);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use arch_riscv::isa::encode::Assembler;
    use arch_riscv::isa::encode::reg::*;
    use arch_riscv::layout::RAM_BASE;

    use super::*;
    use crate::hypervisor::{Nesting, SbiCall};
    use crate::memory::GuestMemory;

    #[test]
    fn the_soft_hart_describes_its_extensions() {
        let cpu = guest_cpu(false).expect("valid");
        assert_eq!(
            cpu.isa.isa_string(),
            "rv64imafdc_zicbom_zicbop_zicboz_zicntr_zicond_zicsr_zifencei_zihintntl_\
             zihintpause_zimop_zawrs_zcb_zcmop_zba_zbb_zbs_sstc_svinval_svnapot_svpbmt"
        );
        assert_eq!(cpu.mmu_type, MmuType::Sv57);
        assert_eq!(cpu.timebase_frequency, 10_000_000);
        let nested = guest_cpu(true).expect("valid");
        assert_eq!(
            nested.isa.isa_string(),
            "rv64imafdch_zicbom_zicbop_zicboz_zicntr_zicond_zicsr_zifencei_zihintntl_\
             zihintpause_zimop_zawrs_zcb_zcmop_zba_zbb_zbs_sstc_svinval_svnapot_svpbmt"
        );
    }

    #[test]
    fn the_soft_backend_refuses_an_aia_and_names_the_field() {
        let Err(e) = SoftHypervisor.create_vm(&VmSetup {
            vcpu_count: 1,
            irqchip: IrqChipRequest::Aia,
            ..VmSetup::default()
        }) else {
            panic!("the soft backend has no AIA");
        };
        let msg = e.to_string();
        assert!(msg.contains("machine-config.irqchip \"aia\""), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
    }

    const SHMEM: u64 = RAM_BASE + 0x10_0000;
    const DONE: u64 = 0x0A00_0000;

    /// Emits a NACL call `function(a0, a1, a2)` and keeps its error in `save`.
    fn nacl_call(p: &mut Assembler, function: u64, args: [u64; 3], save: u8) {
        p.li(A7, nacl::EXTENSION_ID).li(A6, function);
        p.li(A0, args[0])
            .li(A1, args[1])
            .li(A2, args[2])
            .ecall()
            .mv(save, A0);
    }

    /// Runs `program` on one soft vCPU of a nested VM until it calls extension DONE.
    fn run_until_done(program: &Assembler, nesting: Nesting) -> SbiCall {
        let mut memory = GuestMemory::new(16).expect("memory");
        // SAFETY: no vCPU exists yet.
        let ram = unsafe { memory.as_mut_slice() };
        let bytes = program.bytes();
        ram[..bytes.len()].copy_from_slice(&bytes);
        let vm = SoftHypervisor
            .create_vm(&VmSetup {
                vcpu_count: 1,
                mmio_windows: Vec::new(),
                nesting,
                irqchip: IrqChipRequest::Auto,
                compile: None,
            })
            .expect("vm");
        vm.add_memory_region(memory.region()).expect("region");
        let mut vcpu = vm.create_vcpu(0).expect("vcpu");
        vcpu.reset(RAM_BASE, 0).expect("reset");
        for _ in 0..100 {
            match vcpu.run().expect("run") {
                VcpuExit::Sbi(call) if call.extension == DONE => return call,
                VcpuExit::Sbi(_) => vcpu.set_sbi_return(-2, 0),
                other => panic!("unexpected exit {other:?}"),
            }
        }
        panic!("the program never finished");
    }

    #[test]
    fn bad_nacl_usage_gets_spec_errors_and_the_vcpu_keeps_running() {
        use nacl::{error, function};
        let mut p = Assembler::new(RAM_BASE);
        nacl_call(&mut p, function::SET_SHMEM, [0x1000, 0, 0], S2); // not RAM
        nacl_call(&mut p, function::SET_SHMEM, [SHMEM + 8, 0, 0], S3); // misaligned
        nacl_call(&mut p, function::SYNC_CSR, [0x600, 0, 0], S4); // no shmem yet
        nacl_call(&mut p, function::SET_SHMEM, [SHMEM, 0, 0], S5);
        // A corrupt HFENCE entry: pending, reserved type 9.
        p.li(T0, SHMEM + 0x800)
            .li(T1, (1 << 63) | (9 << 56))
            .sd(T1, T0, 0);
        nacl_call(&mut p, function::SYNC_HFENCE, [0, 0, 0], S6);
        nacl_call(&mut p, function::SYNC_HFENCE, [60, 0, 0], S7);
        p.mv(A0, S2)
            .mv(A1, S3)
            .mv(A2, S4)
            .mv(A3, S5)
            .mv(A4, S6)
            .mv(A5, S7)
            .li(A7, DONE)
            .ecall();
        let nesting = Nesting {
            hypervisor: true,
            nacl: Some(nacl::Features::all()),
        };
        let done = run_until_done(&p, nesting);
        let errors = done.args.map(|e| e as i64);
        assert_eq!(
            errors,
            [
                error::INVALID_ADDRESS,
                error::INVALID_PARAM,
                error::NO_SHMEM,
                error::SUCCESS,
                error::INVALID_PARAM,
                error::INVALID_PARAM
            ]
        );
    }

    #[test]
    fn nacl_is_not_supported_without_nesting() {
        let mut p = Assembler::new(RAM_BASE);
        nacl_call(&mut p, nacl::function::PROBE_FEATURE, [0, 0, 0], S2);
        p.mv(A0, S2).li(A7, DONE).ecall();
        let done = run_until_done(&p, Nesting::default());
        assert_eq!(done.args[0] as i64, nacl::error::NOT_SUPPORTED);
    }
}
