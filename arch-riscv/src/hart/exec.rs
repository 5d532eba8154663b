//! The interpreter: runs decoded operations page by page until an exit.
//!
//! Hot-path rules: a decoded page is found once per page change, not per
//! instruction; registers are indexed with `& 63` so no bounds checks remain;
//! faults leave through `Stop`, handled out of line.

use std::sync::atomic::{Ordering, compiler_fence, fence};

use super::cmo::Refused;
use super::icache::{CodePage, DecodeCache};
use super::memory::Stop;
use super::tlb::{GUEST_INDICES, HOST_INDICES};
use super::trap::{Access, Cause, Trap};
use super::{Exit, Hart, PendingLoad, Privilege, SbiCall};
use crate::csr::hstatus;
use crate::fpu::{self, RegFile, RoundingMode};
use crate::isa::{Op, OpKind, decode};

/// Instructions per slice: between slices the hart polls interrupts and events.
pub(super) const SLICE: u64 = 8192;

/// What an instruction asks the loop to do next. Small enough to stay in registers:
/// an exit's payload waits in `Hart::exit`.
#[derive(Clone, Copy)]
pub(super) enum Flow {
    /// Go on at this pc, the next instruction in straight-line order.
    Next(u64),
    /// Go on at this pc, a jump or taken branch target.
    Jump(u64),
    /// Go on at `self.pc`, set by an out-of-line handler.
    Resume,
    /// Find the decoded page of `self.pc` again (translation or privilege changed).
    Refetch,
    /// End the slice at `self.pc` (interrupts may now be deliverable).
    EndSlice,
    /// Leave `run()` with the exit in `self.exit`.
    Exit,
}

impl Hart {
    /// Runs the hart until the VMM must act.
    pub fn run(&mut self) -> Exit {
        self.signals.set_running(true);
        let exit = loop {
            if let Some(exit) = self.service_events() {
                break exit;
            }
            if let Some(exit) = self.run_slice() {
                break exit;
            }
        };
        self.signals.set_running(false);
        exit
    }

    /// Finds the decoded page of the pc, filling the fetch TLB on a miss.
    #[inline]
    fn code_page(&mut self, pc: u64) -> Result<*mut CodePage, Trap> {
        if let Some(page) = self.icache.lookup(self.mmu_index, pc) {
            return Ok(page);
        }
        self.stats.fetch_misses += 1;
        let paddr = super::mmu::translate(&self.ram, pc, Access::Fetch, &self.context())?;
        let host = self
            .ram
            .host_ptr(paddr & !0xFFF, 0x1000)
            .ok_or(Trap::new(Cause::FetchAccess, pc))?;
        Ok(self
            .icache
            .fill(self.mmu_index, pc, paddr & !0xFFF, host as usize))
    }

    /// Decodes the instruction at `offset` of `page`, caching it when it lies wholly
    /// inside the page.
    #[cold]
    fn decode_slot(&mut self, page: *mut CodePage, offset: usize) -> Result<Op, Trap> {
        self.stats.decodes += 1;
        // SAFETY: `page` came from the decode cache and no flush happened since.
        let page = unsafe { &mut *page };
        let host = page.host;
        // SAFETY: offset < 4096 and the page is RAM.
        let low = unsafe { super::ram::load((host + offset) as *mut u8, 2) } as u32;
        let len = if low & 3 != 3 { 2 } else { 4 };
        if offset + len <= 0x1000 {
            DecodeCache::check_slot_bytes(page, offset, len);
            // SAFETY: the `len` bytes lie inside the page.
            let bits = unsafe { super::ram::load((host + offset) as *mut u8, len as u64) } as u32;
            let op = decode(bits);
            page.ops[offset >> 1] = op;
            return Ok(op);
        }
        // A 32-bit instruction straddling two pages: fetch the upper half through
        // the next page's translation and do not cache the result.
        let next = self.pc.wrapping_add(2);
        let paddr = super::mmu::translate(&self.ram, next, Access::Fetch, &self.context())?;
        let high = self
            .ram
            .read(paddr, 2)
            .ok_or(Trap::new(Cause::FetchAccess, next))? as u32;
        Ok(decode(low | (high << 16)))
    }

    /// Runs up to one slice of instructions. The pc lives in a local while the slice
    /// runs; `self.pc` is written back before anything out of line reads it.
    ///
    /// Straight-line flow (`Flow::Next`) is not checked at all: it can only run
    /// into the page's guard slots, which stay undecoded and refetch. Jumps, taken
    /// branches and out-of-line handlers (`Flow::Jump`, `Flow::Resume`) check the
    /// slice budget and whether the pc left the page; every loop contains one.
    pub(super) fn run_slice(&mut self) -> Option<Exit> {
        let mut executed = 0u64;
        let mut pc = self.pc;
        #[cfg(jit)]
        if self.jit.as_ref().is_some_and(|tier| tier.awaits_answers()) {
            self.take_compiled_blocks();
        }
        #[cfg(jit)]
        let threshold = self.jit.as_ref().map(|tier| tier.threshold());
        // After a compiled block left at an access it could not complete, the
        // interpreter runs that instruction before code is entered again.
        #[cfg(jit)]
        let mut interpret_next = false;
        let flow = 'slice: loop {
            if executed >= SLICE {
                self.pc = pc;
                break 'slice Flow::EndSlice;
            }
            let page = match self.code_page(pc) {
                Ok(page) => page,
                Err(trap) => {
                    // Counted like an instruction, so that a trap vector that does
                    // not map still ends the slice and the VMM can stop the hart.
                    executed += 1;
                    self.pc = pc;
                    self.raise(trap);
                    pc = self.pc;
                    continue 'slice;
                }
            };
            let page_base = pc & !0xFFF;
            #[cfg(jit)]
            if let Some(threshold) = threshold
                && !std::mem::take(&mut interpret_next)
                && self.compiled_entry(page, pc, threshold)
            {
                self.pc = pc;
                let (run, code) = self.enter_compiled(page, pc, SLICE - executed);
                executed += run;
                pc = self.pc;
                match code {
                    super::jit::exit::VMM => break 'slice Flow::Exit,
                    super::jit::exit::END_SLICE => break 'slice Flow::EndSlice,
                    super::jit::exit::SLOW_ACCESS => interpret_next = true,
                    _ => {}
                }
                continue 'slice;
            }
            loop {
                // At most 0x1002: pc was checked to lie in the page at the last jump
                // or refetch, and straight-line steps advance it by 2 or 4 into the
                // guard slots at worst.
                let offset = pc.wrapping_sub(page_base);
                executed += 1;
                // SAFETY: `page` stays valid until a flush, after which the loop
                // always refetches; offset <= 0x1002 so the slot index is at most
                // SLOTS + 1, inside the guard slots.
                let slot = unsafe { (*page).ops.as_ptr().add((offset >> 1) as usize) };
                // SAFETY: as above. `step` reads the fields straight from the slot and
                // never after an operation that flushes the decode cache.
                let op = unsafe { &*slot };
                // Two copies of `step`, one per length: the next pc then depends on a
                // predicted branch rather than on the length loaded from the slot.
                // Undecoded and guard slots have length 0.
                let flow = if op.len == 4 {
                    self.step(op, pc, 4)
                } else if op.len == 2 {
                    self.step(op, pc, 2)
                } else if offset >= 0x1000 {
                    // A guard slot: straight-line flow left the page.
                    executed -= 1;
                    continue 'slice;
                } else {
                    self.pc = pc;
                    self.step_undecoded(page, offset as usize)
                };
                pc = match flow {
                    Flow::Next(next) => {
                        pc = next;
                        continue;
                    }
                    Flow::Jump(target) => {
                        #[cfg(jit)]
                        if let Some(threshold) = threshold
                            && Self::hot_in_page(page, page_base, target, threshold)
                        {
                            pc = target;
                            continue 'slice;
                        }
                        target
                    }
                    Flow::Resume => self.pc,
                    Flow::Refetch => {
                        pc = self.pc;
                        continue 'slice;
                    }
                    Flow::EndSlice | Flow::Exit => break 'slice flow,
                };
                if executed >= SLICE || pc.wrapping_sub(page_base) >= 0x1000 {
                    continue 'slice;
                }
            }
        };
        self.stats.instructions += executed;
        match flow {
            Flow::Exit => self.exit.take(),
            _ => None,
        }
    }

    /// Whether the slice should enter compiled code at `pc`, the start of a slot of
    /// `page`: a block is there, or the slot just became hot and compiled.
    #[cfg(jit)]
    #[inline]
    fn compiled_entry(&mut self, page: *mut CodePage, pc: u64, threshold: u8) -> bool {
        // SAFETY: `page` is the decoded page of `pc`, valid until the next fill; the
        // slot index is below SLOTS.
        let slot = unsafe { &mut (*page).ops[((pc & 0xFFF) >> 1) as usize] };
        if slot.has_block() {
            return true;
        }
        if slot.block != 0 || slot.len == 0 {
            return false;
        }
        slot.heat = slot.heat.saturating_add(1);
        slot.heat > threshold && self.compile_block(page, (pc & 0xFFF) as usize)
    }

    /// Counts a jump to `target` in the page at `page_base`; whether the slice should
    /// go to its top to enter (or compile) a block there.
    #[cfg(jit)]
    #[inline]
    fn hot_in_page(page: *mut CodePage, page_base: u64, target: u64, threshold: u8) -> bool {
        let offset = target.wrapping_sub(page_base);
        if offset >= 0x1000 {
            return false;
        }
        // SAFETY: as in compiled_entry; offset < 4096.
        let slot = unsafe { &mut (*page).ops[(offset >> 1) as usize] };
        if slot.has_block() || (slot.block == 0 && slot.heat >= threshold) {
            return true;
        }
        slot.heat = slot.heat.saturating_add(1);
        false
    }

    /// Decodes the slot at `offset` of `page` and executes it (the cold path of the
    /// first execution, and of instructions straddling a page boundary).
    #[cold]
    #[inline(never)]
    fn step_undecoded(&mut self, page: *mut CodePage, offset: usize) -> Flow {
        match self.decode_slot(page, offset) {
            Ok(op) => self.step(&op, self.pc, op.len as u64),
            Err(trap) => {
                self.raise(trap);
                Flow::Refetch
            }
        }
    }

    /// Handles an access that did not complete.
    #[cold]
    pub(super) fn stopped(&mut self, stop: Stop, op: &Op) -> Flow {
        let op = *op;
        match stop {
            Stop::Trap(mut trap) => {
                let guest_page_fault = matches!(
                    trap.cause,
                    Cause::LoadGuestPageFault | Cause::StoreGuestPageFault
                );
                if guest_page_fault && trap.tinst == 0 {
                    trap.tinst = super::tinst::transformed(&op);
                }
                self.raise(trap);
                Flow::Refetch
            }
            Stop::Exit(exit @ Exit::MmioRead { .. }) => {
                self.pending_load = Some(PendingLoad { op });
                self.leave(exit)
            }
            Stop::Exit(exit) => {
                self.pc = self.pc.wrapping_add(op.len as u64);
                self.leave(exit)
            }
        }
    }

    /// Ends the slice and `run()` with `exit`.
    fn leave(&mut self, exit: Exit) -> Flow {
        self.exit = Some(exit);
        Flow::Exit
    }

    /// Raises an illegal-instruction exception for `op`.
    #[cold]
    pub(super) fn illegal(&mut self, op: &Op) -> Flow {
        let bits = self.instruction_bits(*op);
        self.raise(Trap::illegal(bits));
        Flow::Refetch
    }

    /// Writes a loaded value to the destination of the load `op`.
    pub(super) fn finish_load(&mut self, op: Op, raw: u64) {
        use OpKind::*;
        let value = match op.kind {
            Lb => raw as i8 as i64 as u64,
            Lh => raw as i16 as i64 as u64,
            Lw => raw as i32 as i64 as u64,
            Lbu => raw as u8 as u64,
            Lhu => raw as u16 as u64,
            Lwu => raw as u32 as u64,
            HlvB => raw as i8 as i64 as u64,
            HlvH => raw as i16 as i64 as u64,
            HlvW => raw as i32 as i64 as u64,
            Flw => {
                self.f[(op.rd & 31) as usize] = fpu::nan_box(raw as u32);
                self.fp_dirty();
                return;
            }
            Fld => {
                self.f[(op.rd & 31) as usize] = raw;
                self.fp_dirty();
                return;
            }
            _ => raw,
        };
        self.x[(op.rd & 63) as usize] = value;
    }

    /// Executes one operation at `pc`. The straight-line cases return the next pc;
    /// whatever goes out of line writes `self.pc` first (`cold!`).
    #[inline(always)]
    pub(super) fn step(&mut self, op: &Op, pc: u64, len: u64) -> Flow {
        use OpKind::*;
        macro_rules! x {
            ($r:expr) => {
                self.x[($r & 63) as usize]
            };
        }
        macro_rules! cold {
            ($call:expr) => {{
                self.pc = pc;
                $call
            }};
        }
        let imm = op.imm as i64 as u64;
        let next_pc = pc.wrapping_add(len);
        macro_rules! alu {
            ($value:expr) => {{
                x!(op.rd) = $value;
                Flow::Next(next_pc)
            }};
        }
        macro_rules! branch {
            ($cond:expr) => {{
                if $cond {
                    Flow::Jump(pc.wrapping_add(imm))
                } else {
                    Flow::Next(next_pc)
                }
            }};
        }
        macro_rules! load {
            ($size:expr, $extend:expr) => {{
                let addr = x!(op.rs1).wrapping_add(imm);
                match self.load(addr, $size) {
                    Ok(raw) => {
                        x!(op.rd) = $extend(raw);
                        Flow::Next(next_pc)
                    }
                    Err(stop) => cold!(self.stopped(stop, op)),
                }
            }};
        }
        macro_rules! load_fp {
            ($size:expr) => {{
                if !self.fp_enabled() {
                    return cold!(self.illegal(op));
                }
                let addr = x!(op.rs1).wrapping_add(imm);
                match self.load(addr, $size) {
                    Ok(raw) => {
                        self.finish_load(*op, raw);
                        Flow::Next(next_pc)
                    }
                    Err(stop) => cold!(self.stopped(stop, op)),
                }
            }};
        }
        macro_rules! store {
            ($size:expr, $value:expr) => {{
                let addr = x!(op.rs1).wrapping_add(imm);
                let value = $value;
                match self.store(addr, $size, value) {
                    Ok(()) => Flow::Next(next_pc),
                    Err(stop) => cold!(self.stopped(stop, op)),
                }
            }};
        }
        macro_rules! store_fp {
            ($size:expr) => {{
                if !self.fp_enabled() {
                    return cold!(self.illegal(op));
                }
                store!($size, self.f[(op.rs2 & 31) as usize])
            }};
        }
        let a = x!(op.rs1);
        let b = x!(op.rs2);
        let shamt = (op.imm & 63) as u32;
        match op.kind {
            Addi => alu!(a.wrapping_add(imm)),
            Add => alu!(a.wrapping_add(b)),
            Ld => load!(8, |raw| raw),
            Sd => store!(8, b),
            Lw => load!(4, sext32),
            Lwu => load!(4, |raw| raw),
            Sw => store!(4, b),
            Beq => branch!(a == b),
            Bne => branch!(a != b),
            Blt => branch!((a as i64) < (b as i64)),
            Bge => branch!((a as i64) >= (b as i64)),
            Bltu => branch!(a < b),
            Bgeu => branch!(a >= b),
            Jal => {
                x!(op.rd) = next_pc;
                Flow::Jump(pc.wrapping_add(imm))
            }
            Jalr => {
                let target = a.wrapping_add(imm) & !1;
                x!(op.rd) = next_pc;
                Flow::Jump(target)
            }
            Lui => alu!(imm),
            Auipc => alu!(pc.wrapping_add(imm)),
            Lb => load!(1, |raw| raw as i8 as i64 as u64),
            Lh => load!(2, |raw| raw as i16 as i64 as u64),
            Lbu => load!(1, |raw| raw),
            Lhu => load!(2, |raw| raw),
            Sb => store!(1, b),
            Sh => store!(2, b),
            Slti => alu!(((a as i64) < (imm as i64)) as u64),
            Sltiu => alu!((a < imm) as u64),
            Xori => alu!(a ^ imm),
            Ori => alu!(a | imm),
            Andi => alu!(a & imm),
            Slli => alu!(a << shamt),
            Srli => alu!(a >> shamt),
            Srai => alu!(((a as i64) >> shamt) as u64),
            Sub => alu!(a.wrapping_sub(b)),
            Sll => alu!(a << (b & 63)),
            Slt => alu!(((a as i64) < (b as i64)) as u64),
            Sltu => alu!((a < b) as u64),
            Xor => alu!(a ^ b),
            Srl => alu!(a >> (b & 63)),
            Sra => alu!(((a as i64) >> (b & 63)) as u64),
            Or => alu!(a | b),
            And => alu!(a & b),
            Addiw => alu!(sext32(a.wrapping_add(imm))),
            Slliw => alu!(sext32(a << (shamt & 31))),
            Srliw => alu!(sext32(((a as u32) >> (shamt & 31)) as u64)),
            Sraiw => alu!(((a as i32) >> (shamt & 31)) as i64 as u64),
            Addw => alu!(sext32(a.wrapping_add(b))),
            Subw => alu!(sext32(a.wrapping_sub(b))),
            Sllw => alu!(sext32(a << (b & 31))),
            Srlw => alu!(sext32(((a as u32) >> (b & 31)) as u64)),
            Sraw => alu!(((a as i32) >> (b & 31)) as i64 as u64),

            Mul => alu!(a.wrapping_mul(b)),
            Mulh => alu!(((a as i64 as i128 * b as i64 as i128) >> 64) as u64),
            Mulhsu => alu!(((a as i64 as i128 * b as i128) >> 64) as u64),
            Mulhu => alu!(((a as u128 * b as u128) >> 64) as u64),
            Div => alu!(div_signed(a as i64, b as i64) as u64),
            Divu => alu!(a.checked_div(b).unwrap_or(u64::MAX)),
            Rem => alu!(rem_signed(a as i64, b as i64) as u64),
            Remu => alu!(if b == 0 { a } else { a % b }),
            Mulw => alu!(sext32(a.wrapping_mul(b))),
            Divw => alu!(div_signed(a as i32 as i64, b as i32 as i64) as i32 as i64 as u64),
            Divuw => alu!(sext32(
                (a as u32).checked_div(b as u32).unwrap_or(u32::MAX) as u64
            )),
            Remw => alu!(rem_signed(a as i32 as i64, b as i32 as i64) as i32 as i64 as u64),
            Remuw => alu!(sext32(if b as u32 == 0 {
                a as u32
            } else {
                a as u32 % b as u32
            } as u64)),

            Fence => {
                // x86 orders everything but store->load with the plain accesses used
                // for guest memory, so only FENCE W,R needs a real fence there; other
                // hosts' memory models are weaker than RVWMO's, so every FENCE is one.
                if op.imm & 0x10 != 0 && op.imm & 0x2 != 0 || !cfg!(target_arch = "x86_64") {
                    fence(Ordering::SeqCst);
                } else {
                    compiler_fence(Ordering::SeqCst);
                }
                Flow::Next(next_pc)
            }
            FenceI => {
                self.icache.fence();
                self.fences_seen = self.fences.advance();
                self.pc = next_pc;
                Flow::Refetch
            }

            LrW | ScW | AmoswapW | AmoaddW | AmoxorW | AmoandW | AmoorW | AmominW | AmomaxW
            | AmominuW | AmomaxuW | LrD | ScD | AmoswapD | AmoaddD | AmoxorD | AmoandD | AmoorD
            | AmominD | AmomaxD | AmominuD | AmomaxuD => match self.atomic(op.kind, a, b) {
                Ok(value) => alu!(value),
                Err(trap) => cold!(self.stopped(Stop::Trap(trap), op)),
            },

            Flw => load_fp!(4),
            Fld => load_fp!(8),
            Fsw => store_fp!(4),
            Fsd => store_fp!(8),
            FmaddS | FmsubS | FnmsubS | FnmaddS | FaddS | FsubS | FmulS | FdivS | FsqrtS
            | FsgnjS | FsgnjnS | FsgnjxS | FminS | FmaxS | FcvtWS | FcvtWuS | FcvtLS | FcvtLuS
            | FmvXW | FeqS | FltS | FleS | FclassS | FcvtSW | FcvtSWu | FcvtSL | FcvtSLu
            | FmvWX | FmaddD | FmsubD | FnmsubD | FnmaddD | FaddD | FsubD | FmulD | FdivD
            | FsqrtD | FsgnjD | FsgnjnD | FsgnjxD | FminD | FmaxD | FcvtSD | FcvtDS | FeqD
            | FltD | FleD | FclassD | FcvtWD | FcvtWuD | FcvtLD | FcvtLuD | FmvXD | FcvtDW
            | FcvtDWu | FcvtDL | FcvtDLu | FmvDX => cold!(self.execute_fp(op)),

            Undecoded | Illegal | Mret => cold!(self.illegal(op)),
            _ => cold!(self.step_rare(op)),
        }
    }

    /// The system, CSR and hypervisor instructions and the bit-manipulation ones
    /// (Zba, Zbb, Zbs, Zicond): out of line, so the hot match in [`Hart::step`] stays
    /// small enough to keep its values in registers.
    #[inline(never)]
    fn step_rare(&mut self, op: &Op) -> Flow {
        use OpKind::*;
        let next_pc = self.pc.wrapping_add(op.len as u64);
        let a = self.x[(op.rs1 & 63) as usize];
        let b = self.x[(op.rs2 & 63) as usize];
        match op.kind {
            Csrrw | Csrrs | Csrrc | Csrrwi | Csrrsi | Csrrci => match self.execute_csr(*op) {
                Ok(wrote) => {
                    self.pc = next_pc;
                    if wrote { Flow::EndSlice } else { Flow::Resume }
                }
                Err(trap) => self.stopped(Stop::Trap(trap), op),
            },
            Ecall => match (self.virt, self.privilege) {
                (_, Privilege::User) => {
                    self.stopped(Stop::Trap(Trap::new(Cause::EcallFromU, 0)), op)
                }
                (true, Privilege::Supervisor) => {
                    self.stopped(Stop::Trap(Trap::new(Cause::EcallFromVS, 0)), op)
                }
                (false, Privilege::Supervisor) => {
                    let x = &self.x;
                    let call = SbiCall {
                        extension: x[17],
                        function: x[16],
                        args: [x[10], x[11], x[12], x[13], x[14], x[15]],
                    };
                    self.leave(Exit::Sbi(call))
                }
            },
            Ebreak => self.stopped(Stop::Trap(Trap::new(Cause::Breakpoint, self.pc)), op),
            Sret => match self.system_guard(op, hstatus::VTSR) {
                Some(flow) => flow,
                None => {
                    let was_virt = self.virt;
                    if !was_virt && self.csr.hstatus & hstatus::SPV != 0 {
                        self.nacl_before_guest_entry();
                    }
                    self.sret();
                    if self.virt && !was_virt {
                        self.stats.sret_to_guest += 1;
                    }
                    Flow::EndSlice
                }
            },
            Wfi => match self.system_guard(op, hstatus::VTW) {
                Some(flow) => flow,
                None => {
                    self.pc = next_pc;
                    self.waiting_for_interrupt = true;
                    Flow::EndSlice
                }
            },
            SfenceVma | SinvalVma => match self.system_guard(op, hstatus::VTVM) {
                Some(flow) => flow,
                None => {
                    let indices = if self.virt {
                        GUEST_INDICES
                    } else {
                        HOST_INDICES
                    };
                    if op.rs1 == 0 {
                        self.tlb.flush(indices.clone());
                        self.icache.flush_indices(indices);
                        self.stats.tlb_flushes += 1;
                    } else {
                        self.tlb.flush_page(indices.clone(), a);
                        self.icache.flush_page(indices, a);
                    }
                    self.pc = next_pc;
                    Flow::Refetch
                }
            },
            HfenceVvma | HfenceGvma | HinvalVvma | HinvalGvma => {
                match self.hypervisor_guard(op, false) {
                    Some(flow) => flow,
                    None => {
                        let fence = if matches!(op.kind, HfenceGvma | HinvalGvma) || op.rs1 == 0 {
                            nacl::Hfence::Gvma {
                                vmid: None,
                                range: None,
                            }
                        } else {
                            nacl::Hfence::Vvma {
                                vmid: 0,
                                asid: None,
                                range: Some((a, 1)),
                            }
                        };
                        self.stats.hfences += 1;
                        self.apply_hfence(fence);
                        self.pc = next_pc;
                        Flow::Refetch
                    }
                }
            }
            HlvB | HlvBu | HlvH | HlvHu | HlvW | HlvWu | HlvD | HlvxHu | HlvxWu => {
                match self.hypervisor_guard(op, true) {
                    Some(flow) => flow,
                    None => {
                        let (size, execute) = match op.kind {
                            HlvB | HlvBu => (1, false),
                            HlvH | HlvHu => (2, false),
                            HlvW | HlvWu => (4, false),
                            HlvxHu => (2, true),
                            HlvxWu => (4, true),
                            _ => (8, false),
                        };
                        match self.hypervisor_load(a, size, execute) {
                            Ok(raw) => {
                                self.finish_load(*op, raw);
                                self.pc = next_pc;
                                Flow::Resume
                            }
                            Err(stop) => self.stopped(stop, op),
                        }
                    }
                }
            }
            HsvB | HsvH | HsvW | HsvD => match self.hypervisor_guard(op, true) {
                Some(flow) => flow,
                None => {
                    let size = match op.kind {
                        HsvB => 1,
                        HsvH => 2,
                        HsvW => 4,
                        _ => 8,
                    };
                    match self.hypervisor_store(a, size, b) {
                        Ok(()) => {
                            self.pc = next_pc;
                            Flow::Resume
                        }
                        Err(stop) => self.stopped(stop, op),
                    }
                }
            },

            // Svinval's ordering fences: the invalidations above take effect at once.
            SfenceWInval | SfenceInvalIr => match self.system_guard(op, 0) {
                Some(flow) => flow,
                None => {
                    self.pc = next_pc;
                    Flow::Resume
                }
            },
            CboInval | CboClean | CboFlush | CboZero => {
                match self.cache_block_allowed(super::cmo::enable_field(op.kind)) {
                    Err(Refused::Illegal) => self.illegal(op),
                    Err(Refused::Virtual) => self.virtual_instruction(op),
                    Ok(()) => {
                        let done = if op.kind == CboZero {
                            self.zero_cache_block(a)
                        } else {
                            self.check_cache_block(a)
                        };
                        match done {
                            Ok(()) => {
                                self.pc = next_pc;
                                Flow::Resume
                            }
                            Err(trap) => self.stopped(Stop::Trap(trap), op),
                        }
                    }
                }
            }
            // Zawrs: no wait when no reservation is held; otherwise the slice ends, a
            // short stall after which the guest checks its condition again.
            WrsNto | WrsSto => {
                self.pc = next_pc;
                if self.reservation.is_some() {
                    Flow::EndSlice
                } else {
                    Flow::Resume
                }
            }
            Vector => self.execute_vector(op),
            MopR | MopRr => {
                self.x[(op.rd & 63) as usize] = 0;
                self.pc = next_pc;
                Flow::Resume
            }

            _ => match crate::bitmanip::execute(op.kind, a, b, op.imm as u32) {
                Some(value) => {
                    self.x[(op.rd & 63) as usize] = value;
                    self.pc = next_pc;
                    Flow::Resume
                }
                None => self.illegal(op),
            },
        }
    }

    /// `Some(illegal)` when FP instructions are disabled (FS = Off).
    #[inline(always)]
    fn fp_guard(&mut self, op: &Op) -> Option<Flow> {
        (!self.fp_enabled()).then(|| self.illegal(op))
    }

    /// The checks of SRET, WFI and SFENCE.VMA: illegal in U, a virtual instruction
    /// in VU, and in VS when hstatus bit `trap_in_vs` (VTSR, VTW, VTVM) is set.
    #[inline]
    fn system_guard(&mut self, op: &Op, trap_in_vs: u64) -> Option<Flow> {
        match (self.virt, self.privilege) {
            (false, Privilege::User) => Some(self.illegal(op)),
            (true, Privilege::User) => Some(self.virtual_instruction(op)),
            (true, Privilege::Supervisor) if self.csr.hstatus & trap_in_vs != 0 => {
                Some(self.virtual_instruction(op))
            }
            _ => None,
        }
    }

    /// The checks of the hypervisor instructions: illegal without H or in U (HLV/HSV
    /// are allowed in U when `user_ok` and hstatus.HU is set), a virtual instruction
    /// while V=1.
    #[inline]
    fn hypervisor_guard(&mut self, op: &Op, user_ok: bool) -> Option<Flow> {
        if !self.hypervisor {
            return Some(self.illegal(op));
        }
        if self.virt {
            return Some(self.virtual_instruction(op));
        }
        if self.privilege == Privilege::User && !(user_ok && self.csr.hstatus & hstatus::HU != 0) {
            return Some(self.illegal(op));
        }
        None
    }

    /// Raises a virtual-instruction exception for `op`.
    #[cold]
    fn virtual_instruction(&mut self, op: &Op) -> Flow {
        let bits = self.instruction_bits(*op);
        self.raise(Trap::virtual_instruction(bits));
        Flow::Refetch
    }

    /// Executes a computational F/D operation.
    fn execute_fp(&mut self, op: &Op) -> Flow {
        if let Some(flow) = self.fp_guard(op) {
            return flow;
        }
        let rm_bits = if op.rm == 7 { self.csr.frm } else { op.rm };
        let rm = match RoundingMode::from_bits(rm_bits) {
            Some(rm) => rm,
            None if !fpu::uses_rounding_mode(op.kind) => RoundingMode::NearestEven,
            None => return self.illegal(op),
        };
        let a = match fpu::src_file(op.kind) {
            RegFile::Int => self.x[(op.rs1 & 63) as usize],
            RegFile::Float => self.f[(op.rs1 & 31) as usize],
        };
        let b = self.f[(op.rs2 & 31) as usize];
        let c = self.f[(op.rs3 & 31) as usize];
        let Some(result) = fpu::execute(op.kind, a, b, c, rm) else {
            return self.illegal(op);
        };
        match fpu::dest_file(op.kind) {
            RegFile::Int => self.x[(op.rd & 63) as usize] = result.value,
            RegFile::Float => self.f[(op.rd & 31) as usize] = result.value,
        }
        self.csr.fflags |= result.flags;
        self.fp_dirty();
        self.pc = self.pc.wrapping_add(op.len as u64);
        Flow::Resume
    }
}

/// Sign-extends the low 32 bits.
#[inline(always)]
fn sext32(value: u64) -> u64 {
    value as i32 as i64 as u64
}

/// DIV with RISC-V's results for division by zero (-1) and overflow (the dividend).
#[inline(always)]
fn div_signed(a: i64, b: i64) -> i64 {
    if b == 0 { -1 } else { a.wrapping_div(b) }
}

/// REM with RISC-V's results for division by zero (the dividend) and overflow (0).
#[inline(always)]
fn rem_signed(a: i64, b: i64) -> i64 {
    if b == 0 { a } else { a.wrapping_rem(b) }
}
