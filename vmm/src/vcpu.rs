//! A vCPU thread: waits for HSM to start its hart, runs it, and serves its exits
//! (MMIO on the device bus, SBI) with the same code for every backend.

use std::sync::Arc;

use crate::hypervisor::{Vcpu, VcpuExit};
use crate::machine::{ExitStatus, Machine};
use crate::sbi::{self, SbiOutcome};

/// Runs vCPU `id` until the VM ends; reports a VM-ending event to the machine.
pub fn vcpu_thread(id: usize, mut vcpu: Box<dyn Vcpu>, machine: Arc<Machine>) {
    let status = run(id, &mut *vcpu, &machine);
    tracing::info!(hart = id, counters = ?vcpu.counters(), "vCPU finished");
    if let Some(status) = status {
        machine.request_exit(status);
    }
}

fn run(id: usize, vcpu: &mut dyn Vcpu, machine: &Machine) -> Option<ExitStatus> {
    while let Some((pc, opaque)) = machine.hart_states.wait_for_start(id) {
        tracing::debug!(hart = id, pc = format_args!("{pc:#x}"), "hart started");
        if let Err(e) = vcpu.reset(pc, opaque) {
            return Some(ExitStatus::Error(e.to_string()));
        }
        loop {
            if machine.is_exiting() {
                return None;
            }
            let exit = match vcpu.run() {
                Ok(exit) => exit,
                Err(e) => return Some(ExitStatus::Error(e.to_string())),
            };
            match exit {
                VcpuExit::MmioRead { addr, len } => {
                    let mut data = [0u8; 8];
                    if machine.bus.read(addr, &mut data[..len as usize]) {
                        vcpu.complete_mmio_read(u64::from_le_bytes(data));
                    } else {
                        vcpu.fail_mmio(addr);
                    }
                }
                VcpuExit::MmioWrite { addr, len, data } => {
                    if !machine.bus.write(addr, &data.to_le_bytes()[..len as usize]) {
                        tracing::debug!(
                            hart = id,
                            addr = format_args!("{addr:#x}"),
                            "store to unmapped MMIO"
                        );
                    }
                }
                VcpuExit::Sbi(call) => match sbi::handle(&call, id, vcpu, machine) {
                    SbiOutcome::Return { error, value } => vcpu.set_sbi_return(error, value),
                    SbiOutcome::LegacyReturn(value) => vcpu.set_sbi_return(value, call.args[1]),
                    SbiOutcome::HartStopped => break,
                    SbiOutcome::Shutdown { failure: false } => return Some(ExitStatus::PowerOff),
                    SbiOutcome::Shutdown { failure: true } => {
                        return Some(ExitStatus::PowerOffFailure);
                    }
                    SbiOutcome::Reboot => return Some(ExitStatus::Reboot),
                },
                VcpuExit::Shutdown => return Some(ExitStatus::PowerOff),
                VcpuExit::Reset => return Some(ExitStatus::Reboot),
                VcpuExit::Interrupted => {}
            }
        }
    }
    None
}
