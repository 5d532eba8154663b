//! The host side of the guest console: stdin in raw mode feeding the UART, driven by
//! the event-manager loop.

use std::io::{Read, Stdout};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use devices::uart::Uart;
use event_manager::{EventOps, Events, MutEventSubscriber};
use vmm_sys_util::epoll::EventSet;
use vmm_sys_util::terminal::Terminal;

use crate::machine::Machine;

/// The guest's UART, writing to our stdout.
pub type ConsoleUart = Uart<Stdout>;

/// Puts the terminal on stdin into raw mode for the guest and restores it on drop.
pub struct RawTerminal {
    active: bool,
}

impl RawTerminal {
    /// Raw mode if stdin is a terminal; otherwise does nothing.
    pub fn enter() -> RawTerminal {
        let stdin = std::io::stdin();
        // SAFETY: isatty only inspects the descriptor.
        let is_tty = unsafe { libc::isatty(stdin.as_raw_fd()) } == 1;
        let active = is_tty && stdin.lock().set_raw_mode().is_ok();
        RawTerminal { active }
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        if self.active {
            let _ = std::io::stdin().lock().set_canon_mode();
        }
    }
}

/// Feeds stdin to the UART. When the UART's FIFO is full it waits for the guest to
/// drain it rather than dropping input.
pub struct StdinToUart {
    uart: Arc<Mutex<ConsoleUart>>,
    machine: Arc<Machine>,
}

impl StdinToUart {
    /// A feeder for `uart` that stops waiting when `machine` exits.
    pub fn new(uart: Arc<Mutex<ConsoleUart>>, machine: Arc<Machine>) -> StdinToUart {
        StdinToUart { uart, machine }
    }

    fn deliver(&self, mut bytes: &[u8]) {
        while !bytes.is_empty() && !self.machine.is_exiting() {
            let taken = self
                .uart
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .enqueue_raw_bytes(bytes);
            bytes = &bytes[taken..];
            if !bytes.is_empty() {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
}

impl MutEventSubscriber for StdinToUart {
    fn process(&mut self, events: Events, ops: &mut EventOps) {
        let mut buf = [0u8; 256];
        let read = if events.event_set().contains(EventSet::IN) {
            std::io::stdin().lock().read(&mut buf)
        } else {
            Ok(0)
        };
        match read {
            Ok(n) if n > 0 => self.deliver(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            // End of input, hang-up or error: stop watching stdin; the guest runs on.
            _ => {
                let _ = ops.remove(Events::new(&std::io::stdin(), EventSet::IN));
            }
        }
    }

    fn init(&mut self, ops: &mut EventOps) {
        if let Err(e) = ops.add(Events::new(&std::io::stdin(), EventSet::IN)) {
            tracing::debug!("Console input disabled: cannot watch stdin: {e}");
        }
    }
}

/// Wakes the event loop when a vCPU thread ends the VM.
pub struct ExitWatcher {
    machine: Arc<Machine>,
    /// Set once the exit event fired.
    pub fired: bool,
}

impl ExitWatcher {
    /// A watcher of `machine`'s exit event.
    pub fn new(machine: Arc<Machine>) -> ExitWatcher {
        ExitWatcher {
            machine,
            fired: false,
        }
    }
}

impl MutEventSubscriber for ExitWatcher {
    fn process(&mut self, _events: Events, _ops: &mut EventOps) {
        let _ = self.machine.exit_event().read();
        self.fired = true;
    }

    fn init(&mut self, ops: &mut EventOps) {
        if let Err(e) = ops.add(Events::new(self.machine.exit_event(), EventSet::IN)) {
            tracing::error!("Cannot watch the VM's exit event: {e}");
        }
    }
}
