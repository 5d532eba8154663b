//! Cranelift, set up once: a [`Trace`] in, position-independent machine code out.
//!
//! The code a trace compiles to depends on nothing but the trace and the host: the
//! hart, its frame, the page's virtual base and its decoded slots arrive as
//! parameters, the code cache's base is read from the frame, and helpers are called
//! at fixed addresses of this process. So the bytes can be copied into any hart's
//! code cache, and two harts that run the same code share one compilation.

use std::time::Instant;

use cranelift_codegen::ir::types::I64;
use cranelift_codegen::ir::{AbiParam, Function, Signature, UserFuncName};
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::settings::{self, Configurable};
use cranelift_codegen::{Context, control::ControlPlane};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};

use super::trace::Trace;
use super::translate::{self, Helpers, Offsets, Source};
use super::{Hart, helpers};

/// A code generator for the host.
pub struct Compiler {
    isa: OwnedTargetIsa,
    context: Context,
    builder: FunctionBuilderContext,
}

/// What one compilation produced.
pub struct Compiled {
    /// The machine code, or `None` when cranelift refused the function.
    pub code: Option<Vec<u8>>,
    /// Time spent, in nanoseconds.
    pub nanos: u64,
}

impl Compiler {
    /// A compiler for the host, or `None` where cranelift has no backend for it.
    pub fn new() -> Option<Compiler> {
        let mut flags = settings::builder();
        for (name, value) in [
            // Measured on the Debian boot: without cranelift's mid-end optimizations
            // but with its full register allocator the boot is fastest (single-pass
            // allocation spills guest registers around every operation; `speed`
            // costs more compile time than its code gains).
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
        Some(Compiler {
            isa,
            context: Context::new(),
            builder: FunctionBuilderContext::new(),
        })
    }

    /// Compiles the block `trace` describes.
    pub fn block(&mut self, trace: &Trace) -> Compiled {
        let started = Instant::now();
        let source = Source {
            trace,
            offsets: Offsets {
                x: std::mem::offset_of!(Hart, x) as i32,
                pc: std::mem::offset_of!(Hart, pc) as i32,
            },
            helpers: Helpers {
                step: helpers::step as *const () as usize,
                lookup: helpers::lookup as *const () as usize,
            },
            host_call_conv: self.isa.default_call_conv(),
        };
        self.context.func =
            Function::with_name_signature(UserFuncName::default(), translate::block_signature());
        let mut b = FunctionBuilder::new(&mut self.context.func, &mut self.builder);
        translate::translate(&mut b, &source);
        b.finalize(self.isa.frontend_config());
        let code = self.emit();
        Compiled {
            code,
            nanos: started.elapsed().as_nanos() as u64,
        }
    }

    /// Compiles the trampoline: a host-ABI function `(hart, frame, vbase, slots,
    /// code) -> exit code` that calls the block at `code`.
    pub fn trampoline(&mut self) -> Option<Vec<u8>> {
        let mut sig = Signature::new(self.isa.default_call_conv());
        sig.params.extend([AbiParam::new(I64); 5]);
        sig.returns.push(AbiParam::new(I64));
        self.context.func = Function::with_name_signature(UserFuncName::default(), sig);
        let mut b = FunctionBuilder::new(&mut self.context.func, &mut self.builder);
        translate::build_trampoline(&mut b);
        b.finalize(self.isa.frontend_config());
        self.emit()
    }

    /// Compiles the function in the context and returns its bytes.
    fn emit(&mut self) -> Option<Vec<u8>> {
        let compiled = self
            .context
            .compile(&*self.isa, &mut ControlPlane::default());
        let code = match compiled {
            // Code with relocations would need linking; blocks call helpers through
            // constants and have none.
            Ok(code) if code.buffer.relocs().is_empty() => Some(code.code_buffer().to_vec()),
            _ => None,
        };
        self.context.clear();
        code
    }
}
