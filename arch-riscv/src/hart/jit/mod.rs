//! The compiled tier: hot guest code as host machine code, through cranelift.
//!
//! The interpreter stays the first tier and the reference. It counts how often each
//! jump target is reached (`Op::heat`); at [`CompileConfig::threshold`] the block
//! starting there ([`trace`]) is translated ([`translate`]) and stored in the hart's
//! [`code_cache`], its offset kept in the target's decode-cache slot (`Op::block`).
//! From then on the interpreter enters the block there, and blocks chain to each
//! other directly until one exits back ([`exit`] codes): an operation the tier does
//! not compile runs through the interpreter from inside the block ([`helpers`]), a
//! TLB miss or MMIO access leaves at that instruction, and the budget the slice
//! allows runs out at a back edge or chain.
//!
//! Compiled code belongs to its decoded page: a page that is reset or dropped takes
//! its slots, and so every way into its blocks, with it. When the code cache is full
//! every block is forgotten at once.

mod code_cache;
mod compiler;
mod helpers;
mod trace;
mod translate;
mod worker;

use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};

use super::icache::CodePage;
use super::{Compilation, CompileConfig, CompileStats, Hart};
use crate::isa::Op;
use code_cache::CodeCache;
use compiler::Compiler;
use trace::Trace;
pub use worker::Shared;
use worker::{Connection, Done, Job, Ticket};

/// Why compiled code returned to the interpreter (the return value of a block).
pub mod exit {
    /// The next block is not compiled: interpret from `hart.pc`.
    pub const NOT_COMPILED: u64 = 1;
    /// The slice's instruction budget ran out at a back edge or chain.
    pub const BUDGET: u64 = 2;
    /// A load or store missed the TLB and trapped or reached MMIO: the interpreter
    /// runs the instruction at `hart.pc`.
    pub const SLOW_ACCESS: u64 = 3;
    /// An interpreted operation changed the flow (trap, jump, refetch).
    pub const STEPPED: u64 = 4;
    /// An interpreted operation ended the slice (a CSR write, SRET, WFI).
    pub const END_SLICE: u64 = 5;
    /// An interpreted operation needs the VMM (`hart.exit` holds why).
    pub const VMM: u64 = 6;
    /// Exit reasons by code, for counters.
    pub const NAMES: [&str; 7] = [
        "none",
        "not_compiled",
        "budget",
        "slow_access",
        "stepped",
        "end_slice",
        "vmm",
    ];
}

/// What compiled code reads besides the hart: laid out as `translate` expects.
#[repr(C)]
#[derive(Debug, Default)]
pub struct Frame {
    /// Instructions the code may still run (may go slightly negative).
    pub budget: i64,
    /// The load TLB of the current MMU index.
    pub load_tlb: usize,
    /// The store TLB of the current MMU index.
    pub store_tlb: usize,
    /// A value a helper hands back.
    pub scratch: u64,
    /// Host address of the code cache.
    pub code_base: usize,
    /// The decoded slots of the page `helpers::lookup` found a block in.
    pub next_slots: usize,
}

/// Calls a block: `(hart, frame, vbase, slots, code) -> exit code`, in the host's C
/// ABI.
type Trampoline = unsafe extern "C" fn(*mut Hart, *mut Frame, u64, usize, usize) -> u64;

/// Where a hart's blocks get compiled.
enum Backend {
    /// Here, at once.
    Inline(Box<Compiler>),
    /// On the VM's worker; answers come back on `done`.
    Background {
        worker: Connection,
        reply: Sender<Done>,
        done: Receiver<Done>,
        /// Jobs sent and not answered yet.
        in_flight: usize,
    },
}

/// One hart's compiled code, and how it gets more.
pub struct CompiledTier {
    backend: Backend,
    cache: CodeCache,
    /// The trampoline's code, kept to put it back when the cache is emptied.
    trampoline_code: Arc<[u8]>,
    trampoline: usize,
    config: CompileConfig,
    stats: CompileStats,
}

impl CompiledTier {
    /// A tier for the host, or `None` when cranelift, the worker or the code cache
    /// cannot be set up (the hart then interprets).
    pub fn new(config: CompileConfig) -> Option<CompiledTier> {
        let (backend, trampoline_code) = match &config.compiler {
            Compilation::Inline => {
                let mut compiler = Compiler::new()?;
                let trampoline = compiler.trampoline()?;
                (Backend::Inline(Box::new(compiler)), trampoline.into())
            }
            Compilation::Background(shared) => {
                let shared = shared.worker();
                let trampoline = shared.trampoline()?;
                let worker = shared.connect()?;
                let (reply, done) = channel();
                let backend = Backend::Background {
                    worker,
                    reply,
                    done,
                    in_flight: 0,
                };
                (backend, trampoline)
            }
        };
        let mut cache = CodeCache::new(config.code_cache_bytes)?;
        let trampoline = cache.base() + cache.add(&trampoline_code)? as usize;
        Some(CompiledTier {
            backend,
            cache,
            trampoline_code,
            trampoline,
            config,
            stats: CompileStats::default(),
        })
    }

    /// The counters.
    pub fn stats(&self) -> CompileStats {
        CompileStats {
            code_bytes: self.cache.used() as u64,
            code_cache_bytes: self.cache.capacity() as u64,
            ..self.stats
        }
    }

    /// The entry count at which a block is compiled.
    pub fn threshold(&self) -> u8 {
        self.config.threshold
    }

    /// Whether answers from the worker may be waiting.
    #[inline]
    pub fn awaits_answers(&self) -> bool {
        matches!(self.backend, Backend::Background { in_flight, .. } if in_flight > 0)
    }

    /// Empties the code cache (the caller forgets every slot's block first) and
    /// puts the trampoline back.
    fn flush(&mut self) -> bool {
        if !self.cache.clear() {
            return false;
        }
        self.stats.cache_flushes += 1;
        match self.cache.add(&self.trampoline_code) {
            Some(offset) => {
                self.trampoline = self.cache.base() + offset as usize;
                true
            }
            None => false,
        }
    }
}

impl Hart {
    /// Whether the compiled tier is on.
    pub fn compiles(&self) -> bool {
        self.jit.is_some()
    }

    /// Turns the compiled tier on with `config`, or off; code compiled so far is
    /// dropped.
    pub fn set_tier(&mut self, config: Option<CompileConfig>) {
        self.icache.forget_blocks();
        self.jit = config.and_then(CompiledTier::new).map(Box::new);
    }

    /// Compiles the block starting at `offset` of `page`, or sends it to the worker,
    /// unless it exists, failed before or is on its way. Returns whether a block is
    /// there now.
    pub(super) fn compile_block(&mut self, page: *mut CodePage, offset: usize) -> bool {
        // SAFETY: `page` came from the decode cache and no fill or drop happened since;
        // the decode cache's other users do not run while this function does.
        let page = unsafe { &mut *page };
        let Some(tier) = self.jit.as_mut() else {
            return false;
        };
        match page.ops[offset >> 1].block {
            0 => {}
            Op::NOT_COMPILABLE | Op::COMPILING => return false,
            _ => return true,
        }
        let Some(trace) = Trace::collect(&page.ops[..super::icache::SLOTS], offset) else {
            page.ops[offset >> 1].block = Op::NOT_COMPILABLE;
            return false;
        };
        match &mut tier.backend {
            Backend::Inline(compiler) => {
                let compiled = compiler.block(&trace);
                tier.stats.compile_nanos += compiled.nanos;
                let installed = compiled
                    .code
                    .is_some_and(|code| self.install(page, offset, &code));
                if !installed && let Some(tier) = self.jit.as_mut() {
                    tier.stats.failures += 1;
                    page.ops[offset >> 1].block = Op::NOT_COMPILABLE;
                }
                installed
            }
            Backend::Background {
                worker,
                reply,
                in_flight,
                ..
            } => {
                let job = Job {
                    ticket: Ticket {
                        page_number: page.number,
                        incarnation: page.incarnation,
                        offset,
                    },
                    trace,
                    reply: reply.clone(),
                };
                page.ops[offset >> 1].block = if worker.jobs.send(job).is_ok() {
                    *in_flight += 1;
                    Op::COMPILING
                } else {
                    Op::NOT_COMPILABLE
                };
                false
            }
        }
    }

    /// Installs the blocks the worker finished whose slots still hold the code they
    /// were compiled from.
    pub(super) fn take_compiled_blocks(&mut self) {
        loop {
            let Some(tier) = self.jit.as_mut() else {
                return;
            };
            let Backend::Background {
                done, in_flight, ..
            } = &mut tier.backend
            else {
                return;
            };
            let Ok(answer) = done.try_recv() else {
                return;
            };
            *in_flight -= 1;
            tier.stats.compile_nanos += answer.nanos;
            if answer.reused {
                tier.stats.blocks_shared += 1;
            }
            let ticket = answer.ticket;
            let Some(page) = self.icache.page(ticket.page_number) else {
                continue;
            };
            // SAFETY: the page is alive in the decode cache and nothing else uses it
            // while this hart's thread is here.
            let page = unsafe { &mut *page };
            if page.incarnation != ticket.incarnation
                || page.ops[ticket.offset >> 1].block != Op::COMPILING
            {
                continue;
            }
            let installed = answer
                .code
                .is_some_and(|code| self.install(page, ticket.offset, &code));
            if !installed && let Some(tier) = self.jit.as_mut() {
                tier.stats.failures += 1;
                page.ops[ticket.offset >> 1].block = Op::NOT_COMPILABLE;
            }
        }
    }

    /// Copies `code` into the code cache (emptying it first when full) and points the
    /// slot at `offset` of `page` to it.
    fn install(&mut self, page: &mut CodePage, offset: usize, code: &[u8]) -> bool {
        let Some(tier) = self.jit.as_mut() else {
            return false;
        };
        let at = match tier.cache.add(code) {
            Some(at) => at,
            None => {
                // Full: forget every block, start over, and try once more.
                self.icache.forget_blocks();
                let Some(tier) = self.jit.as_mut() else {
                    return false;
                };
                if !tier.flush() {
                    self.jit = None;
                    return false;
                }
                match tier.cache.add(code) {
                    Some(at) => at,
                    None => return false,
                }
            }
        };
        if let Some(tier) = self.jit.as_mut() {
            tier.stats.blocks += 1;
        }
        page.ops[offset >> 1].block = at;
        true
    }

    /// Runs compiled code from `pc`, whose slot in `page` holds a block, for at most
    /// about `budget` instructions. Returns the instructions run and the exit code;
    /// `self.pc` is where the interpreter goes on.
    pub(super) fn enter_compiled(
        &mut self,
        page: *mut CodePage,
        pc: u64,
        budget: u64,
    ) -> (u64, u64) {
        let Some(tier) = self.jit.as_mut() else {
            return (0, exit::NOT_COMPILED);
        };
        // SAFETY: as in compile_block; the offset is below 4096.
        let block = unsafe { (*page).ops[((pc & 0xFFF) >> 1) as usize].block };
        // SAFETY: as above.
        let slots = unsafe { (&raw const (*page).ops) } as usize;
        let code = tier.cache.base() + block as usize;
        // SAFETY: the trampoline was compiled with this signature into the cache.
        let trampoline: Trampoline = unsafe { std::mem::transmute(tier.trampoline) };
        tier.stats.entries += 1;
        let (load_tlb, store_tlb) = self.tlb.tables(self.mmu_index);
        self.frame = Frame {
            budget: budget as i64,
            load_tlb,
            store_tlb,
            scratch: 0,
            code_base: tier.cache.base(),
            next_slots: 0,
        };
        let hart: *mut Hart = self;
        // SAFETY: `hart` points to `self`, alive for the whole call.
        let frame = unsafe { &raw mut (*hart).frame };
        // SAFETY: `code` is a block compiled for this page's slots by this tier (the
        // slot's offset is only set by `install` and cleared with the page or the
        // cache). The block and its helpers use `self` only through this pointer and
        // only until they return; the frame lives in `self`, which stays put.
        let code_returned = unsafe { trampoline(hart, frame, pc & !0xFFF, slots, code) };
        let run = (budget as i64 - self.frame.budget).max(0) as u64;
        if let Some(tier) = self.jit.as_mut() {
            tier.stats.exits[code_returned.min(6) as usize] += 1;
            tier.stats.instructions += run;
        }
        (run, code_returned)
    }
}
