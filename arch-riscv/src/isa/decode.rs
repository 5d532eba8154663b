//! Decoding of 16- and 32-bit instructions into [`Op`]s.
//!
//! The 32-bit decoder is the table [`TABLE`]: one line per encoding giving the
//! mnemonic, the [`OpKind`], the operand [`Format`] and the fixed bits, written field
//! by field after the opcode maps of the unprivileged ISA manual (chapter "RV32/64G
//! Instruction Set Listings") and the privileged manual's hypervisor chapter. A word
//! that matches no line is [`OpKind::Illegal`]. Compressed instructions are expanded
//! by [`super::compressed`] into the 32-bit word they stand for and decoded here.

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
        lookup32(bits).map(|e| e.name)
    }
}

/// Decodes a 32-bit instruction (`bits & 3` must be 3).
pub(super) fn decode32(bits: u32) -> Op {
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

// Major opcodes (bits 6:0), named as in the manual's opcode map.
const LOAD: u32 = 0x03;
const LOAD_FP: u32 = 0x07;
const MISC_MEM: u32 = 0x0f;
const OP_IMM: u32 = 0x13;
const AUIPC: u32 = 0x17;
const OP_IMM_32: u32 = 0x1b;
const STORE: u32 = 0x23;
const STORE_FP: u32 = 0x27;
const AMO: u32 = 0x2f;
const OP: u32 = 0x33;
const LUI: u32 = 0x37;
const OP_32: u32 = 0x3b;
const MADD: u32 = 0x43;
const MSUB: u32 = 0x47;
const NMSUB: u32 = 0x4b;
const NMADD: u32 = 0x4f;
const OP_FP: u32 = 0x53;
const BRANCH: u32 = 0x63;
const JALR: u32 = 0x67;
const JAL: u32 = 0x6f;
const SYSTEM: u32 = 0x73;

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

/// The 32-bit encodings of RV64IMAFD, Zicsr, Zifencei, the privileged instructions
/// and the hypervisor extension.
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
