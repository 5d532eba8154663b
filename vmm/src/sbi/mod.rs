//! The SBI implementation the VMM serves to its guests: BASE, TIME, IPI, RFENCE,
//! HSM (with suspend), SRST, PMU, DBCN, SUSP, FWFT and the v0.1 legacy console,
//! timer and shutdown calls. Anything else answers NOT_SUPPORTED. The code is the
//! same for every backend; it reaches the machine through [`SbiHost`] and the
//! calling vCPU, and keeps each hart's firmware state in [`HartFirmware`].

pub mod console;
pub mod fwft;
pub mod hsm;
pub mod pmu;
pub mod susp;

use std::sync::Arc;

use crate::hypervisor::{Counter, SbiCall, Vcpu, VcpuSignals};
pub use hsm::HartStates;

/// SBI error codes (SBI spec 3.2, table 1).
pub mod error {
    /// Completed successfully.
    pub const SUCCESS: i64 = 0;
    /// Failed.
    pub const FAILED: i64 = -1;
    /// Not supported.
    pub const NOT_SUPPORTED: i64 = -2;
    /// Invalid parameter(s).
    pub const INVALID_PARAM: i64 = -3;
    /// Denied or not allowed.
    pub const DENIED: i64 = -4;
    /// Invalid address(s).
    pub const INVALID_ADDRESS: i64 = -5;
    /// Already available.
    pub const ALREADY_AVAILABLE: i64 = -6;
    /// Already started.
    pub const ALREADY_STARTED: i64 = -7;
    /// Already stopped.
    pub const ALREADY_STOPPED: i64 = -8;
    /// Shared memory not available.
    pub const NO_SHMEM: i64 = -9;
    /// Invalid state.
    pub const INVALID_STATE: i64 = -10;
    /// Bad (or invalid) range.
    pub const BAD_RANGE: i64 = -11;
    /// Failed due to timeout.
    pub const TIMEOUT: i64 = -12;
    /// Input/output error.
    pub const IO: i64 = -13;
    /// Denied or not allowed due to lock status.
    pub const DENIED_LOCKED: i64 = -14;
}

/// Extension ids.
pub mod ext {
    /// Legacy set_timer.
    pub const LEGACY_SET_TIMER: u64 = 0x00;
    /// Legacy console_putchar.
    pub const LEGACY_PUTCHAR: u64 = 0x01;
    /// Legacy console_getchar.
    pub const LEGACY_GETCHAR: u64 = 0x02;
    /// Legacy shutdown.
    pub const LEGACY_SHUTDOWN: u64 = 0x08;
    /// Base extension.
    pub const BASE: u64 = 0x10;
    /// Timer extension.
    pub const TIME: u64 = 0x5449_4D45;
    /// IPI extension.
    pub const IPI: u64 = 0x0073_5049;
    /// Remote fence extension.
    pub const RFENCE: u64 = 0x5246_4E43;
    /// Hart state management.
    pub const HSM: u64 = 0x0048_534D;
    /// System reset.
    pub const SRST: u64 = 0x5352_5354;
    /// Debug console.
    pub const DBCN: u64 = 0x4442_434E;
    /// System suspend.
    pub const SUSP: u64 = 0x5355_5350;
    /// Performance monitoring unit.
    pub const PMU: u64 = 0x0050_4D55;
    /// Firmware features.
    pub const FWFT: u64 = 0x4657_4654;
    /// Supervisor software events (not implemented).
    pub const SSE: u64 = 0x0053_5345;
    /// Debug triggers (not implemented).
    pub const DBTR: u64 = 0x4442_5452;
}

/// SBI specification version served: 2.0.
pub const SPEC_VERSION: u64 = 2 << 24;
/// Implementation id reported by BASE get_impl_id (not in the SBI registry: "rvns").
pub const IMPL_ID: u64 = 0x7276_6E73;

/// The extensions the VMM implements, for probe_extension (PMU also needs a
/// backend that lets the VMM drive the machine counters).
const EXTENSIONS: [u64; 14] = [
    ext::LEGACY_SET_TIMER,
    ext::LEGACY_PUTCHAR,
    ext::LEGACY_GETCHAR,
    ext::LEGACY_SHUTDOWN,
    ext::BASE,
    ext::TIME,
    ext::IPI,
    ext::RFENCE,
    ext::HSM,
    ext::SRST,
    ext::DBCN,
    ext::SUSP,
    ext::FWFT,
    ext::PMU,
];

/// What the VMM does after an SBI call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SbiOutcome {
    /// Return to the guest with a0 = error, a1 = value.
    Return {
        /// SBI error code.
        error: i64,
        /// Return value.
        value: u64,
    },
    /// Legacy (v0.1) call: return with a0 = value, a1 unchanged.
    LegacyReturn(i64),
    /// The calling hart stopped itself (HSM hart_stop).
    HartStopped,
    /// The calling hart suspends until an interrupt is pending and enabled (HSM
    /// hart_suspend), then resumes as [`hsm::Resume`] says.
    HartSuspended(hsm::Resume),
    /// The system suspends to RAM (SUSP); every other hart is stopped. The
    /// calling hart resumes as [`hsm::Resume`] says when an interrupt wakes it.
    SystemSuspended(hsm::Resume),
    /// System reset: shutdown (`failure` = the guest reported a system failure).
    Shutdown {
        /// SRST reason was "system failure".
        failure: bool,
    },
    /// System reset: cold or warm reboot.
    Reboot,
}

impl SbiOutcome {
    pub(crate) const fn ok(value: u64) -> SbiOutcome {
        SbiOutcome::Return {
            error: error::SUCCESS,
            value,
        }
    }

    pub(crate) const fn err(error: i64) -> SbiOutcome {
        SbiOutcome::Return { error, value: 0 }
    }
}

/// What SBI needs from the machine.
pub trait SbiHost: Send + Sync {
    /// Number of harts.
    fn hart_count(&self) -> usize;
    /// The signal handle of hart `id`.
    fn hart_signals(&self, id: usize) -> Arc<dyn VcpuSignals>;
    /// HSM state of all harts.
    fn hart_states(&self) -> &HartStates;
    /// Reads guest-physical memory; false if any byte is outside RAM.
    fn read_guest(&self, gpa: u64, buf: &mut [u8]) -> bool;
    /// Writes guest-physical memory; false if any byte is outside RAM.
    fn write_guest(&self, gpa: u64, data: &[u8]) -> bool;
    /// Whether `[gpa, gpa + len)` is RAM.
    fn is_ram(&self, gpa: u64, len: u64) -> bool;
    /// Writes bytes to the console.
    fn console_write(&self, bytes: &[u8]);
    /// Reads waiting console input bytes into `buf`; returns how many.
    fn console_read(&self, buf: &mut [u8]) -> usize;
    /// Whether the VM's configuration leaves extension `eid` out.
    fn extension_disabled(&self, eid: u64) -> bool {
        let _ = eid;
        false
    }
}

/// The extension ids an `sbi_disabled_extensions` name stands for; `None` for
/// an unknown name (the config's validation has refused it).
pub fn extension_ids(name: &str) -> Option<&'static [u64]> {
    Some(match name {
        "time" => &[ext::TIME],
        "ipi" => &[ext::IPI],
        "rfence" => &[ext::RFENCE],
        "hsm" => &[ext::HSM],
        "srst" => &[ext::SRST],
        "pmu" => &[ext::PMU],
        "dbcn" => &[ext::DBCN],
        "susp" => &[ext::SUSP],
        "fwft" => &[ext::FWFT],
        "legacy" => &[0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08],
        _ => return None,
    })
}

/// The firmware state of one hart, kept by its vCPU thread.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HartFirmware {
    /// FWFT feature values.
    pub features: fwft::HartFeatures,
    /// PMU counter configuration.
    pub pmu: pmu::HartPmu,
}

impl HartFirmware {
    /// Back to the reset state (hart_start, reboot): local FWFT features and the
    /// PMU configuration do not survive a hart reset.
    pub fn reset(&mut self) {
        *self = HartFirmware::default();
    }
}

/// Serves one SBI call made by `vcpu` (hart `hart_id`), whose firmware state is
/// `firmware`.
pub fn handle(
    call: &SbiCall,
    hart_id: usize,
    vcpu: &mut dyn Vcpu,
    host: &dyn SbiHost,
    firmware: &mut HartFirmware,
) -> SbiOutcome {
    let a = call.args;
    if host.extension_disabled(call.extension) {
        return if call.extension <= ext::LEGACY_SHUTDOWN {
            SbiOutcome::LegacyReturn(error::NOT_SUPPORTED)
        } else {
            SbiOutcome::err(error::NOT_SUPPORTED)
        };
    }
    if call.extension == ext::BASE && call.function == 3 && host.extension_disabled(a[0]) {
        return SbiOutcome::ok(0);
    }
    let states = host.hart_states();
    let count = |code: usize| {
        if let Some(events) = states.events(hart_id) {
            events.count(code);
        }
    };
    match call.extension {
        ext::BASE if call.function == 3 && a[0] == nacl::EXTENSION_ID => SbiOutcome::Return {
            error: error::SUCCESS,
            value: u64::from(vcpu.nested_acceleration().is_some()),
        },
        ext::BASE if call.function == 3 && a[0] == ext::PMU => {
            SbiOutcome::ok(u64::from(vcpu.machine_counter(Counter::Cycle).is_some()))
        }
        ext::BASE => base(call.function, a[0]),
        ext::TIME if call.function == 0 => {
            count(pmu::fw::SET_TIMER);
            vcpu.set_timer(a[0]);
            SbiOutcome::ok(0)
        }
        ext::IPI if call.function == 0 => for_each_hart(host, a[0], a[1], |target, s| {
            count(pmu::fw::IPI_SENT);
            received(states, target, pmu::fw::IPI_RECEIVED);
            s.send_ipi();
        }),
        ext::RFENCE => rfence(call.function, a, host, hart_id),
        ext::HSM => hsm::handle(call.function, a, hart_id, host),
        ext::SRST if call.function == 0 => system_reset(a[0], a[1]),
        ext::DBCN => console::debug_console(call.function, a, host),
        ext::SUSP => susp::handle(call.function, a, hart_id, host, vcpu.started_by_kernel()),
        ext::FWFT => fwft::handle(call.function, a, &mut firmware.features),
        ext::PMU if vcpu.machine_counter(Counter::Cycle).is_some() => {
            let Some(events) = states.events(hart_id) else {
                return SbiOutcome::err(error::FAILED);
            };
            let caller = pmu::Caller { vcpu, events, host };
            pmu::handle(call.function, a, &mut firmware.pmu, caller)
        }
        ext::LEGACY_SET_TIMER => {
            count(pmu::fw::SET_TIMER);
            vcpu.set_timer(a[0]);
            SbiOutcome::LegacyReturn(0)
        }
        ext::LEGACY_PUTCHAR => {
            host.console_write(&[a[0] as u8]);
            SbiOutcome::LegacyReturn(0)
        }
        ext::LEGACY_GETCHAR => {
            let mut byte = [0u8];
            let value = if host.console_read(&mut byte) == 1 {
                byte[0] as i64
            } else {
                -1
            };
            SbiOutcome::LegacyReturn(value)
        }
        ext::LEGACY_SHUTDOWN => SbiOutcome::Shutdown { failure: false },
        0x03..=0x07 => SbiOutcome::LegacyReturn(error::NOT_SUPPORTED),
        _ => SbiOutcome::err(error::NOT_SUPPORTED),
    }
}

/// Counts firmware event `code` on hart `target` (the receiving side).
fn received(states: &HartStates, target: usize, code: usize) {
    if let Some(events) = states.events(target) {
        events.count(code);
    }
}

/// The Base extension (SBI spec chapter 4).
fn base(function: u64, arg: u64) -> SbiOutcome {
    match function {
        0 => SbiOutcome::ok(SPEC_VERSION),
        1 => SbiOutcome::ok(IMPL_ID),
        2 => SbiOutcome::ok(implementation_version()),
        3 => SbiOutcome::ok(u64::from(EXTENSIONS.contains(&arg))),
        4..=6 => SbiOutcome::ok(0), // mvendorid, marchid, mimpid
        _ => SbiOutcome::err(error::NOT_SUPPORTED),
    }
}

/// The crate version as major << 16 | minor << 8 | patch.
fn implementation_version() -> u64 {
    let part = |s: &str| s.parse::<u64>().unwrap_or(0);
    (part(env!("CARGO_PKG_VERSION_MAJOR")) << 16)
        | (part(env!("CARGO_PKG_VERSION_MINOR")) << 8)
        | part(env!("CARGO_PKG_VERSION_PATCH"))
}

/// Applies `action` to every hart in (hart_mask, hart_mask_base) (SBI spec 3.1:
/// base = -1 means all harts). Invalid hart ids answer INVALID_PARAM before any
/// hart is touched.
fn for_each_hart(
    host: &dyn SbiHost,
    mask: u64,
    mask_base: u64,
    action: impl Fn(usize, &dyn VcpuSignals),
) -> SbiOutcome {
    let count = host.hart_count() as u64;
    let targets: Vec<u64> = if mask_base == u64::MAX {
        (0..count).collect()
    } else {
        let targets: Vec<u64> = (0..64)
            .filter(|bit| mask & (1 << bit) != 0)
            .map(|bit| mask_base.wrapping_add(bit))
            .collect();
        if targets.iter().any(|&id| id >= count) {
            return SbiOutcome::err(error::INVALID_PARAM);
        }
        targets
    };
    for id in targets {
        action(id as usize, &*host.hart_signals(id as usize));
    }
    SbiOutcome::ok(0)
}

/// The RFENCE extension (SBI spec chapter 8). Fences apply to whole TLBs and
/// decode caches, a superset of any requested range. The HFENCE functions need the
/// H extension, which this guest does not have.
fn rfence(function: u64, a: [u64; 6], host: &dyn SbiHost, caller: usize) -> SbiOutcome {
    use pmu::fw;
    let states = host.hart_states();
    let (sent, received_code) = match function {
        0 => (fw::FENCE_I_SENT, fw::FENCE_I_RECEIVED),
        1 => (fw::SFENCE_VMA_SENT, fw::SFENCE_VMA_RECEIVED),
        2 => (fw::SFENCE_VMA_ASID_SENT, fw::SFENCE_VMA_ASID_RECEIVED),
        _ => return SbiOutcome::err(error::NOT_SUPPORTED),
    };
    for_each_hart(host, a[0], a[1], |target, signals| {
        received(states, caller, sent);
        received(states, target, received_code);
        if function == 0 {
            signals.remote_fence_i();
        } else {
            signals.remote_sfence_vma();
        }
    })
}

/// The SRST extension (SBI spec chapter 10).
fn system_reset(reset_type: u64, reason: u64) -> SbiOutcome {
    let reason_valid = reason <= 1 || (0xE000_0000..=0xFFFF_FFFF).contains(&reason);
    if !reason_valid {
        return SbiOutcome::err(error::INVALID_PARAM);
    }
    match reset_type {
        0 => SbiOutcome::Shutdown {
            failure: reason == 1,
        },
        1 | 2 => SbiOutcome::Reboot,
        0xF000_0000..=0xFFFF_FFFF => SbiOutcome::err(error::NOT_SUPPORTED),
        _ => SbiOutcome::err(error::INVALID_PARAM),
    }
}

#[cfg(test)]
mod tests;
