//! Building blocks of the decode tables: fixed-bit patterns and a per-bucket index.
//!
//! Each table line pairs a mnemonic with a [`Pattern`], the bits that identify the
//! encoding (riscv-opcodes' "mask/match" pairs), written field by field as the ISA
//! manual's opcode maps give them. The decoder scans only the lines of one bucket
//! (the major opcode for 32-bit instructions; quadrant and funct3 for compressed
//! ones), and the first line that matches wins. Tests check that lines do not
//! overlap except where a table says so.

/// The fixed bits of one encoding: an instruction matches when `bits & mask == value`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Pattern {
    /// Which bits are fixed.
    pub mask: u32,
    /// Their required values (always a subset of `mask`).
    pub value: u32,
}

impl Pattern {
    /// A 32-bit encoding with major opcode `opcode` (bits 6:0, including the `11`
    /// length bits).
    pub const fn op32(opcode: u32) -> Self {
        assert!(opcode & 3 == 3 && opcode < 0x80);
        Pattern {
            mask: 0x7f,
            value: opcode,
        }
    }

    /// A 16-bit encoding in `quadrant` (bits 1:0) with `funct3` (bits 15:13).
    pub const fn op16(quadrant: u32, funct3: u32) -> Self {
        assert!(quadrant < 3 && funct3 < 8);
        Pattern {
            mask: 0xe003,
            value: funct3 << 13 | quadrant,
        }
    }

    /// Fixes the `width`-bit field starting at bit `lo` to `v`.
    pub const fn field(self, lo: u32, width: u32, v: u32) -> Self {
        let m = ((1u32 << width) - 1) << lo;
        assert!(v < 1 << width, "field value does not fit");
        assert!(self.mask & m == 0, "field fixed twice");
        Pattern {
            mask: self.mask | m,
            value: self.value | v << lo,
        }
    }

    /// Fixes `rd` (bits 11:7).
    pub const fn rd(self, v: u32) -> Self {
        self.field(7, 5, v)
    }

    /// Fixes `funct3` (bits 14:12).
    pub const fn f3(self, v: u32) -> Self {
        self.field(12, 3, v)
    }

    /// Fixes `rs1` (bits 19:15).
    pub const fn rs1(self, v: u32) -> Self {
        self.field(15, 5, v)
    }

    /// Fixes `rs2` (bits 24:20); also the FP conversion selector.
    pub const fn rs2(self, v: u32) -> Self {
        self.field(20, 5, v)
    }

    /// Fixes the FP format field `fmt` (bits 26:25): 0 single, 1 double.
    pub const fn fmt(self, v: u32) -> Self {
        self.field(25, 2, v)
    }

    /// Fixes `funct7` (bits 31:25).
    pub const fn f7(self, v: u32) -> Self {
        self.field(25, 7, v)
    }

    /// Fixes `funct6` (bits 31:26), the RV64 shift-immediate selector.
    pub const fn f6(self, v: u32) -> Self {
        self.field(26, 6, v)
    }

    /// Fixes `funct5` (bits 31:27), the AMO and FP operation selector.
    pub const fn f5(self, v: u32) -> Self {
        self.field(27, 5, v)
    }

    /// Fixes the 12-bit I-immediate (bits 31:20), as SYSTEM instructions do.
    pub const fn imm12(self, v: u32) -> Self {
        self.field(20, 12, v)
    }

    /// Whether `bits` has this pattern.
    #[inline(always)]
    pub const fn matches(self, bits: u32) -> bool {
        bits & self.mask == self.value
    }

    /// Whether some instruction word matches both patterns.
    #[cfg(test)]
    pub const fn overlaps(self, other: Pattern) -> bool {
        (self.value ^ other.value) & self.mask & other.mask == 0
    }
}

/// Line numbers of a table, grouped into 32 buckets by a 5-bit key.
///
/// `W` bounds the lines per bucket; building the index fails at compile time if a
/// bucket overflows.
pub(crate) struct Index<const W: usize> {
    len: [u8; 32],
    lines: [[u8; W]; 32],
}

impl<const W: usize> Index<W> {
    /// An index with every bucket empty.
    pub const fn new() -> Self {
        Index {
            len: [0; 32],
            lines: [[0; W]; 32],
        }
    }

    /// Appends table line `line` to bucket `key`.
    pub const fn push(&mut self, key: u32, line: usize) {
        let k = key as usize;
        let n = self.len[k] as usize;
        assert!(n < W, "decode bucket overflow");
        assert!(line < 256, "decode table too long");
        self.lines[k][n] = line as u8;
        self.len[k] += 1;
    }

    /// The lines of bucket `key`, in table order.
    #[inline(always)]
    pub fn bucket(&self, key: u32) -> &[u8] {
        let k = key as usize & 31;
        &self.lines[k][..self.len[k] as usize]
    }
}

/// Every pair of lines (by name, in table order) whose patterns overlap.
#[cfg(test)]
pub(crate) fn overlapping_pairs(
    lines: &[(&'static str, Pattern)],
) -> Vec<(&'static str, &'static str)> {
    let mut pairs = Vec::new();
    for (i, &(a, pa)) in lines.iter().enumerate() {
        for &(b, pb) in &lines[i + 1..] {
            if pa.overlaps(pb) {
                pairs.push((a, b));
            }
        }
    }
    pairs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_fields_land_where_the_manual_puts_them() {
        // add: funct7=0 funct3=0 opcode=0x33 → mask 0xfe00707f, match 0x33.
        let add = Pattern::op32(0x33).f3(0).f7(0);
        assert_eq!((add.mask, add.value), (0xfe00_707f, 0x0000_0033));
        // sret: fully fixed.
        let sret = Pattern::op32(0x73).f3(0).rd(0).rs1(0).imm12(0x102);
        assert_eq!((sret.mask, sret.value), (0xffff_ffff, 0x1020_0073));
        // c.lw: quadrant 0, funct3 2.
        let c_lw = Pattern::op16(0, 2);
        assert_eq!((c_lw.mask, c_lw.value), (0xe003, 0x4000));
    }

    #[test]
    fn overlap_is_symmetric_and_respects_masks() {
        let a = Pattern::op32(0x73).f3(0);
        let b = Pattern::op32(0x73).f3(0).imm12(0x105);
        let c = Pattern::op32(0x73).f3(1);
        assert!(a.overlaps(b) && b.overlaps(a));
        assert!(!a.overlaps(c) && !c.overlaps(a));
        let pairs = overlapping_pairs(&[("a", a), ("b", b), ("c", c)]);
        assert_eq!(pairs, vec![("a", "b")]);
    }

    #[test]
    fn index_keeps_table_order_per_bucket() {
        let mut ix = Index::<4>::new();
        ix.push(3, 7);
        ix.push(1, 2);
        ix.push(3, 9);
        assert_eq!(ix.bucket(3), &[7, 9]);
        assert_eq!(ix.bucket(1), &[2]);
        assert!(ix.bucket(0).is_empty());
    }
}
