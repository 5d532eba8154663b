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
        loop {
            let events = self.signals.take_events();
            if events != 0 {
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
                if events & event::KICK != 0 {
                    return Some(Exit::Kicked);
                }
            }

            let pending = self.pending_interrupts();
            let enabled = pending & self.csr.sie;
            if enabled != 0 {
                self.waiting_for_interrupt = false;
                let globally_enabled =
                    self.privilege == Privilege::User || self.csr.sstatus & status::SIE != 0;
                if globally_enabled {
                    let cause = [irq::SEI, irq::SSI, irq::STI]
                        .into_iter()
                        .find(|&n| enabled & (1 << n) != 0)
                        .unwrap_or(irq::SEI);
                    self.stats.interrupts += 1;
                    self.enter_trap(cause, 0, true);
                }
            }
            if !self.waiting_for_interrupt {
                return None;
            }
            self.sleep_until_interrupt();
        }
    }

    /// WFI: sleeps the host thread until the timer fires or another thread posts.
    fn sleep_until_interrupt(&mut self) {
        let timeout = if self.csr.sie & irq::STIP != 0 && self.csr.stimecmp != u64::MAX {
            let ticks = self.csr.stimecmp.saturating_sub(self.time());
            Some(Duration::from_nanos(
                (ticks as u128 * 1_000_000_000 / TIMEBASE_FREQUENCY as u128).min(u64::MAX as u128)
                    as u64,
            ))
        } else {
            None
        };
        self.signals.sleep(timeout);
    }
}
