//! The Rust functions compiled code calls: the interpreter for one operation, and
//! the block lookup for jumps whose target is known only at run time. (A load or
//! store that misses the TLB leaves compiled code instead: the interpreter runs it.)
//!
//! Each takes the hart as a raw pointer: compiled code runs inside
//! [`Hart::enter_compiled`], which holds the only `&mut Hart` and lends it to the
//! generated code for the duration of the call.

use super::super::Hart;
use super::super::exec::Flow;
use super::{Frame, exit};
use crate::isa::Op;

/// Runs the operation in `slot` at `pc` with the interpreter. Returns 0 when the
/// block may go on with the next operation, else the exit code, with `hart.pc` set.
///
/// # Safety
/// As for [`load`]; `slot` points to a decoded slot of a live page.
pub unsafe extern "C" fn step(hart: *mut Hart, slot: *const Op, pc: u64) -> u64 {
    // SAFETY: the caller's contract; the slot is copied before anything can change it.
    let (hart, op) = unsafe { (&mut *hart, *slot) };
    let next = pc.wrapping_add(op.len as u64);
    hart.pc = pc;
    match hart.step(&op, pc, op.len as u64) {
        Flow::Next(_) => {
            hart.pc = next;
            0
        }
        Flow::Resume if hart.pc == next => 0,
        Flow::Jump(target) => {
            hart.pc = target;
            exit::STEPPED
        }
        Flow::Resume | Flow::Refetch => exit::STEPPED,
        Flow::EndSlice => exit::END_SLICE,
        Flow::Exit => exit::VMM,
    }
}

/// The code address of the compiled block at virtual `pc` in the current address
/// space, or 0 when there is none (or the fetch translation is not cached).
///
/// # Safety
/// As for [`load`].
pub unsafe extern "C" fn lookup(hart: *mut Hart, frame: *mut Frame, pc: u64) -> u64 {
    // SAFETY: the caller's contract.
    let (hart, frame) = unsafe { (&mut *hart, &mut *frame) };
    let Some(page) = hart.icache.lookup(hart.mmu_index, pc) else {
        return 0;
    };
    // SAFETY: the decode cache's pages stay alive while compiled code runs (nothing
    // fills or drops pages until the block returns); the offset is below 4096.
    let slot = unsafe { &(*page).ops[((pc & 0xFFF) >> 1) as usize] };
    if !slot.has_block() {
        return 0;
    }
    // SAFETY: as above.
    frame.next_slots = unsafe { (&raw const (*page).ops) } as usize;
    frame.code_base as u64 + slot.block as u64
}
