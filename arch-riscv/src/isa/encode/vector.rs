//! Encoders of the V instructions.
//!
//! The configuration instructions and the loads and stores have one function per
//! family, with the element width and field count as arguments; the arithmetic
//! ones are encoded from the decode table ([`crate::isa::vector::LINES`]) by
//! mnemonic with [`varith`], so every line of the table has an encoder by
//! construction.

use super::{Assembler, r};
use crate::isa::opcode::{LOAD_FP, OP_V, STORE_FP};
use crate::isa::vector::{self, Line};

/// A `vtypei` immediate: SEW in bits (8..=64), log2(LMUL) (-3..=3), tail and mask
/// agnostic bits.
pub const fn vtype(sew: u32, lmul: i32, ta: bool, ma: bool) -> u32 {
    let vsew = match sew {
        8 => 0,
        16 => 1,
        32 => 2,
        _ => 3,
    };
    (ma as u32) << 7 | (ta as u32) << 6 | vsew << 3 | (lmul as u32 & 7)
}

/// Encodes `vsetvli rd, rs1, vtypei`.
pub const fn vsetvli(rd: u8, rs1: u8, vtypei: u32) -> u32 {
    (vtypei & 0x7ff) << 20 | r(rs1) << 15 | 7 << 12 | r(rd) << 7 | OP_V
}

/// Encodes `vsetivli rd, uimm, vtypei`.
pub const fn vsetivli(rd: u8, uimm: u32, vtypei: u32) -> u32 {
    3 << 30 | (vtypei & 0x3ff) << 20 | (uimm & 31) << 15 | 7 << 12 | r(rd) << 7 | OP_V
}

/// Encodes `vsetvl rd, rs1, rs2`.
pub const fn vsetvl(rd: u8, rs1: u8, rs2: u8) -> u32 {
    0x40 << 25 | r(rs2) << 20 | r(rs1) << 15 | 7 << 12 | r(rd) << 7 | OP_V
}

/// The width field of element width `eew` bytes (1, 2, 4, 8).
const fn width(eew: u32) -> u32 {
    match eew {
        1 => 0,
        2 => 5,
        4 => 6,
        _ => 7,
    }
}

/// How a vector load or store addresses its elements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VMem {
    /// Unit stride (`vle`/`vse`, `vlseg`/`vsseg` with nf > 1).
    Unit,
    /// Fault-only-first unit stride (loads only).
    FaultFirst,
    /// Whole registers (`vl<nf>re<eew>`, `vs<nf>r`).
    Whole,
    /// Mask (`vlm.v`, `vsm.v`).
    Mask,
    /// Strided by x register `rs2`.
    Strided(u8),
    /// Indexed, unordered, by vector `vs2`.
    IndexedUnordered(u8),
    /// Indexed, ordered, by vector `vs2`.
    IndexedOrdered(u8),
}

/// Encodes a vector load (`store` false) or store: `nf` fields (1..=8), element or
/// index width `eew` bytes, data register `vd`, base `rs1`, `masked` by v0.
pub const fn vmem(
    store: bool,
    mode: VMem,
    nf: u32,
    eew: u32,
    vd: u8,
    rs1: u8,
    masked: bool,
) -> u32 {
    let (mop, rs2) = match mode {
        VMem::Unit => (0, 0),
        VMem::FaultFirst => (0, 0x10),
        VMem::Whole => (0, 8),
        VMem::Mask => (0, 0xb),
        VMem::IndexedUnordered(v) => (1, r(v)),
        VMem::Strided(x) => (2, r(x)),
        VMem::IndexedOrdered(v) => (3, r(v)),
    };
    let opcode = if store { STORE_FP } else { LOAD_FP };
    ((nf - 1) & 7) << 29
        | mop << 26
        | (!masked as u32) << 25
        | rs2 << 20
        | r(rs1) << 15
        | width(eew) << 12
        | r(vd) << 7
        | opcode
}

/// Encodes the arithmetic instruction `name` (as the table spells it: `"vadd.vv"`,
/// `"vfmv.f.s"`, `"vmv<nr>r.v"`...): `vd` (or rd), `vs2`, `src1` (vs1, rs1, fs1 or
/// the 5-bit immediate), `masked` by v0. `None` for a name the table lacks.
pub fn varith(name: &str, vd: u8, vs2: u8, src1: u32, masked: bool) -> Option<u32> {
    let line: &Line = vector::line(name)?;
    Some(vector::encode(
        line,
        r(vd),
        r(vs2),
        src1 & 31,
        !masked as u32,
        0,
    ))
}

impl Assembler {
    /// Appends [`vsetvli`].
    pub fn vsetvli(&mut self, rd: u8, rs1: u8, vtypei: u32) -> &mut Self {
        self.emit(vsetvli(rd, rs1, vtypei))
    }

    /// Appends [`vsetivli`].
    pub fn vsetivli(&mut self, rd: u8, uimm: u32, vtypei: u32) -> &mut Self {
        self.emit(vsetivli(rd, uimm, vtypei))
    }

    /// Appends [`vsetvl`].
    pub fn vsetvl(&mut self, rd: u8, rs1: u8, rs2: u8) -> &mut Self {
        self.emit(vsetvl(rd, rs1, rs2))
    }

    /// Appends a vector load ([`vmem`]).
    pub fn vload(
        &mut self,
        mode: VMem,
        nf: u32,
        eew: u32,
        vd: u8,
        rs1: u8,
        masked: bool,
    ) -> &mut Self {
        self.emit(vmem(false, mode, nf, eew, vd, rs1, masked))
    }

    /// Appends a vector store ([`vmem`]).
    pub fn vstore(
        &mut self,
        mode: VMem,
        nf: u32,
        eew: u32,
        vs3: u8,
        rs1: u8,
        masked: bool,
    ) -> &mut Self {
        self.emit(vmem(true, mode, nf, eew, vs3, rs1, masked))
    }

    /// Appends [`varith`]; panics on a name the table lacks (a bug in the test).
    pub fn varith(&mut self, name: &str, vd: u8, vs2: u8, src1: u32, masked: bool) -> &mut Self {
        let word = varith(name, vd, vs2, src1, masked)
            .unwrap_or_else(|| panic!("no vector instruction {name}"));
        self.emit(word)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::isa::vector::lookup;

    #[test]
    fn words_match_the_gnu_assembler() {
        // Values from riscv64-linux-gnu-as -march=rv64gcv.
        assert_eq!(vsetvli(10, 11, vtype(32, 0, true, true)), 0x0d05_f557);
        assert_eq!(vmem(false, VMem::Unit, 1, 4, 1, 10, false), 0x0205_6087);
        assert_eq!(varith("vadd.vv", 1, 2, 3, false), Some(0x0221_80d7));
        assert_eq!(varith("vfmv.v.f", 1, 0, 10, false), Some(0x5e05_50d7));
    }

    #[test]
    fn every_line_encodes_to_a_word_that_decodes_back_to_it() {
        for line in vector::LINES {
            if line.operands == vector::Operands::Memory
                || line.operands == vector::Operands::Config
            {
                continue;
            }
            let word = varith(line.name, 8, 16, 1, false).expect("named");
            assert_eq!(lookup(word).map(|l| l.name), Some(line.name), "{word:#x}");
        }
    }
}
