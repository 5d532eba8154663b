//! RV64C: expanding 16-bit compressed instructions into the 32-bit words they stand
//! for (ISA manual, chapter "C" Standard Extension, RVC opcode map).
//!
//! [`TABLE`] has one line per encoding with the base instruction it expands to,
//! written with the encoder. Reserved encodings have lines of their own that precede
//! the instruction they carve out of; every overlap between lines is listed in the
//! tests. The expanded word goes through the 32-bit decoder, so a compressed
//! instruction decodes to exactly the `Op` of its base equivalent, with `len == 2`.
//! HINTs (`rd` = 0 or a zero immediate where the manual allows them) expand like
//! the instruction they are a form of and so execute as no-ops.

use super::decode::{decode32, illegal};
use super::encode::{
    self as e,
    reg::{RA, SP, ZERO},
};
use super::table::{Index, Pattern};
use super::{Op, OpKind};

/// Decodes the 16-bit parcel `c`.
pub(super) fn decode16(c: u16) -> Op {
    let c = c as u32;
    let Some(expand) = lookup16(c).and_then(|e| e.expand) else {
        return illegal(c, 2);
    };
    let op = decode32(expand(c));
    // Every expansion is a valid base instruction; keep the raw parcel in case one
    // ever is not.
    if op.kind == OpKind::Illegal {
        return illegal(c, 2);
    }
    Op { len: 2, ..op }
}

/// The mnemonic of parcel `c`, or `None` if it is reserved.
pub(super) fn mnemonic16(c: u16) -> Option<&'static str> {
    lookup16(c as u32)
        .filter(|e| e.expand.is_some())
        .map(|e| e.name)
}

/// The first table line parcel `c` matches.
#[inline(always)]
fn lookup16(c: u32) -> Option<&'static CEntry> {
    for &line in INDEX.bucket(key(c)) {
        let e = &TABLE[line as usize];
        if e.pattern.matches(c) {
            return Some(e);
        }
    }
    None
}

/// The bucket key of a parcel: funct3 (bits 15:13) and quadrant (bits 1:0).
const fn key(c: u32) -> u32 {
    (c >> 13 & 7) << 2 | (c & 3)
}

/// Turns a parcel into the 32-bit instruction it stands for.
type Expand = fn(u32) -> u32;

/// One compressed encoding.
#[derive(Clone, Copy)]
pub(crate) struct CEntry {
    /// The mnemonic, or what the reserved line carves out.
    pub name: &'static str,
    /// The fixed bits (of the low 16).
    pub pattern: Pattern,
    /// The expansion; `None` for a reserved encoding.
    pub expand: Option<Expand>,
}

/// A line's expansion.
const fn base(f: Expand) -> Option<Expand> {
    Some(f)
}

/// The expansion of a reserved encoding.
const RESERVED: Option<Expand> = None;

/// A line's pattern, from quadrant and funct3.
const fn op16(quadrant: u32, funct3: u32) -> Pattern {
    Pattern::op16(quadrant, funct3)
}

// Register fields. The primed ones name x8..x15 (or f8..f15) in 3 bits.

/// `rd`/`rs1`, bits 11:7.
const fn rd(c: u32) -> u8 {
    (c >> 7 & 31) as u8
}

/// `rs2`, bits 6:2.
const fn rs2(c: u32) -> u8 {
    (c >> 2 & 31) as u8
}

/// `rd'`/`rs2'`, bits 4:2.
const fn rdp(c: u32) -> u8 {
    8 + (c >> 2 & 7) as u8
}

/// `rs1'`/`rd'`, bits 9:7.
const fn rs1p(c: u32) -> u8 {
    8 + (c >> 7 & 7) as u8
}

// Immediates. `f(c, lo, w) << n` puts bits lo..lo+w of the parcel at immediate bit n.

/// `width` bits of `c` from bit `lo`.
const fn f(c: u32, lo: u32, width: u32) -> u32 {
    c >> lo & ((1 << width) - 1)
}

/// `v` sign-extended from `bits` bits.
const fn sext(v: u32, bits: u32) -> i32 {
    ((v << (32 - bits)) as i32) >> (32 - bits)
}

/// CI immediate `imm[5]` = 12, `imm[4:0]` = 6:2, sign-extended (also c.lui's
/// `nzimm[17:12]`).
const fn ci_imm(c: u32) -> i32 {
    sext(f(c, 12, 1) << 5 | f(c, 2, 5), 6)
}

/// CI shift amount, `shamt[5]` = 12, `shamt[4:0]` = 6:2.
const fn ci_shamt(c: u32) -> u32 {
    f(c, 12, 1) << 5 | f(c, 2, 5)
}

/// c.addi4spn: `nzuimm[5:4|9:6|2|3]` = 12:5.
const fn ciw_nzuimm(c: u32) -> i32 {
    (f(c, 11, 2) << 4 | f(c, 7, 4) << 6 | f(c, 6, 1) << 2 | f(c, 5, 1) << 3) as i32
}

/// c.lw/c.sw: `uimm[5:3]` = 12:10, `uimm[2|6]` = 6:5.
const fn cl_w(c: u32) -> i32 {
    (f(c, 10, 3) << 3 | f(c, 6, 1) << 2 | f(c, 5, 1) << 6) as i32
}

/// c.lbu/c.sb (Zcb): `uimm[0|1]` = 6:5.
const fn zcb_b(c: u32) -> i32 {
    (f(c, 6, 1) | f(c, 5, 1) << 1) as i32
}

/// c.lh/c.lhu/c.sh (Zcb): `uimm[1]` = 5.
const fn zcb_h(c: u32) -> i32 {
    (f(c, 5, 1) << 1) as i32
}

/// c.ld/c.sd/c.fld/c.fsd: `uimm[5:3]` = 12:10, `uimm[7:6]` = 6:5.
const fn cl_d(c: u32) -> i32 {
    (f(c, 10, 3) << 3 | f(c, 5, 2) << 6) as i32
}

/// c.addi16sp: `nzimm[9]` = 12, `nzimm[4|6|8:7|5]` = 6:2, sign-extended.
const fn addi16sp_imm(c: u32) -> i32 {
    sext(
        f(c, 12, 1) << 9 | f(c, 6, 1) << 4 | f(c, 5, 1) << 6 | f(c, 3, 2) << 7 | f(c, 2, 1) << 5,
        10,
    )
}

/// c.j: `offset[11|4|9:8|10|6|7|3:1|5]` = 12:2, sign-extended.
const fn cj_offset(c: u32) -> i32 {
    sext(
        f(c, 12, 1) << 11
            | f(c, 11, 1) << 4
            | f(c, 9, 2) << 8
            | f(c, 8, 1) << 10
            | f(c, 7, 1) << 6
            | f(c, 6, 1) << 7
            | f(c, 3, 3) << 1
            | f(c, 2, 1) << 5,
        12,
    )
}

/// c.beqz/c.bnez: `offset[8|4:3]` = 12:10, `offset[7:6|2:1|5]` = 6:2, sign-extended.
const fn cb_offset(c: u32) -> i32 {
    sext(
        f(c, 12, 1) << 8 | f(c, 10, 2) << 3 | f(c, 5, 2) << 6 | f(c, 3, 2) << 1 | f(c, 2, 1) << 5,
        9,
    )
}

/// c.lwsp: `uimm[5]` = 12, `uimm[4:2|7:6]` = 6:2.
const fn lwsp_uimm(c: u32) -> i32 {
    (f(c, 12, 1) << 5 | f(c, 4, 3) << 2 | f(c, 2, 2) << 6) as i32
}

/// c.ldsp/c.fldsp: `uimm[5]` = 12, `uimm[4:3|8:6]` = 6:2.
const fn ldsp_uimm(c: u32) -> i32 {
    (f(c, 12, 1) << 5 | f(c, 5, 2) << 3 | f(c, 2, 3) << 6) as i32
}

/// c.swsp: `uimm[5:2|7:6]` = 12:7.
const fn swsp_uimm(c: u32) -> i32 {
    (f(c, 9, 4) << 2 | f(c, 7, 2) << 6) as i32
}

/// c.sdsp/c.fsdsp: `uimm[5:3|8:6]` = 12:7.
const fn sdsp_uimm(c: u32) -> i32 {
    (f(c, 10, 3) << 3 | f(c, 7, 3) << 6) as i32
}

macro_rules! ctable {
    ($( $name:literal $pattern:expr => $expand:expr; )*) => {
        [$(CEntry { name: $name, pattern: $pattern, expand: $expand },)*]
    };
}

/// The RV64C encodings (quadrants 0–2), with Zcb's and Zcmop's. Encodings with no
/// line are illegal.
pub(crate) const TABLE: &[CEntry] = &ctable! {
    // Quadrant 0
    "c.addi4spn nzuimm=0" op16(0, 0).field(5, 8, 0) => RESERVED;
    "c.addi4spn"  op16(0, 0)                        => base(|c| e::addi(rdp(c), SP, ciw_nzuimm(c)));
    "c.fld"       op16(0, 1)                        => base(|c| e::fld(rdp(c), rs1p(c), cl_d(c)));
    "c.lw"        op16(0, 2)                        => base(|c| e::lw(rdp(c), rs1p(c), cl_w(c)));
    "c.ld"        op16(0, 3)                        => base(|c| e::ld(rdp(c), rs1p(c), cl_d(c)));
    "c.fsd"       op16(0, 5)                        => base(|c| e::fsd(rdp(c), rs1p(c), cl_d(c)));
    "c.sw"        op16(0, 6)                        => base(|c| e::sw(rdp(c), rs1p(c), cl_w(c)));
    "c.sd"        op16(0, 7)                        => base(|c| e::sd(rdp(c), rs1p(c), cl_d(c)));
    "c.lbu"       op16(0, 4).field(10, 3, 0b000)    => base(|c| e::lbu(rdp(c), rs1p(c), zcb_b(c)));
    "c.lhu"       op16(0, 4).field(10, 3, 0b001).field(6, 1, 0) => base(|c| e::lhu(rdp(c), rs1p(c), zcb_h(c)));
    "c.lh"        op16(0, 4).field(10, 3, 0b001).field(6, 1, 1) => base(|c| e::lh(rdp(c), rs1p(c), zcb_h(c)));
    "c.sb"        op16(0, 4).field(10, 3, 0b010)    => base(|c| e::sb(rdp(c), rs1p(c), zcb_b(c)));
    "c.sh"        op16(0, 4).field(10, 3, 0b011).field(6, 1, 0) => base(|c| e::sh(rdp(c), rs1p(c), zcb_h(c)));

    // Quadrant 1
    "c.addi"      op16(1, 0)                        => base(|c| e::addi(rd(c), rd(c), ci_imm(c)));
    "c.addiw rd=0" op16(1, 1).rd(0)                 => RESERVED;
    "c.addiw"     op16(1, 1)                        => base(|c| e::addiw(rd(c), rd(c), ci_imm(c)));
    "c.li"        op16(1, 2)                        => base(|c| e::addi(rd(c), ZERO, ci_imm(c)));
    "c.mop.n"     op16(1, 3).field(12, 1, 0).field(11, 1, 0).field(7, 1, 1).field(2, 5, 0) => base(|_| e::nop());
    "c.lui nzimm=0" op16(1, 3).field(12, 1, 0).field(2, 5, 0) => RESERVED;
    "c.addi16sp"  op16(1, 3).rd(2)                  => base(|c| e::addi(SP, SP, addi16sp_imm(c)));
    "c.lui"       op16(1, 3)                        => base(|c| e::lui(rd(c), ci_imm(c)));
    "c.srli"      op16(1, 4).field(10, 2, 0b00)     => base(|c| e::srli(rs1p(c), rs1p(c), ci_shamt(c)));
    "c.srai"      op16(1, 4).field(10, 2, 0b01)     => base(|c| e::srai(rs1p(c), rs1p(c), ci_shamt(c)));
    "c.andi"      op16(1, 4).field(10, 2, 0b10)     => base(|c| e::andi(rs1p(c), rs1p(c), ci_imm(c)));
    "c.sub"       op16(1, 4).field(10, 3, 0b011).field(5, 2, 0) => base(|c| e::sub(rs1p(c), rs1p(c), rdp(c)));
    "c.xor"       op16(1, 4).field(10, 3, 0b011).field(5, 2, 1) => base(|c| e::xor(rs1p(c), rs1p(c), rdp(c)));
    "c.or"        op16(1, 4).field(10, 3, 0b011).field(5, 2, 2) => base(|c| e::or(rs1p(c), rs1p(c), rdp(c)));
    "c.and"       op16(1, 4).field(10, 3, 0b011).field(5, 2, 3) => base(|c| e::and(rs1p(c), rs1p(c), rdp(c)));
    "c.subw"      op16(1, 4).field(10, 3, 0b111).field(5, 2, 0) => base(|c| e::subw(rs1p(c), rs1p(c), rdp(c)));
    "c.addw"      op16(1, 4).field(10, 3, 0b111).field(5, 2, 1) => base(|c| e::addw(rs1p(c), rs1p(c), rdp(c)));
    "c.mul"       op16(1, 4).field(10, 3, 0b111).field(5, 2, 2) => base(|c| e::mul(rs1p(c), rs1p(c), rdp(c)));
    "c.zext.b"    op16(1, 4).field(10, 3, 0b111).field(5, 2, 3).field(2, 3, 0) => base(|c| e::andi(rs1p(c), rs1p(c), 0xff));
    "c.sext.b"    op16(1, 4).field(10, 3, 0b111).field(5, 2, 3).field(2, 3, 1) => base(|c| e::sext_b(rs1p(c), rs1p(c)));
    "c.zext.h"    op16(1, 4).field(10, 3, 0b111).field(5, 2, 3).field(2, 3, 2) => base(|c| e::zext_h(rs1p(c), rs1p(c)));
    "c.sext.h"    op16(1, 4).field(10, 3, 0b111).field(5, 2, 3).field(2, 3, 3) => base(|c| e::sext_h(rs1p(c), rs1p(c)));
    "c.zext.w"    op16(1, 4).field(10, 3, 0b111).field(5, 2, 3).field(2, 3, 4) => base(|c| e::add_uw(rs1p(c), rs1p(c), ZERO));
    "c.not"       op16(1, 4).field(10, 3, 0b111).field(5, 2, 3).field(2, 3, 5) => base(|c| e::xori(rs1p(c), rs1p(c), -1));
    "c.j"         op16(1, 5)                        => base(|c| e::jal(ZERO, cj_offset(c)));
    "c.beqz"      op16(1, 6)                        => base(|c| e::beq(rs1p(c), ZERO, cb_offset(c)));
    "c.bnez"      op16(1, 7)                        => base(|c| e::bne(rs1p(c), ZERO, cb_offset(c)));

    // Quadrant 2
    "c.slli"      op16(2, 0)                        => base(|c| e::slli(rd(c), rd(c), ci_shamt(c)));
    "c.fldsp"     op16(2, 1)                        => base(|c| e::fld(rd(c), SP, ldsp_uimm(c)));
    "c.lwsp rd=0" op16(2, 2).rd(0)                  => RESERVED;
    "c.lwsp"      op16(2, 2)                        => base(|c| e::lw(rd(c), SP, lwsp_uimm(c)));
    "c.ldsp rd=0" op16(2, 3).rd(0)                  => RESERVED;
    "c.ldsp"      op16(2, 3)                        => base(|c| e::ld(rd(c), SP, ldsp_uimm(c)));
    "c.jr rs1=0"  op16(2, 4).field(12, 1, 0).rd(0).field(2, 5, 0) => RESERVED;
    "c.jr"        op16(2, 4).field(12, 1, 0).field(2, 5, 0) => base(|c| e::jalr(ZERO, rd(c), 0));
    "c.mv"        op16(2, 4).field(12, 1, 0)        => base(|c| e::add(rd(c), ZERO, rs2(c)));
    "c.ebreak"    op16(2, 4).field(12, 1, 1).rd(0).field(2, 5, 0) => base(|_| e::ebreak());
    "c.jalr"      op16(2, 4).field(12, 1, 1).field(2, 5, 0) => base(|c| e::jalr(RA, rd(c), 0));
    "c.add"       op16(2, 4).field(12, 1, 1)        => base(|c| e::add(rd(c), rd(c), rs2(c)));
    "c.fsdsp"     op16(2, 5)                        => base(|c| e::fsd(rs2(c), SP, sdsp_uimm(c)));
    "c.swsp"      op16(2, 6)                        => base(|c| e::sw(rs2(c), SP, swsp_uimm(c)));
    "c.sdsp"      op16(2, 7)                        => base(|c| e::sd(rs2(c), SP, sdsp_uimm(c)));
};

/// [`TABLE`]'s lines bucketed by quadrant and funct3.
static INDEX: Index<16> = {
    let mut ix = Index::new();
    let mut i = 0;
    while i < TABLE.len() {
        ix.push(key(TABLE[i].pattern.value), i);
        i += 1;
    }
    ix
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::isa::SINK;
    use crate::isa::decode::decode;
    use crate::isa::decode::tests::k;
    use crate::isa::encode::reg::*;
    use crate::isa::encode::*;
    use crate::isa::table::overlapping_pairs;
    use OpKind::*;

    /// Each C instruction with edge operands: the parcel and the 32-bit word of its
    /// base equivalent, both assembled by llvm-mc 14, and our encoding of the parcel.
    #[rustfmt::skip]
    const KNOWN: &[(u16, u32, u16)] = &[
    (0x1fe8, 0x3fc10513, c_addi4spn(A0, 1020)), // c.addi4spn a0, sp, 1020 → addi a0, sp, 1020
    (0x0040, 0x00410413, c_addi4spn(S0, 4)), // c.addi4spn s0, sp, 4 → addi s0, sp, 4
    (0x3de8, 0x0f85b507, c_fld(10, A1, 248)), // c.fld fa0, 248(a1) → fld fa0, 248(a1)
    (0x2380, 0x0007b407, c_fld(8, A5, 0)), // c.fld fs0, 0(a5) → fld fs0, 0(a5)
    (0x5de8, 0x07c5a503, c_lw(A0, A1, 124)), // c.lw a0, 124(a1) → lw a0, 124(a1)
    (0x405c, 0x00442783, c_lw(A5, S0, 4)), // c.lw a5, 4(s0) → lw a5, 4(s0)
    (0x7de8, 0x0f85b503, c_ld(A0, A1, 248)), // c.ld a0, 248(a1) → ld a0, 248(a1)
    (0x6784, 0x0087b483, c_ld(S1, A5, 8)), // c.ld s1, 8(a5) → ld s1, 8(a5)
    (0xbde8, 0x0ea5bc27, c_fsd(10, A1, 248)), // c.fsd fa0, 248(a1) → fsd fa0, 248(a1)
    (0xdde8, 0x06a5ae23, c_sw(A0, A1, 124)), // c.sw a0, 124(a1) → sw a0, 124(a1)
    (0xc03c, 0x04f42023, c_sw(A5, S0, 64)), // c.sw a5, 64(s0) → sw a5, 64(s0)
    (0xfde8, 0x0ea5bc23, c_sd(A0, A1, 248)), // c.sd a0, 248(a1) → sd a0, 248(a1)
    (0x0001, 0x00000013, c_nop()), // c.nop → addi zero, zero, 0
    (0x1501, 0xfe050513, c_addi(A0, -32)), // c.addi a0, -32 → addi a0, a0, -32
    (0x0ffd, 0x01ff8f93, c_addi(T6, 31)), // c.addi t6, 31 → addi t6, t6, 31
    (0x257d, 0x01f5051b, c_addiw(A0, 31)), // c.addiw a0, 31 → addiw a0, a0, 31
    (0x2081, 0x0000809b, c_addiw(RA, 0)), // c.addiw ra, 0 → addiw ra, ra, 0
    (0x557d, 0xfff00513, c_li(A0, -1)), // c.li a0, -1 → addi a0, zero, -1
    (0x4501, 0x00000513, c_li(A0, 0)), // c.li a0, 0 → addi a0, zero, 0
    (0x7101, 0xe0010113, c_addi16sp(-512)), // c.addi16sp sp, -512 → addi sp, sp, -512
    (0x617d, 0x1f010113, c_addi16sp(496)), // c.addi16sp sp, 496 → addi sp, sp, 496
    (0x6141, 0x01010113, c_addi16sp(16)), // c.addi16sp sp, 16 → addi sp, sp, 16
    (0x7501, 0xfffe0537, c_lui(A0, -32)), // c.lui a0, 0xfffe0 → lui a0, 0xfffe0
    (0x6ffd, 0x0001ffb7, c_lui(T6, 31)), // c.lui t6, 31 → lui t6, 31
    (0x6085, 0x000010b7, c_lui(RA, 1)), // c.lui ra, 1 → lui ra, 1
    (0x917d, 0x03f55513, c_srli(A0, 63)), // c.srli a0, 63 → srli a0, a0, 63
    (0x8005, 0x00145413, c_srli(S0, 1)), // c.srli s0, 1 → srli s0, s0, 1
    (0x8505, 0x40155513, c_srai(A0, 1)), // c.srai a0, 1 → srai a0, a0, 1
    (0x9781, 0x4207d793, c_srai(A5, 32)), // c.srai a5, 32 → srai a5, a5, 32
    (0x9901, 0xfe057513, c_andi(A0, -32)), // c.andi a0, -32 → andi a0, a0, -32
    (0x88fd, 0x01f4f493, c_andi(S1, 31)), // c.andi s1, 31 → andi s1, s1, 31
    (0x8d0d, 0x40b50533, c_sub(A0, A1)), // c.sub a0, a1 → sub a0, a0, a1
    (0x8d2d, 0x00b54533, c_xor(A0, A1)), // c.xor a0, a1 → xor a0, a0, a1
    (0x8d4d, 0x00b56533, c_or(A0, A1)), // c.or a0, a1 → or a0, a0, a1
    (0x8d6d, 0x00b57533, c_and(A0, A1)), // c.and a0, a1 → and a0, a0, a1
    (0x9d0d, 0x40b5053b, c_subw(A0, A1)), // c.subw a0, a1 → subw a0, a0, a1
    (0x9c3d, 0x00f4043b, c_addw(S0, A5)), // c.addw s0, a5 → addw s0, s0, a5
    (0xb001, 0x801ff06f, c_j(-2048)), // c.j -2048 → jal zero, -2048
    (0xaffd, 0x7fe0006f, c_j(2046)), // c.j 2046 → jal zero, 2046
    (0xa9c9, 0x4d20006f, c_j(1234)), // c.j 1234 → jal zero, 1234
    (0xd101, 0xf00500e3, c_beqz(A0, -256)), // c.beqz a0, -256 → beq a0, zero, -256
    (0xccbd, 0x06048f63, c_beqz(S1, 126)), // c.beqz s1, 126 → beq s1, zero, 126
    (0xed7d, 0x0e051f63, c_bnez(A0, 254)), // c.bnez a0, 254 → bne a0, zero, 254
    (0xfffd, 0xfe079fe3, c_bnez(A5, -2)), // c.bnez a5, -2 → bne a5, zero, -2
    (0x157e, 0x03f51513, c_slli(A0, 63)), // c.slli a0, 63 → slli a0, a0, 63
    (0x0f86, 0x001f9f93, c_slli(T6, 1)), // c.slli t6, 1 → slli t6, t6, 1
    (0x357e, 0x1f813507, c_fldsp(10, 504)), // c.fldsp fa0, 504(sp) → fld fa0, 504(sp)
    (0x2002, 0x00013007, c_fldsp(0, 0)), // c.fldsp ft0, 0(sp) → fld ft0, 0(sp)
    (0x557e, 0x0fc12503, c_lwsp(A0, 252)), // c.lwsp a0, 252(sp) → lw a0, 252(sp)
    (0x4092, 0x00412083, c_lwsp(RA, 4)), // c.lwsp ra, 4(sp) → lw ra, 4(sp)
    (0x757e, 0x1f813503, c_ldsp(A0, 504)), // c.ldsp a0, 504(sp) → ld a0, 504(sp)
    (0x60a2, 0x00813083, c_ldsp(RA, 8)), // c.ldsp ra, 8(sp) → ld ra, 8(sp)
    (0x8502, 0x00050067, c_jr(A0)), // c.jr a0 → jalr zero, 0(a0)
    (0x8082, 0x00008067, c_jr(RA)), // c.jr ra → jalr zero, 0(ra)
    (0x852e, 0x00b00533, c_mv(A0, A1)), // c.mv a0, a1 → add a0, zero, a1
    (0x9002, 0x00100073, c_ebreak()), // c.ebreak → ebreak
    (0x9502, 0x000500e7, c_jalr(A0)), // c.jalr a0 → jalr ra, 0(a0)
    (0x952e, 0x00b50533, c_add(A0, A1)), // c.add a0, a1 → add a0, a0, a1
    (0x9ffe, 0x01ff8fb3, c_add(T6, T6)), // c.add t6, t6 → add t6, t6, t6
    (0xbfaa, 0x1ea13c27, c_fsdsp(10, 504)), // c.fsdsp fa0, 504(sp) → fsd fa0, 504(sp)
    (0xdfaa, 0x0ea12e23, c_swsp(A0, 252)), // c.swsp a0, 252(sp) → sw a0, 252(sp)
    (0xc206, 0x00112223, c_swsp(RA, 4)), // c.swsp ra, 4(sp) → sw ra, 4(sp)
    (0xffaa, 0x1ea13c23, c_sdsp(A0, 504)), // c.sdsp a0, 504(sp) → sd a0, 504(sp)
    (0xe402, 0x00013423, c_sdsp(ZERO, 8)), // c.sdsp zero, 8(sp) → sd zero, 8(sp)
    ];

    #[test]
    fn parcels_expand_to_their_base_instruction() {
        for &(parcel, base, ours) in KNOWN {
            assert_eq!(ours, parcel, "our encoding of {parcel:#06x}");
            let want = Op {
                len: 2,
                ..decode(base)
            };
            assert_ne!(want.kind, Illegal, "{base:#010x}");
            assert_eq!(decode(parcel.into()), want, "{parcel:#06x} vs {base:#010x}");
        }
    }

    #[test]
    fn reserved_parcels_are_illegal() {
        let cases: &[(u16, &str)] = &[
            (0x0000, "all-zero parcel (c.addi4spn with nzuimm 0)"),
            (0x0004, "c.addi4spn s1, sp, 0"),
            (0x001c, "c.addi4spn a5, sp, 0"),
            (0x2005, "c.addiw zero, 1"),
            (0x6501, "c.lui a0, 0"),
            (0x6001, "c.lui zero, 0"),
            (0x6101, "c.addi16sp sp, 0"),
            (0x4002, "c.lwsp zero, 0(sp)"),
            (0x5002, "c.lwsp zero, 32(sp)"),
            (0x6002, "c.ldsp zero, 0(sp)"),
            (0x7002, "c.ldsp zero, 32(sp)"),
            (0x8002, "c.jr zero"),
            (
                0x9000,
                "quadrant 0 100 100 (reserved beside Zcb's loads and stores)",
            ),
            (0x9c00, "quadrant 0 100 111"),
            (0x8c40, "c.sh with bit 6 set"),
            (
                0x9c79,
                "100 1 11 .. 11 110 (reserved beside Zcb's unary ops)",
            ),
            (0x9c7d, "100 1 11 .. 11 111"),
        ];
        for &(parcel, what) in cases {
            let op = decode(parcel.into());
            assert_eq!(op, k(Illegal).imm(parcel.into()).c().0, "{what}");
            assert_eq!(mnemonic16(parcel), None, "{what}");
        }
    }

    #[test]
    fn hints_decode_as_harmless_base_instructions() {
        let cases: &[(u16, Op)] = &[
            (0x0005, k(Addi).rd(SINK).imm(1).c().0),     // c.nop 1
            (0x1005, k(Addi).rd(SINK).imm(-31).c().0),   // c.nop -31
            (0x0501, k(Addi).rd(10).rs1(10).c().0),      // c.addi a0, 0
            (0x4015, k(Addi).rd(SINK).imm(5).c().0),     // c.li zero, 5
            (0x6005, k(Lui).rd(SINK).imm(0x1000).c().0), // c.lui zero, 1
            (0x802e, k(Add).rd(SINK).rs2(11).c().0),     // c.mv zero, a1
            (0x902e, k(Add).rd(SINK).rs2(11).c().0),     // c.add zero, a1
            (0x0006, k(Slli).rd(SINK).imm(1).c().0),     // c.slli zero, 1
            (0x0502, k(Slli).rd(10).rs1(10).c().0),      // c.slli64 a0
            (0x0082, k(Slli).rd(1).rs1(1).c().0),        // c.slli64 ra
            (0x8001, k(Srli).rd(8).rs1(8).c().0),        // c.srli64 s0
            (0x8401, k(Srai).rd(8).rs1(8).c().0),        // c.srai64 s0
        ];
        for &(parcel, want) in cases {
            assert_eq!(decode(parcel.into()), want, "{parcel:#06x}");
        }
    }

    #[test]
    fn table_overlaps_only_where_listed() {
        // Each pair is (earlier line, later line); the earlier one wins.
        let intended = vec![
            ("c.addi4spn nzuimm=0", "c.addi4spn"),
            ("c.addiw rd=0", "c.addiw"),
            ("c.mop.n", "c.lui nzimm=0"),
            ("c.mop.n", "c.lui"),
            ("c.lui nzimm=0", "c.addi16sp"),
            ("c.lui nzimm=0", "c.lui"),
            ("c.addi16sp", "c.lui"),
            ("c.lwsp rd=0", "c.lwsp"),
            ("c.ldsp rd=0", "c.ldsp"),
            ("c.jr rs1=0", "c.jr"),
            ("c.jr rs1=0", "c.mv"),
            ("c.jr", "c.mv"),
            ("c.ebreak", "c.jalr"),
            ("c.ebreak", "c.add"),
            ("c.jalr", "c.add"),
        ];
        let lines: Vec<_> = TABLE.iter().map(|e| (e.name, e.pattern)).collect();
        assert_eq!(overlapping_pairs(&lines), intended);
    }

    #[test]
    fn table_lines_fix_quadrant_and_funct3() {
        for e in TABLE {
            let p = e.pattern;
            assert_eq!(p.mask & 0xe003, 0xe003, "{}", e.name);
            assert!(p.mask < 0x1_0000 && p.value & !p.mask == 0, "{}", e.name);
            assert_ne!(p.value & 3, 3, "{}", e.name);
        }
    }

    #[test]
    fn every_parcel_decodes() {
        let mut legal = 0;
        for c in 0..=u16::MAX {
            if c & 3 == 3 {
                continue;
            }
            let op = decode(c.into());
            assert_eq!(op.len, 2, "{c:#06x}");
            // The high half of the word is ignored.
            assert_eq!(decode(u32::from(c) | 0xdead_0000), op, "{c:#06x}");
            if op.kind == Illegal {
                assert_eq!(op.imm, i32::from(c), "{c:#06x}");
                assert_eq!(mnemonic16(c), None);
            } else {
                legal += 1;
                assert!(mnemonic16(c).is_some_and(|m| m.starts_with("c.")));
            }
        }
        // 49152 parcels, of which these decode in RV64C; LLVM's disassembler agrees
        // on each one's operands (it also accepts the reserved c.lui rd, 0). Zcb adds
        // 896 loads and stores, 64 c.mul and 48 unary operations; Zcmop 8 c.mop.n.
        assert_eq!(legal, 46_743 + 896 + 64 + 48 + 8);
    }

    #[test]
    fn compressed_encoders_round_trip() {
        // Each compressed encoder against the 32-bit encoder of its expansion.
        let full = [0u8, 1, 2, 10, 31];
        let primed = [8u8, 9, 12, 15];
        let c = |parcel: u16, base: u32| {
            let want = Op {
                len: 2,
                ..decode(base)
            };
            assert_eq!(decode(parcel.into()), want, "{parcel:#06x}");
        };
        for rd in primed {
            for rs in primed {
                for u in [0, 8, 64, 128, 248] {
                    c(c_fld(rd, rs, u), fld(rd, rs, u as i32));
                    c(c_ld(rd, rs, u), ld(rd, rs, u as i32));
                    c(c_fsd(rd, rs, u), fsd(rd, rs, u as i32));
                    c(c_sd(rd, rs, u), sd(rd, rs, u as i32));
                }
                for u in [0, 4, 60, 64, 124] {
                    c(c_lw(rd, rs, u), lw(rd, rs, u as i32));
                    c(c_sw(rd, rs, u), sw(rd, rs, u as i32));
                }
                c(c_sub(rd, rs), sub(rd, rd, rs));
                c(c_xor(rd, rs), xor(rd, rd, rs));
                c(c_or(rd, rs), or(rd, rd, rs));
                c(c_and(rd, rs), and(rd, rd, rs));
                c(c_subw(rd, rs), subw(rd, rd, rs));
                c(c_addw(rd, rs), addw(rd, rd, rs));
            }
            for u in [4, 8, 16, 512, 1020] {
                c(c_addi4spn(rd, u), addi(rd, SP, u as i32));
            }
            for s in [0, 1, 31, 32, 63] {
                c(c_srli(rd, s), srli(rd, rd, s));
                c(c_srai(rd, s), srai(rd, rd, s));
            }
            for i in [-32, -1, 0, 1, 31] {
                c(c_andi(rd, i), andi(rd, rd, i));
            }
            for off in [-256, -2, 0, 2, 128, 254] {
                c(c_beqz(rd, off), beq(rd, ZERO, off));
                c(c_bnez(rd, off), bne(rd, ZERO, off));
            }
        }
        for rd in full {
            for i in [-32, -1, 0, 1, 31] {
                c(c_addi(rd, i), addi(rd, rd, i));
                c(c_li(rd, i), addi(rd, ZERO, i));
                if rd != 0 {
                    c(c_addiw(rd, i), addiw(rd, rd, i));
                }
                if rd != 2 && i != 0 {
                    c(c_lui(rd, i), lui(rd, i));
                }
            }
            for s in [0, 1, 31, 32, 63] {
                c(c_slli(rd, s), slli(rd, rd, s));
            }
            for u in [0, 8, 256, 504] {
                c(c_fldsp(rd, u), fld(rd, SP, u as i32));
                c(c_fsdsp(rd, u), fsd(rd, SP, u as i32));
                c(c_sdsp(rd, u), sd(rd, SP, u as i32));
                if rd != 0 {
                    c(c_ldsp(rd, u), ld(rd, SP, u as i32));
                }
            }
            for u in [0, 4, 128, 252] {
                c(c_swsp(rd, u), sw(rd, SP, u as i32));
                if rd != 0 {
                    c(c_lwsp(rd, u), lw(rd, SP, u as i32));
                }
            }
            for rs2 in full.into_iter().filter(|&r| r != 0) {
                c(c_mv(rd, rs2), add(rd, ZERO, rs2));
                c(c_add(rd, rs2), add(rd, rd, rs2));
            }
            if rd != 0 {
                c(c_jr(rd), jalr(ZERO, rd, 0));
                c(c_jalr(rd), jalr(RA, rd, 0));
            }
        }
        for i in [-512, -16, 16, 256, 496] {
            c(c_addi16sp(i), addi(SP, SP, i));
        }
        for off in [-2048, -1024, -2, 0, 2, 1024, 2046] {
            c(c_j(off), jal(ZERO, off));
        }
        c(c_nop(), nop());
        c(c_ebreak(), ebreak());
        // Zcb and Zcmop.
        for rd in primed {
            for rs in primed {
                for u in 0..4 {
                    c(c_lbu(rd, rs, u), lbu(rd, rs, u as i32));
                    c(c_sb(rd, rs, u), sb(rd, rs, u as i32));
                }
                for u in [0, 2] {
                    c(c_lhu(rd, rs, u), lhu(rd, rs, u as i32));
                    c(c_lh(rd, rs, u), lh(rd, rs, u as i32));
                    c(c_sh(rd, rs, u), sh(rd, rs, u as i32));
                }
                c(c_mul(rd, rs), mul(rd, rd, rs));
            }
            c(c_zext_b(rd), andi(rd, rd, 0xff));
            c(c_sext_b(rd), sext_b(rd, rd));
            c(c_zext_h(rd), zext_h(rd, rd));
            c(c_sext_h(rd), sext_h(rd, rd));
            c(c_zext_w(rd), add_uw(rd, rd, ZERO));
            c(c_not(rd), xori(rd, rd, -1));
        }
        for n in (1..16).step_by(2) {
            c(c_mop(n), nop());
        }
    }
}
