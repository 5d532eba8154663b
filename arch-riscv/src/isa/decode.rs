//! Decoding of 16- and 32-bit instructions into [`Op`]s.
//!
//! The 32-bit decoder is a table (`TABLE`): one line per encoding giving the
//! mnemonic, the [`OpKind`], the operand format and the fixed bits, written field by
//! field after the opcode maps of the unprivileged ISA manual (chapter "RV32/64G
//! Instruction Set Listings") and the privileged manual's hypervisor chapter. A word
//! that matches no line is [`OpKind::Illegal`]. Compressed instructions are expanded
//! (module `compressed`) into the 32-bit word they stand for and decoded here, so
//! they produce exactly the `Op` of their base equivalent.

use super::compressed;
use super::table::{Index, Pattern};
use super::{Op, OpKind, SINK};

/// Decodes one instruction.
///
/// When `bits & 3 != 3` the instruction is the 16-bit parcel in the low half (the
/// high half is ignored) and decodes to its base equivalent with `len == 2`;
/// otherwise it is a 32-bit instruction with `len == 4`. Reserved and unknown
/// encodings give [`OpKind::Illegal`] with the raw bits (zero-extended for 16-bit
/// parcels) in `imm` and `len` set as above. Never panics.
pub fn decode(bits: u32) -> Op {
    if bits & 3 != 3 {
        compressed::decode16(bits as u16)
    } else {
        decode32(bits)
    }
}

/// The mnemonic of an instruction (`"addi"`, `"c.addi"`, ...), or `None` if it is
/// reserved or unknown. For traces and diagnostics; [`decode`] is the fast path.
pub fn mnemonic(bits: u32) -> Option<&'static str> {
    if bits & 3 != 3 {
        compressed::mnemonic16(bits as u16)
    } else {
        lookup32(bits)
            .map(|e| e.name)
            .or_else(|| super::vector::lookup(bits).map(|l| l.name))
    }
}

/// Decodes a 32-bit instruction (`bits & 3` must be 3).
pub(super) fn decode32(bits: u32) -> Op {
    if super::vector::is_vector_major(bits) {
        return super::vector::decode(bits).unwrap_or(illegal(bits, 4));
    }
    match lookup32(bits) {
        Some(e) => e.format.build(e.kind, bits),
        None => illegal(bits, 4),
    }
}

/// The table line a 32-bit instruction matches.
#[inline(always)]
fn lookup32(bits: u32) -> Option<&'static Entry> {
    for &line in INDEX.bucket(major(bits)) {
        let e = &TABLE[line as usize];
        if e.pattern.matches(bits) {
            return Some(e);
        }
    }
    None
}

/// The `Illegal` op for an instruction of `len` bytes.
pub(super) const fn illegal(bits: u32, len: u8) -> Op {
    Op {
        kind: OpKind::Illegal,
        imm: bits as i32,
        len,
        ..Op::UNDECODED
    }
}

/// The bucket key of a 32-bit instruction: the major opcode, bits 6:2.
const fn major(bits: u32) -> u32 {
    (bits >> 2) & 31
}

/// How an encoding's operand fields become an [`Op`]'s fields.
///
/// An "x" destination is an integer register (0 becomes [`SINK`]); an "f"
/// destination is an FP register and is kept as is. Fields a format does not name
/// stay zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// x `rd`, `rs1`, `rs2`.
    R,
    /// x `rd`, `rs1`, sign-extended 12-bit `imm`.
    I,
    /// x `rd`, `rs1`, `imm` = shift amount (bits 25:20; the W forms fix bit 25 to 0).
    Shamt,
    /// `rs1`, `rs2`, sign-extended S-immediate.
    S,
    /// `rs1`, `rs2`, sign-extended branch offset.
    B,
    /// x `rd`, `imm` = bits 31:12 << 12, sign-extended from 32 bits.
    U,
    /// x `rd`, sign-extended jump offset.
    J,
    /// x `rd`, `rs1` (register or 5-bit uimm), `imm` = CSR number (unsigned).
    Csr,
    /// x `rd`, `rs1`, `rs2`, `rm` = aq/rl (bits 26:25).
    Amo,
    /// `imm` = fm/pred/succ (bits 31:20, unsigned).
    Fence,
    /// No operands.
    None,
    /// `rs1`, `rs2` (SFENCE.VMA and HFENCE address/ID; HSV base/data).
    Rs,
    /// `rs1` (the cache-block operations' address).
    Rs1,
    /// x `rd`, `rs1`.
    XRs1,
    /// x `rd`, `rs1`, `rm`.
    XRs1Rm,
    /// f `rd`, `rs1`, sign-extended 12-bit `imm` (FP loads).
    FLoad,
    /// f `rd`, `rs1`, `rs2`, `rs3`, `rm` (fused multiply-add).
    FR4,
    /// f `rd`, `rs1`, `rs2`, `rm`.
    FRRm,
    /// f `rd`, `rs1`, `rs2` (funct3 selects the operation, so no `rm`).
    FR,
    /// f `rd`, `rs1`, `rm`.
    FRs1Rm,
    /// f `rd`, `rs1`.
    FRs1,
}

impl Format {
    /// Extracts the operands of the 32-bit instruction `b` into an `Op` of `kind`.
    #[inline(always)]
    fn build(self, kind: OpKind, b: u32) -> Op {
        let rd = ((b >> 7) & 31) as u8;
        let xrd = if rd == 0 { SINK } else { rd };
        let rs1 = ((b >> 15) & 31) as u8;
        let rs2 = ((b >> 20) & 31) as u8;
        let rm = ((b >> 12) & 7) as u8;
        let imm_i = (b as i32) >> 20;
        let mut op = Op {
            kind,
            len: 4,
            ..Op::UNDECODED
        };
        match self {
            Format::R => (op.rd, op.rs1, op.rs2) = (xrd, rs1, rs2),
            Format::I => (op.rd, op.rs1, op.imm) = (xrd, rs1, imm_i),
            Format::Shamt => (op.rd, op.rs1, op.imm) = (xrd, rs1, ((b >> 20) & 63) as i32),
            Format::S => (op.rs1, op.rs2, op.imm) = (rs1, rs2, imm_s(b)),
            Format::B => (op.rs1, op.rs2, op.imm) = (rs1, rs2, imm_b(b)),
            Format::U => (op.rd, op.imm) = (xrd, (b & 0xffff_f000) as i32),
            Format::J => (op.rd, op.imm) = (xrd, imm_j(b)),
            Format::Csr => (op.rd, op.rs1, op.imm) = (xrd, rs1, (b >> 20) as i32),
            Format::Amo => (op.rd, op.rs1, op.rs2, op.rm) = (xrd, rs1, rs2, ((b >> 25) & 3) as u8),
            Format::Fence => op.imm = (b >> 20) as i32,
            Format::None => {}
            Format::Rs => (op.rs1, op.rs2) = (rs1, rs2),
            Format::Rs1 => op.rs1 = rs1,
            Format::XRs1 => (op.rd, op.rs1) = (xrd, rs1),
            Format::XRs1Rm => (op.rd, op.rs1, op.rm) = (xrd, rs1, rm),
            Format::FLoad => (op.rd, op.rs1, op.imm) = (rd, rs1, imm_i),
            Format::FR4 => {
                (op.rd, op.rs1, op.rs2, op.rm) = (rd, rs1, rs2, rm);
                op.rs3 = (b >> 27) as u8;
            }
            Format::FRRm => (op.rd, op.rs1, op.rs2, op.rm) = (rd, rs1, rs2, rm),
            Format::FR => (op.rd, op.rs1, op.rs2) = (rd, rs1, rs2),
            Format::FRs1Rm => (op.rd, op.rs1, op.rm) = (rd, rs1, rm),
            Format::FRs1 => (op.rd, op.rs1) = (rd, rs1),
        }
        op
    }
}

/// S-type immediate: imm[11:5] = bits 31:25, imm[4:0] = bits 11:7.
const fn imm_s(b: u32) -> i32 {
    ((b & 0xfe00_0000) as i32 >> 20) | ((b >> 7) & 0x1f) as i32
}

/// B-type offset: imm[12|10:5] = bits 31:25, imm[4:1|11] = bits 11:7.
const fn imm_b(b: u32) -> i32 {
    ((b & 0x8000_0000) as i32 >> 19)
        | ((b & 0x80) << 4) as i32
        | ((b >> 20) & 0x7e0) as i32
        | ((b >> 7) & 0x1e) as i32
}

/// J-type offset: imm[20|10:1|11|19:12] = bits 31:12.
const fn imm_j(b: u32) -> i32 {
    ((b & 0x8000_0000) as i32 >> 11)
        | (b & 0xf_f000) as i32
        | ((b >> 9) & 0x800) as i32
        | ((b >> 20) & 0x7fe) as i32
}

/// One encoding of the decode table.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Entry {
    /// The assembler mnemonic, for tests and diagnostics.
    pub name: &'static str,
    /// What the encoding decodes to.
    pub kind: OpKind,
    /// Where its operands are.
    pub format: Format,
    /// Its fixed bits.
    pub pattern: Pattern,
}

use super::opcode::*;

/// A line's pattern, starting from its major opcode.
const fn op(opcode: u32) -> Pattern {
    Pattern::op32(opcode)
}

/// `funct3` of the A extension's word (`.W`) and doubleword (`.D`) forms.
const W: u32 = 2;
const D: u32 = 3;

/// FP `fmt` values.
const S_: u32 = 0;
const D_: u32 = 1;

macro_rules! table {
    ($( $name:literal $kind:ident $format:ident $pattern:expr; )*) => {
        [$(Entry {
            name: $name,
            kind: OpKind::$kind,
            format: Format::$format,
            pattern: $pattern,
        },)*]
    };
}

/// The 32-bit encodings of RV64IMAFD, Zicsr, Zifencei, the privileged instructions,
/// the hypervisor extension and the scalar RVA23 extensions.
///
/// Deliberate choices: FENCE matches any fm/pred/succ and ignores rd/rs1, so
/// FENCE.TSO and PAUSE decode as `Fence` (the manual asks reserved fences to act as
/// ordinary ones); FENCE.I likewise ignores its reserved fields. FP lines fix `fmt`,
/// so half and quad precision are illegal; reserved rounding modes (5, 6) decode and
/// are rejected when executed.
pub(crate) const TABLE: &[Entry] = &table! {
    // RV64I
    "lui"        Lui      U       op(LUI);
    "auipc"      Auipc    U       op(AUIPC);
    "jal"        Jal      J       op(JAL);
    "jalr"       Jalr     I       op(JALR).f3(0);
    "beq"        Beq      B       op(BRANCH).f3(0);
    "bne"        Bne      B       op(BRANCH).f3(1);
    "blt"        Blt      B       op(BRANCH).f3(4);
    "bge"        Bge      B       op(BRANCH).f3(5);
    "bltu"       Bltu     B       op(BRANCH).f3(6);
    "bgeu"       Bgeu     B       op(BRANCH).f3(7);
    "lb"         Lb       I       op(LOAD).f3(0);
    "lh"         Lh       I       op(LOAD).f3(1);
    "lw"         Lw       I       op(LOAD).f3(2);
    "ld"         Ld       I       op(LOAD).f3(3);
    "lbu"        Lbu      I       op(LOAD).f3(4);
    "lhu"        Lhu      I       op(LOAD).f3(5);
    "lwu"        Lwu      I       op(LOAD).f3(6);
    "sb"         Sb       S       op(STORE).f3(0);
    "sh"         Sh       S       op(STORE).f3(1);
    "sw"         Sw       S       op(STORE).f3(2);
    "sd"         Sd       S       op(STORE).f3(3);
    "addi"       Addi     I       op(OP_IMM).f3(0);
    "slti"       Slti     I       op(OP_IMM).f3(2);
    "sltiu"      Sltiu    I       op(OP_IMM).f3(3);
    "xori"       Xori     I       op(OP_IMM).f3(4);
    "ori"        Ori      I       op(OP_IMM).f3(6);
    "andi"       Andi     I       op(OP_IMM).f3(7);
    "slli"       Slli     Shamt   op(OP_IMM).f3(1).f6(0x00);
    "srli"       Srli     Shamt   op(OP_IMM).f3(5).f6(0x00);
    "srai"       Srai     Shamt   op(OP_IMM).f3(5).f6(0x10);
    "add"        Add      R       op(OP).f3(0).f7(0x00);
    "sub"        Sub      R       op(OP).f3(0).f7(0x20);
    "sll"        Sll      R       op(OP).f3(1).f7(0x00);
    "slt"        Slt      R       op(OP).f3(2).f7(0x00);
    "sltu"       Sltu     R       op(OP).f3(3).f7(0x00);
    "xor"        Xor      R       op(OP).f3(4).f7(0x00);
    "srl"        Srl      R       op(OP).f3(5).f7(0x00);
    "sra"        Sra      R       op(OP).f3(5).f7(0x20);
    "or"         Or       R       op(OP).f3(6).f7(0x00);
    "and"        And      R       op(OP).f3(7).f7(0x00);
    "addiw"      Addiw    I       op(OP_IMM_32).f3(0);
    "slliw"      Slliw    Shamt   op(OP_IMM_32).f3(1).f7(0x00);
    "srliw"      Srliw    Shamt   op(OP_IMM_32).f3(5).f7(0x00);
    "sraiw"      Sraiw    Shamt   op(OP_IMM_32).f3(5).f7(0x20);
    "addw"       Addw     R       op(OP_32).f3(0).f7(0x00);
    "subw"       Subw     R       op(OP_32).f3(0).f7(0x20);
    "sllw"       Sllw     R       op(OP_32).f3(1).f7(0x00);
    "srlw"       Srlw     R       op(OP_32).f3(5).f7(0x00);
    "sraw"       Sraw     R       op(OP_32).f3(5).f7(0x20);
    "fence"      Fence    Fence   op(MISC_MEM).f3(0);
    "fence.i"    FenceI   None    op(MISC_MEM).f3(1);
    "ecall"      Ecall    None    op(SYSTEM).f3(0).rd(0).rs1(0).imm12(0x000);
    "ebreak"     Ebreak   None    op(SYSTEM).f3(0).rd(0).rs1(0).imm12(0x001);

    // M
    "mul"        Mul      R       op(OP).f3(0).f7(0x01);
    "mulh"       Mulh     R       op(OP).f3(1).f7(0x01);
    "mulhsu"     Mulhsu   R       op(OP).f3(2).f7(0x01);
    "mulhu"      Mulhu    R       op(OP).f3(3).f7(0x01);
    "div"        Div      R       op(OP).f3(4).f7(0x01);
    "divu"       Divu     R       op(OP).f3(5).f7(0x01);
    "rem"        Rem      R       op(OP).f3(6).f7(0x01);
    "remu"       Remu     R       op(OP).f3(7).f7(0x01);
    "mulw"       Mulw     R       op(OP_32).f3(0).f7(0x01);
    "divw"       Divw     R       op(OP_32).f3(4).f7(0x01);
    "divuw"      Divuw    R       op(OP_32).f3(5).f7(0x01);
    "remw"       Remw     R       op(OP_32).f3(6).f7(0x01);
    "remuw"      Remuw    R       op(OP_32).f3(7).f7(0x01);

    // A
    "lr.w"       LrW      Amo     op(AMO).f3(W).f5(0x02).rs2(0);
    "sc.w"       ScW      Amo     op(AMO).f3(W).f5(0x03);
    "amoswap.w"  AmoswapW Amo     op(AMO).f3(W).f5(0x01);
    "amoadd.w"   AmoaddW  Amo     op(AMO).f3(W).f5(0x00);
    "amoxor.w"   AmoxorW  Amo     op(AMO).f3(W).f5(0x04);
    "amoand.w"   AmoandW  Amo     op(AMO).f3(W).f5(0x0c);
    "amoor.w"    AmoorW   Amo     op(AMO).f3(W).f5(0x08);
    "amomin.w"   AmominW  Amo     op(AMO).f3(W).f5(0x10);
    "amomax.w"   AmomaxW  Amo     op(AMO).f3(W).f5(0x14);
    "amominu.w"  AmominuW Amo     op(AMO).f3(W).f5(0x18);
    "amomaxu.w"  AmomaxuW Amo     op(AMO).f3(W).f5(0x1c);
    "lr.d"       LrD      Amo     op(AMO).f3(D).f5(0x02).rs2(0);
    "sc.d"       ScD      Amo     op(AMO).f3(D).f5(0x03);
    "amoswap.d"  AmoswapD Amo     op(AMO).f3(D).f5(0x01);
    "amoadd.d"   AmoaddD  Amo     op(AMO).f3(D).f5(0x00);
    "amoxor.d"   AmoxorD  Amo     op(AMO).f3(D).f5(0x04);
    "amoand.d"   AmoandD  Amo     op(AMO).f3(D).f5(0x0c);
    "amoor.d"    AmoorD   Amo     op(AMO).f3(D).f5(0x08);
    "amomin.d"   AmominD  Amo     op(AMO).f3(D).f5(0x10);
    "amomax.d"   AmomaxD  Amo     op(AMO).f3(D).f5(0x14);
    "amominu.d"  AmominuD Amo     op(AMO).f3(D).f5(0x18);
    "amomaxu.d"  AmomaxuD Amo     op(AMO).f3(D).f5(0x1c);

    // Zicsr
    "csrrw"      Csrrw    Csr     op(SYSTEM).f3(1);
    "csrrs"      Csrrs    Csr     op(SYSTEM).f3(2);
    "csrrc"      Csrrc    Csr     op(SYSTEM).f3(3);
    "csrrwi"     Csrrwi   Csr     op(SYSTEM).f3(5);
    "csrrsi"     Csrrsi   Csr     op(SYSTEM).f3(6);
    "csrrci"     Csrrci   Csr     op(SYSTEM).f3(7);

    // Privileged
    "sret"       Sret     None    op(SYSTEM).f3(0).rd(0).rs1(0).imm12(0x102);
    "mret"       Mret     None    op(SYSTEM).f3(0).rd(0).rs1(0).imm12(0x302);
    "wfi"        Wfi      None    op(SYSTEM).f3(0).rd(0).rs1(0).imm12(0x105);
    "sfence.vma" SfenceVma Rs     op(SYSTEM).f3(0).rd(0).f7(0x09);

    // Hypervisor
    "hfence.vvma" HfenceVvma Rs   op(SYSTEM).f3(0).rd(0).f7(0x11);
    "hfence.gvma" HfenceGvma Rs   op(SYSTEM).f3(0).rd(0).f7(0x31);
    "hlv.b"      HlvB     XRs1    op(SYSTEM).f3(4).f7(0x30).rs2(0);
    "hlv.bu"     HlvBu    XRs1    op(SYSTEM).f3(4).f7(0x30).rs2(1);
    "hlv.h"      HlvH     XRs1    op(SYSTEM).f3(4).f7(0x32).rs2(0);
    "hlv.hu"     HlvHu    XRs1    op(SYSTEM).f3(4).f7(0x32).rs2(1);
    "hlvx.hu"    HlvxHu   XRs1    op(SYSTEM).f3(4).f7(0x32).rs2(3);
    "hlv.w"      HlvW     XRs1    op(SYSTEM).f3(4).f7(0x34).rs2(0);
    "hlv.wu"     HlvWu    XRs1    op(SYSTEM).f3(4).f7(0x34).rs2(1);
    "hlvx.wu"    HlvxWu   XRs1    op(SYSTEM).f3(4).f7(0x34).rs2(3);
    "hlv.d"      HlvD     XRs1    op(SYSTEM).f3(4).f7(0x36).rs2(0);
    "hsv.b"      HsvB     Rs      op(SYSTEM).f3(4).f7(0x31).rd(0);
    "hsv.h"      HsvH     Rs      op(SYSTEM).f3(4).f7(0x33).rd(0);
    "hsv.w"      HsvW     Rs      op(SYSTEM).f3(4).f7(0x35).rd(0);
    "hsv.d"      HsvD     Rs      op(SYSTEM).f3(4).f7(0x37).rd(0);

    // F
    "flw"        Flw      FLoad   op(LOAD_FP).f3(2);
    "fsw"        Fsw      S       op(STORE_FP).f3(2);
    "fmadd.s"    FmaddS   FR4     op(MADD).fmt(S_);
    "fmsub.s"    FmsubS   FR4     op(MSUB).fmt(S_);
    "fnmsub.s"   FnmsubS  FR4     op(NMSUB).fmt(S_);
    "fnmadd.s"   FnmaddS  FR4     op(NMADD).fmt(S_);
    "fadd.s"     FaddS    FRRm    op(OP_FP).f5(0x00).fmt(S_);
    "fsub.s"     FsubS    FRRm    op(OP_FP).f5(0x01).fmt(S_);
    "fmul.s"     FmulS    FRRm    op(OP_FP).f5(0x02).fmt(S_);
    "fdiv.s"     FdivS    FRRm    op(OP_FP).f5(0x03).fmt(S_);
    "fsqrt.s"    FsqrtS   FRs1Rm  op(OP_FP).f5(0x0b).fmt(S_).rs2(0);
    "fsgnj.s"    FsgnjS   FR      op(OP_FP).f5(0x04).fmt(S_).f3(0);
    "fsgnjn.s"   FsgnjnS  FR      op(OP_FP).f5(0x04).fmt(S_).f3(1);
    "fsgnjx.s"   FsgnjxS  FR      op(OP_FP).f5(0x04).fmt(S_).f3(2);
    "fmin.s"     FminS    FR      op(OP_FP).f5(0x05).fmt(S_).f3(0);
    "fmax.s"     FmaxS    FR      op(OP_FP).f5(0x05).fmt(S_).f3(1);
    "fcvt.w.s"   FcvtWS   XRs1Rm  op(OP_FP).f5(0x18).fmt(S_).rs2(0);
    "fcvt.wu.s"  FcvtWuS  XRs1Rm  op(OP_FP).f5(0x18).fmt(S_).rs2(1);
    "fcvt.l.s"   FcvtLS   XRs1Rm  op(OP_FP).f5(0x18).fmt(S_).rs2(2);
    "fcvt.lu.s"  FcvtLuS  XRs1Rm  op(OP_FP).f5(0x18).fmt(S_).rs2(3);
    "fmv.x.w"    FmvXW    XRs1    op(OP_FP).f5(0x1c).fmt(S_).rs2(0).f3(0);
    "feq.s"      FeqS     R       op(OP_FP).f5(0x14).fmt(S_).f3(2);
    "flt.s"      FltS     R       op(OP_FP).f5(0x14).fmt(S_).f3(1);
    "fle.s"      FleS     R       op(OP_FP).f5(0x14).fmt(S_).f3(0);
    "fclass.s"   FclassS  XRs1    op(OP_FP).f5(0x1c).fmt(S_).rs2(0).f3(1);
    "fcvt.s.w"   FcvtSW   FRs1Rm  op(OP_FP).f5(0x1a).fmt(S_).rs2(0);
    "fcvt.s.wu"  FcvtSWu  FRs1Rm  op(OP_FP).f5(0x1a).fmt(S_).rs2(1);
    "fcvt.s.l"   FcvtSL   FRs1Rm  op(OP_FP).f5(0x1a).fmt(S_).rs2(2);
    "fcvt.s.lu"  FcvtSLu  FRs1Rm  op(OP_FP).f5(0x1a).fmt(S_).rs2(3);
    "fmv.w.x"    FmvWX    FRs1    op(OP_FP).f5(0x1e).fmt(S_).rs2(0).f3(0);

    // D
    "fld"        Fld      FLoad   op(LOAD_FP).f3(3);
    "fsd"        Fsd      S       op(STORE_FP).f3(3);
    "fmadd.d"    FmaddD   FR4     op(MADD).fmt(D_);
    "fmsub.d"    FmsubD   FR4     op(MSUB).fmt(D_);
    "fnmsub.d"   FnmsubD  FR4     op(NMSUB).fmt(D_);
    "fnmadd.d"   FnmaddD  FR4     op(NMADD).fmt(D_);
    "fadd.d"     FaddD    FRRm    op(OP_FP).f5(0x00).fmt(D_);
    "fsub.d"     FsubD    FRRm    op(OP_FP).f5(0x01).fmt(D_);
    "fmul.d"     FmulD    FRRm    op(OP_FP).f5(0x02).fmt(D_);
    "fdiv.d"     FdivD    FRRm    op(OP_FP).f5(0x03).fmt(D_);
    "fsqrt.d"    FsqrtD   FRs1Rm  op(OP_FP).f5(0x0b).fmt(D_).rs2(0);
    "fsgnj.d"    FsgnjD   FR      op(OP_FP).f5(0x04).fmt(D_).f3(0);
    "fsgnjn.d"   FsgnjnD  FR      op(OP_FP).f5(0x04).fmt(D_).f3(1);
    "fsgnjx.d"   FsgnjxD  FR      op(OP_FP).f5(0x04).fmt(D_).f3(2);
    "fmin.d"     FminD    FR      op(OP_FP).f5(0x05).fmt(D_).f3(0);
    "fmax.d"     FmaxD    FR      op(OP_FP).f5(0x05).fmt(D_).f3(1);
    "fcvt.s.d"   FcvtSD   FRs1Rm  op(OP_FP).f5(0x08).fmt(S_).rs2(1);
    "fcvt.d.s"   FcvtDS   FRs1Rm  op(OP_FP).f5(0x08).fmt(D_).rs2(0);
    "feq.d"      FeqD     R       op(OP_FP).f5(0x14).fmt(D_).f3(2);
    "flt.d"      FltD     R       op(OP_FP).f5(0x14).fmt(D_).f3(1);
    "fle.d"      FleD     R       op(OP_FP).f5(0x14).fmt(D_).f3(0);
    "fclass.d"   FclassD  XRs1    op(OP_FP).f5(0x1c).fmt(D_).rs2(0).f3(1);
    "fcvt.w.d"   FcvtWD   XRs1Rm  op(OP_FP).f5(0x18).fmt(D_).rs2(0);
    "fcvt.wu.d"  FcvtWuD  XRs1Rm  op(OP_FP).f5(0x18).fmt(D_).rs2(1);
    "fcvt.l.d"   FcvtLD   XRs1Rm  op(OP_FP).f5(0x18).fmt(D_).rs2(2);
    "fcvt.lu.d"  FcvtLuD  XRs1Rm  op(OP_FP).f5(0x18).fmt(D_).rs2(3);
    "fmv.x.d"    FmvXD    XRs1    op(OP_FP).f5(0x1c).fmt(D_).rs2(0).f3(0);
    "fcvt.d.w"   FcvtDW   FRs1Rm  op(OP_FP).f5(0x1a).fmt(D_).rs2(0);
    "fcvt.d.wu"  FcvtDWu  FRs1Rm  op(OP_FP).f5(0x1a).fmt(D_).rs2(1);
    "fcvt.d.l"   FcvtDL   FRs1Rm  op(OP_FP).f5(0x1a).fmt(D_).rs2(2);
    "fcvt.d.lu"  FcvtDLu  FRs1Rm  op(OP_FP).f5(0x1a).fmt(D_).rs2(3);
    "fmv.d.x"    FmvDX    FRs1    op(OP_FP).f5(0x1e).fmt(D_).rs2(0).f3(0);

    // Zba
    "add.uw"     AddUw    R       op(OP_32).f3(0).f7(0x04);
    "sh1add"     Sh1add   R       op(OP).f3(2).f7(0x10);
    "sh2add"     Sh2add   R       op(OP).f3(4).f7(0x10);
    "sh3add"     Sh3add   R       op(OP).f3(6).f7(0x10);
    "sh1add.uw"  Sh1addUw R       op(OP_32).f3(2).f7(0x10);
    "sh2add.uw"  Sh2addUw R       op(OP_32).f3(4).f7(0x10);
    "sh3add.uw"  Sh3addUw R       op(OP_32).f3(6).f7(0x10);
    "slli.uw"    SlliUw   Shamt   op(OP_IMM_32).f3(1).f6(0x02);

    // Zbb
    "andn"       Andn     R       op(OP).f3(7).f7(0x20);
    "orn"        Orn      R       op(OP).f3(6).f7(0x20);
    "xnor"       Xnor     R       op(OP).f3(4).f7(0x20);
    "clz"        Clz      XRs1    op(OP_IMM).f3(1).imm12(0x600);
    "clzw"       Clzw     XRs1    op(OP_IMM_32).f3(1).imm12(0x600);
    "ctz"        Ctz      XRs1    op(OP_IMM).f3(1).imm12(0x601);
    "ctzw"       Ctzw     XRs1    op(OP_IMM_32).f3(1).imm12(0x601);
    "cpop"       Cpop     XRs1    op(OP_IMM).f3(1).imm12(0x602);
    "cpopw"      Cpopw    XRs1    op(OP_IMM_32).f3(1).imm12(0x602);
    "max"        Max      R       op(OP).f3(6).f7(0x05);
    "maxu"       Maxu     R       op(OP).f3(7).f7(0x05);
    "min"        Min      R       op(OP).f3(4).f7(0x05);
    "minu"       Minu     R       op(OP).f3(5).f7(0x05);
    "sext.b"     SextB    XRs1    op(OP_IMM).f3(1).imm12(0x604);
    "sext.h"     SextH    XRs1    op(OP_IMM).f3(1).imm12(0x605);
    "zext.h"     ZextH    XRs1    op(OP_32).f3(4).f7(0x04).rs2(0);
    "rol"        Rol      R       op(OP).f3(1).f7(0x30);
    "rolw"       Rolw     R       op(OP_32).f3(1).f7(0x30);
    "ror"        Ror      R       op(OP).f3(5).f7(0x30);
    "rorw"       Rorw     R       op(OP_32).f3(5).f7(0x30);
    "rori"       Rori     Shamt   op(OP_IMM).f3(5).f6(0x18);
    "roriw"      Roriw    Shamt   op(OP_IMM_32).f3(5).f7(0x30);
    "orc.b"      OrcB     XRs1    op(OP_IMM).f3(5).imm12(0x287);
    "rev8"       Rev8     XRs1    op(OP_IMM).f3(5).imm12(0x6b8);

    // Zbs
    "bclr"       Bclr     R       op(OP).f3(1).f7(0x24);
    "bclri"      Bclri    Shamt   op(OP_IMM).f3(1).f6(0x12);
    "bext"       Bext     R       op(OP).f3(5).f7(0x24);
    "bexti"      Bexti    Shamt   op(OP_IMM).f3(5).f6(0x12);
    "binv"       Binv     R       op(OP).f3(1).f7(0x34);
    "binvi"      Binvi    Shamt   op(OP_IMM).f3(1).f6(0x1a);
    "bset"       Bset     R       op(OP).f3(1).f7(0x14);
    "bseti"      Bseti    Shamt   op(OP_IMM).f3(1).f6(0x0a);

    // Zicond
    "czero.eqz"  CzeroEqz R       op(OP).f3(5).f7(0x07);
    "czero.nez"  CzeroNez R       op(OP).f3(7).f7(0x07);

    // Zicbom, Zicboz: rs1 holds the address. (Zicbop's prefetches are ORI hints.)
    "cbo.inval"  CboInval Rs1     op(MISC_MEM).f3(2).rd(0).imm12(0x000);
    "cbo.clean"  CboClean Rs1     op(MISC_MEM).f3(2).rd(0).imm12(0x001);
    "cbo.flush"  CboFlush Rs1     op(MISC_MEM).f3(2).rd(0).imm12(0x002);
    "cbo.zero"   CboZero  Rs1     op(MISC_MEM).f3(2).rd(0).imm12(0x004);

    // Zawrs
    "wrs.nto"    WrsNto   None    op(SYSTEM).f3(0).rd(0).rs1(0).imm12(0x00d);
    "wrs.sto"    WrsSto   None    op(SYSTEM).f3(0).rd(0).rs1(0).imm12(0x01d);

    // Svinval
    "sinval.vma" SinvalVma Rs     op(SYSTEM).f3(0).rd(0).f7(0x0b);
    "sfence.w.inval" SfenceWInval None op(SYSTEM).f3(0).rd(0).rs1(0).imm12(0x180);
    "sfence.inval.ir" SfenceInvalIr None op(SYSTEM).f3(0).rd(0).rs1(0).imm12(0x181);
    "hinval.vvma" HinvalVvma Rs   op(SYSTEM).f3(0).rd(0).f7(0x13);
    "hinval.gvma" HinvalGvma Rs   op(SYSTEM).f3(0).rd(0).f7(0x33);

    // Zimop: the 32 mop.r.n and 8 mop.rr.n (n in the bits left open) write 0 to rd.
    "mop.r.n"    MopR     XRs1    op(SYSTEM).f3(4).field(31, 1, 1).field(28, 2, 0).field(22, 4, 7);
    "mop.rr.n"   MopRr    R       op(SYSTEM).f3(4).field(31, 1, 1).field(28, 2, 0).field(25, 1, 1);
};

/// [`TABLE`]'s lines bucketed by major opcode. The largest bucket, OP-FP, has 50.
static INDEX: Index<56> = {
    let mut ix = Index::new();
    let mut i = 0;
    while i < TABLE.len() {
        ix.push(major(TABLE[i].pattern.value), i);
        i += 1;
    }
    ix
};

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::isa::encode::reg::*;
    use crate::isa::encode::*;
    use crate::isa::table::overlapping_pairs;
    use OpKind::*;

    /// An expected `Op`, built field by field: `k(Add).rd(10).rs1(11).rs2(12)`.
    /// `len` is 4 unless `.c()` makes it 2; unnamed fields are zero.
    #[derive(Clone, Copy, Debug)]
    pub(crate) struct E(pub Op);

    /// Starts an expected `Op` of `kind`.
    pub(crate) const fn k(kind: OpKind) -> E {
        E(Op {
            kind,
            len: 4,
            ..Op::UNDECODED
        })
    }

    impl E {
        pub(crate) const fn rd(self, v: u8) -> E {
            E(Op { rd: v, ..self.0 })
        }
        pub(crate) const fn rs1(self, v: u8) -> E {
            E(Op { rs1: v, ..self.0 })
        }
        pub(crate) const fn rs2(self, v: u8) -> E {
            E(Op { rs2: v, ..self.0 })
        }
        pub(crate) const fn rs3(self, v: u8) -> E {
            E(Op { rs3: v, ..self.0 })
        }
        pub(crate) const fn imm(self, v: i32) -> E {
            E(Op { imm: v, ..self.0 })
        }
        pub(crate) const fn rm(self, v: u8) -> E {
            E(Op { rm: v, ..self.0 })
        }
        pub(crate) const fn c(self) -> E {
            E(Op { len: 2, ..self.0 })
        }
    }

    /// An integer destination as the decoder writes it.
    fn xd(r: u8) -> u8 {
        if r == 0 { SINK } else { r }
    }

    /// One instance of every mnemonic: the word llvm-mc 14 assembles for the text
    /// (`-riscv-no-aliases`; H-extension words from riscv-opcodes' MATCH values, as
    /// LLVM 14 lacks H), our encoding of it, and the expected decode.
    #[rustfmt::skip]
    const KNOWN: &[(u32, &str, u32, E)] = &[
    (0x00c58533, "add a0, a1, a2", add(A0, A1, A2), k(Add).rd(10).rs1(11).rs2(12)),
    (0x40c58533, "sub a0, a1, a2", sub(A0, A1, A2), k(Sub).rd(10).rs1(11).rs2(12)),
    (0x00c59533, "sll a0, a1, a2", sll(A0, A1, A2), k(Sll).rd(10).rs1(11).rs2(12)),
    (0x00c5a533, "slt a0, a1, a2", slt(A0, A1, A2), k(Slt).rd(10).rs1(11).rs2(12)),
    (0x00c5b533, "sltu a0, a1, a2", sltu(A0, A1, A2), k(Sltu).rd(10).rs1(11).rs2(12)),
    (0x00c5c533, "xor a0, a1, a2", xor(A0, A1, A2), k(Xor).rd(10).rs1(11).rs2(12)),
    (0x00c5d533, "srl a0, a1, a2", srl(A0, A1, A2), k(Srl).rd(10).rs1(11).rs2(12)),
    (0x40c5d533, "sra a0, a1, a2", sra(A0, A1, A2), k(Sra).rd(10).rs1(11).rs2(12)),
    (0x00c5e533, "or a0, a1, a2", or(A0, A1, A2), k(Or).rd(10).rs1(11).rs2(12)),
    (0x00c5f533, "and a0, a1, a2", and(A0, A1, A2), k(And).rd(10).rs1(11).rs2(12)),
    (0x00c5853b, "addw a0, a1, a2", addw(A0, A1, A2), k(Addw).rd(10).rs1(11).rs2(12)),
    (0x40c5853b, "subw a0, a1, a2", subw(A0, A1, A2), k(Subw).rd(10).rs1(11).rs2(12)),
    (0x00c5953b, "sllw a0, a1, a2", sllw(A0, A1, A2), k(Sllw).rd(10).rs1(11).rs2(12)),
    (0x00c5d53b, "srlw a0, a1, a2", srlw(A0, A1, A2), k(Srlw).rd(10).rs1(11).rs2(12)),
    (0x40c5d53b, "sraw a0, a1, a2", sraw(A0, A1, A2), k(Sraw).rd(10).rs1(11).rs2(12)),
    (0x02c58533, "mul a0, a1, a2", mul(A0, A1, A2), k(Mul).rd(10).rs1(11).rs2(12)),
    (0x02c59533, "mulh a0, a1, a2", mulh(A0, A1, A2), k(Mulh).rd(10).rs1(11).rs2(12)),
    (0x02c5a533, "mulhsu a0, a1, a2", mulhsu(A0, A1, A2), k(Mulhsu).rd(10).rs1(11).rs2(12)),
    (0x02c5b533, "mulhu a0, a1, a2", mulhu(A0, A1, A2), k(Mulhu).rd(10).rs1(11).rs2(12)),
    (0x02c5c533, "div a0, a1, a2", div(A0, A1, A2), k(Div).rd(10).rs1(11).rs2(12)),
    (0x02c5d533, "divu a0, a1, a2", divu(A0, A1, A2), k(Divu).rd(10).rs1(11).rs2(12)),
    (0x02c5e533, "rem a0, a1, a2", rem(A0, A1, A2), k(Rem).rd(10).rs1(11).rs2(12)),
    (0x02c5f533, "remu a0, a1, a2", remu(A0, A1, A2), k(Remu).rd(10).rs1(11).rs2(12)),
    (0x02c5853b, "mulw a0, a1, a2", mulw(A0, A1, A2), k(Mulw).rd(10).rs1(11).rs2(12)),
    (0x02c5c53b, "divw a0, a1, a2", divw(A0, A1, A2), k(Divw).rd(10).rs1(11).rs2(12)),
    (0x02c5d53b, "divuw a0, a1, a2", divuw(A0, A1, A2), k(Divuw).rd(10).rs1(11).rs2(12)),
    (0x02c5e53b, "remw a0, a1, a2", remw(A0, A1, A2), k(Remw).rd(10).rs1(11).rs2(12)),
    (0x02c5f53b, "remuw a0, a1, a2", remuw(A0, A1, A2), k(Remuw).rd(10).rs1(11).rs2(12)),
    (0x001f8033, "add zero, t6, ra", add(ZERO, T6, RA), k(Add).rd(SINK).rs1(31).rs2(1)),
    (0xfd658513, "addi a0, a1, -42", addi(A0, A1, -42), k(Addi).rd(10).rs1(11).imm(-42)),
    (0x7ff5a513, "slti a0, a1, 2047", slti(A0, A1, 2047), k(Slti).rd(10).rs1(11).imm(2047)),
    (0x8005b513, "sltiu a0, a1, -2048", sltiu(A0, A1, -2048), k(Sltiu).rd(10).rs1(11).imm(-2048)),
    (0xfff5c513, "xori a0, a1, -1", xori(A0, A1, -1), k(Xori).rd(10).rs1(11).imm(-1)),
    (0x0015e513, "ori a0, a1, 1", ori(A0, A1, 1), k(Ori).rd(10).rs1(11).imm(1)),
    (0x7f05f513, "andi a0, a1, 2032", andi(A0, A1, 2032), k(Andi).rd(10).rs1(11).imm(2032)),
    (0x8005851b, "addiw a0, a1, -2048", addiw(A0, A1, -2048), k(Addiw).rd(10).rs1(11).imm(-2048)),
    (0x7ff58567, "jalr a0, a1, 2047", jalr(A0, A1, 2047), k(Jalr).rd(10).rs1(11).imm(2047)),
    (0xfd658503, "lb a0, -42(a1)", lb(A0, A1, -42), k(Lb).rd(10).rs1(11).imm(-42)),
    (0xfd659503, "lh a0, -42(a1)", lh(A0, A1, -42), k(Lh).rd(10).rs1(11).imm(-42)),
    (0xfd65a503, "lw a0, -42(a1)", lw(A0, A1, -42), k(Lw).rd(10).rs1(11).imm(-42)),
    (0xfd65b503, "ld a0, -42(a1)", ld(A0, A1, -42), k(Ld).rd(10).rs1(11).imm(-42)),
    (0xfd65c503, "lbu a0, -42(a1)", lbu(A0, A1, -42), k(Lbu).rd(10).rs1(11).imm(-42)),
    (0xfd65d503, "lhu a0, -42(a1)", lhu(A0, A1, -42), k(Lhu).rd(10).rs1(11).imm(-42)),
    (0xfd65e503, "lwu a0, -42(a1)", lwu(A0, A1, -42), k(Lwu).rd(10).rs1(11).imm(-42)),
    (0x7ff13003, "ld zero, 2047(sp)", ld(ZERO, SP, 2047), k(Ld).rd(SINK).rs1(2).imm(2047)),
    (0x8005a007, "flw ft0, -2048(a1)", flw(0, A1, -2048), k(Flw).rd(0).rs1(11).imm(-2048)),
    (0x8005b007, "fld ft0, -2048(a1)", fld(0, A1, -2048), k(Fld).rd(0).rs1(11).imm(-2048)),
    (0xfcc58b23, "sb a2, -42(a1)", sb(A2, A1, -42), k(Sb).rs1(11).rs2(12).imm(-42)),
    (0xfcc59b23, "sh a2, -42(a1)", sh(A2, A1, -42), k(Sh).rs1(11).rs2(12).imm(-42)),
    (0xfcc5ab23, "sw a2, -42(a1)", sw(A2, A1, -42), k(Sw).rs1(11).rs2(12).imm(-42)),
    (0xfcc5bb23, "sd a2, -42(a1)", sd(A2, A1, -42), k(Sd).rs1(11).rs2(12).imm(-42)),
    (0x7ec5afa7, "fsw fa2, 2047(a1)", fsw(12, A1, 2047), k(Fsw).rs1(11).rs2(12).imm(2047)),
    (0x7ec5bfa7, "fsd fa2, 2047(a1)", fsd(12, A1, 2047), k(Fsd).rs1(11).rs2(12).imm(2047)),
    (0x03f59513, "slli a0, a1, 63", slli(A0, A1, 63), k(Slli).rd(10).rs1(11).imm(63)),
    (0x0015d513, "srli a0, a1, 1", srli(A0, A1, 1), k(Srli).rd(10).rs1(11).imm(1)),
    (0x43f5d513, "srai a0, a1, 63", srai(A0, A1, 63), k(Srai).rd(10).rs1(11).imm(63)),
    (0x01f5951b, "slliw a0, a1, 31", slliw(A0, A1, 31), k(Slliw).rd(10).rs1(11).imm(31)),
    (0x0005d51b, "srliw a0, a1, 0", srliw(A0, A1, 0), k(Srliw).rd(10).rs1(11).imm(0)),
    (0x41f5d51b, "sraiw a0, a1, 31", sraiw(A0, A1, 31), k(Sraiw).rd(10).rs1(11).imm(31)),
    (0x80b50063, "beq a0, a1, -4096", beq(A0, A1, -4096), k(Beq).rs1(10).rs2(11).imm(-4096)),
    (0x7eb51fe3, "bne a0, a1, 4094", bne(A0, A1, 4094), k(Bne).rs1(10).rs2(11).imm(4094)),
    (0xfeb54fe3, "blt a0, a1, -2", blt(A0, A1, -2), k(Blt).rs1(10).rs2(11).imm(-2)),
    (0x00b55163, "bge a0, a1, 2", bge(A0, A1, 2), k(Bge).rs1(10).rs2(11).imm(2)),
    (0x7eb56f63, "bltu a0, a1, 2046", bltu(A0, A1, 2046), k(Bltu).rs1(10).rs2(11).imm(2046)),
    (0x80b570e3, "bgeu a0, a1, -2048", bgeu(A0, A1, -2048), k(Bgeu).rs1(10).rs2(11).imm(-2048)),
    (0x800000ef, "jal ra, -1048576", jal(RA, -1048576), k(Jal).rd(1).imm(-1048576)),
    (0x7ffff06f, "jal zero, 1048574", jal(ZERO, 1048574), k(Jal).rd(SINK).imm(1048574)),
    (0xfffff537, "lui a0, 0xfffff", lui(A0, 0xfffff), k(Lui).rd(10).imm(-4096)),
    (0x80000537, "lui a0, 0x80000", lui(A0, 0x80000), k(Lui).rd(10).imm(i32::MIN)),
    (0x7ffff537, "lui a0, 0x7ffff", lui(A0, 0x7ffff), k(Lui).rd(10).imm(0x7fff_f000)),
    (0x12345517, "auipc a0, 0x12345", auipc(A0, 0x12345), k(Auipc).rd(10).imm(0x1234_5000)),
    (0xfffff017, "auipc zero, 0xfffff", auipc(ZERO, -1), k(Auipc).rd(SINK).imm(-4096)),
    (0xfff59573, "csrrw a0, 0xfff, a1", csrrw(A0, 0xfff, A1), k(Csrrw).rd(10).rs1(11).imm(0xfff)),
    (0xfff5a573, "csrrs a0, 0xfff, a1", csrrs(A0, 0xfff, A1), k(Csrrs).rd(10).rs1(11).imm(0xfff)),
    (0xfff5b573, "csrrc a0, 0xfff, a1", csrrc(A0, 0xfff, A1), k(Csrrc).rd(10).rs1(11).imm(0xfff)),
    (0x300fd573, "csrrwi a0, 0x300, 31", csrrwi(A0, 0x300, 31), k(Csrrwi).rd(10).rs1(31).imm(0x300)),
    (0x300fe573, "csrrsi a0, 0x300, 31", csrrsi(A0, 0x300, 31), k(Csrrsi).rd(10).rs1(31).imm(0x300)),
    (0x300ff573, "csrrci a0, 0x300, 31", csrrci(A0, 0x300, 31), k(Csrrci).rd(10).rs1(31).imm(0x300)),
    (0xf1402573, "csrrs a0, 0xf14, zero", csrr(A0, 0xf14), k(Csrrs).rd(10).imm(0xf14)),
    (0x18059073, "csrrw zero, 0x180, a1", csrw(0x180, A1), k(Csrrw).rd(SINK).rs1(11).imm(0x180)),
    (0x1005a52f, "lr.w a0, (a1)", lr_w(A0, A1, false, false), k(LrW).rd(10).rs1(11)),
    (0x1605a02f, "lr.w.aqrl zero, (a1)", lr_w(ZERO, A1, true, true), k(LrW).rd(SINK).rs1(11).rm(3)),
    (0x18c5a52f, "sc.w a0, a2, (a1)", sc_w(A0, A2, A1, false, false), k(ScW).rd(10).rs1(11).rs2(12).rm(0)),
    (0x0cc5a52f, "amoswap.w.aq a0, a2, (a1)", amoswap_w(A0, A2, A1, true, false), k(AmoswapW).rd(10).rs1(11).rs2(12).rm(2)),
    (0x02c5a52f, "amoadd.w.rl a0, a2, (a1)", amoadd_w(A0, A2, A1, false, true), k(AmoaddW).rd(10).rs1(11).rs2(12).rm(1)),
    (0x26c5a52f, "amoxor.w.aqrl a0, a2, (a1)", amoxor_w(A0, A2, A1, true, true), k(AmoxorW).rd(10).rs1(11).rs2(12).rm(3)),
    (0x60c5a52f, "amoand.w a0, a2, (a1)", amoand_w(A0, A2, A1, false, false), k(AmoandW).rd(10).rs1(11).rs2(12).rm(0)),
    (0x44c5a52f, "amoor.w.aq a0, a2, (a1)", amoor_w(A0, A2, A1, true, false), k(AmoorW).rd(10).rs1(11).rs2(12).rm(2)),
    (0x82c5a52f, "amomin.w.rl a0, a2, (a1)", amomin_w(A0, A2, A1, false, true), k(AmominW).rd(10).rs1(11).rs2(12).rm(1)),
    (0xa6c5a52f, "amomax.w.aqrl a0, a2, (a1)", amomax_w(A0, A2, A1, true, true), k(AmomaxW).rd(10).rs1(11).rs2(12).rm(3)),
    (0xc0c5a52f, "amominu.w a0, a2, (a1)", amominu_w(A0, A2, A1, false, false), k(AmominuW).rd(10).rs1(11).rs2(12).rm(0)),
    (0xe4c5a52f, "amomaxu.w.aq a0, a2, (a1)", amomaxu_w(A0, A2, A1, true, false), k(AmomaxuW).rd(10).rs1(11).rs2(12).rm(2)),
    (0x1005b52f, "lr.d a0, (a1)", lr_d(A0, A1, false, false), k(LrD).rd(10).rs1(11)),
    (0x1605b02f, "lr.d.aqrl zero, (a1)", lr_d(ZERO, A1, true, true), k(LrD).rd(SINK).rs1(11).rm(3)),
    (0x18c5b52f, "sc.d a0, a2, (a1)", sc_d(A0, A2, A1, false, false), k(ScD).rd(10).rs1(11).rs2(12).rm(0)),
    (0x0cc5b52f, "amoswap.d.aq a0, a2, (a1)", amoswap_d(A0, A2, A1, true, false), k(AmoswapD).rd(10).rs1(11).rs2(12).rm(2)),
    (0x02c5b52f, "amoadd.d.rl a0, a2, (a1)", amoadd_d(A0, A2, A1, false, true), k(AmoaddD).rd(10).rs1(11).rs2(12).rm(1)),
    (0x26c5b52f, "amoxor.d.aqrl a0, a2, (a1)", amoxor_d(A0, A2, A1, true, true), k(AmoxorD).rd(10).rs1(11).rs2(12).rm(3)),
    (0x60c5b52f, "amoand.d a0, a2, (a1)", amoand_d(A0, A2, A1, false, false), k(AmoandD).rd(10).rs1(11).rs2(12).rm(0)),
    (0x44c5b52f, "amoor.d.aq a0, a2, (a1)", amoor_d(A0, A2, A1, true, false), k(AmoorD).rd(10).rs1(11).rs2(12).rm(2)),
    (0x82c5b52f, "amomin.d.rl a0, a2, (a1)", amomin_d(A0, A2, A1, false, true), k(AmominD).rd(10).rs1(11).rs2(12).rm(1)),
    (0xa6c5b52f, "amomax.d.aqrl a0, a2, (a1)", amomax_d(A0, A2, A1, true, true), k(AmomaxD).rd(10).rs1(11).rs2(12).rm(3)),
    (0xc0c5b52f, "amominu.d a0, a2, (a1)", amominu_d(A0, A2, A1, false, false), k(AmominuD).rd(10).rs1(11).rs2(12).rm(0)),
    (0xe4c5b52f, "amomaxu.d.aq a0, a2, (a1)", amomaxu_d(A0, A2, A1, true, false), k(AmomaxuD).rd(10).rs1(11).rs2(12).rm(2)),
    (0x00000073, "ecall", ecall(), k(Ecall)),
    (0x00100073, "ebreak", ebreak(), k(Ebreak)),
    (0x10200073, "sret", sret(), k(Sret)),
    (0x30200073, "mret", mret(), k(Mret)),
    (0x10500073, "wfi", wfi(), k(Wfi)),
    (0x0000100f, "fence.i", fence_i(), k(FenceI)),
    (0x0330000f, "fence rw, rw", fence(fence_set::R | fence_set::W, fence_set::R | fence_set::W), k(Fence).imm(0x033)),
    (0x0ff0000f, "fence iorw, iorw", fence(fence_set::IORW, fence_set::IORW), k(Fence).imm(0x0ff)),
    (0x8330000f, "fence.tso", fence_tso(), k(Fence).imm(0x833)),
    (0x12b50073, "sfence.vma a0, a1", sfence_vma(A0, A1), k(SfenceVma).rs1(10).rs2(11)),
    (0x12000073, "sfence.vma zero, zero", sfence_vma(ZERO, ZERO), k(SfenceVma)),
    (0x68c58543, "fmadd.s fa0, fa1, fa2, fa3, rne", fmadd_s(10, 11, 12, 13, 0), k(FmaddS).rd(10).rs1(11).rs2(12).rs3(13).rm(0)),
    (0x68c59547, "fmsub.s fa0, fa1, fa2, fa3, rtz", fmsub_s(10, 11, 12, 13, 1), k(FmsubS).rd(10).rs1(11).rs2(12).rs3(13).rm(1)),
    (0x68c5c54b, "fnmsub.s fa0, fa1, fa2, fa3, rmm", fnmsub_s(10, 11, 12, 13, 4), k(FnmsubS).rd(10).rs1(11).rs2(12).rs3(13).rm(4)),
    (0x68c5f54f, "fnmadd.s fa0, fa1, fa2, fa3, dyn", fnmadd_s(10, 11, 12, 13, 7), k(FnmaddS).rd(10).rs1(11).rs2(12).rs3(13).rm(7)),
    (0x01f58053, "fadd.s ft0, fa1, ft11, rne", fadd_s(0, 11, 31, 0), k(FaddS).rd(0).rs1(11).rs2(31).rm(0)),
    (0x09f5a053, "fsub.s ft0, fa1, ft11, rdn", fsub_s(0, 11, 31, 2), k(FsubS).rd(0).rs1(11).rs2(31).rm(2)),
    (0x11f5b053, "fmul.s ft0, fa1, ft11, rup", fmul_s(0, 11, 31, 3), k(FmulS).rd(0).rs1(11).rs2(31).rm(3)),
    (0x19f5f053, "fdiv.s ft0, fa1, ft11, dyn", fdiv_s(0, 11, 31, 7), k(FdivS).rd(0).rs1(11).rs2(31).rm(7)),
    (0x58059553, "fsqrt.s fa0, fa1, rtz", fsqrt_s(10, 11, 1), k(FsqrtS).rd(10).rs1(11).rm(1)),
    (0x20c58553, "fsgnj.s fa0, fa1, fa2", fsgnj_s(10, 11, 12), k(FsgnjS).rd(10).rs1(11).rs2(12)),
    (0x20c59553, "fsgnjn.s fa0, fa1, fa2", fsgnjn_s(10, 11, 12), k(FsgnjnS).rd(10).rs1(11).rs2(12)),
    (0x20c5a553, "fsgnjx.s fa0, fa1, fa2", fsgnjx_s(10, 11, 12), k(FsgnjxS).rd(10).rs1(11).rs2(12)),
    (0x28c58553, "fmin.s fa0, fa1, fa2", fmin_s(10, 11, 12), k(FminS).rd(10).rs1(11).rs2(12)),
    (0x28c59553, "fmax.s fa0, fa1, fa2", fmax_s(10, 11, 12), k(FmaxS).rd(10).rs1(11).rs2(12)),
    (0xa0c5a553, "feq.s a0, fa1, fa2", feq_s(A0, 11, 12), k(FeqS).rd(10).rs1(11).rs2(12)),
    (0xa0c59553, "flt.s a0, fa1, fa2", flt_s(A0, 11, 12), k(FltS).rd(10).rs1(11).rs2(12)),
    (0xa0c58553, "fle.s a0, fa1, fa2", fle_s(A0, 11, 12), k(FleS).rd(10).rs1(11).rs2(12)),
    (0xa0c5a053, "feq.s zero, fa1, fa2", feq_s(ZERO, 11, 12), k(FeqS).rd(SINK).rs1(11).rs2(12)),
    (0xe0059553, "fclass.s a0, fa1", fclass_s(A0, 11), k(FclassS).rd(10).rs1(11)),
    (0xc0059553, "fcvt.w.s a0, fa1, rtz", fcvt_w_s(A0, 11, 1), k(FcvtWS).rd(10).rs1(11).rm(1)),
    (0xd005f553, "fcvt.s.w fa0, a1, dyn", fcvt_s_w(10, A1, 7), k(FcvtSW).rd(10).rs1(11).rm(7)),
    (0xc0159553, "fcvt.wu.s a0, fa1, rtz", fcvt_wu_s(A0, 11, 1), k(FcvtWuS).rd(10).rs1(11).rm(1)),
    (0xd015f553, "fcvt.s.wu fa0, a1, dyn", fcvt_s_wu(10, A1, 7), k(FcvtSWu).rd(10).rs1(11).rm(7)),
    (0xc0259553, "fcvt.l.s a0, fa1, rtz", fcvt_l_s(A0, 11, 1), k(FcvtLS).rd(10).rs1(11).rm(1)),
    (0xd025f553, "fcvt.s.l fa0, a1, dyn", fcvt_s_l(10, A1, 7), k(FcvtSL).rd(10).rs1(11).rm(7)),
    (0xc0359553, "fcvt.lu.s a0, fa1, rtz", fcvt_lu_s(A0, 11, 1), k(FcvtLuS).rd(10).rs1(11).rm(1)),
    (0xd035f553, "fcvt.s.lu fa0, a1, dyn", fcvt_s_lu(10, A1, 7), k(FcvtSLu).rd(10).rs1(11).rm(7)),
    (0xc0058053, "fcvt.w.s zero, fa1, rne", fcvt_w_s(ZERO, 11, 0), k(FcvtWS).rd(SINK).rs1(11)),
    (0x6ac58543, "fmadd.d fa0, fa1, fa2, fa3, rne", fmadd_d(10, 11, 12, 13, 0), k(FmaddD).rd(10).rs1(11).rs2(12).rs3(13).rm(0)),
    (0x6ac59547, "fmsub.d fa0, fa1, fa2, fa3, rtz", fmsub_d(10, 11, 12, 13, 1), k(FmsubD).rd(10).rs1(11).rs2(12).rs3(13).rm(1)),
    (0x6ac5c54b, "fnmsub.d fa0, fa1, fa2, fa3, rmm", fnmsub_d(10, 11, 12, 13, 4), k(FnmsubD).rd(10).rs1(11).rs2(12).rs3(13).rm(4)),
    (0x6ac5f54f, "fnmadd.d fa0, fa1, fa2, fa3, dyn", fnmadd_d(10, 11, 12, 13, 7), k(FnmaddD).rd(10).rs1(11).rs2(12).rs3(13).rm(7)),
    (0x03f58053, "fadd.d ft0, fa1, ft11, rne", fadd_d(0, 11, 31, 0), k(FaddD).rd(0).rs1(11).rs2(31).rm(0)),
    (0x0bf5a053, "fsub.d ft0, fa1, ft11, rdn", fsub_d(0, 11, 31, 2), k(FsubD).rd(0).rs1(11).rs2(31).rm(2)),
    (0x13f5b053, "fmul.d ft0, fa1, ft11, rup", fmul_d(0, 11, 31, 3), k(FmulD).rd(0).rs1(11).rs2(31).rm(3)),
    (0x1bf5f053, "fdiv.d ft0, fa1, ft11, dyn", fdiv_d(0, 11, 31, 7), k(FdivD).rd(0).rs1(11).rs2(31).rm(7)),
    (0x5a059553, "fsqrt.d fa0, fa1, rtz", fsqrt_d(10, 11, 1), k(FsqrtD).rd(10).rs1(11).rm(1)),
    (0x22c58553, "fsgnj.d fa0, fa1, fa2", fsgnj_d(10, 11, 12), k(FsgnjD).rd(10).rs1(11).rs2(12)),
    (0x22c59553, "fsgnjn.d fa0, fa1, fa2", fsgnjn_d(10, 11, 12), k(FsgnjnD).rd(10).rs1(11).rs2(12)),
    (0x22c5a553, "fsgnjx.d fa0, fa1, fa2", fsgnjx_d(10, 11, 12), k(FsgnjxD).rd(10).rs1(11).rs2(12)),
    (0x2ac58553, "fmin.d fa0, fa1, fa2", fmin_d(10, 11, 12), k(FminD).rd(10).rs1(11).rs2(12)),
    (0x2ac59553, "fmax.d fa0, fa1, fa2", fmax_d(10, 11, 12), k(FmaxD).rd(10).rs1(11).rs2(12)),
    (0xa2c5a553, "feq.d a0, fa1, fa2", feq_d(A0, 11, 12), k(FeqD).rd(10).rs1(11).rs2(12)),
    (0xa2c59553, "flt.d a0, fa1, fa2", flt_d(A0, 11, 12), k(FltD).rd(10).rs1(11).rs2(12)),
    (0xa2c58553, "fle.d a0, fa1, fa2", fle_d(A0, 11, 12), k(FleD).rd(10).rs1(11).rs2(12)),
    (0xa2c5a053, "feq.d zero, fa1, fa2", feq_d(ZERO, 11, 12), k(FeqD).rd(SINK).rs1(11).rs2(12)),
    (0xe2059553, "fclass.d a0, fa1", fclass_d(A0, 11), k(FclassD).rd(10).rs1(11)),
    (0xc2059553, "fcvt.w.d a0, fa1, rtz", fcvt_w_d(A0, 11, 1), k(FcvtWD).rd(10).rs1(11).rm(1)),
    (0xd2058553, "fcvt.d.w fa0, a1", fcvt_d_w(10, A1, 0), k(FcvtDW).rd(10).rs1(11).rm(0)),
    (0xc2159553, "fcvt.wu.d a0, fa1, rtz", fcvt_wu_d(A0, 11, 1), k(FcvtWuD).rd(10).rs1(11).rm(1)),
    (0xd2158553, "fcvt.d.wu fa0, a1", fcvt_d_wu(10, A1, 0), k(FcvtDWu).rd(10).rs1(11).rm(0)),
    (0xc2259553, "fcvt.l.d a0, fa1, rtz", fcvt_l_d(A0, 11, 1), k(FcvtLD).rd(10).rs1(11).rm(1)),
    (0xd225f553, "fcvt.d.l fa0, a1, dyn", fcvt_d_l(10, A1, 7), k(FcvtDL).rd(10).rs1(11).rm(7)),
    (0xc2359553, "fcvt.lu.d a0, fa1, rtz", fcvt_lu_d(A0, 11, 1), k(FcvtLuD).rd(10).rs1(11).rm(1)),
    (0xd235f553, "fcvt.d.lu fa0, a1, dyn", fcvt_d_lu(10, A1, 7), k(FcvtDLu).rd(10).rs1(11).rm(7)),
    (0xc2058053, "fcvt.w.d zero, fa1, rne", fcvt_w_d(ZERO, 11, 0), k(FcvtWD).rd(SINK).rs1(11)),
    (0xe0058553, "fmv.x.w a0, fa1", fmv_x_w(A0, 11), k(FmvXW).rd(10).rs1(11)),
    (0xe0058053, "fmv.x.w zero, fa1", fmv_x_w(ZERO, 11), k(FmvXW).rd(SINK).rs1(11)),
    (0xf0058053, "fmv.w.x ft0, a1", fmv_w_x(0, A1), k(FmvWX).rd(0).rs1(11)),
    (0xe2058553, "fmv.x.d a0, fa1", fmv_x_d(A0, 11), k(FmvXD).rd(10).rs1(11)),
    (0xf2058053, "fmv.d.x ft0, a1", fmv_d_x(0, A1), k(FmvDX).rd(0).rs1(11)),
    (0x4015c553, "fcvt.s.d fa0, fa1, rmm", fcvt_s_d(10, 11, 4), k(FcvtSD).rd(10).rs1(11).rm(4)),
    (0x42058553, "fcvt.d.s fa0, fa1", fcvt_d_s(10, 11, 0), k(FcvtDS).rd(10).rs1(11)),
    (0x6005c573, "hlv.b a0, (a1)", hlv_b(A0, A1), k(HlvB).rd(10).rs1(11)),
    (0x6015c573, "hlv.bu a0, (a1)", hlv_bu(A0, A1), k(HlvBu).rd(10).rs1(11)),
    (0x6405c573, "hlv.h a0, (a1)", hlv_h(A0, A1), k(HlvH).rd(10).rs1(11)),
    (0x6415c573, "hlv.hu a0, (a1)", hlv_hu(A0, A1), k(HlvHu).rd(10).rs1(11)),
    (0x6435c573, "hlvx.hu a0, (a1)", hlvx_hu(A0, A1), k(HlvxHu).rd(10).rs1(11)),
    (0x6805c573, "hlv.w a0, (a1)", hlv_w(A0, A1), k(HlvW).rd(10).rs1(11)),
    (0x6815c573, "hlv.wu a0, (a1)", hlv_wu(A0, A1), k(HlvWu).rd(10).rs1(11)),
    (0x6835c573, "hlvx.wu a0, (a1)", hlvx_wu(A0, A1), k(HlvxWu).rd(10).rs1(11)),
    (0x6c05c573, "hlv.d a0, (a1)", hlv_d(A0, A1), k(HlvD).rd(10).rs1(11)),
    (0x6005c073, "hlv.b zero, (a1)", hlv_b(ZERO, A1), k(HlvB).rd(SINK).rs1(11)),
    (0x62c5c073, "hsv.b a2, (a1)", hsv_b(A2, A1), k(HsvB).rs1(11).rs2(12)),
    (0x66c5c073, "hsv.h a2, (a1)", hsv_h(A2, A1), k(HsvH).rs1(11).rs2(12)),
    (0x6ac5c073, "hsv.w a2, (a1)", hsv_w(A2, A1), k(HsvW).rs1(11).rs2(12)),
    (0x6ec5c073, "hsv.d a2, (a1)", hsv_d(A2, A1), k(HsvD).rs1(11).rs2(12)),
    (0x22b50073, "hfence.vvma a0, a1", hfence_vvma(A0, A1), k(HfenceVvma).rs1(10).rs2(11)),
    (0x62b50073, "hfence.gvma a0, a1", hfence_gvma(A0, A1), k(HfenceGvma).rs1(10).rs2(11)),
    // Zba, Zbb, Zbs
    (0x08c5853b, "add.uw a0, a1, a2", add_uw(A0, A1, A2), k(AddUw).rd(10).rs1(11).rs2(12)),
    (0x20c5a533, "sh1add a0, a1, a2", sh1add(A0, A1, A2), k(Sh1add).rd(10).rs1(11).rs2(12)),
    (0x20c5c533, "sh2add a0, a1, a2", sh2add(A0, A1, A2), k(Sh2add).rd(10).rs1(11).rs2(12)),
    (0x20c5e533, "sh3add a0, a1, a2", sh3add(A0, A1, A2), k(Sh3add).rd(10).rs1(11).rs2(12)),
    (0x20c5a53b, "sh1add.uw a0, a1, a2", sh1add_uw(A0, A1, A2), k(Sh1addUw).rd(10).rs1(11).rs2(12)),
    (0x20c5c53b, "sh2add.uw a0, a1, a2", sh2add_uw(A0, A1, A2), k(Sh2addUw).rd(10).rs1(11).rs2(12)),
    (0x20c5e53b, "sh3add.uw a0, a1, a2", sh3add_uw(A0, A1, A2), k(Sh3addUw).rd(10).rs1(11).rs2(12)),
    (0x0a55951b, "slli.uw a0, a1, 37", slli_uw(A0, A1, 37), k(SlliUw).rd(10).rs1(11).imm(37)),
    (0x40c5f533, "andn a0, a1, a2", andn(A0, A1, A2), k(Andn).rd(10).rs1(11).rs2(12)),
    (0x40c5e533, "orn a0, a1, a2", orn(A0, A1, A2), k(Orn).rd(10).rs1(11).rs2(12)),
    (0x40c5c533, "xnor a0, a1, a2", xnor(A0, A1, A2), k(Xnor).rd(10).rs1(11).rs2(12)),
    (0x60059513, "clz a0, a1", clz(A0, A1), k(Clz).rd(10).rs1(11)),
    (0x6005951b, "clzw a0, a1", clzw(A0, A1), k(Clzw).rd(10).rs1(11)),
    (0x60159513, "ctz a0, a1", ctz(A0, A1), k(Ctz).rd(10).rs1(11)),
    (0x6015951b, "ctzw a0, a1", ctzw(A0, A1), k(Ctzw).rd(10).rs1(11)),
    (0x60259513, "cpop a0, a1", cpop(A0, A1), k(Cpop).rd(10).rs1(11)),
    (0x6025951b, "cpopw a0, a1", cpopw(A0, A1), k(Cpopw).rd(10).rs1(11)),
    (0x0ac5e533, "max a0, a1, a2", max(A0, A1, A2), k(Max).rd(10).rs1(11).rs2(12)),
    (0x0ac5f533, "maxu a0, a1, a2", maxu(A0, A1, A2), k(Maxu).rd(10).rs1(11).rs2(12)),
    (0x0ac5c533, "min a0, a1, a2", min(A0, A1, A2), k(Min).rd(10).rs1(11).rs2(12)),
    (0x0ac5d533, "minu a0, a1, a2", minu(A0, A1, A2), k(Minu).rd(10).rs1(11).rs2(12)),
    (0x60459513, "sext.b a0, a1", sext_b(A0, A1), k(SextB).rd(10).rs1(11)),
    (0x60559513, "sext.h a0, a1", sext_h(A0, A1), k(SextH).rd(10).rs1(11)),
    (0x0805c53b, "zext.h a0, a1", zext_h(A0, A1), k(ZextH).rd(10).rs1(11)),
    (0x60c59533, "rol a0, a1, a2", rol(A0, A1, A2), k(Rol).rd(10).rs1(11).rs2(12)),
    (0x60c5953b, "rolw a0, a1, a2", rolw(A0, A1, A2), k(Rolw).rd(10).rs1(11).rs2(12)),
    (0x60c5d533, "ror a0, a1, a2", ror(A0, A1, A2), k(Ror).rd(10).rs1(11).rs2(12)),
    (0x60c5d53b, "rorw a0, a1, a2", rorw(A0, A1, A2), k(Rorw).rd(10).rs1(11).rs2(12)),
    (0x6255d513, "rori a0, a1, 37", rori(A0, A1, 37), k(Rori).rd(10).rs1(11).imm(37)),
    (0x6115d51b, "roriw a0, a1, 17", roriw(A0, A1, 17), k(Roriw).rd(10).rs1(11).imm(17)),
    (0x2875d513, "orc.b a0, a1", orc_b(A0, A1), k(OrcB).rd(10).rs1(11)),
    (0x6b85d513, "rev8 a0, a1", rev8(A0, A1), k(Rev8).rd(10).rs1(11)),
    (0x48c59533, "bclr a0, a1, a2", bclr(A0, A1, A2), k(Bclr).rd(10).rs1(11).rs2(12)),
    (0x4a559513, "bclri a0, a1, 37", bclri(A0, A1, 37), k(Bclri).rd(10).rs1(11).imm(37)),
    (0x48c5d533, "bext a0, a1, a2", bext(A0, A1, A2), k(Bext).rd(10).rs1(11).rs2(12)),
    (0x4a55d513, "bexti a0, a1, 37", bexti(A0, A1, 37), k(Bexti).rd(10).rs1(11).imm(37)),
    (0x68c59533, "binv a0, a1, a2", binv(A0, A1, A2), k(Binv).rd(10).rs1(11).rs2(12)),
    (0x6a559513, "binvi a0, a1, 37", binvi(A0, A1, 37), k(Binvi).rd(10).rs1(11).imm(37)),
    (0x28c59533, "bset a0, a1, a2", bset(A0, A1, A2), k(Bset).rd(10).rs1(11).rs2(12)),
    (0x2a559513, "bseti a0, a1, 37", bseti(A0, A1, 37), k(Bseti).rd(10).rs1(11).imm(37)),
    // Zicond: words from the Zicond specification (LLVM 14 lacks it).
    (0x0ec5d533, "czero.eqz a0, a1, a2", czero_eqz(A0, A1, A2), k(CzeroEqz).rd(10).rs1(11).rs2(12)),
    (0x0ec5f533, "czero.nez a0, a1, a2", czero_nez(A0, A1, A2), k(CzeroNez).rd(10).rs1(11).rs2(12)),
    // Zicbom, Zicboz, Zawrs, Svinval, Zimop
    (0x0005200f, "cbo.inval (a0)", cbo_inval(A0), k(CboInval).rs1(10)),
    (0x0015200f, "cbo.clean (a0)", cbo_clean(A0), k(CboClean).rs1(10)),
    (0x0025200f, "cbo.flush (a0)", cbo_flush(A0), k(CboFlush).rs1(10)),
    (0x0045200f, "cbo.zero (a0)", cbo_zero(A0), k(CboZero).rs1(10)),
    (0x00d00073, "wrs.nto", wrs_nto(), k(WrsNto)),
    (0x01d00073, "wrs.sto", wrs_sto(), k(WrsSto)),
    (0x16b50073, "sinval.vma a0, a1", sinval_vma(A0, A1), k(SinvalVma).rs1(10).rs2(11)),
    (0x18000073, "sfence.w.inval", sfence_w_inval(), k(SfenceWInval)),
    (0x18100073, "sfence.inval.ir", sfence_inval_ir(), k(SfenceInvalIr)),
    (0x26b50073, "hinval.vvma a0, a1", hinval_vvma(A0, A1), k(HinvalVvma).rs1(10).rs2(11)),
    (0x66b50073, "hinval.gvma a0, a1", hinval_gvma(A0, A1), k(HinvalGvma).rs1(10).rs2(11)),
    (0x81c5c573, "mop.r.0 a0, a1", mop_r(0, A0, A1), k(MopR).rd(10).rs1(11)),
    (0xcdf5c573, "mop.r.31 a0, a1", mop_r(31, A0, A1), k(MopR).rd(10).rs1(11)),
    (0x82c5c573, "mop.rr.0 a0, a1, a2", mop_rr(0, A0, A1, A2), k(MopRr).rd(10).rs1(11).rs2(12)),
    (0xcec5c573, "mop.rr.7 a0, a1, a2", mop_rr(7, A0, A1, A2), k(MopRr).rd(10).rs1(11).rs2(12)),
    ];

    #[test]
    fn known_words_encode_and_decode() {
        for &(word, asm, ours, want) in KNOWN {
            assert_eq!(ours, word, "encoding of `{asm}`");
            assert_eq!(decode(word), want.0, "decoding of `{asm}` ({word:#010x})");
            let name = asm.split(' ').next().unwrap();
            let name = name.trim_end_matches(".aqrl").trim_end_matches(".aq");
            let name = name.trim_end_matches(".rl");
            let name = if name == "fence.tso" { "fence" } else { name };
            // One table line stands for every n of the may-be-operations.
            let name = match name {
                _ if name.starts_with("mop.rr.") => "mop.rr.n",
                _ if name.starts_with("mop.r.") => "mop.r.n",
                _ => name,
            };
            assert_eq!(mnemonic(word), Some(name), "mnemonic of `{asm}`");
        }
    }

    #[test]
    fn real_instruction_words() {
        // Words as objdump shows them in kernels and firmware.
        let cases: &[(u32, E)] = &[
            (0x0000_0013, k(Addi).rd(SINK)),                    // nop
            (0x1050_0073, k(Wfi)),                              // wfi
            (0x1020_0073, k(Sret)),                             // sret
            (0x3020_0073, k(Mret)),                             // mret
            (0x1200_0073, k(SfenceVma)),                        // sfence.vma zero, zero
            (0x2200_0073, k(HfenceVvma)),                       // hfence.vvma zero, zero
            (0x6200_0073, k(HfenceGvma)),                       // hfence.gvma zero, zero
            (0x0000_100f, k(FenceI)),                           // fence.i
            (0x0000_0073, k(Ecall)),                            // ecall
            (0x0010_0073, k(Ebreak)),                           // ebreak
            (0x0ff0_000f, k(Fence).imm(0x0ff)),                 // fence iorw, iorw
            (0x8330_000f, k(Fence).imm(0x833)),                 // fence.tso
            (0x0100_000f, k(Fence).imm(0x010)),                 // pause
            (0x0000_8067, k(Jalr).rd(SINK).rs1(1)),             // ret
            (0xf140_2573, k(Csrrs).rd(10).imm(0xf14)),          // csrr a0, mhartid
            (0x3052_9073, k(Csrrw).rd(SINK).rs1(5).imm(0x305)), // csrw mtvec, t0
            (0x1000_0537, k(Lui).rd(10).imm(0x1000_0000)),      // lui a0, 0x10000
            (0x0000_0297, k(Auipc).rd(5)),                      // auipc t0, 0
            (0xfe05_1ee3, k(Bne).rs1(10).imm(-4)),              // bnez a0, .-4
            (0x0000_006f, k(Jal).rd(SINK)),                     // j .
            (0x100f_27af, k(LrW).rd(15).rs1(30)),               // lr.w a5, (t5)
            (0xf2000053, k(FmvDX).rd(0)),                       // fmv.d.x ft0, zero
        ];
        for &(word, want) in cases {
            assert_eq!(decode(word), want.0, "{word:#010x}");
        }
    }

    #[test]
    fn table_has_no_overlapping_lines() {
        let lines: Vec<_> = TABLE.iter().map(|e| (e.name, e.pattern)).collect();
        assert_eq!(overlapping_pairs(&lines), vec![]);
    }

    #[test]
    fn table_lines_fix_the_major_opcode() {
        for e in TABLE {
            assert_eq!(e.pattern.mask & 0x7f, 0x7f, "{}", e.name);
            assert_eq!(e.pattern.value & !e.pattern.mask, 0, "{}", e.name);
        }
    }

    #[test]
    fn every_kind_has_exactly_one_line() {
        let kinds: HashSet<_> = TABLE.iter().map(|e| e.kind as u8).collect();
        assert_eq!(kinds.len(), TABLE.len(), "a kind appears on two lines");
        // Variants are declared Undecoded, Illegal, then the instructions, ending
        // with MopRr.
        let expected: HashSet<u8> = (OpKind::Illegal as u8 + 1..=OpKind::MopRr as u8).collect();
        assert_eq!(kinds, expected);
    }

    /// Register numbers to try as operands.
    const REGS: [u8; 5] = [0, 1, 10, 17, 31];
    /// 12-bit immediates to try.
    const IMM12: [i32; 8] = [-2048, -2047, -1, 0, 1, 42, 2046, 2047];
    /// Rounding modes to try: all eight, the reserved 5 and 6 included.
    const RMS: [u8; 8] = [0, 1, 2, 3, 4, 5, 6, 7];

    // Encoder signatures, by operand shape.
    type R3 = fn(u8, u8, u8) -> u32;
    type R2 = fn(u8, u8) -> u32;
    type RRm = fn(u8, u8, u8) -> u32;
    type Imm = fn(u8, u8, i32) -> u32;
    type Shift = fn(u8, u8, u32) -> u32;
    type CsrOp = fn(u8, u16, u8) -> u32;
    type AmoOp = fn(u8, u8, u8, bool, bool) -> u32;
    type LrOp = fn(u8, u8, bool, bool) -> u32;
    type Upper = fn(u8, i32) -> u32;
    type Fixed = fn() -> u32;
    type R1 = fn(u8) -> u32;
    type R4Rm = fn(u8, u8, u8, u8, u8) -> u32;
    type R3Rm = fn(u8, u8, u8, u8) -> u32;

    #[test]
    fn every_mnemonic_round_trips() {
        let mut seen = HashSet::new();
        let mut check = |word: u32, want: E| {
            assert_eq!(decode(word), want.0, "{word:#010x}");
            seen.insert(want.0.kind);
        };

        // x rd, rs1, rs2 (the FP compares read f registers but write x).
        #[rustfmt::skip]
        let x_r3: &[(R3, OpKind)] = &[
            (add, Add), (sub, Sub), (sll, Sll), (slt, Slt), (sltu, Sltu), (xor, Xor),
            (srl, Srl), (sra, Sra), (or, Or), (and, And), (addw, Addw), (subw, Subw),
            (sllw, Sllw), (srlw, Srlw), (sraw, Sraw), (mul, Mul), (mulh, Mulh),
            (mulhsu, Mulhsu), (mulhu, Mulhu), (div, Div), (divu, Divu), (rem, Rem),
            (remu, Remu), (mulw, Mulw), (divw, Divw), (divuw, Divuw), (remw, Remw),
            (remuw, Remuw), (feq_s, FeqS), (flt_s, FltS), (fle_s, FleS), (feq_d, FeqD),
            (flt_d, FltD), (fle_d, FleD),
            (add_uw, AddUw), (sh1add, Sh1add), (sh2add, Sh2add), (sh3add, Sh3add),
            (sh1add_uw, Sh1addUw), (sh2add_uw, Sh2addUw), (sh3add_uw, Sh3addUw),
            (andn, Andn), (orn, Orn), (xnor, Xnor), (max, Max), (maxu, Maxu), (min, Min),
            (minu, Minu), (rol, Rol), (rolw, Rolw), (ror, Ror), (rorw, Rorw), (bclr, Bclr),
            (bext, Bext), (binv, Binv), (bset, Bset), (czero_eqz, CzeroEqz),
            (czero_nez, CzeroNez),
        ];
        // f rd, rs1, rs2 without a rounding mode.
        #[rustfmt::skip]
        let f_r3: &[(R3, OpKind)] = &[
            (fsgnj_s, FsgnjS), (fsgnjn_s, FsgnjnS), (fsgnjx_s, FsgnjxS), (fmin_s, FminS),
            (fmax_s, FmaxS), (fsgnj_d, FsgnjD), (fsgnjn_d, FsgnjnD), (fsgnjx_d, FsgnjxD),
            (fmin_d, FminD), (fmax_d, FmaxD),
        ];
        for &(enc, kind) in x_r3.iter().chain(f_r3) {
            let f_dest = f_r3.iter().any(|&(_, k)| k == kind);
            for rd in REGS {
                for rs1 in REGS {
                    for rs2 in REGS {
                        let d = if f_dest { rd } else { xd(rd) };
                        check(enc(rd, rs1, rs2), k(kind).rd(d).rs1(rs1).rs2(rs2));
                    }
                }
            }
        }

        // rd, rs1, imm: x destinations, then the FP loads.
        #[rustfmt::skip]
        let x_imm: &[(Imm, OpKind)] = &[
            (addi, Addi), (slti, Slti), (sltiu, Sltiu), (xori, Xori), (ori, Ori),
            (andi, Andi), (addiw, Addiw), (jalr, Jalr), (lb, Lb), (lh, Lh), (lw, Lw),
            (ld, Ld), (lbu, Lbu), (lhu, Lhu), (lwu, Lwu),
        ];
        let f_imm: &[(Imm, OpKind)] = &[(flw, Flw), (fld, Fld)];
        for &(enc, kind) in x_imm.iter().chain(f_imm) {
            let f_dest = f_imm.iter().any(|&(_, k)| k == kind);
            for rd in REGS {
                for rs1 in REGS {
                    for imm in IMM12 {
                        let d = if f_dest { rd } else { xd(rd) };
                        check(enc(rd, rs1, imm), k(kind).rd(d).rs1(rs1).imm(imm));
                    }
                }
            }
        }

        // Shifts: 6-bit amounts for RV64I, 5-bit for the W forms.
        #[rustfmt::skip]
        let shifts: &[(Shift, OpKind, u32)] = &[
            (slli, Slli, 63), (srli, Srli, 63), (srai, Srai, 63),
            (slliw, Slliw, 31), (srliw, Srliw, 31), (sraiw, Sraiw, 31),
            (slli_uw, SlliUw, 63), (rori, Rori, 63), (roriw, Roriw, 31),
            (bclri, Bclri, 63), (bexti, Bexti, 63), (binvi, Binvi, 63), (bseti, Bseti, 63),
        ];
        for &(enc, kind, max) in shifts {
            for rd in REGS {
                for rs1 in REGS {
                    for shamt in [0, 1, 15, 31, 32, 62, 63].into_iter().filter(|&s| s <= max) {
                        check(
                            enc(rd, rs1, shamt),
                            k(kind).rd(xd(rd)).rs1(rs1).imm(shamt as i32),
                        );
                    }
                }
            }
        }

        // Stores: rs2, imm(rs1).
        #[rustfmt::skip]
        let stores: &[(Imm, OpKind)] =
            &[(sb, Sb), (sh, Sh), (sw, Sw), (sd, Sd), (fsw, Fsw), (fsd, Fsd)];
        for &(enc, kind) in stores {
            for rs2 in REGS {
                for rs1 in REGS {
                    for imm in IMM12 {
                        check(enc(rs2, rs1, imm), k(kind).rs1(rs1).rs2(rs2).imm(imm));
                    }
                }
            }
        }

        // Branches.
        #[rustfmt::skip]
        let branches: &[(Imm, OpKind)] = &[
            (beq, Beq), (bne, Bne), (blt, Blt), (bge, Bge), (bltu, Bltu), (bgeu, Bgeu),
        ];
        for &(enc, kind) in branches {
            for rs1 in REGS {
                for rs2 in REGS {
                    for off in [-4096, -4094, -2048, -2, 0, 2, 2048, 4092, 4094] {
                        check(enc(rs1, rs2, off), k(kind).rs1(rs1).rs2(rs2).imm(off));
                    }
                }
            }
        }

        // lui/auipc: the 20-bit field lands in bits 31:12, sign-extended.
        for (enc, kind) in [(lui as Upper, Lui), (auipc, Auipc)] {
            for rd in REGS {
                for imm20 in [-0x8_0000, -1, 0, 1, 0x7_ffff, 0x8_0000, 0xf_ffff] {
                    let imm = ((imm20 as u32 & 0xf_ffff) << 12) as i32;
                    check(enc(rd, imm20), k(kind).rd(xd(rd)).imm(imm));
                }
            }
        }

        // jal.
        for rd in REGS {
            for off in [-0x10_0000, -2048, -2, 0, 2, 2048, 0xf_fffe] {
                check(jal(rd, off), k(Jal).rd(xd(rd)).imm(off));
            }
        }

        // CSRs: the number is unsigned; the i forms carry uimm in rs1.
        #[rustfmt::skip]
        let csrs: &[(CsrOp, OpKind)] = &[
            (csrrw, Csrrw), (csrrs, Csrrs), (csrrc, Csrrc),
            (csrrwi, Csrrwi), (csrrsi, Csrrsi), (csrrci, Csrrci),
        ];
        for &(enc, kind) in csrs {
            for rd in REGS {
                for src in REGS {
                    for csr in [0u16, 1, 0x300, 0x7ff, 0x800, 0xc00, 0xfff] {
                        check(
                            enc(rd, csr, src),
                            k(kind).rd(xd(rd)).rs1(src).imm(csr as i32),
                        );
                    }
                }
            }
        }

        // Atomics: aq is rm bit 1, rl bit 0.
        #[rustfmt::skip]
        let amos: &[(AmoOp, OpKind)] = &[
            (sc_w, ScW), (amoswap_w, AmoswapW), (amoadd_w, AmoaddW), (amoxor_w, AmoxorW),
            (amoand_w, AmoandW), (amoor_w, AmoorW), (amomin_w, AmominW),
            (amomax_w, AmomaxW), (amominu_w, AmominuW), (amomaxu_w, AmomaxuW),
            (sc_d, ScD), (amoswap_d, AmoswapD), (amoadd_d, AmoaddD), (amoxor_d, AmoxorD),
            (amoand_d, AmoandD), (amoor_d, AmoorD), (amomin_d, AmominD),
            (amomax_d, AmomaxD), (amominu_d, AmominuD), (amomaxu_d, AmomaxuD),
        ];
        let orders = [
            (false, false, 0),
            (false, true, 1),
            (true, false, 2),
            (true, true, 3),
        ];
        for &(enc, kind) in amos {
            for rd in REGS {
                for rs2 in REGS {
                    for rs1 in REGS {
                        for (aq, rl, rm) in orders {
                            check(
                                enc(rd, rs2, rs1, aq, rl),
                                k(kind).rd(xd(rd)).rs1(rs1).rs2(rs2).rm(rm),
                            );
                        }
                    }
                }
            }
        }
        for (enc, kind) in [(lr_w as LrOp, LrW), (lr_d, LrD)] {
            for rd in REGS {
                for rs1 in REGS {
                    for (aq, rl, rm) in orders {
                        check(enc(rd, rs1, aq, rl), k(kind).rd(xd(rd)).rs1(rs1).rm(rm));
                    }
                }
            }
        }

        // No operands.
        #[rustfmt::skip]
        let fixed: &[(Fixed, OpKind)] = &[
            (ecall, Ecall), (ebreak, Ebreak), (sret, Sret), (mret, Mret), (wfi, Wfi),
            (fence_i, FenceI), (wrs_nto, WrsNto), (wrs_sto, WrsSto),
            (sfence_w_inval, SfenceWInval), (sfence_inval_ir, SfenceInvalIr),
        ];
        for &(enc, kind) in fixed {
            check(enc(), k(kind));
        }
        for pred in 0..16 {
            for succ in 0..16 {
                check(fence(pred, succ), k(Fence).imm(i32::from(pred << 4 | succ)));
            }
        }
        check(fence_tso(), k(Fence).imm(0x833));
        check(pause(), k(Fence).imm(0x010));

        // Cache-block operations: rs1 only.
        #[rustfmt::skip]
        let cbo: &[(R1, OpKind)] = &[
            (cbo_inval, CboInval), (cbo_clean, CboClean), (cbo_flush, CboFlush),
            (cbo_zero, CboZero),
        ];
        for rs1 in REGS {
            for &(enc, kind) in cbo {
                check(enc(rs1), k(kind).rs1(rs1));
            }
        }

        // Zimop: every n.
        for rd in REGS {
            for rs1 in REGS {
                for n in 0..32 {
                    check(mop_r(n, rd, rs1), k(MopR).rd(xd(rd)).rs1(rs1));
                }
                for n in 0..8 {
                    check(mop_rr(n, rd, rs1, 17), k(MopRr).rd(xd(rd)).rs1(rs1).rs2(17));
                }
            }
        }

        // rs1, rs2 only: address-translation fences, then hypervisor stores (rs2, rs1).
        #[rustfmt::skip]
        let vma: &[(R2, OpKind)] = &[
            (sfence_vma, SfenceVma), (hfence_vvma, HfenceVvma), (hfence_gvma, HfenceGvma),
            (sinval_vma, SinvalVma), (hinval_vvma, HinvalVvma), (hinval_gvma, HinvalGvma),
        ];
        let hsv: &[(R2, OpKind)] = &[(hsv_b, HsvB), (hsv_h, HsvH), (hsv_w, HsvW), (hsv_d, HsvD)];
        for a in REGS {
            for b in REGS {
                for &(enc, kind) in vma {
                    check(enc(a, b), k(kind).rs1(a).rs2(b));
                }
                for &(enc, kind) in hsv {
                    check(enc(a, b), k(kind).rs1(b).rs2(a));
                }
            }
        }

        // rd, rs1: x destinations (hypervisor loads, FP moves/classify), then f ones.
        #[rustfmt::skip]
        let x_r2: &[(R2, OpKind)] = &[
            (hlv_b, HlvB), (hlv_bu, HlvBu), (hlv_h, HlvH), (hlv_hu, HlvHu),
            (hlvx_hu, HlvxHu), (hlv_w, HlvW), (hlv_wu, HlvWu), (hlvx_wu, HlvxWu),
            (hlv_d, HlvD), (fmv_x_w, FmvXW), (fclass_s, FclassS), (fmv_x_d, FmvXD),
            (fclass_d, FclassD), (clz, Clz), (clzw, Clzw), (ctz, Ctz), (ctzw, Ctzw),
            (cpop, Cpop), (cpopw, Cpopw), (sext_b, SextB), (sext_h, SextH), (zext_h, ZextH),
            (orc_b, OrcB), (rev8, Rev8),
        ];
        let f_r2: &[(R2, OpKind)] = &[(fmv_w_x, FmvWX), (fmv_d_x, FmvDX)];
        for rd in REGS {
            for rs1 in REGS {
                for &(enc, kind) in x_r2 {
                    check(enc(rd, rs1), k(kind).rd(xd(rd)).rs1(rs1));
                }
                for &(enc, kind) in f_r2 {
                    check(enc(rd, rs1), k(kind).rd(rd).rs1(rs1));
                }
            }
        }

        // FP with a rounding mode, kept raw.
        #[rustfmt::skip]
        let fma: &[(R4Rm, OpKind)] = &[
            (fmadd_s, FmaddS), (fmsub_s, FmsubS), (fnmsub_s, FnmsubS), (fnmadd_s, FnmaddS),
            (fmadd_d, FmaddD), (fmsub_d, FmsubD), (fnmsub_d, FnmsubD), (fnmadd_d, FnmaddD),
        ];
        #[rustfmt::skip]
        let arith: &[(R3Rm, OpKind)] = &[
            (fadd_s, FaddS), (fsub_s, FsubS), (fmul_s, FmulS), (fdiv_s, FdivS),
            (fadd_d, FaddD), (fsub_d, FsubD), (fmul_d, FmulD), (fdiv_d, FdivD),
        ];
        #[rustfmt::skip]
        let f_unary: &[(RRm, OpKind)] = &[
            (fsqrt_s, FsqrtS), (fcvt_s_w, FcvtSW), (fcvt_s_wu, FcvtSWu), (fcvt_s_l, FcvtSL),
            (fcvt_s_lu, FcvtSLu), (fsqrt_d, FsqrtD), (fcvt_s_d, FcvtSD), (fcvt_d_s, FcvtDS),
            (fcvt_d_w, FcvtDW), (fcvt_d_wu, FcvtDWu), (fcvt_d_l, FcvtDL), (fcvt_d_lu, FcvtDLu),
        ];
        #[rustfmt::skip]
        let x_unary: &[(RRm, OpKind)] = &[
            (fcvt_w_s, FcvtWS), (fcvt_wu_s, FcvtWuS), (fcvt_l_s, FcvtLS),
            (fcvt_lu_s, FcvtLuS), (fcvt_w_d, FcvtWD), (fcvt_wu_d, FcvtWuD),
            (fcvt_l_d, FcvtLD), (fcvt_lu_d, FcvtLuD),
        ];
        for rm in RMS {
            for rd in REGS {
                for rs1 in REGS {
                    for rs2 in REGS {
                        for &(enc, kind) in arith {
                            check(
                                enc(rd, rs1, rs2, rm),
                                k(kind).rd(rd).rs1(rs1).rs2(rs2).rm(rm),
                            );
                        }
                        for rs3 in REGS {
                            for &(enc, kind) in fma {
                                let want = k(kind).rd(rd).rs1(rs1).rs2(rs2).rs3(rs3).rm(rm);
                                check(enc(rd, rs1, rs2, rs3, rm), want);
                            }
                        }
                    }
                    for &(enc, kind) in f_unary {
                        check(enc(rd, rs1, rm), k(kind).rd(rd).rs1(rs1).rm(rm));
                    }
                    for &(enc, kind) in x_unary {
                        check(enc(rd, rs1, rm), k(kind).rd(xd(rd)).rs1(rs1).rm(rm));
                    }
                }
            }
        }

        let table: HashSet<_> = TABLE.iter().map(|e| e.kind).collect();
        assert_eq!(seen, table, "round trip misses a table line");
    }

    #[test]
    fn reserved_and_unknown_words_are_illegal() {
        let cases: &[(u32, &str)] = &[
            (slliw(A0, A1, 0) | 1 << 25, "slliw with shamt[5] set"),
            (srliw(A0, A1, 3) | 1 << 25, "srliw with shamt[5] set"),
            (sraiw(A0, A1, 31) | 1 << 25, "sraiw with shamt[5] set"),
            (slli(A0, A1, 1) | 1 << 30, "slli with funct6 0x10"),
            (srai(A0, A1, 1) | 1 << 31, "srai with funct6 0x30"),
            (add(A0, A1, A2) | 1 << 26, "OP funct7 0x02"),
            (addw(A0, A1, A2) | 1 << 28, "OP-32 funct7 0x08"),
            (zext_h(A0, A1) | 1 << 20, "zext.h with rs2 1 (pack.w)"),
            (clz(A0, A1) | 3 << 20, "OP-IMM imm 0x603"),
            (rev8(A0, A1) & !(1 << 23), "rev8.w (RV32 rev8)"),
            (roriw(A0, A1, 3) | 1 << 25, "roriw with shamt[5] set"),
            (
                czero_eqz(A0, A1, A2) & !(1 << 12),
                "OP funct3 4 funct7 0x07",
            ),
            (mulw(A0, A1, A2) | 1 << 13, "OP-32 M funct3 2"),
            (fadd_s(1, 2, 3, 0) | 2 << 25, "fadd.h (fmt 2)"),
            (fadd_s(1, 2, 3, 0) | 3 << 25, "fadd.q (fmt 3)"),
            (fmadd_s(1, 2, 3, 4, 0) | 2 << 25, "fmadd.h"),
            (fsqrt_d(1, 2, 0) | 1 << 20, "fsqrt.d with rs2 != 0"),
            (fcvt_w_s(A0, 1, 0) | 4 << 20, "fcvt with rs2 4"),
            (fmv_x_w(A0, 1) | 2 << 12, "fmv.x.w with funct3 2"),
            (fsgnj_s(1, 2, 3) | 3 << 12, "fsgnj funct3 3"),
            (fmax_d(1, 2, 3) | 1 << 13, "fmin/fmax funct3 3"),
            (feq_s(A0, 1, 2) | 1 << 13 | 1 << 12, "fcmp funct3 3"),
            (lr_w(A0, A1, false, false) | 1 << 20, "lr.w with rs2 != 0"),
            (
                amoadd_w(A0, A1, A2, false, false) & !(7 << 12),
                "amoadd.b (Zabha)",
            ),
            (amoadd_w(A0, A1, A2, false, false) | 4 << 12, "amoadd.q"),
            (
                amoadd_w(A0, A1, A2, false, false) | 0x05 << 27,
                "AMO funct5 5",
            ),
            (ld(A0, A1, 0) | 7 << 12, "ldu (RV128)"),
            (sd(A0, A1, 0) | 4 << 12, "sq / store funct3 4"),
            (fsw(1, A1, 0) | 4 << 12, "fsq"),
            (beq(A0, A1, 0) | 2 << 12, "branch funct3 2"),
            (beq(A0, A1, 0) | 3 << 12, "branch funct3 3"),
            (jalr(A0, A1, 0) | 1 << 12, "jalr funct3 1"),
            (fence(1, 1) | 2 << 12, "MISC-MEM funct3 2 (cbo)"),
            (ecall() | 1 << 7, "ecall with rd != 0"),
            (ecall() | 1 << 15, "ecall with rs1 != 0"),
            (ecall() | 2 << 20, "SYSTEM imm 2 (uret)"),
            (sret() | 1 << 15, "sret with rs1 != 0"),
            (wfi() | 1 << 7, "wfi with rd != 0"),
            (0x7b20_0073, "dret"),
            (sfence_vma(A0, A1) | 1 << 7, "sfence.vma with rd != 0"),
            (hfence_gvma(A0, A1) | 1 << 7, "hfence.gvma with rd != 0"),
            (sinval_vma(A0, A1) | 1 << 7, "sinval.vma with rd != 0"),
            (sfence_w_inval() | 1 << 15, "sfence.w.inval with rs1 != 0"),
            (cbo_zero(A0) | 1 << 7, "cbo.zero with rd != 0"),
            (cbo_zero(A0) | 1 << 20, "MISC-MEM funct3 2 imm 5"),
            (cbo_clean(A0) | 2 << 20, "MISC-MEM funct3 2 imm 3"),
            (wrs_nto() | 1 << 7, "wrs.nto with rd != 0"),
            (mop_r(0, A0, A1) | 1 << 28, "mop.r with bit 28 set"),
            (mop_rr(0, A0, A1, A2) | 1 << 29, "mop.rr with bit 29 set"),
            (hlv_w(A0, A1) | 2 << 20, "hlv.w with rs2 2"),
            (hlv_d(A0, A1) | 1 << 20, "hlv.du"),
            (hsv_w(A0, A1) | 1 << 7, "hsv.w with rd != 0"),
            (hlv_b(A0, A1) | 1 << 28, "SYSTEM funct3 4, funct7 0x38"),
            (0x0000_000b, "custom-0"),
            (0x0000_005b, "custom-2"),
            (0x4280_0087 | 8 << 20, "vl3re8.v (reserved nf)"),
            (0x0000_001f, "48-bit prefix"),
            (0x0000_003f, "64-bit prefix"),
            (0x0000_007f, ">= 80-bit prefix"),
            (0xffff_ffff, "all ones"),
        ];
        for &(word, what) in cases {
            let op = decode(word);
            assert_eq!(
                op,
                illegal(word, 4),
                "{what}: {word:#010x} decoded as {op:?}"
            );
            assert_eq!(mnemonic(word), None, "{what}");
        }
    }

    #[test]
    fn illegal_ops_carry_the_raw_bits() {
        assert_eq!(decode(0xffff_ffff), k(Illegal).imm(-1).0);
        assert_eq!(decode(0x0000_007f), k(Illegal).imm(0x7f).0);
        // The all-zero parcel is a 16-bit illegal instruction.
        assert_eq!(decode(0), k(Illegal).c().0);
        assert_eq!(decode(0xabcd_0000), k(Illegal).c().0);
    }

    #[test]
    fn reserved_fence_fields_are_ignored() {
        // fence with rd/rs1 set and an unknown fm: an ordinary fence (manual, FENCE).
        let word = fence(fence_set::IORW, fence_set::R) | 5 << 7 | 6 << 15 | 0x3 << 28;
        assert_eq!(decode(word), k(Fence).imm(0x3f2).0);
        // fence.i with its reserved imm/rs1/rd set.
        assert_eq!(
            decode(fence_i() | 0xabc << 20 | 7 << 15 | 9 << 7),
            k(FenceI).0
        );
    }

    /// A xorshift generator, so the fuzz tests need no crates.
    pub(crate) struct XorShift(pub u64);

    impl XorShift {
        pub(crate) fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    #[test]
    fn random_words_decode_consistently() {
        // Kinds whose rd is an integer register, which must never come out as 0.
        let x_dest: HashSet<_> = TABLE
            .iter()
            .filter(|e| {
                use Format::*;
                matches!(e.format, R | I | Shamt | U | J | Csr | Amo | XRs1 | XRs1Rm)
            })
            .map(|e| e.kind)
            .collect();
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        for i in 0..4_000_000u32 {
            let r = rng.next();
            let mut word = (r >> 32) as u32;
            // Half the words get a real major opcode, so they reach the table.
            if i % 2 == 0 {
                word |= 3;
            }
            let op = decode(word);
            let len = if word & 3 == 3 { 4 } else { 2 };
            assert_eq!(op.len, len, "{word:#010x}");
            assert_eq!((op.heat, op.block), (0, 0));
            if op.kind == Illegal {
                let raw = if len == 4 { word } else { word & 0xffff };
                assert_eq!(op.imm, raw as i32, "{word:#010x}");
                continue;
            }
            // Vector ops keep their operation number in rs3.
            let rs3_ok = op.rs3 < 32 || op.kind == Vector;
            assert!(op.rd <= SINK && op.rs1 < 32 && op.rs2 < 32 && rs3_ok && op.rm < 8);
            if x_dest.contains(&op.kind) {
                assert_ne!(op.rd, 0, "{word:#010x} {op:?}: x0 destination not sunk");
            } else {
                assert_ne!(op.rd, SINK, "{word:#010x} {op:?}: f destination sunk");
            }
        }
    }
}
