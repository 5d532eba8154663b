//! SBI calls against a mock machine: return values and the spec's error codes.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use super::hsm::HartState;
use super::*;
use crate::hypervisor::{Counter, HypervisorError, VcpuCounters, VcpuExit};

/// Counts what each hart was asked to do.
#[derive(Default)]
struct MockSignals {
    ipis: AtomicU32,
    fence_i: AtomicU32,
    sfence: AtomicU32,
}

impl VcpuSignals for MockSignals {
    fn kick(&self) {}
    fn set_external_interrupt(&self, _level: bool) {}
    fn send_ipi(&self) {
        self.ipis.fetch_add(1, Ordering::SeqCst);
    }
    fn remote_fence_i(&self) {
        self.fence_i.fetch_add(1, Ordering::SeqCst);
    }
    fn remote_sfence_vma(&self) {
        self.sfence.fetch_add(1, Ordering::SeqCst);
    }
}

const RAM: (u64, u64) = (0x8000_0000, 0x10_0000);

struct MockHost {
    harts: Vec<Arc<MockSignals>>,
    states: HartStates,
    console: Mutex<Vec<u8>>,
    memory: Mutex<Vec<u8>>,
    disabled: Vec<u64>,
}

impl MockHost {
    fn new(harts: usize) -> MockHost {
        MockHost {
            harts: (0..harts)
                .map(|_| Arc::new(MockSignals::default()))
                .collect(),
            states: HartStates::new(harts),
            console: Mutex::new(Vec::new()),
            memory: Mutex::new(vec![0; RAM.1 as usize]),
            disabled: Vec::new(),
        }
    }
}

impl SbiHost for MockHost {
    fn hart_count(&self) -> usize {
        self.harts.len()
    }
    fn hart_signals(&self, id: usize) -> Arc<dyn VcpuSignals> {
        self.harts[id].clone()
    }
    fn hart_states(&self) -> &HartStates {
        &self.states
    }
    fn read_guest(&self, gpa: u64, buf: &mut [u8]) -> bool {
        let offset = (gpa - RAM.0) as usize;
        buf.copy_from_slice(&self.memory.lock().unwrap()[offset..offset + buf.len()]);
        true
    }
    fn write_guest(&self, gpa: u64, data: &[u8]) -> bool {
        let offset = (gpa - RAM.0) as usize;
        self.memory.lock().unwrap()[offset..offset + data.len()].copy_from_slice(data);
        true
    }
    fn is_ram(&self, gpa: u64, len: u64) -> bool {
        gpa >= RAM.0 && gpa.checked_add(len).is_some_and(|end| end <= RAM.0 + RAM.1)
    }
    fn console_write(&self, bytes: &[u8]) {
        self.console.lock().unwrap().extend_from_slice(bytes);
    }
    fn console_read(&self, _buf: &mut [u8]) -> usize {
        0
    }
    fn extension_disabled(&self, eid: u64) -> bool {
        self.disabled.contains(&eid)
    }
}

/// A vCPU that records the timer it was given, with machine counters that count
/// `instructions` while running.
#[derive(Default)]
struct MockVcpu {
    timer: Option<u64>,
    instructions: u64,
    /// Per counter: offset from `instructions` while running, or the frozen value.
    counters: [(u64, Option<u64>); 2],
    kernel_checked: bool,
}

impl Vcpu for MockVcpu {
    fn run(&mut self) -> Result<VcpuExit, HypervisorError> {
        Ok(VcpuExit::Interrupted)
    }
    fn reset(&mut self, _pc: u64, _opaque: u64) -> Result<(), HypervisorError> {
        Ok(())
    }
    fn complete_mmio_read(&mut self, _data: u64) {}
    fn fail_mmio(&mut self, _addr: u64) {}
    fn set_sbi_return(&mut self, _error: i64, _value: u64) {}
    fn set_timer(&mut self, deadline: u64) {
        self.timer = Some(deadline);
    }
    fn time(&self) -> u64 {
        0
    }
    fn signals(&self) -> Arc<dyn VcpuSignals> {
        Arc::new(MockSignals::default())
    }
    fn counters(&self) -> VcpuCounters {
        VcpuCounters::default()
    }
    fn started_by_kernel(&self) -> bool {
        self.kernel_checked
    }
    fn machine_counter(&self, counter: Counter) -> Option<u64> {
        let (offset, frozen) = self.counters[counter as usize];
        Some(frozen.unwrap_or(self.instructions.wrapping_add(offset)))
    }
    fn set_machine_counter(&mut self, counter: Counter, value: Option<u64>, running: bool) {
        let value = value.unwrap_or_else(|| self.machine_counter(counter).unwrap_or(0));
        self.counters[counter as usize] = if running {
            (value.wrapping_sub(self.instructions), None)
        } else {
            (0, Some(value))
        };
    }
}

fn call(host: &MockHost, extension: u64, function: u64, args: &[u64]) -> SbiOutcome {
    Caller::new(host).call(extension, function, args)
}

/// One hart making calls: its vCPU and firmware state persist between calls.
struct Caller<'a> {
    host: &'a MockHost,
    hart: usize,
    vcpu: MockVcpu,
    firmware: HartFirmware,
}

impl<'a> Caller<'a> {
    fn new(host: &'a MockHost) -> Caller<'a> {
        Caller::on(host, 0)
    }

    fn on(host: &'a MockHost, hart: usize) -> Caller<'a> {
        Caller {
            host,
            hart,
            vcpu: MockVcpu::default(),
            firmware: HartFirmware::default(),
        }
    }

    fn call(&mut self, extension: u64, function: u64, args: &[u64]) -> SbiOutcome {
        let mut a = [0u64; 6];
        a[..args.len()].copy_from_slice(args);
        handle(
            &SbiCall {
                extension,
                function,
                args: a,
            },
            self.hart,
            &mut self.vcpu,
            self.host,
            &mut self.firmware,
        )
    }
}

fn ret(error: i64, value: u64) -> SbiOutcome {
    SbiOutcome::Return { error, value }
}

#[test]
fn base_reports_version_and_probes_extensions() {
    let host = MockHost::new(1);
    assert_eq!(call(&host, ext::BASE, 0, &[]), ret(0, SPEC_VERSION));
    assert_eq!(call(&host, ext::BASE, 3, &[ext::HSM]), ret(0, 1));
    assert_eq!(call(&host, ext::BASE, 3, &[ext::DBCN]), ret(0, 1));
    assert_eq!(
        call(&host, ext::BASE, 3, &[0x4E41_434C]),
        ret(0, 0),
        "NACL is not offered without H"
    );
    assert_eq!(
        call(&host, ext::BASE, 99, &[]),
        ret(error::NOT_SUPPORTED, 0)
    );
}

#[test]
fn unknown_extensions_and_functions_are_not_supported() {
    let host = MockHost::new(1);
    assert_eq!(
        call(&host, 0x0A00_0000, 0, &[]),
        ret(error::NOT_SUPPORTED, 0)
    );
    assert_eq!(call(&host, ext::TIME, 1, &[]), ret(error::NOT_SUPPORTED, 0));
    assert_eq!(
        call(&host, ext::RFENCE, 3, &[0, 0]),
        ret(error::NOT_SUPPORTED, 0),
        "HFENCE needs H"
    );
}

#[test]
fn set_timer_programs_the_calling_vcpu() {
    let host = MockHost::new(1);
    let mut vcpu = MockVcpu::default();
    let a = [1234, 0, 0, 0, 0, 0];
    assert_eq!(
        handle(
            &SbiCall {
                extension: ext::TIME,
                function: 0,
                args: a
            },
            0,
            &mut vcpu,
            &host,
            &mut HartFirmware::default(),
        ),
        ret(0, 0)
    );
    assert_eq!(vcpu.timer, Some(1234));
}

#[test]
fn ipi_reaches_exactly_the_masked_harts() {
    let host = MockHost::new(4);
    assert_eq!(call(&host, ext::IPI, 0, &[0b101, 0]), ret(0, 0));
    let counts: Vec<u32> = host
        .harts
        .iter()
        .map(|h| h.ipis.load(Ordering::SeqCst))
        .collect();
    assert_eq!(counts, [1, 0, 1, 0]);
    assert_eq!(
        call(&host, ext::IPI, 0, &[0b1, 3]),
        ret(0, 0),
        "base shifts the mask"
    );
    assert_eq!(host.harts[3].ipis.load(Ordering::SeqCst), 1);
    assert_eq!(
        call(&host, ext::IPI, 0, &[0, u64::MAX]),
        ret(0, 0),
        "base -1 means all harts"
    );
    assert!(
        host.harts
            .iter()
            .all(|h| h.ipis.load(Ordering::SeqCst) >= 1)
    );
}

#[test]
fn invalid_hart_ids_are_invalid_param_and_touch_nothing() {
    let host = MockHost::new(2);
    assert_eq!(
        call(&host, ext::IPI, 0, &[0b11, 1]),
        ret(error::INVALID_PARAM, 0)
    );
    assert_eq!(host.harts[1].ipis.load(Ordering::SeqCst), 0);
    assert_eq!(
        call(&host, ext::RFENCE, 1, &[0b100, 0]),
        ret(error::INVALID_PARAM, 0)
    );
}

#[test]
fn remote_fences_reach_their_harts() {
    let host = MockHost::new(2);
    assert_eq!(call(&host, ext::RFENCE, 0, &[0b10, 0]), ret(0, 0));
    assert_eq!(
        call(&host, ext::RFENCE, 1, &[0b11, 0, 0x1000, 0x1000]),
        ret(0, 0)
    );
    assert_eq!(
        call(&host, ext::RFENCE, 2, &[0b01, 0, 0, u64::MAX, 5]),
        ret(0, 0)
    );
    assert_eq!(host.harts[1].fence_i.load(Ordering::SeqCst), 1);
    assert_eq!(host.harts[0].sfence.load(Ordering::SeqCst), 2);
    assert_eq!(host.harts[1].sfence.load(Ordering::SeqCst), 1);
}

#[test]
fn hsm_start_stop_and_status_follow_the_state_machine() {
    let host = MockHost::new(2);
    assert_eq!(
        call(&host, ext::HSM, 2, &[1]),
        ret(0, HartState::Stopped as u64)
    );
    assert_eq!(call(&host, ext::HSM, 0, &[1, RAM.0, 7]), ret(0, 0));
    assert_eq!(
        call(&host, ext::HSM, 2, &[1]),
        ret(0, HartState::StartPending as u64)
    );
    assert_eq!(
        call(&host, ext::HSM, 0, &[1, RAM.0, 7]),
        ret(error::ALREADY_AVAILABLE, 0)
    );
    assert_eq!(host.states.wait_for_start(1), Some((RAM.0, 7)));
    assert_eq!(
        call(&host, ext::HSM, 2, &[1]),
        ret(0, HartState::Started as u64)
    );
    assert_eq!(call(&host, ext::HSM, 1, &[]), SbiOutcome::HartStopped);
    assert_eq!(
        call(&host, ext::HSM, 2, &[0]),
        ret(0, HartState::Stopped as u64)
    );
}

#[test]
fn hsm_rejects_bad_harts_addresses_and_suspend_types() {
    let host = MockHost::new(2);
    assert_eq!(
        call(&host, ext::HSM, 0, &[2, RAM.0, 0]),
        ret(error::INVALID_PARAM, 0)
    );
    assert_eq!(
        call(&host, ext::HSM, 0, &[1, 0x1000, 0]),
        ret(error::INVALID_ADDRESS, 0)
    );
    assert_eq!(
        call(&host, ext::HSM, 2, &[u64::MAX]),
        ret(error::INVALID_PARAM, 0)
    );
}

#[test]
fn system_reset_types_and_reasons() {
    let host = MockHost::new(1);
    assert_eq!(
        call(&host, ext::SRST, 0, &[0, 0]),
        SbiOutcome::Shutdown { failure: false }
    );
    assert_eq!(
        call(&host, ext::SRST, 0, &[0, 1]),
        SbiOutcome::Shutdown { failure: true }
    );
    assert_eq!(call(&host, ext::SRST, 0, &[1, 0]), SbiOutcome::Reboot);
    assert_eq!(call(&host, ext::SRST, 0, &[2, 0]), SbiOutcome::Reboot);
    assert_eq!(
        call(&host, ext::SRST, 0, &[3, 0]),
        ret(error::INVALID_PARAM, 0)
    );
    assert_eq!(
        call(&host, ext::SRST, 0, &[0, 2]),
        ret(error::INVALID_PARAM, 0)
    );
    assert_eq!(
        call(&host, ext::SRST, 0, &[0xF000_0000, 0]),
        ret(error::NOT_SUPPORTED, 0)
    );
}

#[test]
fn debug_console_writes_guest_memory_and_checks_addresses() {
    let host = MockHost::new(1);
    host.write_guest(RAM.0 + 16, b"hello");
    assert_eq!(call(&host, ext::DBCN, 0, &[5, RAM.0 + 16, 0]), ret(0, 5));
    assert_eq!(call(&host, ext::DBCN, 2, &[b'!' as u64]), ret(0, 0));
    assert_eq!(host.console.lock().unwrap().as_slice(), b"hello!");
    assert_eq!(
        call(&host, ext::DBCN, 0, &[5, 0x1000, 0]),
        ret(error::INVALID_PARAM, 0)
    );
    assert_eq!(
        call(&host, ext::DBCN, 0, &[5, RAM.0, 1]),
        ret(error::INVALID_PARAM, 0),
        "high bits on RV64"
    );
    assert_eq!(
        call(&host, ext::DBCN, 1, &[8, RAM.0, 0]),
        ret(0, 0),
        "no input waiting"
    );
    assert_eq!(call(&host, ext::DBCN, 3, &[]), ret(error::NOT_SUPPORTED, 0));
}

#[test]
fn legacy_calls_return_in_a0_only() {
    let host = MockHost::new(1);
    assert_eq!(
        call(&host, ext::LEGACY_PUTCHAR, 0, &[b'x' as u64]),
        SbiOutcome::LegacyReturn(0)
    );
    assert_eq!(
        call(&host, ext::LEGACY_GETCHAR, 0, &[]),
        SbiOutcome::LegacyReturn(-1)
    );
    assert_eq!(
        call(&host, ext::LEGACY_SHUTDOWN, 0, &[]),
        SbiOutcome::Shutdown { failure: false }
    );
    assert_eq!(
        call(&host, 0x04, 0, &[]),
        SbiOutcome::LegacyReturn(error::NOT_SUPPORTED)
    );
}

mod fwft;
mod guest;
mod hsm;
mod pmu;
mod susp;

#[test]
fn extensions_left_out_by_the_config_are_not_supported_and_probe_zero() {
    let mut host = MockHost::new(1);
    host.disabled = ["pmu", "susp", "legacy"]
        .iter()
        .flat_map(|name| extension_ids(name).expect("known"))
        .copied()
        .collect();
    assert_eq!(call(&host, ext::BASE, 3, &[ext::PMU]), ret(0, 0));
    assert_eq!(call(&host, ext::BASE, 3, &[ext::SUSP]), ret(0, 0));
    assert_eq!(call(&host, ext::BASE, 3, &[ext::HSM]), ret(0, 1));
    assert_eq!(call(&host, ext::PMU, 0, &[]), ret(error::NOT_SUPPORTED, 0));
    assert_eq!(
        call(&host, ext::SUSP, 0, &[0, RAM.0, 0]),
        ret(error::NOT_SUPPORTED, 0)
    );
    assert_eq!(
        call(&host, ext::LEGACY_PUTCHAR, 0, &[b'x' as u64]),
        SbiOutcome::LegacyReturn(error::NOT_SUPPORTED)
    );
    assert!(host.console.lock().unwrap().is_empty());
    assert_eq!(extension_ids("base"), None, "BASE cannot be left out");
}
