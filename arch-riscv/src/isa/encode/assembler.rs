//! A small assembler for test programs: appends encoded instructions, resolves
//! labels forward and backward, and expands the `li`/`la` pseudo-instructions.

use super::{addi, addiw, auipc, fits_signed, lui, reg, slli};

/// A position in an [`Assembler`]'s program, bound once with [`Assembler::bind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Label(usize);

/// Re-encodes an instruction once its target's pc-relative offset is known.
type Patch = Box<dyn Fn(i64) -> Vec<u8>>;

/// A use of a label not bound yet: `patch` rewrites the bytes at `at`.
struct Fixup {
    at: usize,
    label: Label,
    patch: Patch,
}

/// Builds a little-endian RV64 program placed at a fixed guest address.
///
/// Every encoder in [`super`] has a method of the same name that appends it. Branch
/// and jump methods ending in `_to` take a [`Label`]; a label used before it is
/// bound gets a placeholder that [`Assembler::bind`] patches.
///
/// ```
/// use arch_riscv::isa::encode::{Assembler, reg::*};
///
/// let mut a = Assembler::new(0x8000_0000);
/// a.li(A0, 10);
/// let top = a.here();
/// a.addi(A0, A0, -1);
/// let done = a.label();
/// a.beq_to(A0, ZERO, done);
/// a.j_to(top);
/// a.bind(done);
/// a.wfi();
/// assert_eq!(a.bytes().len(), 20);
/// ```
pub struct Assembler {
    base: u64,
    code: Vec<u8>,
    labels: Vec<Option<u64>>,
    fixups: Vec<Fixup>,
}

impl Assembler {
    /// An empty program whose first byte will sit at guest address `base`.
    pub fn new(base: u64) -> Self {
        Assembler {
            base,
            code: Vec::new(),
            labels: Vec::new(),
            fixups: Vec::new(),
        }
    }

    /// The guest address of the first byte.
    pub fn base(&self) -> u64 {
        self.base
    }

    /// The guest address the next instruction will have.
    pub fn pc(&self) -> u64 {
        self.base + self.code.len() as u64
    }

    /// Appends a 32-bit instruction word.
    pub fn emit(&mut self, word: u32) -> &mut Self {
        self.code.extend_from_slice(&word.to_le_bytes());
        self
    }

    /// Appends a 16-bit compressed instruction.
    pub fn emit16(&mut self, half: u16) -> &mut Self {
        self.code.extend_from_slice(&half.to_le_bytes());
        self
    }

    /// Appends raw bytes (data, or deliberately odd encodings).
    pub fn data(&mut self, bytes: &[u8]) -> &mut Self {
        self.code.extend_from_slice(bytes);
        self
    }

    /// Pads with zero bytes until [`Assembler::pc`] is a multiple of `align` (a power
    /// of two). Zero bytes are an illegal instruction if executed.
    pub fn align(&mut self, align: u64) -> &mut Self {
        assert!(align.is_power_of_two(), "alignment must be a power of two");
        while self.pc() & (align - 1) != 0 {
            self.code.push(0);
        }
        self
    }

    /// A new label, not bound to any address yet.
    pub fn label(&mut self) -> Label {
        self.labels.push(None);
        Label(self.labels.len() - 1)
    }

    /// A new label bound to the current [`Assembler::pc`].
    pub fn here(&mut self) -> Label {
        let l = self.label();
        self.bind(l);
        l
    }

    /// Binds `label` to the current [`Assembler::pc`] and patches the instructions
    /// that already refer to it.
    ///
    /// # Panics
    /// If `label` is already bound, or a patched branch cannot reach it.
    pub fn bind(&mut self, label: Label) {
        assert!(self.labels[label.0].is_none(), "label bound twice");
        let target = self.pc();
        self.labels[label.0] = Some(target);
        let (now, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.fixups)
            .into_iter()
            .partition(|f| f.label == label);
        self.fixups = later;
        for f in now {
            let from = self.base + f.at as u64;
            let bytes = (f.patch)(target.wrapping_sub(from) as i64);
            self.code[f.at..f.at + bytes.len()].copy_from_slice(&bytes);
        }
    }

    /// The address `label` is bound to, if it is.
    pub fn address(&self, label: Label) -> Option<u64> {
        self.labels[label.0]
    }

    /// The program so far.
    ///
    /// # Panics
    /// If an instruction refers to a label that was never bound.
    pub fn bytes(&self) -> Vec<u8> {
        assert!(self.fixups.is_empty(), "a label is used but never bound");
        self.code.clone()
    }

    /// Appends the instruction(s) `patch` encodes for the offset from the current pc
    /// to `label`: now if it is bound, or as a placeholder patched by `bind`.
    fn emit_fixup(&mut self, label: Label, patch: Patch) -> &mut Self {
        let at = self.code.len();
        match self.labels[label.0] {
            Some(target) => {
                let bytes = patch(target.wrapping_sub(self.pc()) as i64);
                self.code.extend_from_slice(&bytes);
            }
            None => {
                let placeholder = patch(0);
                self.code.extend_from_slice(&placeholder);
                self.fixups.push(Fixup { at, label, patch });
            }
        }
        self
    }

    /// Appends a 32-bit branch or jump to `label`; `enc` encodes it for an offset
    /// that fits `bits` signed bits.
    pub(super) fn branch_to(
        &mut self,
        label: Label,
        bits: u32,
        enc: impl Fn(i32) -> u32 + 'static,
    ) -> &mut Self {
        let patch = move |off: i64| {
            assert!(fits_signed(off, bits), "label out of reach: offset {off}");
            enc(off as i32).to_le_bytes().to_vec()
        };
        self.emit_fixup(label, Box::new(patch))
    }

    /// Appends a 16-bit branch or jump to `label`, as [`Self::branch_to`].
    pub(super) fn branch16_to(
        &mut self,
        label: Label,
        bits: u32,
        enc: impl Fn(i32) -> u16 + 'static,
    ) -> &mut Self {
        let patch = move |off: i64| {
            assert!(fits_signed(off, bits), "label out of reach: offset {off}");
            enc(off as i32).to_le_bytes().to_vec()
        };
        self.emit_fixup(label, Box::new(patch))
    }

    /// Emits `la rd, label`: `auipc rd, hi; addi rd, rd, lo`, loading the label's
    /// address pc-relatively (within ±2 GiB).
    pub fn la(&mut self, rd: u8, label: Label) -> &mut Self {
        let patch = move |off: i64| {
            assert!(fits_signed(off, 32), "label out of reach: offset {off}");
            let lo = sext12(off);
            let hi = ((off - lo) >> 12) as i32 & 0xf_ffff;
            let mut bytes = auipc(rd, hi).to_le_bytes().to_vec();
            bytes.extend_from_slice(&addi(rd, rd, lo as i32).to_le_bytes());
            bytes
        };
        self.emit_fixup(label, Box::new(patch))
    }

    /// Emits `li rd, value`: the shortest `lui`/`addi(w)`/`slli` sequence of this
    /// recursive scheme (LLVM's) that leaves `value` in `rd`; 1 to 8 instructions.
    pub fn li(&mut self, rd: u8, value: u64) -> &mut Self {
        let mut words = Vec::new();
        li_sequence(rd, value as i64, &mut words);
        for w in words {
            self.emit(w);
        }
        self
    }
}

/// `v`'s low 12 bits, sign-extended: the part an `addi` adds.
fn sext12(v: i64) -> i64 {
    (v << 52) >> 52
}

/// Appends to `out` the instructions that load `v` into `rd`.
///
/// A value that fits 32 signed bits is `lui` + `addiw` (or one of them); anything
/// else is the upper part, loaded recursively and shifted left past its trailing
/// zeros, plus an `addi` of the low 12 bits.
pub(crate) fn li_sequence(rd: u8, v: i64, out: &mut Vec<u32>) {
    let lo = sext12(v);
    if fits_signed(v, 32) {
        // `v - lo` may be 2^31 (v just below 2^31 with lo negative); its 20 bits then
        // read as -2^31 and the `addiw` wraps back into range.
        let hi = ((v - lo) >> 12) as i32 & 0xf_ffff;
        if hi == 0 {
            out.push(addi(rd, reg::ZERO, lo as i32));
        } else {
            out.push(lui(rd, hi));
            if lo != 0 {
                out.push(addiw(rd, rd, lo as i32));
            }
        }
        return;
    }
    // Wrapping: for v near i64::MAX, v - lo passes 2^63 and the arithmetic shift
    // below sees it as negative, which is right modulo 2^64.
    let hi = v.wrapping_sub(lo) >> 12;
    let shift = hi.trailing_zeros();
    li_sequence(rd, hi >> shift, out);
    out.push(slli(rd, rd, 12 + shift));
    if lo != 0 {
        out.push(addi(rd, rd, lo as i32));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::isa::decode::tests::XorShift;
    use crate::isa::encode::reg::*;
    use crate::isa::{Op, OpKind, SINK, decode};

    /// The program's instructions, decoded, with their addresses.
    fn decoded(a: &Assembler) -> Vec<(u64, Op)> {
        let bytes = a.bytes();
        let mut out = Vec::new();
        let mut at = 0;
        while at < bytes.len() {
            let lo = u16::from_le_bytes([bytes[at], bytes[at + 1]]) as u32;
            let word = if lo & 3 == 3 {
                lo | (u16::from_le_bytes([bytes[at + 2], bytes[at + 3]]) as u32) << 16
            } else {
                lo
            };
            let op = decode(word);
            out.push((a.base() + at as u64, op));
            at += op.len as usize;
        }
        out
    }

    /// Runs straight-line integer code (what `li` and `la` emit) and returns the
    /// registers.
    fn run(a: &Assembler) -> [u64; 33] {
        let mut x = [0u64; 33];
        for (pc, op) in decoded(a) {
            let (rs1, imm) = (x[op.rs1 as usize], op.imm as i64);
            x[op.rd as usize] = match op.kind {
                OpKind::Lui => imm as u64,
                OpKind::Auipc => pc.wrapping_add(imm as u64),
                OpKind::Addi => rs1.wrapping_add(imm as u64),
                OpKind::Addiw => rs1.wrapping_add(imm as u64) as i32 as i64 as u64,
                OpKind::Slli => rs1 << imm,
                other => panic!("unexpected {other:?}"),
            };
            x[SINK as usize] = 0;
        }
        x
    }

    #[test]
    fn li_loads_any_value() {
        let mut values = vec![
            0,
            1,
            u64::MAX,
            2047,
            2048,
            (-2048i64) as u64,
            (-2049i64) as u64,
            0x7fff_f7ff,
            0x7fff_f800,
            0x7fff_ffff,
            0x8000_0000,
            0xffff_ffff,
            0xffff_ffff_8000_0000,
            0xffff_ffff_7fff_ffff,
            0x8000_0000_0000_0000,
            0x7fff_ffff_ffff_ffff,
            0x8000_0000_0000_0800,
            0x1234_5678_9abc_def0,
            0xdead_beef,
            0x8000_0000_0000_1000,
        ];
        for s in 0..64 {
            values.extend([1u64 << s, (1u64 << s) - 1, (1u64 << s).wrapping_neg()]);
        }
        let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
        for _ in 0..20_000 {
            let r = rng.next();
            // Vary the magnitude so short sequences get exercised too.
            values.push(r >> (r % 64));
            values.push(((r >> (r % 64)) as i64).wrapping_neg() as u64);
        }
        for v in values {
            let mut a = Assembler::new(0x8000_0000);
            a.li(A0, v);
            let len = a.bytes().len() / 4;
            assert!((1..=8).contains(&len), "li {v:#x} took {len} instructions");
            assert_eq!(run(&a)[A0 as usize], v, "li {v:#x}");
        }
    }

    #[test]
    fn li_uses_one_instruction_for_12_bit_values() {
        let mut a = Assembler::new(0);
        a.li(A0, (-5i64) as u64);
        assert_eq!(a.bytes(), super::super::addi(A0, ZERO, -5).to_le_bytes());
    }

    #[test]
    fn labels_resolve_forward_and_backward() {
        let mut a = Assembler::new(0x8020_0000);
        let top = a.here(); // 0x8020_0000
        let fwd = a.label();
        a.bne_to(A0, A1, fwd); // +0: forward, patched later
        a.addi(A0, A0, 1); // +4
        a.beq_to(A0, ZERO, top); // +8: backward
        a.jal_to(RA, fwd); // +12: forward
        a.j_to(top); // +16: backward
        a.bind(fwd); // +20
        a.nop();
        assert_eq!(a.address(fwd), Some(0x8020_0014));
        let ops: Vec<_> = decoded(&a).into_iter().map(|(_, op)| op).collect();
        assert_eq!(
            (ops[0].kind, ops[0].rs1, ops[0].rs2, ops[0].imm),
            (OpKind::Bne, A0, A1, 20)
        );
        assert_eq!((ops[2].kind, ops[2].imm), (OpKind::Beq, -8));
        assert_eq!((ops[3].kind, ops[3].rd, ops[3].imm), (OpKind::Jal, RA, 8));
        assert_eq!(
            (ops[4].kind, ops[4].rd, ops[4].imm),
            (OpKind::Jal, SINK, -16)
        );
    }

    #[test]
    fn compressed_branches_resolve() {
        let mut a = Assembler::new(0x1000);
        let top = a.here();
        let end = a.label();
        a.c_beqz_to(A0, end); // +0
        a.c_addi(A0, -1); // +2
        a.c_bnez_to(A0, top); // +4
        a.c_j_to(end); // +6
        a.c_j_to(top); // +8
        a.bind(end); // +10
        let ops: Vec<_> = decoded(&a).into_iter().map(|(_, op)| op).collect();
        assert_eq!((ops[0].kind, ops[0].imm, ops[0].len), (OpKind::Beq, 10, 2));
        assert_eq!((ops[2].kind, ops[2].imm), (OpKind::Bne, -4));
        assert_eq!((ops[3].kind, ops[3].imm), (OpKind::Jal, 4));
        assert_eq!((ops[4].kind, ops[4].imm), (OpKind::Jal, -8));
    }

    #[test]
    fn la_loads_label_addresses() {
        for base in [0u64, 0x8000_0000, 0xffff_ffff_8000_0000] {
            let mut a = Assembler::new(base);
            let back = a.here();
            let data = a.label();
            a.la(A0, data);
            a.la(A1, back);
            a.data(&[0; 0x1800]);
            a.bind(data);
            let x = run(&Assembler {
                code: a.bytes()[..16].to_vec(),
                ..Assembler::new(base)
            });
            assert_eq!(x[A0 as usize], base + 16 + 0x1800);
            assert_eq!(x[A1 as usize], base);
        }
    }

    #[test]
    fn align_pads_with_zero_bytes() {
        let mut a = Assembler::new(0x100);
        a.c_nop().align(8);
        assert_eq!(a.pc(), 0x108);
        assert_eq!(a.bytes(), [1, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    #[should_panic(expected = "never bound")]
    fn unbound_label_is_an_error() {
        let mut a = Assembler::new(0);
        let l = a.label();
        a.j_to(l);
        a.bytes();
    }

    #[test]
    #[should_panic(expected = "bound twice")]
    fn label_bound_twice_is_an_error() {
        let mut a = Assembler::new(0);
        let l = a.here();
        a.bind(l);
    }

    #[test]
    #[should_panic(expected = "out of reach")]
    fn branch_out_of_reach_is_an_error() {
        let mut a = Assembler::new(0);
        let l = a.label();
        a.beq_to(A0, A1, l);
        a.data(&[0; 4096]);
        a.bind(l);
    }
}
