//! The machine shared by the vCPU threads and the event loop: guest memory, the MMIO
//! bus with its devices, HSM state, the harts' signal handles, and how the VM ends.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use devices::bus::MmioBus;
use devices::irq::IrqLine;
use devices::plic::PlicOutput;
use vmm_sys_util::eventfd::EventFd;

use arch_riscv::layout::UART_BASE;

use crate::hypervisor::{VcpuSignals, Vm};
use crate::memory::GuestMemory;
use crate::sbi::{HartStates, SbiHost};
use crate::vcpu_control::VcpuControl;

/// Line status register of the 16550A, and its data-ready bit.
const UART_LSR: u64 = 5;
const UART_LSR_DR: u8 = 0x01;

/// How a VM ended, and the process exit code each maps to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// The guest powered off (SBI SRST shutdown, no reason): exit code 0.
    PowerOff,
    /// The guest shut down reporting a system failure (SRST reason 1): exit code 4.
    PowerOffFailure,
    /// The guest asked for a cold or warm reboot; the VM stops: exit code 3.
    Reboot,
    /// A fatal host-side error while running: exit code 2.
    Error(String),
    /// The VM was stopped through the API (`Shutdown` action): exit code 0.
    Stopped,
    /// rvnest received this signal (SIGTERM, SIGINT) and stopped the VM: exit code
    /// 128 + the signal number.
    Terminated(i32),
}

impl ExitStatus {
    /// The process exit code for this status.
    pub fn code(&self) -> i32 {
        match self {
            ExitStatus::PowerOff | ExitStatus::Stopped => 0,
            ExitStatus::Error(_) => 2,
            ExitStatus::Reboot => 3,
            ExitStatus::PowerOffFailure => 4,
            ExitStatus::Terminated(signal) => 128 + signal,
        }
    }
}

/// The harts' external interrupt lines, as the PLIC drives them.
#[derive(Default)]
pub struct HartLines(OnceLock<Vec<Arc<dyn VcpuSignals>>>);

impl PlicOutput for HartLines {
    fn set_external_interrupt(&self, hart: usize, level: bool) {
        if let Some(line) = self.0.get().and_then(|harts| harts.get(hart)) {
            line.set_external_interrupt(level);
        }
    }
}

/// A wired interrupt line into the backend's own interrupt controller (KVM's
/// in-kernel APLIC: `KVM_IRQ_LINE`), for devices of a VM without the VMM's PLIC.
pub struct BackendIrqLine {
    vm: Arc<dyn Vm>,
    source: u32,
}

impl BackendIrqLine {
    /// Source `source` of `vm`'s interrupt controller.
    pub fn new(vm: Arc<dyn Vm>, source: u32) -> BackendIrqLine {
        BackendIrqLine { vm, source }
    }
}

impl IrqLine for BackendIrqLine {
    fn set_level(&self, level: bool) {
        if let Err(e) = self.vm.set_irq_line(self.source, level) {
            tracing::error!(source = self.source, level, error = %e, "cannot set interrupt line");
        }
    }
}

/// Everything the vCPU threads share.
pub struct Machine {
    /// Guest RAM.
    pub memory: Arc<GuestMemory>,
    /// The device bus.
    pub bus: MmioBus,
    /// HSM state of each hart.
    pub hart_states: HartStates,
    /// The PLIC's view of the harts, filled once the vCPUs exist.
    pub hart_lines: Arc<HartLines>,
    /// Pausing the vCPU threads and collecting their counters.
    pub control: VcpuControl,
    /// SBI extension ids the configuration leaves out.
    pub sbi_disabled: Vec<u64>,
    exiting: AtomicBool,
    status: Mutex<Option<ExitStatus>>,
    exit_event: EventFd,
}

impl Machine {
    /// A machine over `memory` and `bus` with `harts` harts, all stopped.
    pub fn new(
        memory: Arc<GuestMemory>,
        bus: MmioBus,
        hart_lines: Arc<HartLines>,
        harts: usize,
    ) -> std::io::Result<Machine> {
        Ok(Machine {
            memory,
            bus,
            hart_states: HartStates::new(harts),
            hart_lines,
            control: VcpuControl::new(harts),
            sbi_disabled: Vec::new(),
            exiting: AtomicBool::new(false),
            status: Mutex::new(None),
            exit_event: EventFd::new(libc::EFD_NONBLOCK)?,
        })
    }

    /// Installs the harts' signal handles (once, after the vCPUs are created).
    pub fn set_harts(&self, signals: Vec<Arc<dyn VcpuSignals>>) {
        let _ = self.hart_lines.0.set(signals);
    }

    fn harts(&self) -> &[Arc<dyn VcpuSignals>] {
        self.hart_lines.0.get().map(Vec::as_slice).unwrap_or(&[])
    }

    /// Records why the VM ends (the first reason wins) and wakes the event loop.
    pub fn request_exit(&self, status: ExitStatus) {
        let mut slot = self.status.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none() {
            *slot = Some(status);
        }
        let _ = self.exit_event.write(1);
    }

    /// The event the event loop waits on for [`Machine::request_exit`].
    pub fn exit_event(&self) -> &EventFd {
        &self.exit_event
    }

    /// The recorded exit status.
    pub fn exit_status(&self) -> Option<ExitStatus> {
        self.status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether the VM is shutting down.
    pub fn is_exiting(&self) -> bool {
        self.exiting.load(Ordering::SeqCst)
    }

    /// Makes every vCPU thread leave: stopped and paused harts wake, running ones
    /// are kicked.
    pub fn stop_vcpus(&self) {
        self.exiting.store(true, Ordering::SeqCst);
        self.hart_states.close();
        self.control.close();
        self.kick_all();
    }

    /// Makes every running vCPU return from `run()` promptly.
    pub fn kick_all(&self) {
        for hart in self.harts() {
            hart.kick();
        }
    }
}

impl SbiHost for Machine {
    fn extension_disabled(&self, eid: u64) -> bool {
        self.sbi_disabled.contains(&eid)
    }

    fn hart_count(&self) -> usize {
        self.harts().len()
    }

    fn hart_signals(&self, id: usize) -> Arc<dyn VcpuSignals> {
        self.harts()[id].clone()
    }

    fn hart_states(&self) -> &HartStates {
        &self.hart_states
    }

    fn read_guest(&self, gpa: u64, buf: &mut [u8]) -> bool {
        self.memory.read(gpa, buf)
    }

    fn write_guest(&self, gpa: u64, data: &[u8]) -> bool {
        self.memory.write(gpa, data)
    }

    fn is_ram(&self, gpa: u64, len: u64) -> bool {
        self.memory.contains(gpa, len)
    }

    fn console_write(&self, bytes: &[u8]) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(bytes);
        let _ = out.flush();
    }

    fn console_read(&self, buf: &mut [u8]) -> usize {
        // The UART's receive buffer, read the way OpenSBI's 8250 driver does (LSR.DR,
        // then RBR): the SBI console and the UART share the one stdin, as they do on
        // hardware.
        let mut n = 0;
        while n < buf.len() {
            let mut lsr = [0u8];
            if !self.bus.read(UART_BASE + UART_LSR, &mut lsr) || lsr[0] & UART_LSR_DR == 0 {
                break;
            }
            let mut byte = [0u8];
            if !self.bus.read(UART_BASE, &mut byte) {
                break;
            }
            buf[n] = byte[0];
            n += 1;
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use arch_riscv::layout::{UART_BASE, UART_SIZE};
    use devices::bus::MmioBus;
    use devices::irq::IrqLine;
    use devices::uart::Uart;

    use super::{HartLines, Machine};
    use crate::memory::GuestMemory;
    use crate::sbi::SbiHost;

    struct NoLine;

    impl IrqLine for NoLine {
        fn set_level(&self, _level: bool) {}
    }

    #[test]
    fn console_reads_take_the_uart_input_once() {
        let uart = Arc::new(Mutex::new(Uart::new(Vec::new(), Arc::new(NoLine))));
        let mut bus = MmioBus::new();
        bus.insert(UART_BASE, UART_SIZE, uart.clone())
            .expect("uart");
        let memory = Arc::new(GuestMemory::new(1).expect("memory"));
        let machine =
            Machine::new(memory, bus, Arc::new(HartLines::default()), 1).expect("machine");

        let mut buf = [0u8; 8];
        assert_eq!(machine.console_read(&mut buf), 0, "nothing typed yet");
        assert_eq!(uart.lock().unwrap().enqueue_raw_bytes(b"hello"), 5);
        let mut three = [0u8; 3];
        assert_eq!(machine.console_read(&mut three), 3);
        assert_eq!(&three, b"hel");
        assert_eq!(machine.console_read(&mut buf), 2);
        assert_eq!(&buf[..2], b"lo");
        assert_eq!(machine.console_read(&mut buf), 0, "each byte is read once");
    }
}
