//! Integer ALU edge cases: division by zero and overflow, W-form sign extension,
//! high multiplies, shifts, compressed forms.

use super::run;
use crate::isa::encode::reg::*;

/// Runs `op a0 = a1 op a2` for each (a1, a2) and returns a0.
fn binary(
    op: fn(&mut crate::isa::encode::Assembler, u8, u8, u8) -> &mut crate::isa::encode::Assembler,
    a: u64,
    b: u64,
) -> u64 {
    let m = run(|p| {
        p.li(A1, a).li(A2, b);
        op(p, A0, A1, A2);
        p.ecall();
    });
    m.hart.reg(A0 as usize)
}

use crate::isa::encode::Assembler as A;

#[test]
fn division_by_zero_gives_all_ones_and_remainder_gives_the_dividend() {
    assert_eq!(binary(A::div, 42, 0), u64::MAX);
    assert_eq!(binary(A::divu, 42, 0), u64::MAX);
    assert_eq!(binary(A::rem, 42, 0), 42);
    assert_eq!(binary(A::remu, 42, 0), 42);
    assert_eq!(binary(A::divw, 42, 0), u64::MAX);
    assert_eq!(binary(A::divuw, 42, 0), u64::MAX);
    assert_eq!(binary(A::remw, (-7i64) as u64, 0), (-7i64) as u64);
    // remuw of a value whose low word has bit 31 set: the dividend's low word, sign-extended.
    assert_eq!(binary(A::remuw, 0x1_8000_0001, 0), 0xFFFF_FFFF_8000_0001);
}

#[test]
fn signed_division_overflow_returns_the_dividend_and_zero_remainder() {
    let min = i64::MIN as u64;
    assert_eq!(binary(A::div, min, u64::MAX), min);
    assert_eq!(binary(A::rem, min, u64::MAX), 0);
    let min32 = i32::MIN as i64 as u64;
    assert_eq!(binary(A::divw, min32, u64::MAX), min32);
    assert_eq!(binary(A::remw, min32, u64::MAX), 0);
}

#[test]
fn division_rounds_towards_zero() {
    assert_eq!(binary(A::div, (-7i64) as u64, 2), (-3i64) as u64);
    assert_eq!(binary(A::rem, (-7i64) as u64, 2), (-1i64) as u64);
    assert_eq!(binary(A::divu, u64::MAX, 2), u64::MAX / 2);
}

#[test]
fn w_forms_sign_extend_their_32_bit_results() {
    assert_eq!(binary(A::addw, 0x7FFF_FFFF, 1), 0xFFFF_FFFF_8000_0000);
    assert_eq!(binary(A::subw, 0, 1), u64::MAX);
    assert_eq!(binary(A::mulw, 0x10000, 0x8000), 0xFFFF_FFFF_8000_0000);
    assert_eq!(binary(A::sllw, 1, 31), 0xFFFF_FFFF_8000_0000);
    assert_eq!(binary(A::srlw, 0xFFFF_FFFF_8000_0000, 31), 1);
    assert_eq!(binary(A::sraw, 0x8000_0000, 31), u64::MAX);
    // Shift amounts use only 5 bits in W forms.
    assert_eq!(binary(A::sllw, 1, 33), 2);
    let m = run(|p| {
        p.li(A1, 0x7FFF_FFFF).addiw(A0, A1, 1).ecall();
    });
    assert_eq!(m.hart.reg(A0 as usize), 0xFFFF_FFFF_8000_0000);
}

#[test]
fn high_multiplies_follow_operand_signedness() {
    assert_eq!(binary(A::mulh, u64::MAX, u64::MAX), 0); // -1 * -1 = 1
    assert_eq!(binary(A::mulhu, u64::MAX, u64::MAX), u64::MAX - 1);
    assert_eq!(binary(A::mulhsu, u64::MAX, 2), u64::MAX); // -1 * 2 = -2
    assert_eq!(binary(A::mul, 1 << 63, 2), 0);
}

#[test]
fn shifts_use_six_bits_and_arithmetic_shift_keeps_the_sign() {
    assert_eq!(binary(A::sll, 1, 65), 2);
    assert_eq!(binary(A::sra, 1 << 63, 63), u64::MAX);
    assert_eq!(binary(A::srl, 1 << 63, 63), 1);
    let m = run(|p| {
        p.li(A1, 1 << 63)
            .srai(A0, A1, 62)
            .srli(A2, A1, 62)
            .slli(A3, A1, 0)
            .ecall();
    });
    assert_eq!(m.hart.reg(A0 as usize), (-2i64) as u64);
    assert_eq!(m.hart.reg(A2 as usize), 2);
    assert_eq!(m.hart.reg(A3 as usize), 1 << 63);
}

#[test]
fn comparisons_and_x0_stays_zero() {
    assert_eq!(binary(A::slt, u64::MAX, 0), 1);
    assert_eq!(binary(A::sltu, u64::MAX, 0), 0);
    let m = run(|p| {
        p.addi(ZERO, ZERO, 5).add(A0, ZERO, ZERO).ecall();
    });
    assert_eq!(m.hart.reg(0), 0);
    assert_eq!(m.hart.reg(A0 as usize), 0);
}

#[test]
fn compressed_instructions_execute_like_their_expansions() {
    let m = run(|p| {
        p.c_li(A0, 5)
            .c_addi(A0, -2)
            .c_mv(A1, A0)
            .c_add(A1, A0)
            .c_slli(A1, 4)
            .ecall();
    });
    assert_eq!(m.hart.reg(A0 as usize), 3);
    assert_eq!(m.hart.reg(A1 as usize), 96);
}

#[test]
fn jal_and_jalr_link_and_clear_bit_zero() {
    let m = run(|p| {
        let target = p.label();
        p.jal_to(RA, target);
        p.ecall(); // skipped
        p.bind(target);
        p.auipc(A1, 0).addi(A1, A1, 17).jalr(A2, A1, 0); // target has bit 0 set
        p.ecall();
        p.addi(A3, ZERO, 7).ecall();
    });
    assert_eq!(m.hart.reg(RA as usize), crate::layout::RAM_BASE + 4);
    assert_eq!(m.hart.reg(A3 as usize), 7);
}
