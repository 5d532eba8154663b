//! F and D through the hart: sstatus.FS gating and dirtiness, fcsr flags, dynamic
//! rounding, reserved rounding modes, NaN-boxing loads.

use super::run;
use crate::csr::{self, status};
use crate::isa::encode::reg::*;
use crate::isa::encode::rm;
use crate::layout::RAM_BASE;

const DATA: u64 = RAM_BASE + 0x8000;

#[test]
fn fp_instructions_are_illegal_while_fs_is_off() {
    let m = run(|p| {
        let handler = p.label();
        p.la(T0, handler).csrw(csr::STVEC, T0);
        p.fadd_d(1, 2, 3, rm::RNE).ecall();
        p.align(4);
        p.bind(handler);
        p.ecall();
    });
    assert_eq!(m.hart.csr(csr::SCAUSE), Some(2));
}

#[test]
fn division_sets_inexact_and_marks_state_dirty() {
    let m = run(|p| {
        p.li(T0, status::FS_INITIAL).csrs(csr::SSTATUS, T0);
        p.li(A1, 1)
            .fcvt_d_l(1, A1, rm::RNE)
            .li(A1, 3)
            .fcvt_d_l(2, A1, rm::RNE);
        p.fdiv_d(3, 1, 2, rm::DYN).fmv_x_d(A0, 3);
        p.csrr(A2, csr::FFLAGS).csrr(A3, csr::SSTATUS).ecall();
    });
    assert_eq!(m.hart.reg(A0 as usize), (1.0f64 / 3.0).to_bits());
    assert_eq!(m.hart.reg(A2 as usize), 0x01, "NX");
    let sstatus = m.hart.reg(A3 as usize);
    assert_eq!(sstatus & status::FS, status::FS_DIRTY);
    assert_ne!(sstatus & status::SD, 0);
}

#[test]
fn dynamic_rounding_uses_frm_and_reserved_modes_are_illegal() {
    let m = run(|p| {
        p.li(T0, status::FS_INITIAL).csrs(csr::SSTATUS, T0);
        p.csrrwi(ZERO, csr::FRM, rm::RUP);
        p.li(A1, 1)
            .fcvt_d_l(1, A1, rm::RNE)
            .li(A1, 3)
            .fcvt_d_l(2, A1, rm::RNE);
        p.fdiv_d(3, 1, 2, rm::DYN).fmv_x_d(A0, 3);
        let handler = p.label();
        p.la(T0, handler).csrw(csr::STVEC, T0);
        p.fadd_d(4, 1, 2, 5); // rm = 5 is reserved
        p.ecall();
        p.align(4);
        p.bind(handler);
        p.ecall();
    });
    assert_eq!(
        m.hart.reg(A0 as usize),
        (1.0f64 / 3.0).to_bits() + 1,
        "rounded up"
    );
    assert_eq!(m.hart.csr(csr::SCAUSE), Some(2));
}

#[test]
fn flw_nan_boxes_and_fsw_stores_the_low_word() {
    let m = run(|p| {
        p.li(T0, status::FS_INITIAL).csrs(csr::SSTATUS, T0);
        p.li(A1, DATA).li(A2, 0x3F80_0000).sw(A2, A1, 0);
        p.flw(1, A1, 0)
            .fmv_x_d(A0, 1)
            .fsw(1, A1, 8)
            .lwu(A3, A1, 8)
            .ecall();
    });
    assert_eq!(m.hart.reg(A0 as usize), 0xFFFF_FFFF_3F80_0000);
    assert_eq!(m.hart.reg(A3 as usize), 0x3F80_0000);
}
