//! The Hart State Management extension (SBI spec chapter 9): which harts run, and
//! the hand-off that starts a stopped hart on its own thread.

use std::sync::{Condvar, Mutex, MutexGuard};

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
            closing: Mutex::new(false),
        }
    }

    fn entry(&self, hart: usize) -> Option<(MutexGuard<'_, Entry>, &Condvar)> {
        let (lock, cond) = self.harts.get(hart)?;
        Some((lock.lock().unwrap_or_else(|e| e.into_inner()), cond))
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
            if !host.is_ram(a[1], 4) {
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
        // hart_suspend(suspend_type, resume_addr, opaque): retentive suspend is
        // a WFI that returns SUCCESS; non-retentive suspend is not implemented.
        3 => match a[0] {
            0 => reply(Ok(0)),
            0x8000_0000 => reply(Err(error::NOT_SUPPORTED)),
            0x1000_0000..=0x7FFF_FFFF | 0x9000_0000..=0xFFFF_FFFF => {
                reply(Err(error::NOT_SUPPORTED))
            }
            _ => reply(Err(error::INVALID_PARAM)),
        },
        _ => reply(Err(error::NOT_SUPPORTED)),
    }
}
