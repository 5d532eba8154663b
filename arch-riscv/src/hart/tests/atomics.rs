//! The A extension: LR/SC reservations and AMO results, alignment faults.

use super::run;
use crate::csr;
use crate::isa::encode::reg::*;
use crate::layout::RAM_BASE;

const CELL: u64 = RAM_BASE + 0x8000;

#[test]
fn lr_sc_succeeds_on_a_reservation_and_fails_without_one() {
    let m = run(|p| {
        p.li(A1, CELL).li(A2, 5).sd(A2, A1, 0);
        p.lr_d(A0, A1, false, false)
            .addi(A2, A0, 1)
            .sc_d(A3, A2, A1, false, false);
        p.sc_d(A4, A2, A1, false, false); // reservation already used
        p.ecall();
    });
    assert_eq!(m.hart.reg(A0 as usize), 5);
    assert_eq!(m.hart.reg(A3 as usize), 0, "first SC succeeds");
    assert_eq!(m.hart.reg(A4 as usize), 1, "second SC fails");
    assert_eq!(m.read64(CELL), 6);
}

#[test]
fn amos_return_the_old_value_and_store_the_result() {
    let m = run(|p| {
        p.li(A1, CELL).li(A2, 0xFFFF_FFFF_0000_0010).sd(A2, A1, 0);
        p.li(A3, 3).amoadd_d(A0, A3, A1, true, true); // 0x..10 + 3
        p.li(A3, (-1i64) as u64).amomin_w(A4, A3, A1, false, false); // signed min of low word
        p.li(A3, 1).amomaxu_d(A5, A3, A1, false, false);
        p.ld(A6, A1, 0).ecall();
    });
    assert_eq!(m.hart.reg(A0 as usize), 0xFFFF_FFFF_0000_0010);
    assert_eq!(
        m.hart.reg(A4 as usize),
        0x13,
        "amomin.w returns the sign-extended old word"
    );
    assert_eq!(m.hart.reg(A5 as usize), 0xFFFF_FFFF_FFFF_FFFF);
    assert_eq!(m.hart.reg(A6 as usize), 0xFFFF_FFFF_FFFF_FFFF);
}

#[test]
fn misaligned_amo_is_a_store_address_misaligned_fault() {
    let m = run(|p| {
        let handler = p.label();
        p.la(T0, handler).csrw(csr::STVEC, T0);
        p.li(A1, CELL + 4)
            .amoswap_d(A0, A2, A1, false, false)
            .ecall();
        p.align(4);
        p.bind(handler);
        p.ecall();
    });
    assert_eq!(m.hart.csr(csr::SCAUSE), Some(6));
    assert_eq!(m.hart.csr(csr::STVAL), Some(CELL + 4));
}
