//! Probing the host kernel for what nesting needs, on a throw-away VM so that the
//! real VM's vCPUs are never touched by a probe (see [`super::nesting`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use arch_riscv::layout::{RAM_BASE, UART_BASE};
use kvm_ioctls::Kvm;

use super::nesting::{NestingSupport, Probed, SBI_EXT_NACL, nacl_probe_program};
use super::regs::{self, HextCsr, IsaExt};
use super::vcpu::{KvmVcpu, get_reg, set_reg};
use crate::hypervisor::{Vcpu, VcpuExit};
use crate::memory::GuestMemory;

/// How long the NACL probe guest may take before it counts as "no answer".
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Runs every nesting probe on a scratch VM.
pub fn nesting_support(kvm: &Kvm, run_size: usize) -> NestingSupport {
    let no = |what: &str, e: &dyn std::fmt::Display| Probed::No(format!("{what}: {e}"));
    let vm = match kvm.create_vm() {
        Ok(vm) => vm,
        Err(e) => {
            let p = no("scratch VM", &e);
            return NestingSupport {
                h_extension: p.clone(),
                hext_csrs: p.clone(),
                nacl_forwarding: p,
            };
        }
    };
    let fd = match vm.create_vcpu(0) {
        Ok(fd) => fd,
        Err(e) => {
            let p = no("scratch vCPU", &e);
            return NestingSupport {
                h_extension: p.clone(),
                hext_csrs: p.clone(),
                nacl_forwarding: p,
            };
        }
    };
    let h_extension = match set_reg(&fd, regs::isa_ext(IsaExt::H), 1) {
        Ok(()) => match get_reg(&fd, regs::isa_ext(IsaExt::H)) {
            Ok(1) => Probed::Yes,
            Ok(v) => Probed::No(format!("accepted, but reads back {v}")),
            Err(e) => no("read back", &e),
        },
        Err(e) => no("KVM refuses", &e),
    };
    let hext_csrs = match get_reg(&fd, regs::hext_csr(HextCsr::Hstatus)) {
        Ok(_) => Probed::Yes,
        Err(e) => no("hstatus", &e),
    };
    let nacl_forwarding = match KvmVcpu::new(0, fd, run_size, None, Arc::default()) {
        Ok(vcpu) => probe_nacl_forwarding(&vm, vcpu),
        Err(e) => no("scratch vCPU", &e),
    };
    NestingSupport {
        h_extension,
        hext_csrs,
        nacl_forwarding,
    }
}

/// Runs [`nacl_probe_program`] and reports whether its SBI NACL call exits to
/// userspace.
fn probe_nacl_forwarding(vm: &kvm_ioctls::VmFd, mut vcpu: KvmVcpu) -> Probed {
    let memory = match GuestMemory::new(1) {
        Ok(m) => m,
        Err(e) => return Probed::No(format!("scratch memory: {e}")),
    };
    let code = nacl_probe_program(UART_BASE as u32);
    if !memory.write(RAM_BASE, &code) {
        return Probed::No("cannot write the probe program".into());
    }
    let region = memory.region();
    let mem = kvm_bindings::kvm_userspace_memory_region {
        slot: 0,
        flags: 0,
        guest_phys_addr: region.gpa,
        memory_size: region.size,
        userspace_addr: region.host as u64,
    };
    // SAFETY: `memory` outlives every run of the scratch vCPU (it is dropped at the
    // end of this function, after the vCPU, which is only run here).
    if let Err(e) = unsafe { vm.set_user_memory_region(mem) } {
        return Probed::No(format!("scratch memslot: {e}"));
    }
    if let Err(e) = vcpu.reset(RAM_BASE, 0) {
        return Probed::No(format!("scratch vCPU registers: {e}"));
    }
    // A watchdog kicks the vCPU if the probe guest neither exits nor stores.
    let done = Arc::new(AtomicBool::new(false));
    let signals = vcpu.signals();
    let watchdog = {
        let done = done.clone();
        let signals = signals.clone();
        std::thread::spawn(move || {
            let step = Duration::from_millis(10);
            let mut waited = Duration::ZERO;
            while !done.load(Ordering::SeqCst) && waited < PROBE_TIMEOUT {
                std::thread::sleep(step);
                waited += step;
            }
            if !done.load(Ordering::SeqCst) {
                signals.kick();
            }
        })
    };
    let result = loop {
        match vcpu.run() {
            Ok(VcpuExit::Sbi(call)) if call.extension == SBI_EXT_NACL => break Probed::Yes,
            Ok(VcpuExit::Sbi(call)) => {
                // Some other forwarded call: answer "not supported" and go on.
                tracing::debug!(extension = call.extension, "NACL probe: other SBI exit");
                vcpu.set_sbi_return(-2, 0);
            }
            Ok(VcpuExit::MmioWrite { addr, .. }) if addr == UART_BASE => {
                break Probed::No("KVM answers NACL calls itself".into());
            }
            Ok(VcpuExit::MmioRead { .. }) => vcpu.complete_mmio_read(0),
            Ok(VcpuExit::Interrupted) => break Probed::No("the probe guest hung".into()),
            Ok(other) => break Probed::No(format!("unexpected exit {other:?}")),
            Err(e) => break Probed::No(format!("KVM_RUN: {e}")),
        }
    };
    done.store(true, Ordering::SeqCst);
    let _ = watchdog.join();
    drop(vcpu);
    drop(memory);
    result
}
