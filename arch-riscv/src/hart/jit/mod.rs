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
mod helpers;
mod trace;
mod translate;

use std::time::Instant;

use cranelift_codegen::ir::{Function, UserFuncName};
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::settings::{self, Configurable};
use cranelift_codegen::{Context, control::ControlPlane};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};

use super::icache::CodePage;
use super::{CompileConfig, CompileStats, Hart};
use crate::isa::Op;
use code_cache::CodeCache;
use trace::Trace;
use translate::{Helpers, Offsets, Source};

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
}

/// Calls a block: `(hart, frame, vbase, code) -> exit code`, in the host's C ABI.
type Trampoline = unsafe extern "C" fn(*mut Hart, *mut Frame, u64, usize) -> u64;

/// One hart's compiler and code.
pub struct CompiledTier {
    isa: OwnedTargetIsa,
    context: Context,
    builder: FunctionBuilderContext,
    cache: CodeCache,
    trampoline: usize,
    config: CompileConfig,
    stats: CompileStats,
}

impl CompiledTier {
    /// A tier for the host, or `None` when cranelift or the code cache cannot be set up
    /// (the hart then interprets).
    pub fn new(config: CompileConfig) -> Option<CompiledTier> {
        let mut flags = settings::builder();
        for (name, value) in [
            // Measured on the Debian boot: without cranelift's mid-end optimizations
            // but with its full register allocator the boot is fastest (6.0 s;
            // single-pass allocation 8.5 s: guest registers spill around every
            // operation; `speed` 7.3 s: compile time grows more than the code gains).
            ("opt_level", "none"),
            ("regalloc_algorithm", "backtracking"),
            ("preserve_frame_pointers", "true"),
            ("unwind_info", "false"),
            (
                "enable_verifier",
                if cfg!(debug_assertions) {
                    "true"
                } else {
                    "false"
                },
            ),
        ] {
            flags.set(name, value).ok()?;
        }
        let isa = cranelift_native::builder()
            .ok()?
            .finish(settings::Flags::new(flags))
            .ok()?;
        let cache = CodeCache::new(config.code_cache_bytes)?;
        let mut tier = CompiledTier {
            isa,
            context: Context::new(),
            builder: FunctionBuilderContext::new(),
            cache,
            trampoline: 0,
            config,
            stats: CompileStats::default(),
        };
        tier.trampoline = tier.add_trampoline()?;
        Some(tier)
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

    fn add_trampoline(&mut self) -> Option<usize> {
        let mut sig = cranelift_codegen::ir::Signature::new(self.isa.default_call_conv());
        sig.params
            .extend([cranelift_codegen::ir::AbiParam::new(cranelift_codegen::ir::types::I64); 4]);
        sig.returns.push(cranelift_codegen::ir::AbiParam::new(
            cranelift_codegen::ir::types::I64,
        ));
        self.context.func = Function::with_name_signature(UserFuncName::default(), sig);
        let mut b = FunctionBuilder::new(&mut self.context.func, &mut self.builder);
        translate::build_trampoline(&mut b);
        b.finalize(self.isa.frontend_config());
        let offset = self.emit()?;
        Some(self.cache.base() + offset as usize)
    }

    /// Compiles the function in the context into the code cache.
    fn emit(&mut self) -> Option<u32> {
        let compiled = self
            .context
            .compile(&*self.isa, &mut ControlPlane::default());
        let result = match compiled {
            // Code with relocations would need linking; blocks call helpers through
            // constants and have none.
            Ok(code) if code.buffer.relocs().is_empty() => self.cache.add(code.code_buffer()),
            _ => None,
        };
        self.context.clear();
        result
    }

    /// Empties the code cache (the caller forgets every slot's block first) and
    /// puts the trampoline back.
    fn flush(&mut self) -> bool {
        self.cache.clear();
        self.stats.cache_flushes += 1;
        match self.add_trampoline() {
            Some(trampoline) => {
                self.trampoline = trampoline;
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

    /// Compiles the block starting at `offset` of `page` (virtual page `vbase`)
    /// unless it exists or failed before. Returns whether a block is there now.
    pub(super) fn compile_block(&mut self, page: *mut CodePage, offset: usize) -> bool {
        // SAFETY: `page` came from the decode cache and no fill or drop happened since;
        // the decode cache's other users do not run while this function does.
        let set_block = |block: u32| unsafe { (*page).ops[offset >> 1].block = block };
        // SAFETY: as above.
        let slots = unsafe { (&raw const (*page).ops).cast::<Op>() };
        let Some(tier) = self.jit.as_mut() else {
            return false;
        };
        // SAFETY: as above; offset < 4096.
        match unsafe { (*page).ops[offset >> 1].block } {
            0 => {}
            Op::NOT_COMPILABLE => return false,
            _ => return true,
        }
        // SAFETY: as above; the shared view ends with the collection.
        let trace = Trace::collect(unsafe { &(&(*page).ops)[..super::icache::SLOTS] }, offset);
        let Some(trace) = trace else {
            set_block(Op::NOT_COMPILABLE);
            return false;
        };
        let started = Instant::now();
        let source = Source {
            trace: &trace,
            slots: slots as usize,
            code_base: tier.cache.base(),
            offsets: Offsets {
                x: std::mem::offset_of!(Hart, x) as i32,
                pc: std::mem::offset_of!(Hart, pc) as i32,
            },
            helpers: Helpers {
                load: helpers::load as *const () as usize,
                store: helpers::store as *const () as usize,
                step: helpers::step as *const () as usize,
                lookup: helpers::lookup as *const () as usize,
            },
            host_call_conv: tier.isa.default_call_conv(),
        };
        tier.context.func =
            Function::with_name_signature(UserFuncName::default(), translate::block_signature());
        let mut b = FunctionBuilder::new(&mut tier.context.func, &mut tier.builder);
        translate::translate(&mut b, &source);
        b.finalize(tier.isa.frontend_config());
        let code = tier
            .context
            .compile(&*tier.isa, &mut ControlPlane::default());
        let code = match code {
            Ok(code) if code.buffer.relocs().is_empty() => Some(code.code_buffer().to_vec()),
            _ => None,
        };
        tier.context.clear();
        tier.stats.compile_nanos += started.elapsed().as_nanos() as u64;
        let Some(code) = code else {
            tier.stats.failures += 1;
            set_block(Op::NOT_COMPILABLE);
            return false;
        };
        let at = match tier.cache.add(&code) {
            Some(at) => at,
            None => {
                // Full: forget every block, start over, and try once more.
                self.icache.forget_blocks();
                let tier = self.jit.as_mut().expect("checked above");
                if !tier.flush() {
                    self.jit = None;
                    return false;
                }
                match tier.cache.add(&code) {
                    Some(at) => at,
                    None => {
                        tier.stats.failures += 1;
                        set_block(Op::NOT_COMPILABLE);
                        return false;
                    }
                }
            }
        };
        let tier = self.jit.as_mut().expect("checked above");
        tier.stats.blocks += 1;
        set_block(at);
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
        };
        let hart: *mut Hart = self;
        // SAFETY: `hart` points to `self`, alive for the whole call.
        let frame = unsafe { &raw mut (*hart).frame };
        // SAFETY: `code` is a block compiled for this page's slots by this tier (the
        // slot's offset is only set by compile_block and cleared with the page or the
        // cache). The block and its helpers use `self` only through this pointer and
        // only until they return; the frame lives in `self`, which stays put.
        let code_returned = unsafe { trampoline(hart, frame, pc & !0xFFF, code) };
        let run = (budget as i64 - self.frame.budget).max(0) as u64;
        if let Some(tier) = self.jit.as_mut() {
            tier.stats.exits[code_returned.min(6) as usize] += 1;
            tier.stats.instructions += run;
        }
        (run, code_returned)
    }
}
