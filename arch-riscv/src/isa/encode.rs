//! An instruction encoder, so tests can build guest programs without a cross toolchain.
//!
//! There is one `const fn` per mnemonic, returning the instruction word (`u32`, or
//! `u16` for the `c_*` compressed forms), and an [`Assembler`] with the same methods
//! that appends to a program and resolves labels.
//!
//! Conventions:
//! - Registers are plain `u8` numbers, integer or FP as the mnemonic implies; [`reg`]
//!   names the integer ABI registers. Compressed forms that take `x8`–`x15` only
//!   (the `rd'`/`rs1'`/`rs2'` fields) still take the full register number.
//! - Operands come in assembler order: `sd(rs2, rs1, imm)` is `sd rs2, imm(rs1)`,
//!   `amoadd_w(rd, rs2, rs1, aq, rl)` is `amoadd.w rd, rs2, (rs1)`.
//! - Branch and jump offsets are in bytes, relative to the instruction's address.
//! - `lui`/`auipc` take the 20-bit upper immediate as assembler syntax does
//!   (`lui a0, 0x12345`); negative values stand for the same 20 bits.
//! - Out-of-range registers and immediates fail a `debug_assert!`; release builds
//!   truncate them to the field.

mod assembler;
mod compressed;
pub mod vector;

pub use assembler::{Assembler, Label};
pub use compressed::*;
pub use vector::{VMem, varith, vmem, vsetivli, vsetvl, vsetvli, vtype};

/// Integer register numbers by ABI name.
pub mod reg {
    #![allow(missing_docs)] // The ABI names are the documentation.
    pub const ZERO: u8 = 0;
    pub const RA: u8 = 1;
    pub const SP: u8 = 2;
    pub const GP: u8 = 3;
    pub const TP: u8 = 4;
    pub const T0: u8 = 5;
    pub const T1: u8 = 6;
    pub const T2: u8 = 7;
    pub const S0: u8 = 8;
    pub const S1: u8 = 9;
    pub const A0: u8 = 10;
    pub const A1: u8 = 11;
    pub const A2: u8 = 12;
    pub const A3: u8 = 13;
    pub const A4: u8 = 14;
    pub const A5: u8 = 15;
    pub const A6: u8 = 16;
    pub const A7: u8 = 17;
    pub const S2: u8 = 18;
    pub const S3: u8 = 19;
    pub const S4: u8 = 20;
    pub const S5: u8 = 21;
    pub const S6: u8 = 22;
    pub const S7: u8 = 23;
    pub const S8: u8 = 24;
    pub const S9: u8 = 25;
    pub const S10: u8 = 26;
    pub const S11: u8 = 27;
    pub const T3: u8 = 28;
    pub const T4: u8 = 29;
    pub const T5: u8 = 30;
    pub const T6: u8 = 31;
}

/// Values of the FP rounding-mode field `rm`.
pub mod rm {
    /// Round to nearest, ties to even.
    pub const RNE: u8 = 0;
    /// Round towards zero.
    pub const RTZ: u8 = 1;
    /// Round down (towards -infinity).
    pub const RDN: u8 = 2;
    /// Round up (towards +infinity).
    pub const RUP: u8 = 3;
    /// Round to nearest, ties to max magnitude.
    pub const RMM: u8 = 4;
    /// Use the rounding mode in `frm`.
    pub const DYN: u8 = 7;
}

/// FENCE predecessor/successor set bits (combine with `|`).
pub mod fence_set {
    /// Device input.
    pub const I: u8 = 8;
    /// Device output.
    pub const O: u8 = 4;
    /// Memory reads.
    pub const R: u8 = 2;
    /// Memory writes.
    pub const W: u8 = 1;
    /// All of them.
    pub const IORW: u8 = 15;
}

use super::opcode::*;

// ---------------------------------------------------------------------------------
// Operand checks (debug builds only).

/// An integer or FP register number, checked to be below 32.
const fn r(n: u8) -> u32 {
    debug_assert!(n < 32, "register number must be below 32");
    n as u32 & 31
}

/// Whether `v` fits a `bits`-bit two's-complement field.
pub(crate) const fn fits_signed(v: i64, bits: u32) -> bool {
    let half = 1i64 << (bits - 1);
    -half <= v && v < half
}

/// A signed immediate, checked to fit `bits` bits.
const fn simm(v: i32, bits: u32) -> i32 {
    debug_assert!(fits_signed(v as i64, bits), "immediate out of range");
    v
}

/// A branch or jump offset, checked to be even and to fit `bits` bits.
const fn offset(v: i32, bits: u32) -> i32 {
    debug_assert!(v & 1 == 0, "branch/jump offset must be even");
    simm(v, bits)
}

// ---------------------------------------------------------------------------------
// Instruction formats. These only place fields; they mask but do not check.

/// Packs an R-type word: `funct7 | rs2 | rs1 | funct3 | rd | opcode`.
pub const fn r_type(opcode: u32, funct3: u32, funct7: u32, rd: u32, rs1: u32, rs2: u32) -> u32 {
    (funct7 & 0x7f) << 25
        | (rs2 & 31) << 20
        | (rs1 & 31) << 15
        | (funct3 & 7) << 12
        | (rd & 31) << 7
        | (opcode & 0x7f)
}

/// Packs an R4-type word (fused multiply-add): `rs3 | fmt | rs2 | rs1 | rm | rd | opcode`.
pub const fn r4_type(opcode: u32, fmt: u32, rm: u32, rd: u32, rs1: u32, rs2: u32, rs3: u32) -> u32 {
    r_type(opcode, rm, (rs3 & 31) << 2 | (fmt & 3), rd, rs1, rs2)
}

/// Packs an I-type word; `imm` is truncated to 12 bits.
pub const fn i_type(opcode: u32, funct3: u32, rd: u32, rs1: u32, imm: i32) -> u32 {
    (imm as u32 & 0xfff) << 20 | (rs1 & 31) << 15 | (funct3 & 7) << 12 | (rd & 31) << 7 | opcode
}

/// Packs an S-type word; `imm` is truncated to 12 bits.
pub const fn s_type(opcode: u32, funct3: u32, rs1: u32, rs2: u32, imm: i32) -> u32 {
    let imm = imm as u32;
    (imm >> 5 & 0x7f) << 25
        | (rs2 & 31) << 20
        | (rs1 & 31) << 15
        | (funct3 & 7) << 12
        | (imm & 0x1f) << 7
        | opcode
}

/// Packs a B-type word; `offset` is truncated to 13 bits (bit 0 dropped).
pub const fn b_type(opcode: u32, funct3: u32, rs1: u32, rs2: u32, offset: i32) -> u32 {
    let o = offset as u32;
    (o >> 12 & 1) << 31
        | (o >> 5 & 0x3f) << 25
        | (rs2 & 31) << 20
        | (rs1 & 31) << 15
        | (funct3 & 7) << 12
        | (o >> 1 & 0xf) << 8
        | (o >> 11 & 1) << 7
        | opcode
}

/// Packs a U-type word from the 20-bit upper immediate (truncated).
pub const fn u_type(opcode: u32, rd: u32, imm20: i32) -> u32 {
    (imm20 as u32 & 0xf_ffff) << 12 | (rd & 31) << 7 | opcode
}

/// Packs a J-type word; `offset` is truncated to 21 bits (bit 0 dropped).
pub const fn j_type(opcode: u32, rd: u32, offset: i32) -> u32 {
    let o = offset as u32;
    (o >> 20 & 1) << 31
        | (o >> 1 & 0x3ff) << 21
        | (o >> 11 & 1) << 20
        | (o >> 12 & 0xff) << 12
        | (rd & 31) << 7
        | opcode
}

// ---------------------------------------------------------------------------------
// Mnemonics. Each macro line makes the free function and the `Assembler` method.

/// `rd, rs1, rs2`: integer R-type, M, Zb*, Zicond, and the FP ops without a rounding
/// mode.
macro_rules! r_ops {
    ($( $name:ident $asm:literal = $opcode:ident $f3:literal $f7:literal; )*) => {$(
        #[doc = concat!("Encodes `", $asm, " rd, rs1, rs2`.")]
        pub const fn $name(rd: u8, rs1: u8, rs2: u8) -> u32 {
            r_type($opcode, $f3, $f7, r(rd), r(rs1), r(rs2))
        }
        impl Assembler {
            #[doc = concat!("Emits `", $asm, " rd, rs1, rs2`.")]
            pub fn $name(&mut self, rd: u8, rs1: u8, rs2: u8) -> &mut Self {
                self.emit($name(rd, rs1, rs2))
            }
        }
    )*};
}

/// `rd, rs1, rs2, rm`: FP arithmetic with a rounding mode.
macro_rules! rm_ops {
    ($( $name:ident $asm:literal = $f7:literal; )*) => {$(
        #[doc = concat!("Encodes `", $asm, " rd, rs1, rs2, rm` (`rm`: see [`rm`]).")]
        pub const fn $name(rd: u8, rs1: u8, rs2: u8, rm: u8) -> u32 {
            debug_assert!(rm < 8, "rounding mode must be below 8");
            r_type(OP_FP, rm as u32, $f7, r(rd), r(rs1), r(rs2))
        }
        impl Assembler {
            #[doc = concat!("Emits `", $asm, " rd, rs1, rs2, rm`.")]
            pub fn $name(&mut self, rd: u8, rs1: u8, rs2: u8, rm: u8) -> &mut Self {
                self.emit($name(rd, rs1, rs2, rm))
            }
        }
    )*};
}

/// `rd, rs1, rm`: FP square root and conversions (`rs2` selects the conversion).
macro_rules! unary_rm_ops {
    ($( $name:ident $asm:literal = $f7:literal $rs2:literal; )*) => {$(
        #[doc = concat!("Encodes `", $asm, " rd, rs1, rm` (`rm`: see [`rm`]).")]
        pub const fn $name(rd: u8, rs1: u8, rm: u8) -> u32 {
            debug_assert!(rm < 8, "rounding mode must be below 8");
            r_type(OP_FP, rm as u32, $f7, r(rd), r(rs1), $rs2)
        }
        impl Assembler {
            #[doc = concat!("Emits `", $asm, " rd, rs1, rm`.")]
            pub fn $name(&mut self, rd: u8, rs1: u8, rm: u8) -> &mut Self {
                self.emit($name(rd, rs1, rm))
            }
        }
    )*};
}

/// `rd, rs1` with `funct3` and `rs2` fixed: FP moves and classify, hypervisor loads,
/// the unary Zbb operations.
macro_rules! unary_ops {
    ($( $name:ident $asm:literal = $opcode:ident $f3:literal $f7:literal $rs2:literal; )*) => {$(
        #[doc = concat!("Encodes `", $asm, "`.")]
        pub const fn $name(rd: u8, rs1: u8) -> u32 {
            r_type($opcode, $f3, $f7, r(rd), r(rs1), $rs2)
        }
        impl Assembler {
            #[doc = concat!("Emits `", $asm, "`.")]
            pub fn $name(&mut self, rd: u8, rs1: u8) -> &mut Self {
                self.emit($name(rd, rs1))
            }
        }
    )*};
}

/// `rd, rs1, rs2, rs3, rm`: fused multiply-add.
macro_rules! r4_ops {
    ($( $name:ident $asm:literal = $opcode:ident $fmt:literal; )*) => {$(
        #[doc = concat!("Encodes `", $asm, " rd, rs1, rs2, rs3, rm` (`rm`: see [`rm`]).")]
        pub const fn $name(rd: u8, rs1: u8, rs2: u8, rs3: u8, rm: u8) -> u32 {
            debug_assert!(rm < 8, "rounding mode must be below 8");
            r4_type($opcode, $fmt, rm as u32, r(rd), r(rs1), r(rs2), r(rs3))
        }
        impl Assembler {
            #[doc = concat!("Emits `", $asm, " rd, rs1, rs2, rs3, rm`.")]
            pub fn $name(&mut self, rd: u8, rs1: u8, rs2: u8, rs3: u8, rm: u8) -> &mut Self {
                self.emit($name(rd, rs1, rs2, rs3, rm))
            }
        }
    )*};
}

/// `rd, rs1, imm`: I-type arithmetic, loads (`rd, imm(rs1)`) and `jalr`.
macro_rules! i_ops {
    ($( $name:ident $asm:literal = $opcode:ident $f3:literal; )*) => {$(
        #[doc = concat!("Encodes `", $asm, "`; `imm` is -2048..=2047.")]
        pub const fn $name(rd: u8, rs1: u8, imm: i32) -> u32 {
            i_type($opcode, $f3, r(rd), r(rs1), simm(imm, 12))
        }
        impl Assembler {
            #[doc = concat!("Emits `", $asm, "`.")]
            pub fn $name(&mut self, rd: u8, rs1: u8, imm: i32) -> &mut Self {
                self.emit($name(rd, rs1, imm))
            }
        }
    )*};
}

/// `rd, rs1, shamt`: shifts by an immediate; `$hi` holds the fixed upper bits.
macro_rules! shift_ops {
    ($( $name:ident $asm:literal = $opcode:ident $f3:literal $hi:literal $max:literal; )*) => {$(
        #[doc = concat!("Encodes `", $asm, " rd, rs1, shamt`; `shamt` is 0..=", $max, ".")]
        pub const fn $name(rd: u8, rs1: u8, shamt: u32) -> u32 {
            debug_assert!(shamt <= $max, "shift amount out of range");
            i_type($opcode, $f3, r(rd), r(rs1), ($hi << 5 | (shamt & $max)) as i32)
        }
        impl Assembler {
            #[doc = concat!("Emits `", $asm, " rd, rs1, shamt`.")]
            pub fn $name(&mut self, rd: u8, rs1: u8, shamt: u32) -> &mut Self {
                self.emit($name(rd, rs1, shamt))
            }
        }
    )*};
}

/// `rs2, imm(rs1)`: stores.
macro_rules! s_ops {
    ($( $name:ident $asm:literal = $opcode:ident $f3:literal; )*) => {$(
        #[doc = concat!("Encodes `", $asm, " rs2, imm(rs1)`; `imm` is -2048..=2047.")]
        pub const fn $name(rs2: u8, rs1: u8, imm: i32) -> u32 {
            s_type($opcode, $f3, r(rs1), r(rs2), simm(imm, 12))
        }
        impl Assembler {
            #[doc = concat!("Emits `", $asm, " rs2, imm(rs1)`.")]
            pub fn $name(&mut self, rs2: u8, rs1: u8, imm: i32) -> &mut Self {
                self.emit($name(rs2, rs1, imm))
            }
        }
    )*};
}

/// `rs1, rs2, offset`: conditional branches.
macro_rules! b_ops {
    ($( $name:ident $to:ident $asm:literal = $f3:literal; )*) => {$(
        #[doc = concat!("Encodes `", $asm, " rs1, rs2, offset`; `offset` is even, -4096..=4094.")]
        pub const fn $name(rs1: u8, rs2: u8, offset: i32) -> u32 {
            b_type(BRANCH, $f3, r(rs1), r(rs2), self::offset(offset, 13))
        }
        impl Assembler {
            #[doc = concat!("Emits `", $asm, " rs1, rs2, offset`.")]
            pub fn $name(&mut self, rs1: u8, rs2: u8, offset: i32) -> &mut Self {
                self.emit($name(rs1, rs2, offset))
            }
            #[doc = concat!("Emits `", $asm, " rs1, rs2` to `label`, bound now or later.")]
            pub fn $to(&mut self, rs1: u8, rs2: u8, label: Label) -> &mut Self {
                self.branch_to(label, 13, move |off| $name(rs1, rs2, off))
            }
        }
    )*};
}

/// `rd, csr, rs1` and `rd, csr, uimm`: Zicsr.
macro_rules! csr_ops {
    ($( $name:ident $asm:literal = $f3:literal $src:ident; )*) => {$(
        #[doc = concat!("Encodes `", $asm, " rd, csr, ", stringify!($src), "`.")]
        pub const fn $name(rd: u8, csr: u16, $src: u8) -> u32 {
            debug_assert!(csr < 0x1000, "CSR number must be below 0x1000");
            i_type(SYSTEM, $f3, r(rd), r($src), csr as i32)
        }
        impl Assembler {
            #[doc = concat!("Emits `", $asm, " rd, csr, ", stringify!($src), "`.")]
            pub fn $name(&mut self, rd: u8, csr: u16, $src: u8) -> &mut Self {
                self.emit($name(rd, csr, $src))
            }
        }
    )*};
}

/// `rd, rs2, (rs1)` with ordering bits: SC and the AMOs.
macro_rules! amo_ops {
    ($( $name:ident $asm:literal = $f3:literal $f5:literal; )*) => {$(
        #[doc = concat!("Encodes `", $asm, " rd, rs2, (rs1)` with the aq/rl bits.")]
        pub const fn $name(rd: u8, rs2: u8, rs1: u8, aq: bool, rl: bool) -> u32 {
            r_type(AMO, $f3, $f5 << 2 | (aq as u32) << 1 | rl as u32, r(rd), r(rs1), r(rs2))
        }
        impl Assembler {
            #[doc = concat!("Emits `", $asm, " rd, rs2, (rs1)`.")]
            pub fn $name(&mut self, rd: u8, rs2: u8, rs1: u8, aq: bool, rl: bool) -> &mut Self {
                self.emit($name(rd, rs2, rs1, aq, rl))
            }
        }
    )*};
}

/// `rs1, rs2` with `rd` = 0: fences on address-translation caches.
macro_rules! vma_ops {
    ($( $name:ident $asm:literal = $f7:literal; )*) => {$(
        #[doc = concat!("Encodes `", $asm, " rs1, rs2` (`rs1` address, `rs2` ASID/VMID).")]
        pub const fn $name(rs1: u8, rs2: u8) -> u32 {
            r_type(SYSTEM, 0, $f7, 0, r(rs1), r(rs2))
        }
        impl Assembler {
            #[doc = concat!("Emits `", $asm, " rs1, rs2`.")]
            pub fn $name(&mut self, rs1: u8, rs2: u8) -> &mut Self {
                self.emit($name(rs1, rs2))
            }
        }
    )*};
}

/// `rs2, (rs1)`: hypervisor virtual-machine stores.
macro_rules! hsv_ops {
    ($( $name:ident $asm:literal = $f7:literal; )*) => {$(
        #[doc = concat!("Encodes `", $asm, " rs2, (rs1)`.")]
        pub const fn $name(rs2: u8, rs1: u8) -> u32 {
            r_type(SYSTEM, 4, $f7, 0, r(rs1), r(rs2))
        }
        impl Assembler {
            #[doc = concat!("Emits `", $asm, " rs2, (rs1)`.")]
            pub fn $name(&mut self, rs2: u8, rs1: u8) -> &mut Self {
                self.emit($name(rs2, rs1))
            }
        }
    )*};
}

/// Instructions without operands.
macro_rules! fixed_ops {
    ($( $name:ident $asm:literal = $word:expr; )*) => {$(
        #[doc = concat!("Encodes `", $asm, "`.")]
        pub const fn $name() -> u32 {
            $word
        }
        impl Assembler {
            #[doc = concat!("Emits `", $asm, "`.")]
            pub fn $name(&mut self) -> &mut Self {
                self.emit($name())
            }
        }
    )*};
}

r_ops! {
    add "add" = OP 0 0x00;
    sub "sub" = OP 0 0x20;
    sll "sll" = OP 1 0x00;
    slt "slt" = OP 2 0x00;
    sltu "sltu" = OP 3 0x00;
    xor "xor" = OP 4 0x00;
    srl "srl" = OP 5 0x00;
    sra "sra" = OP 5 0x20;
    or "or" = OP 6 0x00;
    and "and" = OP 7 0x00;
    addw "addw" = OP_32 0 0x00;
    subw "subw" = OP_32 0 0x20;
    sllw "sllw" = OP_32 1 0x00;
    srlw "srlw" = OP_32 5 0x00;
    sraw "sraw" = OP_32 5 0x20;
    mul "mul" = OP 0 0x01;
    mulh "mulh" = OP 1 0x01;
    mulhsu "mulhsu" = OP 2 0x01;
    mulhu "mulhu" = OP 3 0x01;
    div "div" = OP 4 0x01;
    divu "divu" = OP 5 0x01;
    rem "rem" = OP 6 0x01;
    remu "remu" = OP 7 0x01;
    mulw "mulw" = OP_32 0 0x01;
    divw "divw" = OP_32 4 0x01;
    divuw "divuw" = OP_32 5 0x01;
    remw "remw" = OP_32 6 0x01;
    remuw "remuw" = OP_32 7 0x01;
    fsgnj_s "fsgnj.s" = OP_FP 0 0x10;
    fsgnjn_s "fsgnjn.s" = OP_FP 1 0x10;
    fsgnjx_s "fsgnjx.s" = OP_FP 2 0x10;
    fmin_s "fmin.s" = OP_FP 0 0x14;
    fmax_s "fmax.s" = OP_FP 1 0x14;
    feq_s "feq.s" = OP_FP 2 0x50;
    flt_s "flt.s" = OP_FP 1 0x50;
    fle_s "fle.s" = OP_FP 0 0x50;
    fsgnj_d "fsgnj.d" = OP_FP 0 0x11;
    fsgnjn_d "fsgnjn.d" = OP_FP 1 0x11;
    fsgnjx_d "fsgnjx.d" = OP_FP 2 0x11;
    fmin_d "fmin.d" = OP_FP 0 0x15;
    fmax_d "fmax.d" = OP_FP 1 0x15;
    feq_d "feq.d" = OP_FP 2 0x51;
    flt_d "flt.d" = OP_FP 1 0x51;
    fle_d "fle.d" = OP_FP 0 0x51;
    add_uw "add.uw" = OP_32 0 0x04;
    sh1add "sh1add" = OP 2 0x10;
    sh2add "sh2add" = OP 4 0x10;
    sh3add "sh3add" = OP 6 0x10;
    sh1add_uw "sh1add.uw" = OP_32 2 0x10;
    sh2add_uw "sh2add.uw" = OP_32 4 0x10;
    sh3add_uw "sh3add.uw" = OP_32 6 0x10;
    andn "andn" = OP 7 0x20;
    orn "orn" = OP 6 0x20;
    xnor "xnor" = OP 4 0x20;
    max "max" = OP 6 0x05;
    maxu "maxu" = OP 7 0x05;
    min "min" = OP 4 0x05;
    minu "minu" = OP 5 0x05;
    rol "rol" = OP 1 0x30;
    rolw "rolw" = OP_32 1 0x30;
    ror "ror" = OP 5 0x30;
    rorw "rorw" = OP_32 5 0x30;
    bclr "bclr" = OP 1 0x24;
    bext "bext" = OP 5 0x24;
    binv "binv" = OP 1 0x34;
    bset "bset" = OP 1 0x14;
    czero_eqz "czero.eqz" = OP 5 0x07;
    czero_nez "czero.nez" = OP 7 0x07;
}

rm_ops! {
    fadd_s "fadd.s" = 0x00;
    fsub_s "fsub.s" = 0x04;
    fmul_s "fmul.s" = 0x08;
    fdiv_s "fdiv.s" = 0x0c;
    fadd_d "fadd.d" = 0x01;
    fsub_d "fsub.d" = 0x05;
    fmul_d "fmul.d" = 0x09;
    fdiv_d "fdiv.d" = 0x0d;
}

unary_rm_ops! {
    fsqrt_s "fsqrt.s" = 0x2c 0;
    fcvt_w_s "fcvt.w.s" = 0x60 0;
    fcvt_wu_s "fcvt.wu.s" = 0x60 1;
    fcvt_l_s "fcvt.l.s" = 0x60 2;
    fcvt_lu_s "fcvt.lu.s" = 0x60 3;
    fcvt_s_w "fcvt.s.w" = 0x68 0;
    fcvt_s_wu "fcvt.s.wu" = 0x68 1;
    fcvt_s_l "fcvt.s.l" = 0x68 2;
    fcvt_s_lu "fcvt.s.lu" = 0x68 3;
    fsqrt_d "fsqrt.d" = 0x2d 0;
    fcvt_s_d "fcvt.s.d" = 0x20 1;
    fcvt_d_s "fcvt.d.s" = 0x21 0;
    fcvt_w_d "fcvt.w.d" = 0x61 0;
    fcvt_wu_d "fcvt.wu.d" = 0x61 1;
    fcvt_l_d "fcvt.l.d" = 0x61 2;
    fcvt_lu_d "fcvt.lu.d" = 0x61 3;
    fcvt_d_w "fcvt.d.w" = 0x69 0;
    fcvt_d_wu "fcvt.d.wu" = 0x69 1;
    fcvt_d_l "fcvt.d.l" = 0x69 2;
    fcvt_d_lu "fcvt.d.lu" = 0x69 3;
}

unary_ops! {
    fmv_x_w "fmv.x.w rd, rs1" = OP_FP 0 0x70 0;
    fclass_s "fclass.s rd, rs1" = OP_FP 1 0x70 0;
    fmv_w_x "fmv.w.x rd, rs1" = OP_FP 0 0x78 0;
    fmv_x_d "fmv.x.d rd, rs1" = OP_FP 0 0x71 0;
    fclass_d "fclass.d rd, rs1" = OP_FP 1 0x71 0;
    fmv_d_x "fmv.d.x rd, rs1" = OP_FP 0 0x79 0;
    hlv_b "hlv.b rd, (rs1)" = SYSTEM 4 0x30 0;
    hlv_bu "hlv.bu rd, (rs1)" = SYSTEM 4 0x30 1;
    hlv_h "hlv.h rd, (rs1)" = SYSTEM 4 0x32 0;
    hlv_hu "hlv.hu rd, (rs1)" = SYSTEM 4 0x32 1;
    hlvx_hu "hlvx.hu rd, (rs1)" = SYSTEM 4 0x32 3;
    hlv_w "hlv.w rd, (rs1)" = SYSTEM 4 0x34 0;
    hlv_wu "hlv.wu rd, (rs1)" = SYSTEM 4 0x34 1;
    hlvx_wu "hlvx.wu rd, (rs1)" = SYSTEM 4 0x34 3;
    hlv_d "hlv.d rd, (rs1)" = SYSTEM 4 0x36 0;
    clz "clz rd, rs1" = OP_IMM 1 0x30 0;
    clzw "clzw rd, rs1" = OP_IMM_32 1 0x30 0;
    ctz "ctz rd, rs1" = OP_IMM 1 0x30 1;
    ctzw "ctzw rd, rs1" = OP_IMM_32 1 0x30 1;
    cpop "cpop rd, rs1" = OP_IMM 1 0x30 2;
    cpopw "cpopw rd, rs1" = OP_IMM_32 1 0x30 2;
    sext_b "sext.b rd, rs1" = OP_IMM 1 0x30 4;
    sext_h "sext.h rd, rs1" = OP_IMM 1 0x30 5;
    zext_h "zext.h rd, rs1" = OP_32 4 0x04 0;
    orc_b "orc.b rd, rs1" = OP_IMM 5 0x14 7;
    rev8 "rev8 rd, rs1" = OP_IMM 5 0x35 0x18;
}

r4_ops! {
    fmadd_s "fmadd.s" = MADD 0;
    fmsub_s "fmsub.s" = MSUB 0;
    fnmsub_s "fnmsub.s" = NMSUB 0;
    fnmadd_s "fnmadd.s" = NMADD 0;
    fmadd_d "fmadd.d" = MADD 1;
    fmsub_d "fmsub.d" = MSUB 1;
    fnmsub_d "fnmsub.d" = NMSUB 1;
    fnmadd_d "fnmadd.d" = NMADD 1;
}

i_ops! {
    addi "addi rd, rs1, imm" = OP_IMM 0;
    slti "slti rd, rs1, imm" = OP_IMM 2;
    sltiu "sltiu rd, rs1, imm" = OP_IMM 3;
    xori "xori rd, rs1, imm" = OP_IMM 4;
    ori "ori rd, rs1, imm" = OP_IMM 6;
    andi "andi rd, rs1, imm" = OP_IMM 7;
    addiw "addiw rd, rs1, imm" = OP_IMM_32 0;
    jalr "jalr rd, imm(rs1)" = JALR 0;
    lb "lb rd, imm(rs1)" = LOAD 0;
    lh "lh rd, imm(rs1)" = LOAD 1;
    lw "lw rd, imm(rs1)" = LOAD 2;
    ld "ld rd, imm(rs1)" = LOAD 3;
    lbu "lbu rd, imm(rs1)" = LOAD 4;
    lhu "lhu rd, imm(rs1)" = LOAD 5;
    lwu "lwu rd, imm(rs1)" = LOAD 6;
    flw "flw rd, imm(rs1)" = LOAD_FP 2;
    fld "fld rd, imm(rs1)" = LOAD_FP 3;
}

shift_ops! {
    slli "slli" = OP_IMM 1 0x00 63;
    srli "srli" = OP_IMM 5 0x00 63;
    srai "srai" = OP_IMM 5 0x20 63;
    slliw "slliw" = OP_IMM_32 1 0x00 31;
    srliw "srliw" = OP_IMM_32 5 0x00 31;
    sraiw "sraiw" = OP_IMM_32 5 0x20 31;
    slli_uw "slli.uw" = OP_IMM_32 1 0x04 63;
    rori "rori" = OP_IMM 5 0x30 63;
    roriw "roriw" = OP_IMM_32 5 0x30 31;
    bclri "bclri" = OP_IMM 1 0x24 63;
    bexti "bexti" = OP_IMM 5 0x24 63;
    binvi "binvi" = OP_IMM 1 0x34 63;
    bseti "bseti" = OP_IMM 1 0x14 63;
}

s_ops! {
    sb "sb" = STORE 0;
    sh "sh" = STORE 1;
    sw "sw" = STORE 2;
    sd "sd" = STORE 3;
    fsw "fsw" = STORE_FP 2;
    fsd "fsd" = STORE_FP 3;
}

b_ops! {
    beq beq_to "beq" = 0;
    bne bne_to "bne" = 1;
    blt blt_to "blt" = 4;
    bge bge_to "bge" = 5;
    bltu bltu_to "bltu" = 6;
    bgeu bgeu_to "bgeu" = 7;
}

csr_ops! {
    csrrw "csrrw" = 1 rs1;
    csrrs "csrrs" = 2 rs1;
    csrrc "csrrc" = 3 rs1;
    csrrwi "csrrwi" = 5 uimm;
    csrrsi "csrrsi" = 6 uimm;
    csrrci "csrrci" = 7 uimm;
}

amo_ops! {
    sc_w "sc.w" = 2 0x03;
    amoswap_w "amoswap.w" = 2 0x01;
    amoadd_w "amoadd.w" = 2 0x00;
    amoxor_w "amoxor.w" = 2 0x04;
    amoand_w "amoand.w" = 2 0x0c;
    amoor_w "amoor.w" = 2 0x08;
    amomin_w "amomin.w" = 2 0x10;
    amomax_w "amomax.w" = 2 0x14;
    amominu_w "amominu.w" = 2 0x18;
    amomaxu_w "amomaxu.w" = 2 0x1c;
    sc_d "sc.d" = 3 0x03;
    amoswap_d "amoswap.d" = 3 0x01;
    amoadd_d "amoadd.d" = 3 0x00;
    amoxor_d "amoxor.d" = 3 0x04;
    amoand_d "amoand.d" = 3 0x0c;
    amoor_d "amoor.d" = 3 0x08;
    amomin_d "amomin.d" = 3 0x10;
    amomax_d "amomax.d" = 3 0x14;
    amominu_d "amominu.d" = 3 0x18;
    amomaxu_d "amomaxu.d" = 3 0x1c;
}

vma_ops! {
    sfence_vma "sfence.vma" = 0x09;
    hfence_vvma "hfence.vvma" = 0x11;
    hfence_gvma "hfence.gvma" = 0x31;
    sinval_vma "sinval.vma" = 0x0b;
    hinval_vvma "hinval.vvma" = 0x13;
    hinval_gvma "hinval.gvma" = 0x33;
}

hsv_ops! {
    hsv_b "hsv.b" = 0x31;
    hsv_h "hsv.h" = 0x33;
    hsv_w "hsv.w" = 0x35;
    hsv_d "hsv.d" = 0x37;
}

fixed_ops! {
    ecall "ecall" = i_type(SYSTEM, 0, 0, 0, 0x000);
    ebreak "ebreak" = i_type(SYSTEM, 0, 0, 0, 0x001);
    sret "sret" = i_type(SYSTEM, 0, 0, 0, 0x102);
    mret "mret" = i_type(SYSTEM, 0, 0, 0, 0x302);
    wfi "wfi" = i_type(SYSTEM, 0, 0, 0, 0x105);
    fence_i "fence.i" = i_type(MISC_MEM, 1, 0, 0, 0);
    fence_tso "fence.tso" = i_type(MISC_MEM, 0, 0, 0, 0x833);
    pause "pause" = i_type(MISC_MEM, 0, 0, 0, 0x010);
    nop "nop (addi zero, zero, 0)" = i_type(OP_IMM, 0, 0, 0, 0);
    ret "ret (jalr zero, 0(ra))" = i_type(JALR, 0, 0, reg::RA as u32, 0);
    wrs_nto "wrs.nto" = i_type(SYSTEM, 0, 0, 0, 0x00d);
    wrs_sto "wrs.sto" = i_type(SYSTEM, 0, 0, 0, 0x01d);
    sfence_w_inval "sfence.w.inval" = i_type(SYSTEM, 0, 0, 0, 0x180);
    sfence_inval_ir "sfence.inval.ir" = i_type(SYSTEM, 0, 0, 0, 0x181);
}

/// `(rs1)`: the cache-block operations of Zicbom and Zicboz.
macro_rules! cbo_ops {
    ($( $name:ident $asm:literal = $imm:literal; )*) => {$(
        #[doc = concat!("Encodes `", $asm, " (rs1)`.")]
        pub const fn $name(rs1: u8) -> u32 {
            i_type(MISC_MEM, 2, 0, r(rs1), $imm)
        }
        impl Assembler {
            #[doc = concat!("Emits `", $asm, " (rs1)`.")]
            pub fn $name(&mut self, rs1: u8) -> &mut Self {
                self.emit($name(rs1))
            }
        }
    )*};
}

cbo_ops! {
    cbo_inval "cbo.inval" = 0;
    cbo_clean "cbo.clean" = 1;
    cbo_flush "cbo.flush" = 2;
    cbo_zero "cbo.zero" = 4;
}

/// Encodes `mop.r.n rd, rs1` (Zimop), `n` 0..=31.
pub const fn mop_r(n: u32, rd: u8, rs1: u8) -> u32 {
    debug_assert!(n < 32, "mop.r.n has n 0..=31");
    let n_bits = (n >> 4 & 1) << 30 | (n >> 2 & 3) << 26 | (n & 3) << 20;
    1 << 31 | n_bits | 0b0111 << 22 | r(rs1) << 15 | 4 << 12 | r(rd) << 7 | SYSTEM
}

/// Encodes `mop.rr.n rd, rs1, rs2` (Zimop), `n` 0..=7.
pub const fn mop_rr(n: u32, rd: u8, rs1: u8, rs2: u8) -> u32 {
    debug_assert!(n < 8, "mop.rr.n has n 0..=7");
    let n_bits = (n >> 2 & 1) << 30 | (n & 3) << 26;
    1 << 31 | n_bits | 1 << 25 | r(rs2) << 20 | r(rs1) << 15 | 4 << 12 | r(rd) << 7 | SYSTEM
}

/// Encodes `lr.w rd, (rs1)` with the aq/rl bits.
pub const fn lr_w(rd: u8, rs1: u8, aq: bool, rl: bool) -> u32 {
    r_type(
        AMO,
        2,
        0x02 << 2 | (aq as u32) << 1 | rl as u32,
        r(rd),
        r(rs1),
        0,
    )
}

/// Encodes `lr.d rd, (rs1)` with the aq/rl bits.
pub const fn lr_d(rd: u8, rs1: u8, aq: bool, rl: bool) -> u32 {
    r_type(
        AMO,
        3,
        0x02 << 2 | (aq as u32) << 1 | rl as u32,
        r(rd),
        r(rs1),
        0,
    )
}

/// Encodes `lui rd, imm20`: `rd` = sign-extended `imm20 << 12`. `imm20` is the 20-bit
/// field, -0x80000..=0xfffff (a negative value and its unsigned 20-bit twin agree).
pub const fn lui(rd: u8, imm20: i32) -> u32 {
    debug_assert!(
        -0x8_0000 <= imm20 && imm20 <= 0xf_ffff,
        "lui immediate out of range"
    );
    u_type(LUI, r(rd), imm20)
}

/// Encodes `auipc rd, imm20`: `rd` = pc + sign-extended `imm20 << 12`; `imm20` as for
/// [`lui`].
pub const fn auipc(rd: u8, imm20: i32) -> u32 {
    debug_assert!(
        -0x8_0000 <= imm20 && imm20 <= 0xf_ffff,
        "auipc immediate out of range"
    );
    u_type(AUIPC, r(rd), imm20)
}

/// Encodes `jal rd, offset`; `offset` is even, within ±1 MiB.
pub const fn jal(rd: u8, offset: i32) -> u32 {
    j_type(JAL, r(rd), self::offset(offset, 21))
}

/// Encodes `fence pred, succ`; each set is a 4-bit mask of [`fence_set`] bits.
pub const fn fence(pred: u8, succ: u8) -> u32 {
    debug_assert!(pred < 16 && succ < 16, "fence sets are 4-bit masks");
    i_type(
        MISC_MEM,
        0,
        0,
        0,
        ((pred as i32 & 15) << 4) | (succ as i32 & 15),
    )
}

/// Encodes `mv rd, rs1` (`addi rd, rs1, 0`).
pub const fn mv(rd: u8, rs1: u8) -> u32 {
    addi(rd, rs1, 0)
}

/// Encodes `j offset` (`jal zero, offset`).
pub const fn j(offset: i32) -> u32 {
    jal(reg::ZERO, offset)
}

/// Encodes `csrr rd, csr` (`csrrs rd, csr, zero`).
pub const fn csrr(rd: u8, csr: u16) -> u32 {
    csrrs(rd, csr, reg::ZERO)
}

/// Encodes `csrw csr, rs1` (`csrrw zero, csr, rs1`).
pub const fn csrw(csr: u16, rs1: u8) -> u32 {
    csrrw(reg::ZERO, csr, rs1)
}

/// Encodes `csrs csr, rs1` (`csrrs zero, csr, rs1`): sets the bits of `rs1`.
pub const fn csrs(csr: u16, rs1: u8) -> u32 {
    csrrs(reg::ZERO, csr, rs1)
}

/// Encodes `csrc csr, rs1` (`csrrc zero, csr, rs1`): clears the bits of `rs1`.
pub const fn csrc(csr: u16, rs1: u8) -> u32 {
    csrrc(reg::ZERO, csr, rs1)
}

impl Assembler {
    /// Emits `mop.r.n rd, rs1`.
    pub fn mop_r(&mut self, n: u32, rd: u8, rs1: u8) -> &mut Self {
        self.emit(mop_r(n, rd, rs1))
    }

    /// Emits `mop.rr.n rd, rs1, rs2`.
    pub fn mop_rr(&mut self, n: u32, rd: u8, rs1: u8, rs2: u8) -> &mut Self {
        self.emit(mop_rr(n, rd, rs1, rs2))
    }

    /// Emits `lr.w rd, (rs1)`.
    pub fn lr_w(&mut self, rd: u8, rs1: u8, aq: bool, rl: bool) -> &mut Self {
        self.emit(lr_w(rd, rs1, aq, rl))
    }

    /// Emits `lr.d rd, (rs1)`.
    pub fn lr_d(&mut self, rd: u8, rs1: u8, aq: bool, rl: bool) -> &mut Self {
        self.emit(lr_d(rd, rs1, aq, rl))
    }

    /// Emits `lui rd, imm20`.
    pub fn lui(&mut self, rd: u8, imm20: i32) -> &mut Self {
        self.emit(lui(rd, imm20))
    }

    /// Emits `auipc rd, imm20`.
    pub fn auipc(&mut self, rd: u8, imm20: i32) -> &mut Self {
        self.emit(auipc(rd, imm20))
    }

    /// Emits `jal rd, offset`.
    pub fn jal(&mut self, rd: u8, offset: i32) -> &mut Self {
        self.emit(jal(rd, offset))
    }

    /// Emits `jal rd` to `label`, bound now or later.
    pub fn jal_to(&mut self, rd: u8, label: Label) -> &mut Self {
        self.branch_to(label, 21, move |off| jal(rd, off))
    }

    /// Emits `j` (`jal zero`) to `label`, bound now or later.
    pub fn j_to(&mut self, label: Label) -> &mut Self {
        self.jal_to(reg::ZERO, label)
    }

    /// Emits `fence pred, succ`.
    pub fn fence(&mut self, pred: u8, succ: u8) -> &mut Self {
        self.emit(fence(pred, succ))
    }

    /// Emits `mv rd, rs1`.
    pub fn mv(&mut self, rd: u8, rs1: u8) -> &mut Self {
        self.emit(mv(rd, rs1))
    }

    /// Emits `j offset`.
    pub fn j(&mut self, offset: i32) -> &mut Self {
        self.emit(j(offset))
    }

    /// Emits `csrr rd, csr`.
    pub fn csrr(&mut self, rd: u8, csr: u16) -> &mut Self {
        self.emit(csrr(rd, csr))
    }

    /// Emits `csrw csr, rs1`.
    pub fn csrw(&mut self, csr: u16, rs1: u8) -> &mut Self {
        self.emit(csrw(csr, rs1))
    }

    /// Emits `csrs csr, rs1`.
    pub fn csrs(&mut self, csr: u16, rs1: u8) -> &mut Self {
        self.emit(csrs(csr, rs1))
    }

    /// Emits `csrc csr, rs1`.
    pub fn csrc(&mut self, csr: u16, rs1: u8) -> &mut Self {
        self.emit(csrc(csr, rs1))
    }
}

#[cfg(test)]
mod tests {
    // Encodings themselves are checked against llvm-mc in `decode::tests::KNOWN` and
    // `compressed::tests::KNOWN`; these check the operand validation.
    use super::reg::*;
    use super::*;

    #[test]
    fn fields_take_their_extreme_values() {
        assert_eq!(addi(T6, T6, -2048), 0x800f_8f93); // addi t6, t6, -2048
        assert_eq!(beq(ZERO, ZERO, -4096), 0x8000_0063); // beq zero, zero, -4096
        assert_eq!(jal(ZERO, -0x10_0000), 0x8000_006f); // jal zero, -1048576
        assert_eq!(lui(ZERO, -1), lui(ZERO, 0xf_ffff));
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "immediate out of range")]
    fn twelve_bit_immediates_are_checked() {
        addi(A0, A0, 2048);
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "must be even")]
    fn odd_branch_offsets_are_rejected() {
        bne(A0, A1, 3);
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "below 32")]
    fn register_numbers_are_checked() {
        add(32, A0, A1);
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "shift amount")]
    fn word_shift_amounts_are_checked() {
        slliw(A0, A0, 32);
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "x8..x15")]
    fn compressed_registers_are_checked() {
        c_lw(A6, A0, 0);
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "nonzero")]
    fn reserved_compressed_immediates_are_rejected() {
        c_addi4spn(A0, 0);
    }
}
