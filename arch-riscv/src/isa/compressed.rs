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

/// The RV64C encodings (quadrants 0–2). Quadrant 0 funct3 4 and quadrant 1's
/// `100 1 11 .. 1x` (Zcb/reserved) have no line and so are illegal.
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

    // Quadrant 1
    "c.addi"      op16(1, 0)                        => base(|c| e::addi(rd(c), rd(c), ci_imm(c)));
    "c.addiw rd=0" op16(1, 1).rd(0)                 => RESERVED;
    "c.addiw"     op16(1, 1)                        => base(|c| e::addiw(rd(c), rd(c), ci_imm(c)));
    "c.li"        op16(1, 2)                        => base(|c| e::addi(rd(c), ZERO, ci_imm(c)));
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
static INDEX: Index<12> = {
    let mut ix = Index::new();
    let mut i = 0;
    while i < TABLE.len() {
        ix.push(key(TABLE[i].pattern.value), i);
        i += 1;
    }
    ix
};
