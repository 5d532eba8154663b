//! The SiFive platform-level interrupt controller (`sifive,plic-1.0.0`), as Linux's
//! `irq-sifive-plic` driver and QEMU's `virt` machine use it.
//!
//! Register map (RISC-V PLIC specification 1.0.0, chapter 3), all registers 32 bits:
//!
//! | offset                        | register                                    |
//! |-------------------------------|---------------------------------------------|
//! | `0x0 + 4 * src`               | priority of source `src` (0 = never)        |
//! | `0x1000 + 4 * w`              | pending bits of sources `32w..32w+31` (RO)  |
//! | `0x2000 + 0x80 * ctx + 4 * w` | enable bits of context `ctx`                |
//! | `0x20_0000 + 0x1000 * ctx`    | priority threshold of context `ctx`         |
//! | `0x20_0004 + 0x1000 * ctx`    | claim (read) / complete (write)             |
//!
//! rvnest gives every hart exactly one context, its S-mode external interrupt:
//! context `i` drives hart `i`'s `SEIP` (the FDT lists `<&cpuN_intc 9>` in hart order).
//!
//! All sources are level-triggered. The gateway of a source turns a high level into
//! a pending request unless the source is in service (claimed, not yet completed);
//! completion re-arms it, so a level still high becomes pending again. A level that
//! drops before the request is claimed withdraws it, as QEMU's and kvmtool's PLICs
//! do; this spares the guest spurious claims and changes nothing for a driver that
//! copes with them. Completion is accepted whether or not the source is enabled for
//! the completing context (the specification says it may be ignored; Linux re-enables
//! the source around its completion anyway, older guests may not).
//!
//! Accesses other than aligned 32-bit ones, and accesses to unimplemented registers,
//! read 0 and are ignored on write.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use thiserror::Error;

use crate::bus::MmioDevice;
use crate::irq::IrqLine;

/// Offset of the source priority registers.
pub const PRIORITY_BASE: u64 = 0x0;
/// Offset of the pending bit array.
pub const PENDING_BASE: u64 = 0x1000;
/// Offset of context 0's enable bit array.
pub const ENABLE_BASE: u64 = 0x2000;
/// Distance between two contexts' enable bit arrays.
pub const ENABLE_STRIDE: u64 = 0x80;
/// Offset of context 0's threshold register.
pub const CONTEXT_BASE: u64 = 0x20_0000;
/// Distance between two contexts' threshold registers.
pub const CONTEXT_STRIDE: u64 = 0x1000;
/// Offset of the claim/complete register inside a context's block.
pub const CLAIM_COMPLETE: u64 = 0x4;
/// Highest priority and threshold; the registers hold 3 bits, as on QEMU `virt`
/// (Linux masks a context with threshold 7 when a hart goes offline).
pub const MAX_PRIORITY: u32 = 7;
/// Most sources the register map has room for (source 0 included).
pub const MAX_SOURCES: u32 = 1024;
/// Most contexts the register map has room for (the enable arrays end at the
/// context block).
pub const MAX_CONTEXTS: usize = ((CONTEXT_BASE - ENABLE_BASE) / ENABLE_STRIDE) as usize;

/// Where the PLIC's context outputs go: one S-mode external interrupt line per hart.
///
/// Called with the PLIC lock held, and only when a context's output changes. An
/// implementation must not take a device lock, the PLIC's lock, or any lock held
/// across an MMIO access (see the crate-level locking rules): it should set the
/// hart's `SEIP` with an atomic and kick the hart, or issue `KVM_INTERRUPT`.
pub trait PlicOutput: Send + Sync {
    /// Sets (`true`) or clears hart `hart`'s S-mode external interrupt pending bit.
    fn set_external_interrupt(&self, hart: usize, level: bool);
}

/// Invalid PLIC configuration.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PlicError {
    /// The number of sources is 0, 1 (only the reserved source 0) or above [`MAX_SOURCES`].
    #[error("Invalid number of PLIC sources: {0} (must be 2..={MAX_SOURCES})")]
    InvalidSourceCount(u32),
    /// The number of contexts is 0 or above [`MAX_CONTEXTS`].
    #[error("Invalid number of PLIC contexts: {0} (must be 1..={MAX_CONTEXTS})")]
    InvalidContextCount(usize),
    /// An interrupt line was requested for source 0 or a source that does not exist.
    #[error("Invalid PLIC source {0}")]
    InvalidSource(u32),
}

struct Context {
    /// Enable bits, one per source; bit 0 of word 0 (source 0) is always clear.
    enable: Vec<u32>,
    threshold: u32,
    /// The last output reported through `PlicOutput`.
    output: bool,
}

/// The PLIC state machine. See the module documentation for its behaviour.
pub struct Plic {
    num_sources: u32,
    /// Priority per source; index 0 is unused and stays 0.
    priority: Vec<u32>,
    /// Input level of each source, one bit per source.
    level: Vec<u32>,
    /// Pending bits (requests forwarded by the gateways, not yet claimed).
    pending: Vec<u32>,
    /// Claimed but not completed sources.
    in_service: Vec<u32>,
    contexts: Vec<Context>,
    output: Arc<dyn PlicOutput>,
}

impl fmt::Debug for Plic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Plic")
            .field("num_sources", &self.num_sources)
            .field("num_contexts", &self.contexts.len())
            .field("pending", &self.pending)
            .field("in_service", &self.in_service)
            .finish_non_exhaustive()
    }
}

fn bit(src: u32) -> (usize, u32) {
    ((src / 32) as usize, 1 << (src % 32))
}

fn test_bit(bits: &[u32], src: u32) -> bool {
    let (word, mask) = bit(src);
    bits[word] & mask != 0
}

fn assign_bit(bits: &mut [u32], src: u32, value: bool) {
    let (word, mask) = bit(src);
    if value {
        bits[word] |= mask;
    } else {
        bits[word] &= !mask;
    }
}

impl Plic {
    /// A PLIC with sources `1..num_sources` (source 0 is reserved) and one context per
    /// hart, reporting context outputs to `output`. Everything starts at zero:
    /// priorities, enables, thresholds, pending bits, outputs low.
    pub fn new(
        num_sources: u32,
        num_contexts: usize,
        output: Arc<dyn PlicOutput>,
    ) -> Result<Self, PlicError> {
        if !(2..=MAX_SOURCES).contains(&num_sources) {
            return Err(PlicError::InvalidSourceCount(num_sources));
        }
        if !(1..=MAX_CONTEXTS).contains(&num_contexts) {
            return Err(PlicError::InvalidContextCount(num_contexts));
        }
        let words = num_sources.div_ceil(32) as usize;
        let contexts = (0..num_contexts)
            .map(|_| Context {
                enable: vec![0; words],
                threshold: 0,
                output: false,
            })
            .collect();
        Ok(Plic {
            num_sources,
            priority: vec![0; num_sources as usize],
            level: vec![0; words],
            pending: vec![0; words],
            in_service: vec![0; words],
            contexts,
            output,
        })
    }

    /// Number of sources, including the reserved source 0 (the FDT's `riscv,ndev` is
    /// one less).
    pub fn num_sources(&self) -> u32 {
        self.num_sources
    }

    /// Number of contexts (= harts).
    pub fn num_contexts(&self) -> usize {
        self.contexts.len()
    }

    fn valid_source(&self, src: u32) -> bool {
        src != 0 && src < self.num_sources
    }

    /// Sets the input level of source `src`; sources outside `1..num_sources` are
    /// ignored.
    pub fn set_level(&mut self, src: u32, level: bool) {
        if !self.valid_source(src) {
            return;
        }
        assign_bit(&mut self.level, src, level);
        if level {
            if !test_bit(&self.in_service, src) {
                assign_bit(&mut self.pending, src, true);
            }
        } else {
            assign_bit(&mut self.pending, src, false);
        }
        self.update_outputs();
    }

    /// Whether source `src` has a request waiting to be claimed.
    pub fn is_pending(&self, src: u32) -> bool {
        self.valid_source(src) && test_bit(&self.pending, src)
    }

    /// Whether source `src` has been claimed and not yet completed.
    pub fn is_in_service(&self, src: u32) -> bool {
        self.valid_source(src) && test_bit(&self.in_service, src)
    }

    /// The current output of context `ctx` (false for contexts that do not exist).
    pub fn output(&self, ctx: usize) -> bool {
        self.contexts.get(ctx).is_some_and(|c| c.output)
    }

    /// The best claimable source for context `ctx`: pending, enabled, priority above
    /// the threshold; highest priority first, lowest id among equals.
    fn best_source(&self, ctx: &Context) -> Option<u32> {
        let mut best: Option<(u32, u32)> = None;
        for (w, (&pending, &enable)) in self.pending.iter().zip(&ctx.enable).enumerate() {
            let mut bits = pending & enable;
            while bits != 0 {
                let src = w as u32 * 32 + bits.trailing_zeros();
                bits &= bits - 1;
                let prio = self.priority[src as usize];
                if prio > ctx.threshold && best.is_none_or(|(_, p)| prio > p) {
                    best = Some((src, prio));
                }
            }
        }
        best.map(|(src, _)| src)
    }

    /// Recomputes every context's output and reports the ones that changed.
    fn update_outputs(&mut self) {
        for hart in 0..self.contexts.len() {
            let level = self.best_source(&self.contexts[hart]).is_some();
            let ctx = &mut self.contexts[hart];
            if ctx.output != level {
                ctx.output = level;
                self.output.set_external_interrupt(hart, level);
            }
        }
    }

    /// Claims the best source for context `ctx` (0 if there is none).
    pub fn claim(&mut self, ctx: usize) -> u32 {
        let Some(src) = self.contexts.get(ctx).and_then(|c| self.best_source(c)) else {
            return 0;
        };
        assign_bit(&mut self.pending, src, false);
        assign_bit(&mut self.in_service, src, true);
        self.update_outputs();
        src
    }

    /// Completes source `src` from context `ctx`: the source leaves service and, if
    /// its level is still high, becomes pending again. Completing a source that is
    /// not in service is ignored.
    pub fn complete(&mut self, ctx: usize, src: u32) {
        if ctx >= self.contexts.len() || !self.is_in_service(src) {
            return;
        }
        assign_bit(&mut self.in_service, src, false);
        if test_bit(&self.level, src) {
            assign_bit(&mut self.pending, src, true);
        }
        self.update_outputs();
    }

    /// Mask of the enable bits that exist in word `word`.
    fn enable_mask(&self, word: usize) -> u32 {
        let first = word as u32 * 32;
        let mut mask = match self.num_sources - first {
            n if n >= 32 => u32::MAX,
            n => (1u32 << n) - 1,
        };
        if word == 0 {
            mask &= !1;
        }
        mask
    }

    fn read_u32(&mut self, offset: u64) -> u32 {
        let words = self.pending.len() as u64;
        match offset {
            o if o < PENDING_BASE => {
                let src = (o - PRIORITY_BASE) / 4;
                self.priority.get(src as usize).copied().unwrap_or(0)
            }
            o if o < PENDING_BASE + 4 * words => self.pending[((o - PENDING_BASE) / 4) as usize],
            o if (ENABLE_BASE..CONTEXT_BASE).contains(&o) => {
                let ctx = ((o - ENABLE_BASE) / ENABLE_STRIDE) as usize;
                let word = ((o - ENABLE_BASE) % ENABLE_STRIDE / 4) as usize;
                self.contexts
                    .get(ctx)
                    .and_then(|c| c.enable.get(word))
                    .copied()
                    .unwrap_or(0)
            }
            o if o >= CONTEXT_BASE => {
                let ctx = ((o - CONTEXT_BASE) / CONTEXT_STRIDE) as usize;
                match (o - CONTEXT_BASE) % CONTEXT_STRIDE {
                    0 => self.contexts.get(ctx).map_or(0, |c| c.threshold),
                    CLAIM_COMPLETE => self.claim(ctx),
                    _ => 0,
                }
            }
            _ => 0,
        }
    }

    fn write_u32(&mut self, offset: u64, value: u32) {
        match offset {
            o if o < PENDING_BASE => {
                let src = ((o - PRIORITY_BASE) / 4) as u32;
                if self.valid_source(src) {
                    self.priority[src as usize] = value & MAX_PRIORITY;
                    self.update_outputs();
                }
            }
            o if (ENABLE_BASE..CONTEXT_BASE).contains(&o) => {
                let ctx = ((o - ENABLE_BASE) / ENABLE_STRIDE) as usize;
                let word = ((o - ENABLE_BASE) % ENABLE_STRIDE / 4) as usize;
                if ctx < self.contexts.len() && word < self.pending.len() {
                    self.contexts[ctx].enable[word] = value & self.enable_mask(word);
                    self.update_outputs();
                }
            }
            o if o >= CONTEXT_BASE => {
                let ctx = ((o - CONTEXT_BASE) / CONTEXT_STRIDE) as usize;
                match (o - CONTEXT_BASE) % CONTEXT_STRIDE {
                    0 if ctx < self.contexts.len() => {
                        self.contexts[ctx].threshold = value & MAX_PRIORITY;
                        self.update_outputs();
                    }
                    CLAIM_COMPLETE => self.complete(ctx, value),
                    _ => {}
                }
            }
            // The pending array is read-only.
            _ => {}
        }
    }
}

impl MmioDevice for Plic {
    fn read(&mut self, offset: u64, data: &mut [u8]) {
        let value = if data.len() == 4 && offset & 3 == 0 {
            self.read_u32(offset)
        } else {
            0
        };
        if let Ok(out) = <&mut [u8; 4]>::try_from(&mut *data) {
            *out = value.to_le_bytes();
        } else {
            data.fill(0);
        }
    }

    fn write(&mut self, offset: u64, data: &[u8]) {
        if let (Ok(bytes), 0) = (<[u8; 4]>::try_from(data), offset & 3) {
            self.write_u32(offset, u32::from_le_bytes(bytes));
        }
    }
}

/// The interrupt line of one PLIC source, for a device to drive.
///
/// `set_level` takes the PLIC's lock (the same `Mutex` the bus dispatches the PLIC's
/// MMIO accesses through), so it may be called with the device's own lock held but
/// never with the PLIC's.
#[derive(Clone)]
pub struct PlicIrqLine {
    plic: Arc<Mutex<Plic>>,
    source: u32,
}

impl fmt::Debug for PlicIrqLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PlicIrqLine")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl PlicIrqLine {
    /// The line of source `source` of `plic`.
    pub fn new(plic: Arc<Mutex<Plic>>, source: u32) -> Result<Self, PlicError> {
        let valid = plic
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .valid_source(source);
        if !valid {
            return Err(PlicError::InvalidSource(source));
        }
        Ok(PlicIrqLine { plic, source })
    }

    /// The source number this line drives.
    pub fn source(&self) -> u32 {
        self.source
    }
}

impl IrqLine for PlicIrqLine {
    fn set_level(&self, level: bool) {
        self.plic
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .set_level(self.source, level);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records every output change.
    #[derive(Default)]
    struct Outputs {
        log: Mutex<Vec<(usize, bool)>>,
    }

    impl Outputs {
        fn take(&self) -> Vec<(usize, bool)> {
            std::mem::take(&mut *self.log.lock().unwrap())
        }
    }

    impl PlicOutput for Outputs {
        fn set_external_interrupt(&self, hart: usize, level: bool) {
            self.log.lock().unwrap().push((hart, level));
        }
    }

    fn plic(harts: usize) -> (Plic, Arc<Outputs>) {
        let out = Arc::new(Outputs::default());
        (Plic::new(96, harts, out.clone()).unwrap(), out)
    }

    fn rd(p: &mut Plic, offset: u64) -> u32 {
        let mut data = [0u8; 4];
        p.read(offset, &mut data);
        u32::from_le_bytes(data)
    }

    fn wr(p: &mut Plic, offset: u64, value: u32) {
        p.write(offset, &value.to_le_bytes());
    }

    fn priority(src: u32) -> u64 {
        PRIORITY_BASE + 4 * src as u64
    }

    fn enable(ctx: u64, src: u32) -> (u64, u32) {
        (
            ENABLE_BASE + ENABLE_STRIDE * ctx + 4 * (src as u64 / 32),
            1 << (src % 32),
        )
    }

    fn threshold(ctx: u64) -> u64 {
        CONTEXT_BASE + CONTEXT_STRIDE * ctx
    }

    fn claim(ctx: u64) -> u64 {
        threshold(ctx) + CLAIM_COMPLETE
    }

    /// Gives `src` priority `prio` and enables it for `ctx`.
    fn route(p: &mut Plic, ctx: u64, src: u32, prio: u32) {
        wr(p, priority(src), prio);
        let (off, mask) = enable(ctx, src);
        let old = rd(p, off);
        wr(p, off, old | mask);
    }

    #[test]
    fn rejects_bad_configurations() {
        let out: Arc<dyn PlicOutput> = Arc::new(Outputs::default());
        assert!(Plic::new(1, 1, out.clone()).is_err());
        assert!(Plic::new(MAX_SOURCES + 1, 1, out.clone()).is_err());
        assert!(Plic::new(96, 0, out.clone()).is_err());
        assert!(Plic::new(96, MAX_CONTEXTS + 1, out.clone()).is_err());
        let plic = Arc::new(Mutex::new(Plic::new(96, 1, out).unwrap()));
        assert!(PlicIrqLine::new(plic.clone(), 0).is_err());
        assert!(PlicIrqLine::new(plic.clone(), 96).is_err());
        assert_eq!(PlicIrqLine::new(plic, 95).unwrap().source(), 95);
    }

    #[test]
    fn registers_are_warl_and_32_bit_only() {
        let (mut p, _) = plic(2);
        wr(&mut p, priority(5), 0xffff_ffff);
        assert_eq!(rd(&mut p, priority(5)), MAX_PRIORITY);
        // Source 0 and sources past the end have no priority register.
        wr(&mut p, priority(0), 3);
        assert_eq!(rd(&mut p, priority(0)), 0);
        wr(&mut p, priority(96), 3);
        assert_eq!(rd(&mut p, priority(96)), 0);

        // Source 0's enable bit and bits of nonexistent sources stay clear.
        wr(&mut p, ENABLE_BASE, 0xffff_ffff);
        assert_eq!(rd(&mut p, ENABLE_BASE), 0xffff_fffe);
        wr(&mut p, ENABLE_BASE + 8, 0xffff_ffff);
        assert_eq!(rd(&mut p, ENABLE_BASE + 8), 0xffff_ffff); // sources 64..95
        wr(&mut p, ENABLE_BASE + 12, 0xffff_ffff);
        assert_eq!(rd(&mut p, ENABLE_BASE + 12), 0);
        // Context 2 does not exist.
        wr(&mut p, ENABLE_BASE + 2 * ENABLE_STRIDE, 0xffff_ffff);
        assert_eq!(rd(&mut p, ENABLE_BASE + 2 * ENABLE_STRIDE), 0);

        wr(&mut p, threshold(1), 0x1f);
        assert_eq!(rd(&mut p, threshold(1)), 7);
        assert_eq!(rd(&mut p, threshold(2)), 0);

        // Narrow, wide and misaligned accesses do nothing and read 0.
        p.write(priority(6), &[3]);
        p.write(priority(6), &3u64.to_le_bytes());
        p.write(priority(6) + 2, &3u32.to_le_bytes());
        assert_eq!(rd(&mut p, priority(6)), 0);
        let mut wide = [0xffu8; 8];
        p.read(priority(5), &mut wide);
        assert_eq!(wide, [0; 8]);
        let mut byte = [0xffu8; 1];
        p.read(priority(5), &mut byte);
        assert_eq!(byte, [0]);
        assert_eq!(rd(&mut p, 0x1f_fffc), 0);
        assert_eq!(rd(&mut p, threshold(0) + 8), 0);
    }

    #[test]
    fn claim_picks_highest_priority_then_lowest_id() {
        let (mut p, _) = plic(1);
        route(&mut p, 0, 3, 2);
        route(&mut p, 0, 7, 5);
        route(&mut p, 0, 40, 5);
        route(&mut p, 0, 9, 1);
        for src in [3, 7, 40, 9] {
            p.set_level(src, true);
        }
        assert_eq!(rd(&mut p, PENDING_BASE), (1 << 3) | (1 << 7) | (1 << 9));
        assert_eq!(rd(&mut p, PENDING_BASE + 4), 1 << 8);

        assert_eq!(rd(&mut p, claim(0)), 7);
        assert_eq!(rd(&mut p, claim(0)), 40);
        assert_eq!(rd(&mut p, claim(0)), 3);
        assert_eq!(rd(&mut p, claim(0)), 9);
        assert_eq!(rd(&mut p, claim(0)), 0);
        assert_eq!(rd(&mut p, PENDING_BASE), 0);
    }

    #[test]
    fn threshold_and_zero_priority_mask_sources() {
        let (mut p, out) = plic(1);
        route(&mut p, 0, 4, 3);
        route(&mut p, 0, 5, 0);
        wr(&mut p, threshold(0), 3);
        p.set_level(4, true);
        p.set_level(5, true);
        assert!(p.is_pending(4) && p.is_pending(5));
        assert!(!p.output(0));
        assert_eq!(rd(&mut p, claim(0)), 0);
        assert!(out.take().is_empty());

        wr(&mut p, threshold(0), 2);
        assert!(p.output(0));
        assert_eq!(out.take(), [(0, true)]);
        assert_eq!(rd(&mut p, claim(0)), 4);
        assert_eq!(out.take(), [(0, false)]);
        // Priority 0 never interrupts, even with threshold 0.
        wr(&mut p, threshold(0), 0);
        assert_eq!(rd(&mut p, claim(0)), 0);
        wr(&mut p, priority(5), 1);
        assert_eq!(out.take(), [(0, true)]);
        assert_eq!(rd(&mut p, claim(0)), 5);
    }

    #[test]
    fn level_source_repends_after_complete_while_high() {
        let (mut p, out) = plic(1);
        route(&mut p, 0, 10, 1);
        p.set_level(10, true);
        assert_eq!(out.take(), [(0, true)]);
        assert_eq!(rd(&mut p, claim(0)), 10);
        assert_eq!(out.take(), [(0, false)]);
        assert!(p.is_in_service(10) && !p.is_pending(10));

        // In service: the still-high level is not forwarded again, nor is a re-raise.
        p.set_level(10, true);
        assert!(!p.is_pending(10));
        assert!(out.take().is_empty());

        // Completion re-arms the gateway: still high, so pending again.
        wr(&mut p, claim(0), 10);
        assert!(p.is_pending(10) && !p.is_in_service(10));
        assert_eq!(out.take(), [(0, true)]);
        assert_eq!(rd(&mut p, claim(0)), 10);
        assert_eq!(out.take(), [(0, false)]);

        // The device drops its line while in service: completion leaves it idle.
        p.set_level(10, false);
        wr(&mut p, claim(0), 10);
        assert!(!p.is_pending(10) && !p.is_in_service(10));
        assert!(out.take().is_empty());

        // Completing something not in service is ignored.
        wr(&mut p, claim(0), 10);
        wr(&mut p, claim(0), 0);
        wr(&mut p, claim(0), 1000);
        assert!(out.take().is_empty());
    }

    #[test]
    fn dropping_the_level_before_claim_withdraws_the_request() {
        let (mut p, out) = plic(1);
        route(&mut p, 0, 10, 1);
        p.set_level(10, true);
        p.set_level(10, false);
        assert!(!p.is_pending(10));
        assert_eq!(out.take(), [(0, true), (0, false)]);
        assert_eq!(rd(&mut p, claim(0)), 0);
    }

    #[test]
    fn enables_are_per_context() {
        let (mut p, out) = plic(3);
        wr(&mut p, priority(1), 1);
        wr(&mut p, priority(33), 1);
        let (off1, mask1) = enable(1, 1);
        wr(&mut p, off1, mask1);
        p.set_level(1, true);
        assert_eq!(out.take(), [(1, true)]);
        assert_eq!(rd(&mut p, claim(0)), 0);
        assert_eq!(rd(&mut p, claim(2)), 0);

        let (off2, mask2) = enable(2, 33);
        wr(&mut p, off2, mask2);
        p.set_level(33, true);
        assert_eq!(out.take(), [(2, true)]);

        // Disabling withdraws the output without touching the pending bit.
        wr(&mut p, off1, 0);
        assert_eq!(out.take(), [(1, false)]);
        assert!(p.is_pending(1));
        assert_eq!(rd(&mut p, claim(2)), 33);
        assert_eq!(out.take(), [(2, false)]);
    }

    #[test]
    fn a_claim_lowers_every_context_that_saw_the_source() {
        let (mut p, out) = plic(4);
        for ctx in 0..4 {
            route(&mut p, ctx, 10, 1);
        }
        p.set_level(10, true);
        assert_eq!(out.take(), [(0, true), (1, true), (2, true), (3, true)]);
        assert_eq!(rd(&mut p, claim(2)), 10);
        assert_eq!(out.take(), [(0, false), (1, false), (2, false), (3, false)]);
        // Another hart racing for the same interrupt gets nothing.
        assert_eq!(rd(&mut p, claim(0)), 0);
        // Any context may complete it.
        p.set_level(10, false);
        wr(&mut p, claim(1), 10);
        assert!(!p.is_in_service(10));
        assert!(out.take().is_empty());
    }

    #[test]
    fn outputs_are_reported_only_on_change() {
        let (mut p, out) = plic(2);
        route(&mut p, 0, 2, 1);
        route(&mut p, 0, 3, 1);
        p.set_level(2, true);
        p.set_level(2, true);
        p.set_level(3, true);
        wr(&mut p, priority(2), 4);
        assert_eq!(out.take(), [(0, true)]);
        assert_eq!(rd(&mut p, claim(0)), 2);
        // Source 3 still pending: output stays high, nothing reported.
        assert!(out.take().is_empty());
        assert_eq!(rd(&mut p, claim(0)), 3);
        assert_eq!(out.take(), [(0, false)]);
    }

    #[test]
    fn irq_line_drives_the_shared_plic() {
        let out = Arc::new(Outputs::default());
        let plic = Arc::new(Mutex::new(Plic::new(96, 1, out.clone()).unwrap()));
        route(&mut plic.lock().unwrap(), 0, 10, 1);
        let line: Arc<dyn IrqLine> = Arc::new(PlicIrqLine::new(plic.clone(), 10).unwrap());
        line.set_level(true);
        assert_eq!(out.take(), [(0, true)]);
        assert!(plic.lock().unwrap().is_pending(10));
        line.set_level(false);
        assert_eq!(out.take(), [(0, false)]);
    }
}
