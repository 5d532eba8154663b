//! Zba, Zbb, Zbs and Zicond through the hart, with values from the specifications'
//! definitions; `qemu_user` compares random operands against QEMU.

use super::run;
use crate::isa::encode::Assembler as A;
use crate::isa::encode::reg::*;

type Binary = fn(&mut A, u8, u8, u8) -> &mut A;
type Unary = fn(&mut A, u8, u8) -> &mut A;
type Immediate = fn(&mut A, u8, u8, u32) -> &mut A;

/// `op a0, a1, a2` with a1 = `a`, a2 = `b`; returns a0.
fn binary(op: Binary, a: u64, b: u64) -> u64 {
    let m = run(|p| {
        p.li(A1, a).li(A2, b);
        op(p, A0, A1, A2);
        p.ecall();
    });
    m.hart.reg(A0 as usize)
}

/// `op a0, a1` with a1 = `a`; returns a0.
fn unary(op: Unary, a: u64) -> u64 {
    let m = run(|p| {
        p.li(A1, a);
        op(p, A0, A1);
        p.ecall();
    });
    m.hart.reg(A0 as usize)
}

/// `op a0, a1, imm` with a1 = `a`; returns a0.
fn immediate(op: Immediate, a: u64, imm: u32) -> u64 {
    let m = run(|p| {
        p.li(A1, a);
        op(p, A0, A1, imm);
        p.ecall();
    });
    m.hart.reg(A0 as usize)
}

#[test]
fn zba_adds_shifted_and_zero_extended_words() {
    let big = 0xFFFF_FFFF_8000_0001;
    assert_eq!(binary(A::add_uw, big, 1), 0x8000_0002);
    assert_eq!(binary(A::sh1add, 3, 100), 106);
    assert_eq!(binary(A::sh2add, 3, 100), 112);
    assert_eq!(binary(A::sh3add, 3, 100), 124);
    assert_eq!(binary(A::sh3add, 1 << 62, 0), 0); // the shift drops high bits
    assert_eq!(binary(A::sh1add_uw, big, 0), 0x1_0000_0002);
    assert_eq!(binary(A::sh2add_uw, big, 1), 0x2_0000_0005);
    assert_eq!(binary(A::sh3add_uw, big, 0), 0x4_0000_0008);
    assert_eq!(immediate(A::slli_uw, big, 0), 0x8000_0001);
    assert_eq!(immediate(A::slli_uw, big, 63), 1 << 63);
    assert_eq!(immediate(A::slli_uw, big, 32), 0x8000_0001 << 32);
}

#[test]
fn zbb_logic_with_negated_operand() {
    assert_eq!(binary(A::andn, 0xFF00, 0x0FF0), 0xF000);
    assert_eq!(binary(A::orn, 0, 0xFFFF_FFFF_FFFF_FF00), 0xFF);
    assert_eq!(binary(A::xnor, 0x1234, 0x1234), u64::MAX);
}

#[test]
fn zbb_counts_leading_and_trailing_zeros_and_population() {
    assert_eq!(unary(A::clz, 0), 64);
    assert_eq!(unary(A::clz, 1), 63);
    assert_eq!(unary(A::clz, 1 << 63), 0);
    // The W forms look at the low word only.
    assert_eq!(unary(A::clzw, 0xFFFF_FFFF_0000_0000), 32);
    assert_eq!(unary(A::clzw, 0x8000), 16);
    assert_eq!(unary(A::ctz, 0), 64);
    assert_eq!(unary(A::ctz, 0x100), 8);
    assert_eq!(unary(A::ctzw, 0xFFFF_FFFF_0000_0000), 32);
    assert_eq!(unary(A::ctzw, 1 << 31), 31);
    assert_eq!(unary(A::cpop, u64::MAX), 64);
    assert_eq!(unary(A::cpop, 0xF0F0), 8);
    assert_eq!(unary(A::cpopw, u64::MAX), 32);
}

#[test]
fn zbb_min_max_signed_and_unsigned() {
    let minus_one = u64::MAX;
    assert_eq!(binary(A::max, minus_one, 1), 1);
    assert_eq!(binary(A::maxu, minus_one, 1), minus_one);
    assert_eq!(binary(A::min, minus_one, 1), minus_one);
    assert_eq!(binary(A::minu, minus_one, 1), 1);
    assert_eq!(binary(A::min, 1 << 63, 0), 1 << 63);
}

#[test]
fn zbb_sign_and_zero_extension() {
    assert_eq!(unary(A::sext_b, 0x1_2380), 0xFFFF_FFFF_FFFF_FF80);
    assert_eq!(unary(A::sext_b, 0x7F), 0x7F);
    assert_eq!(unary(A::sext_h, 0x1_8001), 0xFFFF_FFFF_FFFF_8001);
    assert_eq!(unary(A::zext_h, u64::MAX), 0xFFFF);
}

#[test]
fn zbb_rotates_use_six_bits_and_w_forms_five_and_sign_extend() {
    assert_eq!(binary(A::rol, 1 << 63, 1), 1);
    assert_eq!(binary(A::rol, 1, 65), 2);
    assert_eq!(binary(A::ror, 1, 1), 1 << 63);
    assert_eq!(binary(A::rolw, 0x8000_0000, 1), 1);
    assert_eq!(binary(A::rolw, 0x4000_0000, 33), 0xFFFF_FFFF_8000_0000);
    assert_eq!(binary(A::rorw, 1, 1), 0xFFFF_FFFF_8000_0000);
    assert_eq!(binary(A::rorw, 0xFFFF_FFFF_0000_0002, 1), 1);
    assert_eq!(immediate(A::rori, 0x1234, 4), 0x4000_0000_0000_0123);
    assert_eq!(immediate(A::rori, 0x1234, 0), 0x1234);
    assert_eq!(immediate(A::roriw, 0x1_0000_0001, 1), 0xFFFF_FFFF_8000_0000);
}

#[test]
fn zbb_byte_operations() {
    assert_eq!(
        unary(A::orc_b, 0x0001_0080_0000_FF00),
        0x00FF_00FF_0000_FF00
    );
    assert_eq!(unary(A::orc_b, 0), 0);
    assert_eq!(unary(A::rev8, 0x0102_0304_0506_0708), 0x0807_0605_0403_0201);
}

#[test]
fn zbs_single_bit_operations_index_with_six_bits() {
    assert_eq!(binary(A::bclr, u64::MAX, 63), u64::MAX >> 1);
    assert_eq!(binary(A::bclr, u64::MAX, 64), u64::MAX - 1);
    assert_eq!(binary(A::bset, 0, 70), 1 << 6);
    assert_eq!(binary(A::binv, 0b101, 2), 0b001);
    assert_eq!(binary(A::bext, 1 << 40, 40), 1);
    assert_eq!(binary(A::bext, 1 << 40, 41), 0);
    assert_eq!(immediate(A::bclri, u64::MAX, 0), u64::MAX - 1);
    assert_eq!(immediate(A::bseti, 0, 63), 1 << 63);
    assert_eq!(immediate(A::binvi, 1 << 32, 32), 0);
    assert_eq!(immediate(A::bexti, 1 << 63, 63), 1);
}

#[test]
fn zicond_zeroes_on_the_condition() {
    assert_eq!(binary(A::czero_eqz, 42, 0), 0);
    assert_eq!(binary(A::czero_eqz, 42, 1 << 63), 42);
    assert_eq!(binary(A::czero_nez, 42, 0), 42);
    assert_eq!(binary(A::czero_nez, 42, 7), 0);
}

#[test]
fn results_to_x0_are_discarded_and_rd_may_alias_a_source() {
    let m = run(|p| {
        p.li(A1, 0xFF)
            .li(A2, 4)
            .sh2add(ZERO, A1, A2)
            .cpop(ZERO, A1)
            .rol(A1, A1, A2) // rd = rs1
            .bset(A2, A1, A2) // rd = rs2
            .ecall();
    });
    assert_eq!(m.hart.reg(0), 0);
    assert_eq!(m.hart.reg(A1 as usize), 0xFF0);
    assert_eq!(m.hart.reg(A2 as usize), 0xFF0 | 0x10);
}

#[test]
fn bitmanip_in_a_loop_across_slices() {
    // A loop long enough to span several slices: the out-of-line path keeps the pc
    // and the slice budget right.
    let m = run(|p| {
        p.li(A0, 0).li(A1, 20_000).li(A2, 0);
        let top = p.here();
        p.sh1add(A2, A0, A2).addi(A0, A0, 1);
        p.bne_to(A0, A1, top);
        p.ecall();
    });
    // sum of 2i for i < 20000
    assert_eq!(m.hart.reg(A2 as usize), 20_000 * 19_999);
}

#[test]
fn zcb_and_zcmop_run_as_their_expansions() {
    let data = crate::layout::RAM_BASE + 0x20_0000;
    let m = run(|p| {
        p.li(S0, data).li(S1, 0xFFFF_FFFF_8000_80F1);
        p.c_sb(S1, S0, 3).c_sh(S1, S0, 0); // bytes: f1 80 00 f1
        p.c_lbu(A0, S0, 3).c_lh(A1, S0, 0).c_lhu(A2, S0, 0);
        p.li(A3, 7).li(A4, -6i64 as u64).c_mul(A3, A4);
        p.li(A5, 0x1234).c_not(A5);
        p.li(A4, 0xFFFF_FFFF_8000_80F1).c_zext_w(A4);
        p.li(S1, 0x80F1).c_sext_b(S1);
        p.li(T0, 5);
        p.c_mop(5).c_mop(15); // c.mop.5 and c.mop.15 leave t0 and a5 alone
        p.ecall();
    });
    let reg = |r: u8| m.hart.reg(r as usize);
    assert_eq!(m.ram.read(data, 4), Some(0xF100_80F1));
    assert_eq!(reg(A0), 0xF1);
    assert_eq!(reg(A1), 0xFFFF_FFFF_FFFF_80F1);
    assert_eq!(reg(A2), 0x80F1);
    assert_eq!(reg(A3), -42i64 as u64);
    assert_eq!(reg(A5), !0x1234);
    assert_eq!(reg(A4), 0x8000_80F1);
    assert_eq!(reg(S1), 0xFFFF_FFFF_FFFF_FFF1);
    assert_eq!(reg(T0), 5);
}
