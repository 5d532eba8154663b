//! The vector unit's state and traps: sstatus.VS gating and dirty tracking, and the
//! faults of vector loads (vstart set, fault-only-first trimming vl), which the
//! differential test against QEMU cannot provoke.

use super::{RAM_SIZE, TestMachine, run};
use crate::csr::{self, status};
use crate::isa::encode::reg::*;
use crate::isa::encode::{Assembler, VMem, vtype};
use crate::layout::RAM_BASE;

/// A program with a handler that ECALLs with a7 = 0x7E; `body` runs first (a7 =
/// 0x7F when it finishes without a trap).
fn with_handler(body: impl FnOnce(&mut Assembler)) -> TestMachine {
    run(|p| {
        let handler = p.label();
        p.la(T0, handler).csrw(csr::STVEC, T0);
        body(p);
        p.addi(A7, ZERO, 0x7F).ecall();
        p.align(4);
        p.bind(handler);
        p.addi(A7, ZERO, 0x7E).ecall();
    })
}

fn csr_of(m: &TestMachine, number: u16) -> u64 {
    m.hart.csr(number).expect("implemented CSR")
}

#[test]
fn vector_instructions_and_csrs_are_illegal_while_vs_is_off() {
    let m = with_handler(|p| {
        p.vsetvli(A0, ZERO, vtype(32, 0, true, true));
    });
    assert_eq!(csr_of(&m, csr::SCAUSE), 2);
    let m = with_handler(|p| {
        p.csrr(A0, csr::VLENB);
    });
    assert_eq!(csr_of(&m, csr::SCAUSE), 2);
}

#[test]
fn vector_work_marks_vs_dirty_and_sets_sd() {
    let m = with_handler(|p| {
        p.li(T0, status::VS & !(status::VS >> 1)) // VS = Clean
            .csrs(csr::SSTATUS, T0)
            .vsetvli(A0, ZERO, vtype(32, 1, true, true))
            .varith("vadd.vi", 8, 8, 1, false);
    });
    assert_eq!(m.hart.reg(17), 0x7F, "no trap");
    assert_eq!(m.hart.reg(10), 8, "VLMAX of e32 m2 at VLEN 128");
    let sstatus = csr_of(&m, csr::SSTATUS);
    assert_eq!(sstatus & status::VS, status::VS, "Dirty");
    assert_ne!(sstatus & status::SD, 0);
    let v8 = m.hart.vector().expect("V").reg(8).to_vec();
    assert_eq!(&v8[..4], &[1, 0, 0, 0]);
}

/// Loads 16 bytes with `mode` from 4 bytes before the end of RAM.
fn load_across_the_end_of_ram(mode: VMem) -> TestMachine {
    with_handler(|p| {
        p.li(T0, status::VS).csrs(csr::SSTATUS, T0);
        p.li(A1, RAM_BASE + RAM_SIZE - 4);
        p.vsetvli(A0, ZERO, vtype(8, 0, true, true));
        p.vload(mode, 1, 1, 8, A1, false);
        p.csrr(A2, csr::VL).csrr(A3, csr::VSTART);
    })
}

#[test]
fn a_faulting_vector_load_sets_vstart_to_the_element() {
    let m = load_across_the_end_of_ram(VMem::Unit);
    assert_eq!(csr_of(&m, csr::SCAUSE), 5, "load access fault");
    assert_eq!(csr_of(&m, csr::STVAL), RAM_BASE + RAM_SIZE);
    assert_eq!(csr_of(&m, csr::VSTART), 4);
}

#[test]
fn fault_only_first_trims_vl_instead_of_trapping() {
    let m = load_across_the_end_of_ram(VMem::FaultFirst);
    assert_eq!(m.hart.reg(17), 0x7F, "no trap");
    assert_eq!(
        m.hart.reg(12),
        4,
        "vl trimmed to the elements before the fault"
    );
    assert_eq!(m.hart.reg(13), 0, "vstart");
}
