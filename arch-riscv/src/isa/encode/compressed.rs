//! Encoders for the RV64C compressed instructions (16-bit parcels).
//!
//! Each doc line gives the assembler form and the base instruction it expands to.
//! `rd'`/`rs1'`/`rs2'` operands must be `x8`–`x15` (or `f8`–`f15`) and are passed as
//! full register numbers.

use super::{Assembler, Label, r};

/// A full register number, checked to be below 32, as a parcel field.
const fn x(n: u8) -> u16 {
    r(n) as u16
}

/// A register number, checked to be a nonzero register below 32.
const fn nz(n: u8) -> u16 {
    debug_assert!(n != 0, "register must not be x0 here");
    x(n)
}

/// A `x8`–`x15` register as its 3-bit `rd'`/`rs1'`/`rs2'` field.
const fn p(n: u8) -> u16 {
    debug_assert!(8 <= n && n < 16, "compressed register must be x8..x15");
    n.wrapping_sub(8) as u16 & 7
}

/// `uimm`, checked to be a multiple of `align` (a power of two) below `limit`.
const fn uimm(v: u32, align: u32, limit: u32) -> u16 {
    debug_assert!(
        v & (align - 1) == 0 && v < limit,
        "offset misaligned or out of range"
    );
    v as u16
}

/// A 6-bit signed immediate (-32..=31), as the CI format carries it.
const fn simm6(v: i32) -> i32 {
    debug_assert!(-32 <= v && v < 32, "immediate must be -32..=31");
    v
}

/// Bit `n` of `v`, placed at bit `at`.
const fn bit(v: i32, n: u32, at: u32) -> u16 {
    ((v >> n & 1) << at) as u16
}

/// Bits `lo..lo+width` of `v`, placed at bit `at`.
const fn bits(v: i32, lo: u32, width: u32, at: u32) -> u16 {
    ((v >> lo & ((1 << width) - 1)) << at) as u16
}

/// A CI-format word: `funct3 | imm[5] | rd | imm[4:0] | op`.
const fn ci(funct3: u16, quadrant: u16, rd: u16, imm: i32) -> u16 {
    funct3 << 13 | bit(imm, 5, 12) | rd << 7 | bits(imm, 0, 5, 2) | quadrant
}

/// A CL/CS word with a word-scaled offset: `uimm[5:3]` at 12:10, `uimm[2|6]` at 6:5.
const fn cl_w(funct3: u16, rs1: u8, rd: u8, uimm: u16) -> u16 {
    let u = uimm as i32;
    funct3 << 13 | bits(u, 3, 3, 10) | p(rs1) << 7 | bit(u, 2, 6) | bit(u, 6, 5) | p(rd) << 2
}

/// A CL/CS word with a doubleword-scaled offset: `uimm[5:3]` at 12:10, `uimm[7:6]` at 6:5.
const fn cl_d(funct3: u16, rs1: u8, rd: u8, uimm: u16) -> u16 {
    let u = uimm as i32;
    funct3 << 13 | bits(u, 3, 3, 10) | p(rs1) << 7 | bits(u, 6, 2, 5) | p(rd) << 2
}

/// A CA-format word (register-register arithmetic on `x8`–`x15`).
const fn ca(bit12: u16, funct2: u16, rd: u8, rs2: u8) -> u16 {
    0b100 << 13 | bit12 << 12 | 0b11 << 10 | p(rd) << 7 | funct2 << 5 | p(rs2) << 2 | 0b01
}

/// A CB-format branch: `offset[8|4:3]` at 12:10, `offset[7:6|2:1|5]` at 6:2.
const fn cb(funct3: u16, rs1: u8, offset: i32) -> u16 {
    debug_assert!(
        offset & 1 == 0 && -256 <= offset && offset < 256,
        "offset out of range"
    );
    let o = offset;
    funct3 << 13
        | bit(o, 8, 12)
        | bits(o, 3, 2, 10)
        | p(rs1) << 7
        | bits(o, 6, 2, 5)
        | bits(o, 1, 2, 3)
        | bit(o, 5, 2)
        | 0b01
}

/// A CR-format word: `funct4 | rd/rs1 | rs2 | op`.
const fn cr(bit12: u16, rd: u16, rs2: u16) -> u16 {
    0b100 << 13 | bit12 << 12 | rd << 7 | rs2 << 2 | 0b10
}

/// Each function also becomes the `Assembler` method of the same name.
macro_rules! c_ops {
    ($( $(#[doc = $doc:literal])* pub const fn $name:ident($($arg:ident: $ty:ty),*) -> u16 $body:block )*) => {$(
        $(#[doc = $doc])*
        pub const fn $name($($arg: $ty),*) -> u16 $body
        impl Assembler {
            $(#[doc = $doc])*
            pub fn $name(&mut self, $($arg: $ty),*) -> &mut Self {
                self.emit16($name($($arg),*))
            }
        }
    )*};
}

c_ops! {
    /// `c.addi4spn rd', nzuimm` → `addi rd', sp, nzuimm`; `nzuimm` is 4..=1020, a
    /// multiple of 4.
    pub const fn c_addi4spn(rd: u8, nzuimm: u32) -> u16 {
        debug_assert!(nzuimm != 0, "c.addi4spn immediate must be nonzero");
        let u = uimm(nzuimm, 4, 1024) as i32;
        bits(u, 4, 2, 11) | bits(u, 6, 4, 7) | bit(u, 2, 6) | bit(u, 3, 5) | p(rd) << 2
    }

    /// `c.fld rd', uimm(rs1')` → `fld rd', uimm(rs1')`; `uimm` is 0..=248, a multiple
    /// of 8.
    pub const fn c_fld(rd: u8, rs1: u8, uimm: u32) -> u16 {
        cl_d(0b001, rs1, rd, self::uimm(uimm, 8, 256))
    }

    /// `c.lw rd', uimm(rs1')` → `lw rd', uimm(rs1')`; `uimm` is 0..=124, a multiple of 4.
    pub const fn c_lw(rd: u8, rs1: u8, uimm: u32) -> u16 {
        cl_w(0b010, rs1, rd, self::uimm(uimm, 4, 128))
    }

    /// `c.ld rd', uimm(rs1')` → `ld rd', uimm(rs1')`; `uimm` is 0..=248, a multiple of 8.
    pub const fn c_ld(rd: u8, rs1: u8, uimm: u32) -> u16 {
        cl_d(0b011, rs1, rd, self::uimm(uimm, 8, 256))
    }

    /// `c.fsd rs2', uimm(rs1')` → `fsd rs2', uimm(rs1')`; `uimm` as for [`c_fld`].
    pub const fn c_fsd(rs2: u8, rs1: u8, uimm: u32) -> u16 {
        cl_d(0b101, rs1, rs2, self::uimm(uimm, 8, 256))
    }

    /// `c.sw rs2', uimm(rs1')` → `sw rs2', uimm(rs1')`; `uimm` as for [`c_lw`].
    pub const fn c_sw(rs2: u8, rs1: u8, uimm: u32) -> u16 {
        cl_w(0b110, rs1, rs2, self::uimm(uimm, 4, 128))
    }

    /// `c.sd rs2', uimm(rs1')` → `sd rs2', uimm(rs1')`; `uimm` as for [`c_ld`].
    pub const fn c_sd(rs2: u8, rs1: u8, uimm: u32) -> u16 {
        cl_d(0b111, rs1, rs2, self::uimm(uimm, 8, 256))
    }

    /// `c.nop` → `addi zero, zero, 0`.
    pub const fn c_nop() -> u16 {
        0x0001
    }

    /// `c.addi rd, imm` → `addi rd, rd, imm`; `imm` is -32..=31 (`rd` = 0 or `imm` = 0
    /// make it a hint).
    pub const fn c_addi(rd: u8, imm: i32) -> u16 {
        ci(0b000, 0b01, x(rd), simm6(imm))
    }

    /// `c.addiw rd, imm` → `addiw rd, rd, imm`; `rd` ≠ 0, `imm` is -32..=31.
    pub const fn c_addiw(rd: u8, imm: i32) -> u16 {
        ci(0b001, 0b01, nz(rd), simm6(imm))
    }

    /// `c.li rd, imm` → `addi rd, zero, imm`; `imm` is -32..=31.
    pub const fn c_li(rd: u8, imm: i32) -> u16 {
        ci(0b010, 0b01, x(rd), simm6(imm))
    }

    /// `c.addi16sp nzimm` → `addi sp, sp, nzimm`; `nzimm` is a nonzero multiple of 16
    /// in -512..=496.
    pub const fn c_addi16sp(nzimm: i32) -> u16 {
        debug_assert!(
            nzimm != 0 && nzimm % 16 == 0 && -512 <= nzimm && nzimm < 512,
            "c.addi16sp immediate out of range"
        );
        let i = nzimm;
        0b011 << 13
            | bit(i, 9, 12)
            | 2 << 7
            | bit(i, 4, 6)
            | bit(i, 6, 5)
            | bits(i, 7, 2, 3)
            | bit(i, 5, 2)
            | 0b01
    }

    /// `c.lui rd, nzimm` → `lui rd, nzimm` (sign-extended from 6 bits); `rd` ≠ 2,
    /// `nzimm` is nonzero in -32..=31, or 32..=63 for the same bits.
    pub const fn c_lui(rd: u8, nzimm: i32) -> u16 {
        debug_assert!(rd != 2, "c.lui cannot target sp");
        debug_assert!(nzimm != 0 && -32 <= nzimm && nzimm < 64, "c.lui immediate out of range");
        ci(0b011, 0b01, x(rd), nzimm)
    }

    /// `c.srli rd', shamt` → `srli rd', rd', shamt`; `shamt` is 0..=63 (0 is a hint).
    pub const fn c_srli(rd: u8, shamt: u32) -> u16 {
        debug_assert!(shamt < 64, "shift amount must be below 64");
        0b100 << 13 | bit(shamt as i32, 5, 12) | p(rd) << 7 | bits(shamt as i32, 0, 5, 2) | 0b01
    }

    /// `c.srai rd', shamt` → `srai rd', rd', shamt`; `shamt` is 0..=63 (0 is a hint).
    pub const fn c_srai(rd: u8, shamt: u32) -> u16 {
        debug_assert!(shamt < 64, "shift amount must be below 64");
        0b100 << 13
            | bit(shamt as i32, 5, 12)
            | 0b01 << 10
            | p(rd) << 7
            | bits(shamt as i32, 0, 5, 2)
            | 0b01
    }

    /// `c.andi rd', imm` → `andi rd', rd', imm`; `imm` is -32..=31.
    pub const fn c_andi(rd: u8, imm: i32) -> u16 {
        let i = simm6(imm);
        0b100 << 13 | bit(i, 5, 12) | 0b10 << 10 | p(rd) << 7 | bits(i, 0, 5, 2) | 0b01
    }

    /// `c.sub rd', rs2'` → `sub rd', rd', rs2'`.
    pub const fn c_sub(rd: u8, rs2: u8) -> u16 {
        ca(0, 0b00, rd, rs2)
    }

    /// `c.xor rd', rs2'` → `xor rd', rd', rs2'`.
    pub const fn c_xor(rd: u8, rs2: u8) -> u16 {
        ca(0, 0b01, rd, rs2)
    }

    /// `c.or rd', rs2'` → `or rd', rd', rs2'`.
    pub const fn c_or(rd: u8, rs2: u8) -> u16 {
        ca(0, 0b10, rd, rs2)
    }

    /// `c.and rd', rs2'` → `and rd', rd', rs2'`.
    pub const fn c_and(rd: u8, rs2: u8) -> u16 {
        ca(0, 0b11, rd, rs2)
    }

    /// `c.subw rd', rs2'` → `subw rd', rd', rs2'`.
    pub const fn c_subw(rd: u8, rs2: u8) -> u16 {
        ca(1, 0b00, rd, rs2)
    }

    /// `c.addw rd', rs2'` → `addw rd', rd', rs2'`.
    pub const fn c_addw(rd: u8, rs2: u8) -> u16 {
        ca(1, 0b01, rd, rs2)
    }

    /// `c.j offset` → `jal zero, offset`; `offset` is even, -2048..=2046.
    pub const fn c_j(offset: i32) -> u16 {
        debug_assert!(offset & 1 == 0 && -2048 <= offset && offset < 2048, "offset out of range");
        let o = offset;
        0b101 << 13
            | bit(o, 11, 12)
            | bit(o, 4, 11)
            | bits(o, 8, 2, 9)
            | bit(o, 10, 8)
            | bit(o, 6, 7)
            | bit(o, 7, 6)
            | bits(o, 1, 3, 3)
            | bit(o, 5, 2)
            | 0b01
    }

    /// `c.beqz rs1', offset` → `beq rs1', zero, offset`; `offset` is even, -256..=254.
    pub const fn c_beqz(rs1: u8, offset: i32) -> u16 {
        cb(0b110, rs1, offset)
    }

    /// `c.bnez rs1', offset` → `bne rs1', zero, offset`; `offset` is even, -256..=254.
    pub const fn c_bnez(rs1: u8, offset: i32) -> u16 {
        cb(0b111, rs1, offset)
    }

    /// `c.slli rd, shamt` → `slli rd, rd, shamt`; `shamt` is 0..=63 (`rd` = 0 or
    /// `shamt` = 0 make it a hint).
    pub const fn c_slli(rd: u8, shamt: u32) -> u16 {
        debug_assert!(shamt < 64, "shift amount must be below 64");
        ci(0b000, 0b10, x(rd), shamt as i32)
    }

    /// `c.fldsp rd, uimm(sp)` → `fld rd, uimm(sp)`; `uimm` is 0..=504, a multiple of 8.
    pub const fn c_fldsp(rd: u8, uimm: u32) -> u16 {
        let u = self::uimm(uimm, 8, 512) as i32;
        0b001 << 13 | bit(u, 5, 12) | x(rd) << 7 | bits(u, 3, 2, 5) | bits(u, 6, 3, 2) | 0b10
    }

    /// `c.lwsp rd, uimm(sp)` → `lw rd, uimm(sp)`; `rd` ≠ 0, `uimm` is 0..=252, a
    /// multiple of 4.
    pub const fn c_lwsp(rd: u8, uimm: u32) -> u16 {
        let u = self::uimm(uimm, 4, 256) as i32;
        0b010 << 13 | bit(u, 5, 12) | nz(rd) << 7 | bits(u, 2, 3, 4) | bits(u, 6, 2, 2) | 0b10
    }

    /// `c.ldsp rd, uimm(sp)` → `ld rd, uimm(sp)`; `rd` ≠ 0, `uimm` is 0..=504, a
    /// multiple of 8.
    pub const fn c_ldsp(rd: u8, uimm: u32) -> u16 {
        let u = self::uimm(uimm, 8, 512) as i32;
        0b011 << 13 | bit(u, 5, 12) | nz(rd) << 7 | bits(u, 3, 2, 5) | bits(u, 6, 3, 2) | 0b10
    }

    /// `c.jr rs1` → `jalr zero, 0(rs1)`; `rs1` ≠ 0.
    pub const fn c_jr(rs1: u8) -> u16 {
        cr(0, nz(rs1), 0)
    }

    /// `c.mv rd, rs2` → `add rd, zero, rs2`; `rs2` ≠ 0 (`rd` = 0 makes it a hint).
    pub const fn c_mv(rd: u8, rs2: u8) -> u16 {
        cr(0, x(rd), nz(rs2))
    }

    /// `c.ebreak` → `ebreak`.
    pub const fn c_ebreak() -> u16 {
        0x9002
    }

    /// `c.jalr rs1` → `jalr ra, 0(rs1)`; `rs1` ≠ 0.
    pub const fn c_jalr(rs1: u8) -> u16 {
        cr(1, nz(rs1), 0)
    }

    /// `c.add rd, rs2` → `add rd, rd, rs2`; `rs2` ≠ 0 (`rd` = 0 makes it a hint).
    pub const fn c_add(rd: u8, rs2: u8) -> u16 {
        cr(1, x(rd), nz(rs2))
    }

    /// `c.fsdsp rs2, uimm(sp)` → `fsd rs2, uimm(sp)`; `uimm` is 0..=504, a multiple of 8.
    pub const fn c_fsdsp(rs2: u8, uimm: u32) -> u16 {
        let u = self::uimm(uimm, 8, 512) as i32;
        0b101 << 13 | bits(u, 3, 3, 10) | bits(u, 6, 3, 7) | x(rs2) << 2 | 0b10
    }

    /// `c.swsp rs2, uimm(sp)` → `sw rs2, uimm(sp)`; `uimm` is 0..=252, a multiple of 4.
    pub const fn c_swsp(rs2: u8, uimm: u32) -> u16 {
        let u = self::uimm(uimm, 4, 256) as i32;
        0b110 << 13 | bits(u, 2, 4, 9) | bits(u, 6, 2, 7) | x(rs2) << 2 | 0b10
    }

    /// `c.sdsp rs2, uimm(sp)` → `sd rs2, uimm(sp)`; `uimm` is 0..=504, a multiple of 8.
    pub const fn c_sdsp(rs2: u8, uimm: u32) -> u16 {
        let u = self::uimm(uimm, 8, 512) as i32;
        0b111 << 13 | bits(u, 3, 3, 10) | bits(u, 6, 3, 7) | x(rs2) << 2 | 0b10
    }

    /// `c.lbu rd', uimm(rs1')` (Zcb) → `lbu rd', uimm(rs1')`; `uimm` is 0..=3.
    pub const fn c_lbu(rd: u8, rs1: u8, uimm: u32) -> u16 {
        zcb_mem(0b000, rs1, rd, self::uimm(uimm, 1, 4))
    }

    /// `c.lhu rd', uimm(rs1')` (Zcb) → `lhu rd', uimm(rs1')`; `uimm` is 0 or 2.
    pub const fn c_lhu(rd: u8, rs1: u8, uimm: u32) -> u16 {
        zcb_mem(0b001, rs1, rd, self::uimm(uimm, 2, 4))
    }

    /// `c.lh rd', uimm(rs1')` (Zcb) → `lh rd', uimm(rs1')`; `uimm` is 0 or 2.
    pub const fn c_lh(rd: u8, rs1: u8, uimm: u32) -> u16 {
        zcb_mem(0b001, rs1, rd, self::uimm(uimm, 2, 4)) | 1 << 6
    }

    /// `c.sb rs2', uimm(rs1')` (Zcb) → `sb rs2', uimm(rs1')`; `uimm` is 0..=3.
    pub const fn c_sb(rs2: u8, rs1: u8, uimm: u32) -> u16 {
        zcb_mem(0b010, rs1, rs2, self::uimm(uimm, 1, 4))
    }

    /// `c.sh rs2', uimm(rs1')` (Zcb) → `sh rs2', uimm(rs1')`; `uimm` is 0 or 2.
    pub const fn c_sh(rs2: u8, rs1: u8, uimm: u32) -> u16 {
        zcb_mem(0b011, rs1, rs2, self::uimm(uimm, 2, 4))
    }

    /// `c.zext.b rd'` (Zcb) → `andi rd', rd', 255`.
    pub const fn c_zext_b(rd: u8) -> u16 {
        zcb_unary(rd, 0b000)
    }

    /// `c.sext.b rd'` (Zcb) → `sext.b rd', rd'`.
    pub const fn c_sext_b(rd: u8) -> u16 {
        zcb_unary(rd, 0b001)
    }

    /// `c.zext.h rd'` (Zcb) → `zext.h rd', rd'`.
    pub const fn c_zext_h(rd: u8) -> u16 {
        zcb_unary(rd, 0b010)
    }

    /// `c.sext.h rd'` (Zcb) → `sext.h rd', rd'`.
    pub const fn c_sext_h(rd: u8) -> u16 {
        zcb_unary(rd, 0b011)
    }

    /// `c.zext.w rd'` (Zcb) → `add.uw rd', rd', zero`.
    pub const fn c_zext_w(rd: u8) -> u16 {
        zcb_unary(rd, 0b100)
    }

    /// `c.not rd'` (Zcb) → `xori rd', rd', -1`.
    pub const fn c_not(rd: u8) -> u16 {
        zcb_unary(rd, 0b101)
    }

    /// `c.mul rd', rs2'` (Zcb) → `mul rd', rd', rs2'`.
    pub const fn c_mul(rd: u8, rs2: u8) -> u16 {
        ca(1, 0b10, rd, rs2)
    }

    /// `c.mop.n` (Zcmop), `n` odd, 1..=15: does nothing (the reserved `c.lui xn, 0`).
    pub const fn c_mop(n: u8) -> u16 {
        debug_assert!(n % 2 == 1 && n < 16, "c.mop.n has n odd, 1..=15");
        0b011 << 13 | x(n) << 7 | 0b01
    }
}

/// A Zcb load or store: `100 funct3 rs1' uimm[0|1] rd'/rs2' 00`.
const fn zcb_mem(funct3: u16, rs1: u8, rd: u8, uimm: u16) -> u16 {
    0b100 << 13 | funct3 << 10 | p(rs1) << 7 | (uimm & 1) << 6 | (uimm >> 1 & 1) << 5 | p(rd) << 2
}

/// A Zcb unary operation: `100 111 rd' 11 funct3 01`.
const fn zcb_unary(rd: u8, funct3: u16) -> u16 {
    0b100111 << 10 | p(rd) << 7 | 0b11 << 5 | funct3 << 2 | 0b01
}

impl Assembler {
    /// Emits `c.j` to `label`, bound now or later (within ±2 KiB).
    pub fn c_j_to(&mut self, label: Label) -> &mut Self {
        self.branch16_to(label, 12, c_j)
    }

    /// Emits `c.beqz rs1'` to `label`, bound now or later (within ±256 bytes).
    pub fn c_beqz_to(&mut self, rs1: u8, label: Label) -> &mut Self {
        self.branch16_to(label, 9, move |off| c_beqz(rs1, off))
    }

    /// Emits `c.bnez rs1'` to `label`, bound now or later (within ±256 bytes).
    pub fn c_bnez_to(&mut self, rs1: u8, label: Label) -> &mut Self {
        self.branch16_to(label, 9, move |off| c_bnez(rs1, off))
    }
}
