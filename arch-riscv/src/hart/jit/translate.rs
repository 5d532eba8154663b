//! From a [`Trace`] to cranelift IR: one function per block.
//!
//! A block is a tail-calling function `(hart, frame, vbase, slots) -> exit code`,
//! where `vbase` is the virtual address of the block's page (the same decoded page
//! may be mapped at several) and `slots` the host address of its decoded slots.
//! Nothing else about the hart, its page or its code cache is a constant in the
//! code, so it runs wherever it is copied. Guest registers live in the hart: the block loads those it
//! uses on entry and writes every result straight back (write-through), so an exit
//! at any point needs no write-back and the interpreter sees exact state.
//!
//! The budget in the frame counts instructions: a block charges all its operations
//! on entry; an exit before operation `i` refunds those not run; a back edge to
//! operation `j` after operation `i` charges `i + 1 - j` and leaves when the budget
//! is spent; a chain to another block refunds the rest and tail-calls it. The count
//! of executed instructions is therefore exact, and a loop never runs unchecked.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::types::{I32, I64};
use cranelift_codegen::ir::{
    self, AbiParam, BlockArg, InstBuilder, MemFlagsData, SigRef, Signature, Value,
};
use cranelift_codegen::isa::CallConv;
use cranelift_frontend::{FunctionBuilder, Variable};

use super::super::icache::SLOTS;
use super::super::tlb::TLB_ENTRIES;
use super::exit;
use super::trace::{Class, Trace};
use crate::isa::{Op, OpKind};

/// Byte offsets the generated code needs.
#[derive(Clone, Copy, Debug)]
pub struct Offsets {
    /// `Hart::x`.
    pub x: i32,
    /// `Hart::pc`.
    pub pc: i32,
}

/// Addresses of the helpers compiled code calls.
#[derive(Clone, Copy, Debug)]
pub struct Helpers {
    pub step: usize,
    pub lookup: usize,
}

/// Frame field offsets (see `super::Frame`).
const BUDGET: i32 = 0;
const LOAD_TLB: i32 = 8;
const STORE_TLB: i32 = 16;
const CODE_BASE: i32 = 32;
const NEXT_SLOTS: i32 = 40;

/// Byte offset of `Op::block` in a slot.
const BLOCK_FIELD: i64 = std::mem::offset_of!(Op, block) as i64;

/// The signature of every block function.
pub fn block_signature() -> Signature {
    let mut sig = Signature::new(CallConv::Tail);
    sig.params.extend([AbiParam::new(I64); 4]);
    sig.returns.push(AbiParam::new(I64));
    sig
}

fn host_signature(call_conv: CallConv, params: usize) -> Signature {
    let mut sig = Signature::new(call_conv);
    sig.params
        .extend(std::iter::repeat_n(AbiParam::new(I64), params));
    sig.returns.push(AbiParam::new(I64));
    sig
}

/// Builds the trampoline: a host-ABI function `(hart, frame, vbase, slots, code)` that
/// calls the block at `code` and returns its exit code.
pub fn build_trampoline(b: &mut FunctionBuilder) {
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    b.switch_to_block(entry);
    let params = b.block_params(entry).to_vec();
    let sig = b.import_signature(block_signature());
    let call = b.ins().call_indirect(sig, params[4], &params[..4]);
    let code = b.inst_results(call)[0];
    b.ins().return_(&[code]);
    b.seal_all_blocks();
}

/// Everything about the block being built.
pub struct Source<'a> {
    pub trace: &'a Trace,
    pub offsets: Offsets,
    pub helpers: Helpers,
    pub host_call_conv: CallConv,
}

struct Translator<'s, 'f, 'b> {
    b: &'b mut FunctionBuilder<'f>,
    src: &'s Source<'s>,
    hart: Value,
    frame: Value,
    vbase: Value,
    /// Host address of the page's slot 0 (the slots hold chaining offsets).
    slots: Value,
    regs: [Option<Variable>; 32],
    /// The frame's budget, kept in a register between the entry, exits and chains.
    budget: Variable,
    /// The load and store TLBs of the MMU index the code runs in (fixed while
    /// compiled code runs: whatever changes it ends the slice).
    load_tlb: Variable,
    store_tlb: Variable,
    labels: Vec<(usize, ir::Block)>,
    exit_block: ir::Block,
    block_sig: SigRef,
    sigs: [SigRef; 5],
    /// Operations in the block.
    n: i64,
    /// Whether the current IR block already ended (code after it is unreachable).
    terminated: bool,
}

fn flags() -> MemFlagsData {
    MemFlagsData::trusted()
}

/// Translates `src` into the function `b` builds.
pub fn translate(b: &mut FunctionBuilder, src: &Source) {
    let entry = b.create_block();
    b.append_block_params_for_function_params(entry);
    let exit_block = b.create_block();
    for _ in 0..3 {
        b.append_block_param(exit_block, I64);
    }
    b.switch_to_block(entry);
    let params = b.block_params(entry).to_vec();
    let block_sig = b.import_signature(block_signature());
    let cc = src.host_call_conv;
    let sigs = [
        b.import_signature(host_signature(cc, 1)),
        b.import_signature(host_signature(cc, 2)),
        b.import_signature(host_signature(cc, 3)),
        b.import_signature(host_signature(cc, 4)),
        b.import_signature(host_signature(cc, 5)),
    ];
    let labels = src
        .trace
        .labels
        .iter()
        .map(|&at| (at, b.create_block()))
        .collect();
    let budget = b.declare_var(I64);
    let load_tlb = b.declare_var(I64);
    let store_tlb = b.declare_var(I64);
    let mut t = Translator {
        b,
        src,
        hart: params[0],
        frame: params[1],
        vbase: params[2],
        slots: params[3],
        regs: [None; 32],
        budget,
        load_tlb,
        store_tlb,
        labels,
        exit_block,
        block_sig,
        sigs,
        n: src.trace.ops.len() as i64,
        terminated: false,
    };
    t.prologue();
    for (i, &(at, op)) in src.trace.ops.iter().enumerate() {
        if let Some(label) = t.label(at) {
            if !t.terminated {
                t.b.ins().jump(label, &[]);
            }
            t.b.switch_to_block(label);
            t.terminated = false;
        }
        if t.terminated {
            continue;
        }
        t.op(i, at, op);
    }
    if !t.terminated {
        let last = src.trace.ops.len() - 1;
        match src.trace.fall_through {
            Some(next) => t.edge(last, next as i64),
            None => {
                let (at, op) = src.trace.ops[last];
                let pc = t.pc_of(at as i64 + op.len as i64);
                t.exit(pc, exit::NOT_COMPILED, 0);
            }
        }
    }
    t.epilogue();
    t.b.seal_all_blocks();
}

impl Translator<'_, '_, '_> {
    fn label(&self, at: usize) -> Option<ir::Block> {
        self.labels
            .iter()
            .find(|&&(l, _)| l == at)
            .map(|&(_, block)| block)
    }

    fn prologue(&mut self) {
        for r in 1..32 {
            if self.src.trace.used & (1 << r) != 0 {
                let var = self.b.declare_var(I64);
                let value = self.load_reg(r);
                self.b.def_var(var, value);
                self.regs[r] = Some(var);
            }
        }
        let budget = self.b.ins().load(I64, flags(), self.frame, BUDGET);
        self.b.def_var(self.budget, budget);
        for (var, table) in [(self.load_tlb, LOAD_TLB), (self.store_tlb, STORE_TLB)] {
            let value = self.b.ins().load(I64, flags(), self.frame, table);
            self.b.def_var(var, value);
        }
        self.charge(self.n);
    }

    fn epilogue(&mut self) {
        self.b.switch_to_block(self.exit_block);
        let params = self.b.block_params(self.exit_block).to_vec();
        let (pc, code, refund) = (params[0], params[1], params[2]);
        self.b
            .ins()
            .store(flags(), pc, self.hart, self.src.offsets.pc);
        let budget = self.b.use_var(self.budget);
        let budget = self.b.ins().iadd(budget, refund);
        self.b.ins().store(flags(), budget, self.frame, BUDGET);
        self.b.ins().return_(&[code]);
    }

    fn load_reg(&mut self, r: usize) -> Value {
        let offset = self.src.offsets.x + 8 * r as i32;
        self.b.ins().load(I64, flags(), self.hart, offset)
    }

    fn read(&mut self, r: u8) -> Value {
        match self.regs.get(r as usize).copied().flatten() {
            Some(var) => self.b.use_var(var),
            None if r == 0 => self.b.ins().iconst(I64, 0),
            None => self.load_reg(r as usize & 31),
        }
    }

    fn write(&mut self, r: u8, value: Value) {
        if r == 0 || r >= 32 {
            return;
        }
        if let Some(var) = self.regs[r as usize] {
            self.b.def_var(var, value);
        }
        let offset = self.src.offsets.x + 8 * r as i32;
        self.b.ins().store(flags(), value, self.hart, offset);
    }

    /// Reloads `r` after the interpreter may have written it.
    fn reload(&mut self, r: u8) {
        if let Some(Some(var)) = self.regs.get(r as usize).copied() {
            let value = self.load_reg(r as usize);
            self.b.def_var(var, value);
        }
    }

    fn pc_of(&mut self, offset: i64) -> Value {
        self.b.ins().iadd_imm_s(self.vbase, offset)
    }

    /// Adds `-amount` to the budget and returns the new value.
    fn charge(&mut self, amount: i64) -> Value {
        let budget = self.b.use_var(self.budget);
        let budget = self.b.ins().iadd_imm_s(budget, -amount);
        self.b.def_var(self.budget, budget);
        budget
    }

    fn exit(&mut self, pc: Value, code: u64, refund: i64) {
        let code = self.b.ins().iconst(I64, code as i64);
        self.exit_with(pc, code, refund);
    }

    fn exit_with(&mut self, pc: Value, code: Value, refund: i64) {
        let refund = self.b.ins().iconst(I64, refund);
        let args = [pc, code, refund].map(BlockArg::Value);
        self.b.ins().jump(self.exit_block, &args);
        self.terminated = true;
    }

    /// Leaves through the exit block when `budget <= 0`; else goes on in a new block.
    fn leave_if_spent(&mut self, budget: Value, pc: Value, refund: i64) {
        let spent = self
            .b
            .ins()
            .icmp_imm_s(IntCC::SignedLessThanOrEqual, budget, 0);
        let out = self.b.create_block();
        let on = self.b.create_block();
        self.b.ins().brif(spent, out, &[], on, &[]);
        self.b.switch_to_block(out);
        self.exit(pc, exit::BUDGET, refund);
        self.b.switch_to_block(on);
        self.terminated = false;
    }

    fn call(&mut self, helper: usize, args: &[Value]) -> Value {
        let sig = self.sigs[args.len() - 1];
        let callee = self.b.ins().iconst(I64, helper as i64);
        let call = self.b.ins().call_indirect(sig, callee, args);
        self.b.inst_results(call)[0]
    }

    fn tail_call(&mut self, code: Value, vbase: Value, slots: Value) {
        let budget = self.b.use_var(self.budget);
        self.b.ins().store(flags(), budget, self.frame, BUDGET);
        let args = [self.hart, self.frame, vbase, slots];
        self.b
            .ins()
            .return_call_indirect(self.block_sig, code, &args);
        self.terminated = true;
    }

    /// Control leaves operation `i` (already run) for page offset `target`.
    fn edge(&mut self, i: usize, target: i64) {
        if let Some(j) = usize::try_from(target).ok().and_then(|t| self.index_of(t))
            && let Some(label) = self.label(target as usize)
        {
            let charge = i as i64 + 1 - j as i64;
            let budget = self.charge(charge);
            if charge > 0 {
                let pc = self.pc_of(target);
                self.leave_if_spent(budget, pc, self.n - j as i64);
            }
            self.b.ins().jump(label, &[]);
            self.terminated = true;
            return;
        }
        let pc = self.pc_of(target);
        if !(0..(SLOTS * 2) as i64).contains(&target) {
            return self.dynamic_edge(i, pc);
        }
        let budget = self.charge(i as i64 + 1 - self.n);
        self.leave_if_spent(budget, pc, 0);
        let slot = (target >> 1) * size_of::<Op>() as i64 + BLOCK_FIELD;
        let block = self.b.ins().uload32(flags(), self.slots, slot as i32);
        let compiled =
            self.b
                .ins()
                .icmp_imm_s(IntCC::UnsignedGreaterThan, block, Op::LAST_MARKER as i64);
        let chain = self.b.create_block();
        let out = self.b.create_block();
        self.b.ins().brif(compiled, chain, &[], out, &[]);
        self.b.switch_to_block(chain);
        let code_base = self.b.ins().load(I64, flags(), self.frame, CODE_BASE);
        let code = self.b.ins().iadd(block, code_base);
        self.tail_call(code, self.vbase, self.slots);
        self.b.switch_to_block(out);
        self.exit(pc, exit::NOT_COMPILED, 0);
    }

    /// Control leaves operation `i` for a pc known only at run time, or in another page.
    fn dynamic_edge(&mut self, i: usize, pc: Value) {
        let budget = self.charge(i as i64 + 1 - self.n);
        self.leave_if_spent(budget, pc, 0);
        let code = self.call(self.src.helpers.lookup, &[self.hart, self.frame, pc]);
        let chain = self.b.create_block();
        let out = self.b.create_block();
        self.b.ins().brif(code, chain, &[], out, &[]);
        self.b.switch_to_block(chain);
        let vbase = self.b.ins().band_imm_s(pc, !0xFFF);
        let slots = self.b.ins().load(I64, flags(), self.frame, NEXT_SLOTS);
        self.tail_call(code, vbase, slots);
        self.b.switch_to_block(out);
        self.exit(pc, exit::NOT_COMPILED, 0);
    }

    fn index_of(&self, offset: usize) -> Option<usize> {
        self.src
            .trace
            .ops
            .binary_search_by_key(&offset, |&(at, _)| at)
            .ok()
    }

    fn op(&mut self, i: usize, at: usize, op: Op) {
        match super::trace::class(op.kind) {
            Class::Native => self.native(i, at, op),
            Class::Branch => self.branch(i, at, op),
            Class::Jump => self.jump(i, at, op),
            Class::Interpreted | Class::Final => self.interpreted(i, at, op),
        }
    }

    /// Runs `op` through the interpreter and goes on after it if it falls through.
    fn interpreted(&mut self, i: usize, at: usize, op: Op) {
        let slot = self
            .b
            .ins()
            .iadd_imm_s(self.slots, ((at >> 1) * size_of::<Op>()) as i64);
        let pc = self.pc_of(at as i64);
        let code = self.call(self.src.helpers.step, &[self.hart, slot, pc]);
        let refund = self.n - 1 - i as i64;
        if super::trace::class(op.kind) == Class::Final {
            let stepped = self.b.ins().iconst(I64, exit::STEPPED as i64);
            let code = self.b.ins().select(code, code, stepped);
            let pc = self
                .b
                .ins()
                .load(I64, flags(), self.hart, self.src.offsets.pc);
            return self.exit_with(pc, code, refund);
        }
        let out = self.b.create_block();
        let on = self.b.create_block();
        self.b.ins().brif(code, out, &[], on, &[]);
        self.b.switch_to_block(out);
        let pc = self
            .b
            .ins()
            .load(I64, flags(), self.hart, self.src.offsets.pc);
        self.exit_with(pc, code, refund);
        self.b.switch_to_block(on);
        self.terminated = false;
        self.reload(op.rd);
    }

    fn branch(&mut self, i: usize, at: usize, op: Op) {
        use OpKind::*;
        let a = self.read(op.rs1);
        let b = self.read(op.rs2);
        let cc = match op.kind {
            Beq => IntCC::Equal,
            Bne => IntCC::NotEqual,
            Blt => IntCC::SignedLessThan,
            Bge => IntCC::SignedGreaterThanOrEqual,
            Bltu => IntCC::UnsignedLessThan,
            _ => IntCC::UnsignedGreaterThanOrEqual,
        };
        let taken = self.b.ins().icmp(cc, a, b);
        let target = self.b.create_block();
        let fall = self.b.create_block();
        self.b.ins().brif(taken, target, &[], fall, &[]);
        self.b.switch_to_block(target);
        self.edge(i, at as i64 + op.imm as i64);
        self.b.switch_to_block(fall);
        self.terminated = false;
    }

    fn jump(&mut self, i: usize, at: usize, op: Op) {
        let link = self.pc_of(at as i64 + op.len as i64);
        if op.kind == OpKind::Jal {
            self.write(op.rd, link);
            self.edge(i, at as i64 + op.imm as i64);
        } else {
            let base = self.read(op.rs1);
            let target = self.b.ins().iadd_imm_s(base, op.imm as i64);
            let target = self.b.ins().band_imm_s(target, !1);
            self.write(op.rd, link);
            self.dynamic_edge(i, target);
        }
    }

    fn native(&mut self, i: usize, at: usize, op: Op) {
        use OpKind::*;
        let imm = op.imm as i64;
        let shamt = imm & 63;
        macro_rules! alu {
            ($f:ident) => {{
                let a = self.read(op.rs1);
                let b = self.read(op.rs2);
                self.b.ins().$f(a, b)
            }};
        }
        macro_rules! alu_imm {
            ($f:ident, $imm:expr) => {{
                let a = self.read(op.rs1);
                self.b.ins().$f(a, $imm)
            }};
        }
        macro_rules! word {
            ($f:ident) => {{
                let a = self.read(op.rs1);
                let b = self.read(op.rs2);
                let a = self.b.ins().ireduce(I32, a);
                let b = self.b.ins().ireduce(I32, b);
                let v = self.b.ins().$f(a, b);
                self.b.ins().sextend(I64, v)
            }};
        }
        macro_rules! word_imm {
            ($f:ident, $imm:expr) => {{
                let a = self.read(op.rs1);
                let a = self.b.ins().ireduce(I32, a);
                let v = self.b.ins().$f(a, $imm);
                self.b.ins().sextend(I64, v)
            }};
        }
        macro_rules! compare {
            ($cc:expr, $b:expr) => {{
                let a = self.read(op.rs1);
                let flag = self.b.ins().icmp($cc, a, $b);
                self.b.ins().uextend(I64, flag)
            }};
        }
        let value = match op.kind {
            Lui => self.b.ins().iconst(I64, imm),
            Auipc => self.pc_of(at as i64 + imm),
            Addi => alu_imm!(iadd_imm_s, imm),
            Xori => alu_imm!(bxor_imm_s, imm),
            Ori => alu_imm!(bor_imm_s, imm),
            Andi => alu_imm!(band_imm_s, imm),
            Slli => alu_imm!(ishl_imm_s, shamt),
            Srli => alu_imm!(ushr_imm_s, shamt),
            Srai => alu_imm!(sshr_imm_s, shamt),
            Slti => {
                let b = self.b.ins().iconst(I64, imm);
                compare!(IntCC::SignedLessThan, b)
            }
            Sltiu => {
                let b = self.b.ins().iconst(I64, imm);
                compare!(IntCC::UnsignedLessThan, b)
            }
            Add => alu!(iadd),
            Sub => alu!(isub),
            Sll => alu!(ishl),
            Srl => alu!(ushr),
            Sra => alu!(sshr),
            Xor => alu!(bxor),
            Or => alu!(bor),
            And => alu!(band),
            Slt => {
                let b = self.read(op.rs2);
                compare!(IntCC::SignedLessThan, b)
            }
            Sltu => {
                let b = self.read(op.rs2);
                compare!(IntCC::UnsignedLessThan, b)
            }
            Addiw => word_imm!(iadd_imm_s, imm),
            Slliw => word_imm!(ishl_imm_s, shamt & 31),
            Srliw => word_imm!(ushr_imm_s, shamt & 31),
            Sraiw => word_imm!(sshr_imm_s, shamt & 31),
            Addw => word!(iadd),
            Subw => word!(isub),
            Sllw => word!(ishl),
            Srlw => word!(ushr),
            Sraw => word!(sshr),
            Mul => alu!(imul),
            Mulh => alu!(smulhi),
            Mulhu => alu!(umulhi),
            Mulhsu => {
                // high(a * b) with a signed: umulhi(a, b) - (a < 0 ? b : 0).
                let a = self.read(op.rs1);
                let b = self.read(op.rs2);
                let high = self.b.ins().umulhi(a, b);
                let sign = self.b.ins().sshr_imm_s(a, 63);
                let correction = self.b.ins().band(sign, b);
                self.b.ins().isub(high, correction)
            }
            Mulw => word!(imul),
            Div | Divu | Rem | Remu => {
                let a = self.read(op.rs1);
                let b = self.read(op.rs2);
                self.divide(op.kind, a, b, I64)
            }
            Divw | Divuw | Remw | Remuw => {
                let a = self.read(op.rs1);
                let b = self.read(op.rs2);
                let a = self.b.ins().ireduce(I32, a);
                let b = self.b.ins().ireduce(I32, b);
                let v = self.divide(op.kind, a, b, I32);
                self.b.ins().sextend(I64, v)
            }
            Fence => {
                let store_to_load = op.imm & 0x10 != 0 && op.imm & 0x2 != 0;
                if store_to_load || !cfg!(target_arch = "x86_64") {
                    self.b.ins().fence();
                }
                return;
            }
            Lb | Lh | Lw | Ld | Lbu | Lhu | Lwu => return self.load(i, at, op),
            Sb | Sh | Sw | Sd => return self.store(i, at, op),
            _ => unreachable!("not a native operation: {:?}", op.kind),
        };
        self.write(op.rd, value);
    }

    /// DIV/REM with RISC-V's results for a zero divisor and for overflow, computed
    /// with a divisor that cannot trap.
    fn divide(&mut self, kind: OpKind, a: Value, b: Value, ty: ir::Type) -> Value {
        use OpKind::*;
        let signed = matches!(kind, Div | Rem | Divw | Remw);
        let remainder = matches!(kind, Rem | Remu | Remw | Remuw);
        let zero = self.b.ins().icmp_imm_s(IntCC::Equal, b, 0);
        let one = self.b.ins().iconst(ty, 1);
        let min = if ty == I64 { i64::MIN } else { i32::MIN as i64 };
        let overflow = if signed {
            let a_min = self.b.ins().icmp_imm_s(IntCC::Equal, a, min);
            let b_neg1 = self.b.ins().icmp_imm_s(IntCC::Equal, b, -1);
            Some(self.b.ins().band(a_min, b_neg1))
        } else {
            None
        };
        let unsafe_divisor = match overflow {
            Some(overflow) => self.b.ins().bor(zero, overflow),
            None => zero,
        };
        let divisor = self.b.ins().select(unsafe_divisor, one, b);
        let result = match (signed, remainder) {
            (true, false) => self.b.ins().sdiv(a, divisor),
            (true, true) => self.b.ins().srem(a, divisor),
            (false, false) => self.b.ins().udiv(a, divisor),
            (false, true) => self.b.ins().urem(a, divisor),
        };
        let result = match overflow {
            Some(overflow) => {
                let on_overflow = if remainder {
                    self.b.ins().iconst(ty, 0)
                } else {
                    a
                };
                self.b.ins().select(overflow, on_overflow, result)
            }
            None => result,
        };
        let on_zero = if remainder {
            a
        } else {
            self.b.ins().iconst(ty, -1)
        };
        self.b.ins().select(zero, on_zero, result)
    }

    /// The software TLB's probe for an access of `size` bytes at `rs1 + imm` through
    /// `table`: a hit goes on in a new block with the host address, which is
    /// returned; a miss (a page not cached, MMIO, a misaligned or page-crossing
    /// access) leaves for the interpreter, which runs the instruction at `at`.
    fn probe(&mut self, i: usize, at: usize, table: Value, op: Op, size: u64) -> Value {
        let base = self.read(op.rs1);
        let addr = self.b.ins().iadd_imm_s(base, op.imm as i64);
        let index = self.b.ins().ushr_imm_s(addr, 12);
        let index = self.b.ins().band_imm_s(index, TLB_ENTRIES as i64 - 1);
        let index = self.b.ins().ishl_imm_s(index, 4);
        let entry = self.b.ins().iadd(table, index);
        let tag = self.b.ins().load(I64, flags(), entry, 0);
        let want = self.b.ins().band_imm_s(addr, !0xFFF | (size as i64 - 1));
        let matched = self.b.ins().icmp(IntCC::Equal, tag, want);
        let hit = self.b.create_block();
        let miss = self.b.create_block();
        self.b.ins().brif(matched, hit, &[], miss, &[]);
        self.b.switch_to_block(miss);
        let pc = self.pc_of(at as i64);
        self.exit(pc, exit::SLOW_ACCESS, self.n - i as i64);
        self.b.switch_to_block(hit);
        self.terminated = false;
        let addend = self.b.ins().load(I64, flags(), entry, 8);
        self.b.ins().iadd(addr, addend)
    }

    fn load(&mut self, i: usize, at: usize, op: Op) {
        use OpKind::*;
        let table = self.b.use_var(self.load_tlb);
        let host = match op.kind {
            Lb | Lbu => self.probe(i, at, table, op, 1),
            Lh | Lhu => self.probe(i, at, table, op, 2),
            Lw | Lwu => self.probe(i, at, table, op, 4),
            _ => self.probe(i, at, table, op, 8),
        };
        let value = match op.kind {
            Lb => self.b.ins().sload8(I64, flags(), host, 0),
            Lbu => self.b.ins().uload8(I64, flags(), host, 0),
            Lh => self.b.ins().sload16(I64, flags(), host, 0),
            Lhu => self.b.ins().uload16(I64, flags(), host, 0),
            Lw => self.b.ins().sload32(flags(), host, 0),
            Lwu => self.b.ins().uload32(flags(), host, 0),
            _ => self.b.ins().load(I64, flags(), host, 0),
        };
        self.write(op.rd, value);
    }

    fn store(&mut self, i: usize, at: usize, op: Op) {
        use OpKind::*;
        let value = self.read(op.rs2);
        let table = self.b.use_var(self.store_tlb);
        let size = match op.kind {
            Sb => 1,
            Sh => 2,
            Sw => 4,
            _ => 8,
        };
        let host = self.probe(i, at, table, op, size);
        match size {
            1 => self.b.ins().istore8(flags(), value, host, 0),
            2 => self.b.ins().istore16(flags(), value, host, 0),
            4 => self.b.ins().istore32(flags(), value, host, 0),
            _ => self.b.ins().store(flags(), value, host, 0),
        };
    }
}
