//! What other threads tell a hart: interrupt lines, IPIs, remote fences, and requests
//! to leave `run()`. The hart polls these at block boundaries and sleeps on them in WFI.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// Event bits in [`HartSignals::events`].
pub mod event {
    /// Leave `run()` as soon as possible.
    pub const KICK: u32 = 1 << 0;
    /// Set `sip.SSIP` (an SBI IPI).
    pub const IPI: u32 = 1 << 1;
    /// The external interrupt line changed.
    pub const EXTERNAL: u32 = 1 << 2;
    /// Flush the TLB (SBI remote sfence.vma).
    pub const FLUSH_TLB: u32 = 1 << 3;
    /// Drop decoded instructions (SBI remote fence.i).
    pub const FENCE_I: u32 = 1 << 4;
}

/// The shared, thread-safe side of one hart.
#[derive(Default)]
pub struct HartSignals {
    events: AtomicU32,
    external_level: AtomicBool,
    /// True while the hart executes guest code (not sleeping in WFI, not stopped).
    running: AtomicBool,
    flush_requested: AtomicU64,
    flush_done: AtomicU64,
    sleep_lock: Mutex<()>,
    wake: Condvar,
}

impl HartSignals {
    /// Posts event bits and wakes the hart if it sleeps.
    pub fn post(&self, bits: u32) {
        self.events.fetch_or(bits, Ordering::SeqCst);
        // Taking the lock orders this notification after a sleeper's last check.
        let _guard = self.sleep_lock.lock().unwrap_or_else(|e| e.into_inner());
        self.wake.notify_all();
    }

    /// Sets the level of the supervisor external interrupt line (from the PLIC).
    pub fn set_external_interrupt(&self, level: bool) {
        if self.external_level.swap(level, Ordering::SeqCst) != level {
            self.post(event::EXTERNAL);
        }
    }

    /// Raises a supervisor software interrupt (an SBI IPI).
    pub fn send_ipi(&self) {
        self.post(event::IPI);
    }

    /// Asks the hart to return from `run()` promptly.
    pub fn kick(&self) {
        self.post(event::KICK);
    }

    /// Asks the hart to drop its decoded instructions before it next executes.
    pub fn request_fence_i(&self) {
        self.post(event::FENCE_I);
    }

    /// Asks the hart to flush its TLB, and waits until it has, unless it is not
    /// executing (a sleeping or stopped hart flushes before it executes again).
    pub fn request_tlb_flush(&self) {
        let ticket = self.flush_requested.fetch_add(1, Ordering::SeqCst) + 1;
        self.post(event::FLUSH_TLB);
        let mut spins = 0u32;
        while self.running.load(Ordering::SeqCst) && self.flush_done.load(Ordering::SeqCst) < ticket
        {
            spins += 1;
            if spins > 64 {
                std::thread::yield_now();
            }
            if spins > 1_000_000 {
                break;
            }
        }
    }

    /// Takes the pending event bits.
    #[inline]
    pub(crate) fn take_events(&self) -> u32 {
        if self.events.load(Ordering::Relaxed) == 0 {
            return 0;
        }
        self.events.swap(0, Ordering::SeqCst)
    }

    /// Whether any event is pending, without taking it.
    #[inline]
    pub(crate) fn has_events(&self) -> bool {
        self.events.load(Ordering::Relaxed) != 0
    }

    /// The current external interrupt level.
    pub(crate) fn external_level(&self) -> bool {
        self.external_level.load(Ordering::SeqCst)
    }

    /// Records that every TLB flush requested so far is done.
    pub(crate) fn ack_flushes(&self) {
        let requested = self.flush_requested.load(Ordering::SeqCst);
        self.flush_done.store(requested, Ordering::SeqCst);
    }

    /// Marks the hart as executing or not.
    pub(crate) fn set_running(&self, running: bool) {
        self.running.store(running, Ordering::SeqCst);
    }

    /// Sleeps until an event is posted or `timeout` passes.
    pub(crate) fn sleep(&self, timeout: Option<Duration>) {
        let guard = self.sleep_lock.lock().unwrap_or_else(|e| e.into_inner());
        if self.has_events() {
            return;
        }
        self.set_running(false);
        // Requests posted after set_running(false) are seen below or after waking.
        self.ack_flushes();
        // A poisoned lock only means another thread panicked; waking is still right.
        match timeout {
            Some(t) => drop(self.wake.wait_timeout(guard, t)),
            None => drop(self.wake.wait(guard)),
        }
        self.set_running(true);
    }
}
