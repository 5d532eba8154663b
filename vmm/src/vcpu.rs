//! A vCPU thread: waits for HSM to start its hart, runs it, and serves its exits
//! (MMIO on the device bus, SBI) with the same code for every backend. Between exits
//! it answers the VMM's requests (pause, counters) through [`crate::vcpu_control`].

use std::sync::Arc;

use api::types::{ExitCounters, SbiCounters, VcpuActivity};

use crate::hypervisor::{Vcpu, VcpuExit};
use crate::machine::{ExitStatus, Machine};
use crate::sbi::hsm::Resume;
use crate::sbi::{self, HartFirmware, SbiOutcome, ext};
use crate::seccomp::{SeccompFilters, ThreadKind};
use crate::vm::StartGate;

/// The SBI nested acceleration extension's id ("NACL").
const EXT_NACL: u64 = 0x4E41_434C;

/// What the VMM counts about one vCPU, on its own thread.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VcpuStats {
    /// Exits from `run()`, by reason.
    pub exits: ExitCounters,
    /// SBI calls, by extension.
    pub sbi: SbiCounters,
}

impl VcpuStats {
    /// Counts one exit (and, for an SBI call, its extension).
    pub fn count(&mut self, exit: &VcpuExit) {
        let exits = &mut self.exits;
        match exit {
            VcpuExit::MmioRead { .. } => exits.mmio_read += 1,
            VcpuExit::MmioWrite { .. } => exits.mmio_write += 1,
            VcpuExit::Sbi(call) => {
                exits.sbi += 1;
                self.count_sbi(call.extension);
            }
            VcpuExit::Interrupted => exits.interrupted += 1,
            VcpuExit::Shutdown => exits.shutdown += 1,
            VcpuExit::Reset => exits.reset += 1,
        }
    }

    fn count_sbi(&mut self, extension: u64) {
        let sbi = &mut self.sbi;
        let slot = match extension {
            ext::BASE => &mut sbi.base,
            ext::TIME => &mut sbi.time,
            ext::IPI => &mut sbi.ipi,
            ext::RFENCE => &mut sbi.rfence,
            ext::HSM => &mut sbi.hsm,
            ext::SRST => &mut sbi.srst,
            ext::DBCN => &mut sbi.dbcn,
            EXT_NACL => &mut sbi.nacl,
            0x00..=0x0F => &mut sbi.legacy,
            _ => &mut sbi.other,
        };
        *slot += 1;
    }
}

/// Runs vCPU `id` until the VM ends; reports a VM-ending event to the machine.
///
/// The thread loads the `vcpu` seccomp filter, then waits at `gate` until every
/// other thread of the VMM has loaded its own.
pub fn vcpu_thread(
    id: usize,
    mut vcpu: Box<dyn Vcpu>,
    machine: Arc<Machine>,
    seccomp: &SeccompFilters,
    gate: &StartGate,
) {
    let mut stats = VcpuStats::default();
    let status = match seccomp.install(ThreadKind::Vcpu, &format!("vcpu{id}")) {
        Ok(()) => {
            gate.wait();
            run(id, &mut *vcpu, &machine, &mut stats)
        }
        Err(e) => Some(ExitStatus::Error(e.to_string())),
    };
    let counters = vcpu.counters();
    tracing::info!(
        hart = id,
        cpu_seconds = thread_cpu_seconds(),
        ?counters,
        ?stats,
        "vCPU finished"
    );
    machine
        .control
        .set_activity(id, VcpuActivity::Exited, counters, stats);
    if let Some(status) = status {
        machine.request_exit(status);
    }
}

fn run(
    id: usize,
    vcpu: &mut dyn Vcpu,
    machine: &Machine,
    stats: &mut VcpuStats,
) -> Option<ExitStatus> {
    let control = &machine.control;
    let mut seen = 0;
    // Where the kernel keeps secondary harts stopped until SBI HSM starts them (KVM),
    // their threads enter run() at once; elsewhere the VMM's HSM starts them.
    let kernel_hsm = vcpu.started_by_kernel() && id != 0;
    let mut firmware = HartFirmware::default();
    loop {
        if kernel_hsm {
            control.set_activity(id, VcpuActivity::Running, vcpu.counters(), *stats);
        } else {
            control.set_activity(id, VcpuActivity::Stopped, vcpu.counters(), *stats);
            let (pc, opaque) = machine.hart_states.wait_for_start(id)?;
            control.set_activity(id, VcpuActivity::Running, vcpu.counters(), *stats);
            tracing::debug!(hart = id, pc = format_args!("{pc:#x}"), "hart started");
            if let Err(e) = vcpu.reset(pc, opaque) {
                return Some(ExitStatus::Error(e.to_string()));
            }
            firmware.reset();
        }
        loop {
            if control.wants(seen) {
                seen = control.attend(id, vcpu.counters(), *stats);
            }
            if machine.is_exiting() {
                return None;
            }
            let exit = match vcpu.run() {
                Ok(exit) => exit,
                Err(e) => return Some(ExitStatus::Error(e.to_string())),
            };
            stats.count(&exit);
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
                VcpuExit::Sbi(call) => match sbi::handle(&call, id, vcpu, machine, &mut firmware) {
                    SbiOutcome::Return { error, value } => vcpu.set_sbi_return(error, value),
                    SbiOutcome::LegacyReturn(value) => vcpu.set_sbi_return(value, call.args[1]),
                    SbiOutcome::HartStopped => break,
                    SbiOutcome::HartSuspended(resume) => {
                        machine.hart_states.set_suspended(id, true);
                        let woke = suspend(id, vcpu, machine, stats, &mut seen);
                        machine.hart_states.set_suspended(id, false);
                        if let Err(status) = woke.and_then(|()| resume_hart(vcpu, resume)) {
                            return status;
                        }
                    }
                    SbiOutcome::SystemSuspended(resume) => {
                        tracing::info!(hart = id, "system suspended to RAM");
                        let woke = suspend(id, vcpu, machine, stats, &mut seen);
                        if let Err(status) = woke.and_then(|()| resume_hart(vcpu, resume)) {
                            return status;
                        }
                        tracing::info!(hart = id, "system resumed");
                    }
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
}

/// CPU time the calling thread has used, in seconds.
fn thread_cpu_seconds() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes one rusage into the pointer, which is valid for it.
    if unsafe { libc::getrusage(libc::RUSAGE_THREAD, usage.as_mut_ptr()) } != 0 {
        return 0.0;
    }
    // SAFETY: getrusage succeeded and filled it.
    let usage = unsafe { usage.assume_init() };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// Sleeps a suspended hart until an interrupt it enabled is pending, attending
/// the VMM's requests (pause, counters) when kicked. `Err` carries what `run`
/// returns when the VM ends meanwhile.
fn suspend(
    id: usize,
    vcpu: &mut dyn Vcpu,
    machine: &Machine,
    stats: &mut VcpuStats,
    seen: &mut u64,
) -> Result<(), Option<ExitStatus>> {
    loop {
        if machine.control.wants(*seen) {
            *seen = machine.control.attend(id, vcpu.counters(), *stats);
        }
        if machine.is_exiting() {
            return Err(None);
        }
        match vcpu.wait_for_interrupt() {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(e) => return Err(Some(ExitStatus::Error(e.to_string()))),
        }
    }
}

/// Resumes a woken hart: the SBI call returns SUCCESS (retentive), or the hart
/// starts over at the resume address (non-retentive, system suspend).
fn resume_hart(vcpu: &mut dyn Vcpu, resume: Resume) -> Result<(), Option<ExitStatus>> {
    match resume {
        Resume::Retentive => {
            vcpu.set_sbi_return(sbi::error::SUCCESS, 0);
            Ok(())
        }
        Resume::At { addr, opaque } => vcpu
            .resume_non_retentive(addr, opaque)
            .map_err(|e| Some(ExitStatus::Error(e.to_string()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hypervisor::SbiCall;

    fn sbi(extension: u64) -> VcpuExit {
        VcpuExit::Sbi(SbiCall {
            extension,
            function: 0,
            args: [0; 6],
        })
    }

    #[test]
    fn exits_and_sbi_calls_are_counted_by_kind() {
        let mut stats = VcpuStats::default();
        for exit in [
            VcpuExit::MmioRead { addr: 0, len: 1 },
            VcpuExit::MmioWrite {
                addr: 0,
                len: 1,
                data: 0,
            },
            VcpuExit::MmioWrite {
                addr: 0,
                len: 1,
                data: 0,
            },
            VcpuExit::Interrupted,
            VcpuExit::Shutdown,
            VcpuExit::Reset,
            sbi(ext::BASE),
            sbi(ext::TIME),
            sbi(ext::TIME),
            sbi(ext::IPI),
            sbi(ext::RFENCE),
            sbi(ext::HSM),
            sbi(ext::SRST),
            sbi(ext::DBCN),
            sbi(ext::LEGACY_PUTCHAR),
            sbi(ext::LEGACY_SHUTDOWN),
            sbi(EXT_NACL),
            sbi(0x0A00_0000),
        ] {
            stats.count(&exit);
        }
        assert_eq!(
            stats.exits,
            ExitCounters {
                mmio_read: 1,
                mmio_write: 2,
                sbi: 12,
                interrupted: 1,
                shutdown: 1,
                reset: 1,
            }
        );
        assert_eq!(
            stats.sbi,
            SbiCounters {
                base: 1,
                time: 2,
                ipi: 1,
                rfence: 1,
                hsm: 1,
                srst: 1,
                dbcn: 1,
                legacy: 2,
                nacl: 1,
                other: 1,
            }
        );
    }
}
