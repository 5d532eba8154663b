//! The Hart State Management extension (SBI spec chapter 9): which harts run, and
//! the hand-off that starts a stopped hart on its own thread.

use std::sync::{Condvar, Mutex, MutexGuard};

use super::pmu::FirmwareEvents;
use super::{SbiHost, SbiOutcome, error};

/// HSM states as hart_get_status reports them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum HartState {
    /// Running.
    Started = 0,
    /// Not running; may be started with hart_start.
    Stopped = 1,
    /// hart_start accepted, the hart has not begun executing yet.
    StartPending = 2,
    /// In hart_suspend (retentive or not), waiting for an interrupt.
    Suspended = 4,
}

#[derive(Debug)]
struct Entry {
    state: HartState,
    /// Where a StartPending hart begins: pc and the opaque value for a1.
    start: (u64, u64),
}

/// The HSM state of every hart, with a condition variable per hart that its vCPU
/// thread sleeps on while stopped.
pub struct HartStates {
    harts: Vec<(Mutex<Entry>, Condvar)>,
    /// Each hart's firmware events (SBI PMU), counted by the harts involved.
    events: Vec<FirmwareEvents>,
    closing: Mutex<bool>,
}

impl HartStates {
    /// `count` harts, all stopped.
    pub fn new(count: usize) -> HartStates {
        HartStates {
            harts: (0..count)
                .map(|_| {
                    (
                        Mutex::new(Entry {
                            state: HartState::Stopped,
                            start: (0, 0),
                        }),
                        Condvar::new(),
                    )
                })
                .collect(),
            events: (0..count).map(|_| FirmwareEvents::default()).collect(),
            closing: Mutex::new(false),
        }
    }

    fn entry(&self, hart: usize) -> Option<(MutexGuard<'_, Entry>, &Condvar)> {
        let (lock, cond) = self.harts.get(hart)?;
        Some((lock.lock().unwrap_or_else(|e| e.into_inner()), cond))
    }

    /// The firmware events of `hart`.
    pub fn events(&self, hart: usize) -> Option<&FirmwareEvents> {
        self.events.get(hart)
    }

    /// Current state of `hart`, `None` if there is no such hart.
    pub fn state(&self, hart: usize) -> Option<HartState> {
        self.entry(hart).map(|(e, _)| e.state)
    }

    /// Moves a stopped hart to StartPending at `pc` with `opaque` (also used for the
    /// boot hart). Errors are SBI error codes.
    pub fn start(&self, hart: usize, pc: u64, opaque: u64) -> Result<(), i64> {
        let (mut entry, cond) = self.entry(hart).ok_or(error::INVALID_PARAM)?;
        if entry.state != HartState::Stopped {
            return Err(error::ALREADY_AVAILABLE);
        }
        entry.state = HartState::StartPending;
        entry.start = (pc, opaque);
        cond.notify_all();
        Ok(())
    }

    /// Blocks the vCPU thread of a stopped hart until it is started, then marks it
    /// started and returns (pc, opaque); `None` when the VM is closing.
    pub fn wait_for_start(&self, hart: usize) -> Option<(u64, u64)> {
        let (mut entry, cond) = self.entry(hart)?;
        loop {
            if self.is_closing() {
                return None;
            }
            if entry.state == HartState::StartPending {
                entry.state = HartState::Started;
                return Some(entry.start);
            }
            entry = cond.wait(entry).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Marks `hart` stopped (it called hart_stop).
    pub fn stop(&self, hart: usize) {
        if let Some((mut entry, _)) = self.entry(hart) {
            entry.state = HartState::Stopped;
        }
    }

    /// Marks the running `hart` suspended (hart_suspend) or, with `false`, started
    /// again (it woke up).
    pub fn set_suspended(&self, hart: usize, suspended: bool) {
        if let Some((mut entry, _)) = self.entry(hart) {
            entry.state = if suspended {
                HartState::Suspended
            } else {
                HartState::Started
            };
        }
    }

    /// Whether every hart but `caller` is stopped (the entry criterion of SUSP's
    /// suspend to RAM).
    pub fn all_stopped_but(&self, caller: usize) -> bool {
        (0..self.harts.len())
            .filter(|&hart| hart != caller)
            .all(|hart| self.state(hart) == Some(HartState::Stopped))
    }

    /// Wakes every waiting vCPU thread so it can exit.
    pub fn close(&self) {
        *self.closing.lock().unwrap_or_else(|e| e.into_inner()) = true;
        for (lock, cond) in &self.harts {
            let _guard = lock.lock().unwrap_or_else(|e| e.into_inner());
            cond.notify_all();
        }
    }

    fn is_closing(&self) -> bool {
        *self.closing.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Serves HSM function `function` for `caller`.
pub fn handle(function: u64, a: [u64; 6], caller: usize, host: &dyn SbiHost) -> SbiOutcome {
    let states = host.hart_states();
    let reply = |result: Result<u64, i64>| match result {
        Ok(value) => SbiOutcome::Return {
            error: error::SUCCESS,
            value,
        },
        Err(error) => SbiOutcome::Return { error, value: 0 },
    };
    match function {
        // hart_start(hartid, start_addr, opaque)
        0 => {
            let hart = a[0];
            if hart >= host.hart_count() as u64 {
                return reply(Err(error::INVALID_PARAM));
            }
            if !is_entry_point(host, a[1]) {
                return reply(Err(error::INVALID_ADDRESS));
            }
            reply(states.start(hart as usize, a[1], a[2]).map(|()| 0))
        }
        // hart_stop()
        1 => {
            states.stop(caller);
            SbiOutcome::HartStopped
        }
        // hart_get_status(hartid)
        2 => reply(
            usize::try_from(a[0])
                .ok()
                .and_then(|hart| states.state(hart))
                .map(|state| state as u64)
                .ok_or(error::INVALID_PARAM),
        ),
        // hart_suspend(suspend_type, resume_addr, opaque)
        3 => suspend(a[0] as u32, a[1], a[2], host),
        _ => reply(Err(error::NOT_SUPPORTED)),
    }
}

/// Whether supervisor code can start at `addr`: an instruction-aligned address in
/// RAM (the soft hart has C, so 2 bytes; RAM is executable, nothing else is).
pub fn is_entry_point(host: &dyn SbiHost, addr: u64) -> bool {
    addr.is_multiple_of(2) && host.is_ram(addr, 2)
}

/// How a suspended hart comes back (SBI spec table "HSM Hart Suspend Types").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resume {
    /// Retentive: hart_suspend returns SUCCESS with every register kept.
    Retentive,
    /// Non-retentive: the hart starts over in S-mode at `addr` with a1 = `opaque`.
    At {
        /// resume_addr.
        addr: u64,
        /// The value for a1.
        opaque: u64,
    },
}

/// hart_suspend. `suspend_type` is 32 bits wide: on RV64 the caller's upper bits
/// of a0 are not part of it. rvnest implements the two default types; reserved and
/// platform-specific types are INVALID_PARAM ("reserved or platform-specific and
/// unimplemented").
fn suspend(suspend_type: u32, resume_addr: u64, opaque: u64, host: &dyn SbiHost) -> SbiOutcome {
    match suspend_type {
        0x0000_0000 => SbiOutcome::HartSuspended(Resume::Retentive),
        0x8000_0000 if !is_entry_point(host, resume_addr) => SbiOutcome::Return {
            error: error::INVALID_ADDRESS,
            value: 0,
        },
        0x8000_0000 => SbiOutcome::HartSuspended(Resume::At {
            addr: resume_addr,
            opaque,
        }),
        // 0x00000001-0x0FFFFFFF and 0x80000001-0x8FFFFFFF reserved;
        // 0x10000000-0x7FFFFFFF and 0x90000000-0xFFFFFFFF platform specific.
        _ => SbiOutcome::Return {
            error: error::INVALID_PARAM,
            value: 0,
        },
    }
}
