//! The V 1.0 vector unit of the soft hart: its registers and CSRs, and the execution
//! of every vector instruction (spec "RISC-V V vector extension", version 1.0).
//!
//! The state lives in a [`VectorUnit`] boxed off the hart, so harts without V carry
//! one pointer and nothing the interpreter's hot loop touches. Vector instructions
//! decode to [`OpKind::Vector`](crate::isa::OpKind::Vector) and reach
//! [`Hart::execute_vector`] through the out-of-line path of the interpreter.
//!
//! Policy choices the spec leaves open, made as QEMU makes them by default so that
//! the two can be compared bit for bit: tail- and mask-agnostic elements are left
//! undisturbed; a vector access that reaches MMIO raises an access fault; vstart
//! values at or above vl make an instruction do nothing but reset vstart.

mod float;
mod integer;
mod memory;
mod permute;

use super::Hart;
use super::exec::Flow;
use super::memory::Stop;
use super::trap::Trap;
use crate::csr::status;
use crate::isa::Op;
use crate::isa::vector::{VOp, form};

/// vtype.vill: an unsupported vtype was requested.
pub const VILL: u64 = 1 << 63;

/// The smallest and largest VLEN a hart can be built with, in bits.
pub const VLEN_RANGE: std::ops::RangeInclusive<u32> = 128..=4096;

/// The architectural vector state.
#[derive(Clone, Debug)]
pub struct VectorUnit {
    /// VLEN / 8.
    vlenb: usize,
    /// v0..v31, each `vlenb` bytes, element 0 first, little-endian.
    regs: Vec<u8>,
    vtype: u64,
    vl: u64,
    vstart: u64,
    /// Fixed-point rounding mode (0 rnu, 1 rne, 2 rdn, 3 rod).
    vxrm: u8,
    vxsat: bool,
}

/// A decoded vtype.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vtype {
    /// SEW in bytes.
    pub sew: usize,
    /// log2(LMUL), -3..=3.
    pub lmul: i32,
}

impl Vtype {
    /// Decodes `vtype` for a unit of `vlenb` bytes; `None` when it is unsupported
    /// (reserved bits, SEW > 64, LMUL 1/8 with SEW 64... as the spec's
    /// `SEW <= LMUL * ELEN` rule says).
    pub fn decode(vtype: u64) -> Option<Vtype> {
        if vtype >> 8 != 0 {
            return None;
        }
        let vsew = (vtype >> 3) & 7;
        let vlmul = vtype & 7;
        if vsew > 3 || vlmul == 4 {
            return None;
        }
        let lmul = if vlmul >= 5 {
            vlmul as i32 - 8
        } else {
            vlmul as i32
        };
        let sew = 1usize << vsew;
        // SEW <= LMUL * ELEN (64).
        if lmul < 0 && (sew * 8) << (-lmul) > 64 {
            return None;
        }
        Some(Vtype { sew, lmul })
    }

    /// VLMAX for `vlenb`-byte registers.
    pub fn vlmax(self, vlenb: usize) -> usize {
        let per_reg = vlenb / self.sew;
        if self.lmul >= 0 {
            per_reg << self.lmul
        } else {
            per_reg >> -self.lmul
        }
    }
}

impl VectorUnit {
    /// A unit with VLEN `vlen` bits (a power of two in [`VLEN_RANGE`]), in its reset
    /// state: vtype.vill set, vl 0.
    pub fn new(vlen: u32) -> VectorUnit {
        let vlenb = (vlen / 8) as usize;
        VectorUnit {
            vlenb,
            regs: vec![0; 32 * vlenb],
            vtype: VILL,
            vl: 0,
            vstart: 0,
            vxrm: 0,
            vxsat: false,
        }
    }

    /// VLEN in bits.
    pub fn vlen(&self) -> u32 {
        (self.vlenb * 8) as u32
    }

    /// The bytes of register `index` (0..32).
    pub fn reg(&self, index: usize) -> &[u8] {
        let start = (index & 31) * self.vlenb;
        &self.regs[start..start + self.vlenb]
    }

    /// The current vtype, if legal.
    fn vtype(&self) -> Option<Vtype> {
        Vtype::decode(self.vtype)
    }

    /// Element `i` of width `eew` bytes of the group starting at `reg`; zero past v31.
    #[inline]
    pub(super) fn get(&self, reg: u8, eew: usize, i: usize) -> u64 {
        let at = reg as usize * self.vlenb + i * eew;
        match self.regs.get(at..at + eew) {
            Some(bytes) => {
                let mut raw = [0u8; 8];
                raw[..eew].copy_from_slice(bytes);
                u64::from_le_bytes(raw)
            }
            None => 0,
        }
    }

    /// Writes element `i` of width `eew` bytes; ignored past v31.
    #[inline]
    pub(super) fn set(&mut self, reg: u8, eew: usize, i: usize, value: u64) {
        let at = reg as usize * self.vlenb + i * eew;
        if let Some(bytes) = self.regs.get_mut(at..at + eew) {
            bytes.copy_from_slice(&value.to_le_bytes()[..eew]);
        }
    }

    /// Bit `i` of mask register `reg`.
    #[inline]
    pub(super) fn mask(&self, reg: u8, i: usize) -> bool {
        let at = reg as usize * self.vlenb + i / 8;
        self.regs.get(at).is_some_and(|b| b >> (i % 8) & 1 != 0)
    }

    /// Sets bit `i` of mask register `reg`.
    #[inline]
    pub(super) fn set_mask(&mut self, reg: u8, i: usize, value: bool) {
        let at = reg as usize * self.vlenb + i / 8;
        if let Some(b) = self.regs.get_mut(at) {
            *b = (*b & !(1 << (i % 8))) | (value as u8) << (i % 8);
        }
    }
}

/// The fields of a vector instruction word.
#[derive(Clone, Copy, Debug)]
pub(super) struct Fields {
    pub op: VOp,
    pub bits: u32,
    pub vd: u8,
    pub vs1: u8,
    pub vs2: u8,
    /// vm = 1: unmasked.
    pub unmasked: bool,
    pub funct3: u32,
}

impl Fields {
    fn new(op: VOp, bits: u32) -> Fields {
        Fields {
            op,
            bits,
            vd: ((bits >> 7) & 31) as u8,
            vs1: ((bits >> 15) & 31) as u8,
            vs2: ((bits >> 20) & 31) as u8,
            unmasked: bits >> 25 & 1 != 0,
            funct3: (bits >> 12) & 7,
        }
    }

    /// The 5-bit immediate, sign-extended.
    pub fn simm(&self) -> u64 {
        ((self.vs1 as i64) << 59 >> 59) as u64
    }
}

/// Why a vector instruction did not complete.
pub(super) enum VStop {
    /// The encoding is reserved for the current vtype (or V/F state is off).
    Illegal,
    /// A memory access trapped; vstart already points at the element.
    Trap(Trap),
}

impl From<Trap> for VStop {
    fn from(trap: Trap) -> VStop {
        VStop::Trap(trap)
    }
}

/// A vector instruction's outcome.
pub(super) type VResult = Result<(), VStop>;

/// Whether `reg` is aligned to a group of `regs` registers and the group ends by v31.
pub(super) fn aligned(reg: u8, regs: usize) -> bool {
    (reg as usize).is_multiple_of(regs) && reg as usize + regs <= 32
}

/// Whether two register groups share a register.
pub(super) fn overlap(a: u8, a_regs: usize, b: u8, b_regs: usize) -> bool {
    let (a, b) = (a as usize, b as usize);
    a < b + b_regs && b < a + a_regs
}

/// The spec's rule (section 5.2) for a destination group of EEW `dst_eew` over a
/// source group of EEW `src_eew` (EMUL in registers given, `src_frac` for a
/// fractional source): legal when they do not overlap, or the EEWs are equal, or
/// the overlap is the lowest part of a wider source, or the highest part of a wider
/// destination over a source of EMUL >= 1.
pub(super) fn overlap_ok(
    dst: u8,
    dst_regs: usize,
    dst_eew: usize,
    src: u8,
    src_regs: usize,
    src_eew: usize,
    src_frac: bool,
) -> bool {
    if !overlap(dst, dst_regs, src, src_regs) || dst_eew == src_eew {
        return true;
    }
    if dst_eew < src_eew {
        dst == src
    } else {
        !src_frac && src as usize + src_regs == dst as usize + dst_regs
    }
}

impl Hart {
    /// Whether vector instructions may run: the hart has V, and sstatus.VS (and
    /// vsstatus.VS while V=1) is not Off.
    pub(super) fn vector_enabled(&self) -> bool {
        self.vector.is_some()
            && self.csr.sstatus & status::VS != 0
            && (!self.virt || self.csr.vsstatus & status::VS != 0)
    }

    /// Marks the vector state dirty (in vsstatus too while V=1).
    pub(super) fn vector_dirty(&mut self) {
        self.csr.sstatus |= status::VS;
        if self.virt {
            self.csr.vsstatus |= status::VS;
        }
    }

    /// The hart's vector unit, if it has V.
    pub fn vector(&self) -> Option<&VectorUnit> {
        self.vector.as_deref()
    }

    /// Reads a vector CSR (vstart, vxsat, vxrm, vcsr, vl, vtype, vlenb).
    pub(super) fn read_vector_csr(&self, number: u16) -> Option<u64> {
        let v = self.vector.as_deref()?;
        Some(match number {
            crate::csr::VSTART => v.vstart,
            crate::csr::VXSAT => v.vxsat as u64,
            crate::csr::VXRM => v.vxrm as u64,
            crate::csr::VCSR => (v.vxrm as u64) << 1 | v.vxsat as u64,
            crate::csr::VL => v.vl,
            crate::csr::VTYPE => v.vtype,
            crate::csr::VLENB => v.vlenb as u64,
            _ => return None,
        })
    }

    /// Writes a vector CSR (the writable ones: vstart, vxsat, vxrm, vcsr) and marks
    /// the state dirty.
    pub(super) fn write_vector_csr(&mut self, number: u16, value: u64) {
        let Some(v) = self.vector.as_deref_mut() else {
            return;
        };
        match number {
            // vstart holds any element index up to VLMAX of LMUL 8, SEW 8.
            crate::csr::VSTART => v.vstart = value & (v.vlenb as u64 * 8 - 1),
            crate::csr::VXSAT => v.vxsat = value & 1 != 0,
            crate::csr::VXRM => v.vxrm = (value & 3) as u8,
            crate::csr::VCSR => {
                v.vxsat = value & 1 != 0;
                v.vxrm = ((value >> 1) & 3) as u8;
            }
            _ => return,
        }
        self.vector_dirty();
    }

    /// Executes a vector instruction.
    #[inline(never)]
    pub(super) fn execute_vector(&mut self, op: &Op) -> Flow {
        let Some(vop) = VOp::from_index(op.rs3) else {
            return self.illegal(op);
        };
        if !self.vector_enabled() {
            return self.illegal(op);
        }
        let f = Fields::new(vop, op.imm as u32);
        let Some(mut unit) = self.vector.take() else {
            return self.illegal(op);
        };
        let result = self.dispatch(&mut unit, &f);
        self.vector = Some(unit);
        match result {
            Ok(()) => {
                self.vector_dirty();
                self.pc = self.pc.wrapping_add(4);
                // vsetvl* may change what later instructions of the block do, but
                // nothing cached depends on vector state: straight on.
                Flow::Resume
            }
            Err(VStop::Illegal) => self.illegal(op),
            Err(VStop::Trap(trap)) => {
                // Loads and stores write vstart before trapping: the state changed.
                self.vector_dirty();
                self.stopped(Stop::Trap(trap), op)
            }
        }
    }

    /// Routes one instruction to its family.
    fn dispatch(&mut self, v: &mut VectorUnit, f: &Fields) -> VResult {
        use VOp::*;
        match f.op {
            Vsetvli | Vsetivli | Vsetvl => self.vset(v, f),
            LoadUnit
            | LoadStrided
            | LoadIndexedUnordered
            | LoadIndexedOrdered
            | LoadFaultFirst
            | LoadWhole
            | LoadMask
            | StoreUnit
            | StoreStrided
            | StoreIndexedUnordered
            | StoreIndexedOrdered
            | StoreWhole
            | StoreMask => self.vector_memory(v, f),
            VmvNr => permute::whole_move(v, f),
            _ if matches!(f.funct3, form::OPFVV | form::OPFVF) => {
                if !self.fp_enabled() {
                    return Err(VStop::Illegal);
                }
                let scalar = self.f[f.vs1 as usize & 31];
                let frm = self.csr.frm;
                let mut flags = 0;
                let result = float::execute(v, f, scalar, frm, &mut flags);
                if let Ok(Some(value)) = result {
                    self.f[f.vd as usize & 31] = value;
                }
                self.csr.fflags |= flags;
                if result.is_ok() {
                    self.fp_dirty();
                }
                result.map(|_| ())
            }
            _ => {
                let scalar = self.x[f.vs1 as usize & 63];
                match integer::execute(v, f, scalar)? {
                    Some(value) if f.vd != 0 => self.x[f.vd as usize & 63] = value,
                    _ => {}
                }
                Ok(())
            }
        }
    }

    /// vsetvli, vsetivli, vsetvl (section 6).
    fn vset(&mut self, v: &mut VectorUnit, f: &Fields) -> VResult {
        let rd = f.vd;
        let rs1 = f.vs1;
        let (vtype, avl) = match f.op {
            VOp::Vsetvli => ((f.bits >> 20) as u64 & 0x7ff, None),
            VOp::Vsetivli => ((f.bits >> 20) as u64 & 0x3ff, Some(rs1 as u64)),
            _ => (self.x[f.vs2 as usize & 31], None),
        };
        let vlmax = Vtype::decode(vtype).map(|t| t.vlmax(v.vlenb));
        let Some(vlmax) = vlmax.filter(|&m| m > 0) else {
            v.vtype = VILL;
            v.vl = 0;
            v.vstart = 0;
            if rd != 0 {
                self.x[rd as usize] = 0;
            }
            return Ok(());
        };
        let vlmax = vlmax as u64;
        let vl = match avl {
            Some(avl) => avl.min(vlmax),
            None if rs1 != 0 => self.x[rs1 as usize].min(vlmax),
            None if rd != 0 => vlmax,
            // rd = rs1 = x0: keep vl; the new vtype must keep VLMAX (else vill).
            None => {
                let old = v.vtype().map(|t| t.vlmax(v.vlenb) as u64);
                if old != Some(vlmax) {
                    v.vtype = VILL;
                    v.vl = 0;
                    v.vstart = 0;
                    return Ok(());
                }
                v.vl
            }
        };
        v.vtype = vtype;
        v.vl = vl;
        v.vstart = 0;
        if rd != 0 {
            self.x[rd as usize] = vl;
        }
        Ok(())
    }
}

/// The state an element-wise instruction works with: the legal vtype, vl, vstart.
pub(super) fn config(v: &VectorUnit) -> Result<(Vtype, usize, usize), VStop> {
    let Some(t) = v.vtype() else {
        return Err(VStop::Illegal);
    };
    Ok((t, v.vl as usize, v.vstart as usize))
}

/// Runs `body` for each active element in vstart..vl, then clears vstart.
#[inline]
pub(super) fn each_active(
    v: &mut VectorUnit,
    unmasked: bool,
    mut body: impl FnMut(&mut VectorUnit, usize),
) {
    let (start, end) = (v.vstart as usize, v.vl as usize);
    for i in start..end {
        if unmasked || v.mask(0, i) {
            body(v, i);
        }
    }
    v.vstart = 0;
}
