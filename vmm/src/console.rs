//! The host side of the guest console: stdin in raw mode feeding the UART, driven by
//! the event-manager loop, and the watcher of the VM's exit event.

use std::io::{Read, Stdout};
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use devices::uart::Uart;
use event_manager::{EventOps, Events, MutEventSubscriber};
use vmm_sys_util::epoll::EventSet;
use vmm_sys_util::terminal::Terminal;
use vmm_sys_util::timerfd::TimerFd;

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

/// Feeds stdin to the UART without ever blocking the event loop: when the UART's
/// FIFO is full (the guest is slow, or paused), the rest waits in a buffer, stdin is
/// not read, and a timer retries (after 1 ms, backing off to 64 ms while the guest
/// takes nothing) until the guest has drained it.
pub struct StdinToUart {
    uart: Arc<Mutex<ConsoleUart>>,
    machine: Arc<Machine>,
    pending: Vec<u8>,
    retry: Option<TimerFd>,
    backoff: Duration,
}

/// First delay before undelivered console input is offered to the UART again.
const RETRY_MIN: Duration = Duration::from_millis(1);
/// Longest delay between offers (a paused guest takes nothing).
const RETRY_MAX: Duration = Duration::from_millis(64);

impl StdinToUart {
    /// A feeder for `uart` that stops when `machine` exits.
    pub fn new(uart: Arc<Mutex<ConsoleUart>>, machine: Arc<Machine>) -> StdinToUart {
        StdinToUart {
            uart,
            machine,
            pending: Vec::new(),
            retry: None,
            backoff: RETRY_MIN,
        }
    }

    /// Offers pending bytes to the UART; true when all were taken. The retry delay
    /// restarts from [`RETRY_MIN`] when the guest took some, and doubles otherwise.
    fn deliver_pending(&mut self) -> bool {
        if self.machine.is_exiting() {
            self.pending.clear();
            return true;
        }
        let taken = self
            .uart
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .enqueue_raw_bytes(&self.pending);
        self.pending.drain(..taken);
        self.backoff = if taken > 0 {
            RETRY_MIN
        } else {
            (self.backoff * 2).min(RETRY_MAX)
        };
        self.pending.is_empty()
    }

    /// Stops reading stdin and arms the retry timer (bytes are pending).
    fn wait_for_room(&mut self, ops: &mut EventOps) {
        let _ = ops.remove(Events::new(&std::io::stdin(), EventSet::IN));
        if self.retry.is_none() {
            match TimerFd::new() {
                Ok(timer) => {
                    if ops.add(Events::new(&timer, EventSet::IN)).is_ok() {
                        self.retry = Some(timer);
                    }
                }
                Err(e) => tracing::warn!("Console input stalls: cannot create a timer: {e}"),
            }
        }
        if let Some(timer) = &mut self.retry {
            let _ = timer.reset(self.backoff, None);
        }
    }

    fn on_stdin(&mut self, events: Events, ops: &mut EventOps) {
        let mut buf = [0u8; 256];
        let read = if events.event_set().contains(EventSet::IN) {
            std::io::stdin().lock().read(&mut buf)
        } else {
            Ok(0)
        };
        match read {
            Ok(n) if n > 0 => {
                self.pending.extend_from_slice(&buf[..n]);
                if !self.deliver_pending() {
                    self.wait_for_room(ops);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            // End of input, hang-up or error: stop watching stdin; the guest runs on.
            _ => {
                let _ = ops.remove(Events::new(&std::io::stdin(), EventSet::IN));
            }
        }
    }

    fn on_retry(&mut self, ops: &mut EventOps) {
        if let Some(timer) = &mut self.retry {
            let _ = timer.wait();
        }
        if self.deliver_pending() {
            if ops
                .add(Events::new(&std::io::stdin(), EventSet::IN))
                .is_err()
            {
                tracing::debug!("Console input disabled: cannot watch stdin again");
            }
        } else if let Some(timer) = &mut self.retry {
            let _ = timer.reset(self.backoff, None);
        }
    }
}

impl MutEventSubscriber for StdinToUart {
    fn process(&mut self, events: Events, ops: &mut EventOps) {
        let is_retry = self
            .retry
            .as_ref()
            .is_some_and(|timer| timer.as_raw_fd() == events.fd());
        if is_retry {
            self.on_retry(ops);
        } else {
            self.on_stdin(events, ops);
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
