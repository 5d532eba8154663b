//! Between slices of execution: other threads' requests, interrupt delivery
//! (privileged spec 4.1.3: SEI > SSI > STI), and WFI's sleep.

use std::time::Duration;

use super::signals::event;
use super::{Exit, Hart, Privilege};
use crate::csr::{irq, status};
use crate::layout::TIMEBASE_FREQUENCY;

impl Hart {
    /// Handles posted events and takes a pending interrupt if one is enabled.
    /// Returns an exit when the hart must leave `run()`.
    pub(super) fn service_events(&mut self) -> Option<Exit> {
        let fences = self.fences.current();
        if fences != self.fences_seen {
            self.fences_seen = fences;
            self.icache.fence();
        }
        loop {
            if self.apply_events() {
                return Some(Exit::Kicked);
            }
            let enabled = self.pending_interrupts() & self.csr.ie;
            if enabled != 0 {
                self.waiting_for_interrupt = false;
                if let Some(cause) = self.deliverable_interrupt(enabled) {
                    self.take_interrupt(cause);
                }
            }
            if !self.waiting_for_interrupt {
                return None;
            }
            self.sleep_until_interrupt();
        }
    }

    /// Applies posted events (IPI, fences); true when the hart was kicked.
    fn apply_events(&mut self) -> bool {
        let events = self.signals.take_events();
        if events == 0 {
            return false;
        }
        if events & event::IPI != 0 {
            self.csr.sip |= irq::SSIP;
        }
        if events & event::FLUSH_TLB != 0 {
            self.tlb.flush_all();
            self.icache.flush_translations();
            self.stats.tlb_flushes += 1;
            self.signals.ack_flushes();
        }
        if events & event::FENCE_I != 0 {
            self.icache.fence();
        }
        events & event::KICK != 0
    }

    /// Sleeps the hart outside `run()` until an interrupt is pending and enabled in
    /// sie/hie, whatever sstatus.SIE says (the wake-up condition of WFI and of SBI
    /// HSM hart_suspend). Returns true on that interrupt, false when kicked first.
    /// The interrupt is not taken: the caller decides where the hart resumes.
    pub fn wait_for_interrupt(&mut self) -> bool {
        loop {
            if self.apply_events() {
                return false;
            }
            if self.pending_interrupts() & self.csr.ie != 0 {
                return true;
            }
            self.sleep_until_interrupt();
        }
    }

    /// The interrupt to take now, if any (9.4.3): interrupts not delegated to VS
    /// go to HS, where they are enabled in U/VS/VU and by sstatus.SIE in HS;
    /// VS-level interrupts delegated by hideleg are taken only while V=1, enabled
    /// in VU and by vsstatus.SIE in VS.
    fn deliverable_interrupt(&self, enabled: u64) -> Option<u64> {
        let delegated = self.csr.hideleg & irq::VS_MASK;
        let to_hs = enabled & !delegated;
        let hs_enabled =
            self.virt || self.privilege == Privilege::User || self.csr.sstatus & status::SIE != 0;
        let to_vs = if self.virt { enabled & delegated } else { 0 };
        let vs_enabled = self.privilege == Privilege::User || self.csr.vsstatus & status::SIE != 0;
        let candidates =
            (if hs_enabled { to_hs } else { 0 }) | (if vs_enabled { to_vs } else { 0 });
        irq::PRIORITY
            .into_iter()
            .find(|&n| candidates & (1 << n) != 0)
    }

    /// WFI: sleeps the host thread until the timer fires or another thread posts.
    fn sleep_until_interrupt(&mut self) {
        let now = self.time();
        let mut deadline = u64::MAX;
        if self.csr.ie & irq::STIP != 0 {
            deadline = deadline.min(self.csr.stimecmp);
        }
        if self.csr.ie & irq::VSTIP != 0 && self.csr.henvcfg & crate::csr::henvcfg::STCE != 0 {
            deadline = deadline.min(self.csr.vstimecmp.wrapping_sub(self.csr.htimedelta));
        }
        let timeout = (deadline != u64::MAX).then(|| {
            let ticks = deadline.saturating_sub(now);
            let nanos = ticks as u128 * 1_000_000_000 / TIMEBASE_FREQUENCY as u128;
            Duration::from_nanos(nanos.min(u64::MAX as u128) as u64)
        });
        self.signals.sleep(timeout);
    }
}
