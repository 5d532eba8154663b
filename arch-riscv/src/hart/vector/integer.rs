//! Integer, fixed-point, mask-producing and widening/narrowing arithmetic (V spec
//! sections 11 to 12), and the families of [`super::permute`] reached through OPI/OPM.

use super::{Fields, VResult, VStop, VectorUnit, Vtype, aligned, config, overlap_ok, permute};
use crate::isa::vector::{VOp, form};

/// A register operand of an instruction: its first register, element width in
/// bytes (0 for a mask) and log2 of its EMUL.
#[derive(Clone, Copy, Debug)]
pub(super) struct Group {
    pub reg: u8,
    pub eew: usize,
    pub emul: i32,
}

impl Group {
    /// The group of `reg` at `eew` bytes under vtype `t`, if the EMUL is legal.
    pub fn new(t: Vtype, reg: u8, eew: usize) -> Result<Group, VStop> {
        if eew == 0 {
            return Ok(Group { reg, eew, emul: 0 });
        }
        let emul = t.lmul + eew.trailing_zeros() as i32 - t.sew.trailing_zeros() as i32;
        if !(-3..=3).contains(&emul) || eew > 8 {
            return Err(VStop::Illegal);
        }
        Ok(Group { reg, eew, emul })
    }

    /// Registers the group spans.
    pub fn regs(self) -> usize {
        1 << self.emul.max(0)
    }
}

/// The register constraints of section 5: every group aligned, the destination
/// overlapping a source only as section 5.2 allows, and a masked destination (not a
/// mask) not overlapping v0.
pub(super) fn check(dst: Group, sources: &[Group], masked: bool) -> VResult {
    for g in std::iter::once(&dst).chain(sources) {
        if !aligned(g.reg, g.regs()) {
            return Err(VStop::Illegal);
        }
    }
    for s in sources {
        let dst_eew = if dst.eew == 0 { 0 } else { dst.eew };
        let src_eew = if s.eew == 0 { 0 } else { s.eew };
        if !overlap_ok(
            dst.reg,
            dst.regs(),
            dst_eew,
            s.reg,
            s.regs(),
            src_eew,
            s.emul < 0,
        ) {
            return Err(VStop::Illegal);
        }
    }
    if masked && dst.eew != 0 && dst.reg == 0 {
        return Err(VStop::Illegal);
    }
    Ok(())
}

/// Sign-extends the low `bytes` bytes.
#[inline]
pub(super) fn sx(value: u64, bytes: usize) -> i64 {
    let shift = 64 - 8 * bytes as u32;
    ((value << shift) as i64) >> shift
}

/// The low `bytes` bytes.
#[inline]
pub(super) fn zx(value: u64, bytes: usize) -> u64 {
    if bytes >= 8 {
        value
    } else {
        value & ((1u64 << (8 * bytes)) - 1)
    }
}

/// The fixed-point rounding increment of shifting `v` right by `d` (section 4.9).
fn round_increment(v: u128, d: u32, vxrm: u8) -> u128 {
    if d == 0 {
        return 0;
    }
    let bit = |i: u32| if i >= 128 { 0 } else { (v >> i) & 1 };
    let low = |n: u32| if n == 0 { 0 } else { v & ((1u128 << n) - 1) };
    match vxrm {
        0 => bit(d - 1),
        1 => bit(d - 1) & ((low(d - 1) != 0) as u128 | bit(d)),
        2 => 0,
        _ => (bit(d) == 0 && low(d) != 0) as u128,
    }
}

/// `v >> d` rounded per vxrm, unsigned.
fn round_u(v: u128, d: u32, vxrm: u8) -> u128 {
    (v >> d) + round_increment(v, d, vxrm)
}

/// `v >> d` rounded per vxrm, signed.
fn round_s(v: i128, d: u32, vxrm: u8) -> i128 {
    (v >> d) + round_increment(v as u128, d, vxrm) as i128
}

/// Clamps `v` to the signed range of `bytes`, noting saturation.
fn clamp_s(v: i128, bytes: usize, sat: &mut bool) -> u64 {
    let max = (1i128 << (8 * bytes - 1)) - 1;
    let min = -(1i128 << (8 * bytes - 1));
    if v > max {
        *sat = true;
        max as u64
    } else if v < min {
        *sat = true;
        min as u64
    } else {
        v as u64
    }
}

/// Clamps `v` to the unsigned range of `bytes`, noting saturation.
fn clamp_u(v: i128, bytes: usize, sat: &mut bool) -> u64 {
    let max = if bytes >= 8 {
        u64::MAX as i128
    } else {
        (1i128 << (8 * bytes)) - 1
    };
    if v > max {
        *sat = true;
        max as u64
    } else if v < 0 {
        *sat = true;
        0
    } else {
        v as u64
    }
}

/// The second operand of an arithmetic form: vs1's element, the x register, or
/// the immediate.
#[derive(Clone, Copy)]
pub(super) enum Src {
    Vector(u8),
    Scalar(u64),
}

impl Src {
    pub fn of(f: &Fields, scalar: u64, unsigned_imm: bool) -> Src {
        match f.funct3 {
            form::OPIVV | form::OPMVV | form::OPFVV => Src::Vector(f.vs1),
            form::OPIVI if unsigned_imm => Src::Scalar(f.vs1 as u64),
            form::OPIVI => Src::Scalar(f.simm()),
            _ => Src::Scalar(scalar),
        }
    }

    #[inline]
    pub fn get(self, v: &VectorUnit, eew: usize, i: usize) -> u64 {
        match self {
            Src::Vector(r) => v.get(r, eew, i),
            Src::Scalar(x) => zx(x, eew),
        }
    }
}

/// Runs an element-wise operation: `dst` from the vs2 group `s2`, the second
/// operand `s1` (its EEW `s1_eew`) and the old destination element.
#[allow(clippy::too_many_arguments)]
fn elementwise(
    v: &mut VectorUnit,
    f: &Fields,
    t: Vtype,
    dst_eew: usize,
    s2_eew: usize,
    s1: Src,
    s1_eew: usize,
    mut op: impl FnMut(u64, u64, u64) -> u64,
) -> VResult {
    let dst = Group::new(t, f.vd, dst_eew)?;
    let mut sources = vec![Group::new(t, f.vs2, s2_eew)?];
    if let Src::Vector(r) = s1 {
        sources.push(Group::new(t, r, s1_eew)?);
    }
    check(dst, &sources, !f.unmasked)?;
    super::each_active(v, f.unmasked, |v, i| {
        let a = v.get(f.vs2, s2_eew, i);
        let b = s1.get(v, s1_eew, i);
        let d = v.get(f.vd, dst_eew, i);
        v.set(f.vd, dst_eew, i, zx(op(a, b, d), dst_eew));
    });
    Ok(())
}

/// Runs an operation whose result is a mask bit per element.
fn compare(
    v: &mut VectorUnit,
    f: &Fields,
    t: Vtype,
    s1: Src,
    op: impl Fn(u64, u64) -> bool,
) -> VResult {
    let sew = t.sew;
    let mut sources = vec![Group::new(t, f.vs2, sew)?];
    if let Src::Vector(r) = s1 {
        sources.push(Group::new(t, r, sew)?);
    }
    check(
        Group {
            reg: f.vd,
            eew: 0,
            emul: 0,
        },
        &sources,
        !f.unmasked,
    )?;
    super::each_active(v, f.unmasked, |v, i| {
        let bit = op(v.get(f.vs2, sew, i), s1.get(v, sew, i));
        v.set_mask(f.vd, i, bit);
    });
    Ok(())
}

/// Executes an OPI/OPM instruction; `Some(value)` for those that write x[rd].
pub(super) fn execute(v: &mut VectorUnit, f: &Fields, scalar: u64) -> Result<Option<u64>, VStop> {
    use VOp::*;
    // Whole-register moves and the x/s moves are checked by their own handlers.
    match f.op {
        VmvXS => return permute::mv_x_s(v, f).map(Some),
        Vcpop | Vfirst => return permute::mask_scalar(v, f).map(Some),
        _ => {}
    }
    let (t, _, _) = config(v)?;
    let sew = t.sew;
    let bits = 8 * sew as u32;
    let vxrm = v.vxrm;
    let mut sat = false;
    let shift_mask = bits as u64 - 1;
    let s = |x: u64| sx(x, sew);
    let wide = 2 * sew;
    let w = |x: u64| sx(x, wide);
    let unsigned_imm = matches!(
        f.op,
        Vsll | Vsrl
            | Vsra
            | Vssrl
            | Vssra
            | Vnsrl
            | Vnsra
            | Vnclipu
            | Vnclip
            | Vror
            | Vwsll
            | Vrgather
            | Vslideup
            | Vslidedown
    );
    let mut src = Src::of(f, scalar, unsigned_imm);
    if f.op == Vror && f.funct3 == form::OPIVI {
        // vror.vi: the immediate's bit 5 is instruction bit 26.
        src = Src::Scalar(f.vs1 as u64 | (((f.bits >> 26) & 1) as u64) << 5);
    }
    macro_rules! binary {
        ($body:expr) => {
            elementwise(v, f, t, sew, sew, src, sew, $body)?
        };
    }
    macro_rules! widening {
        ($s2:expr, $body:expr) => {{
            require_widening(t)?;
            elementwise(v, f, t, wide, $s2, src, sew, $body)?
        }};
    }
    macro_rules! narrowing {
        ($body:expr) => {{
            require_widening(t)?;
            elementwise(v, f, t, sew, wide, src, sew, $body)?
        }};
    }
    match f.op {
        Vadd => binary!(|a, b, _| a.wrapping_add(b)),
        Vsub => binary!(|a, b, _| a.wrapping_sub(b)),
        Vrsub => binary!(|a, b, _| b.wrapping_sub(a)),
        Vminu => binary!(|a, b, _| a.min(b)),
        Vmaxu => binary!(|a, b, _| a.max(b)),
        Vmin => binary!(|a, b, _| s(a).min(s(b)) as u64),
        Vmax => binary!(|a, b, _| s(a).max(s(b)) as u64),
        Vand => binary!(|a, b, _| a & b),
        Vor => binary!(|a, b, _| a | b),
        Vxor => binary!(|a, b, _| a ^ b),
        Vandn => binary!(|a, b, _| a & !b),
        Vsll => binary!(|a, b, _| a << (b & shift_mask)),
        Vsrl => binary!(|a, b, _| a >> (b & shift_mask)),
        Vsra => binary!(|a, b, _| (s(a) >> (b & shift_mask)) as u64),
        Vror => binary!(|a, b, _| rotate_right(a, b & shift_mask, bits)),
        Vrol => {
            binary!(|a, b, _| rotate_right(a, (bits as u64 - (b & shift_mask)) & shift_mask, bits))
        }
        Vmul => binary!(|a, b, _| a.wrapping_mul(b)),
        Vmulh => binary!(|a, b, _| ((s(a) as i128 * s(b) as i128) >> bits) as u64),
        Vmulhu => binary!(|a, b, _| ((a as u128 * b as u128) >> bits) as u64),
        Vmulhsu => binary!(|a, b, _| ((s(a) as i128 * b as i128) >> bits) as u64),
        Vdivu => binary!(|a, b, _| a.checked_div(b).unwrap_or(u64::MAX)),
        Vremu => binary!(|a, b, _| if b == 0 { a } else { a % b }),
        Vdiv => binary!(|a, b, _| if b == 0 {
            u64::MAX
        } else {
            s(a).wrapping_div(s(b)) as u64
        }),
        Vrem => binary!(|a, b, _| if b == 0 {
            a
        } else {
            s(a).wrapping_rem(s(b)) as u64
        }),
        Vmacc => binary!(|a, b, d| b.wrapping_mul(a).wrapping_add(d)),
        Vnmsac => binary!(|a, b, d| d.wrapping_sub(b.wrapping_mul(a))),
        Vmadd => binary!(|a, b, d| b.wrapping_mul(d).wrapping_add(a)),
        Vnmsub => binary!(|a, b, d| a.wrapping_sub(b.wrapping_mul(d))),
        Vsaddu => binary!(|a, b, _| clamp_u(a as i128 + b as i128, sew, &mut sat)),
        Vsadd => binary!(|a, b, _| clamp_s(s(a) as i128 + s(b) as i128, sew, &mut sat)),
        Vssubu => binary!(|a, b, _| clamp_u(a as i128 - b as i128, sew, &mut sat)),
        Vssub => binary!(|a, b, _| clamp_s(s(a) as i128 - s(b) as i128, sew, &mut sat)),
        Vaaddu => binary!(|a, b, _| round_u(a as u128 + b as u128, 1, vxrm) as u64),
        Vaadd => binary!(|a, b, _| round_s(s(a) as i128 + s(b) as i128, 1, vxrm) as u64),
        Vasubu => binary!(|a, b, _| round_s(a as i128 - b as i128, 1, vxrm) as u64),
        Vasub => binary!(|a, b, _| round_s(s(a) as i128 - s(b) as i128, 1, vxrm) as u64),
        Vsmul => binary!(|a, b, _| {
            let product = s(a) as i128 * s(b) as i128;
            clamp_s(round_s(product, bits - 1, vxrm), sew, &mut sat)
        }),
        Vssrl => binary!(|a, b, _| round_u(a as u128, (b & shift_mask) as u32, vxrm) as u64),
        Vssra => binary!(|a, b, _| round_s(s(a) as i128, (b & shift_mask) as u32, vxrm) as u64),

        Vwaddu => widening!(sew, |a, b, _| a.wrapping_add(b)),
        Vwadd => widening!(sew, |a, b, _| s(a).wrapping_add(s(b)) as u64),
        Vwsubu => widening!(sew, |a, b, _| a.wrapping_sub(b)),
        Vwsub => widening!(sew, |a, b, _| s(a).wrapping_sub(s(b)) as u64),
        VwadduW => widening!(wide, |a, b, _| a.wrapping_add(b)),
        VwaddW => widening!(wide, |a, b, _| w(a).wrapping_add(s(b)) as u64),
        VwsubuW => widening!(wide, |a, b, _| a.wrapping_sub(b)),
        VwsubW => widening!(wide, |a, b, _| w(a).wrapping_sub(s(b)) as u64),
        Vwmulu => widening!(sew, |a, b, _| a.wrapping_mul(b)),
        Vwmul => widening!(sew, |a, b, _| s(a).wrapping_mul(s(b)) as u64),
        Vwmulsu => widening!(sew, |a, b, _| s(a).wrapping_mul(b as i64) as u64),
        Vwmaccu => widening!(sew, |a, b, d| b.wrapping_mul(a).wrapping_add(d)),
        Vwmacc => widening!(sew, |a, b, d| (s(b).wrapping_mul(s(a)) as u64)
            .wrapping_add(d)),
        Vwmaccsu => widening!(sew, |a, b, d| (s(b).wrapping_mul(a as i64) as u64)
            .wrapping_add(d)),
        Vwmaccus => widening!(sew, |a, b, d| (s(a).wrapping_mul(b as i64) as u64)
            .wrapping_add(d)),
        Vwsll => widening!(sew, |a, b, _| a << (b & (2 * bits as u64 - 1))),

        Vnsrl => narrowing!(|a, b, _| a >> (b & (2 * bits as u64 - 1))),
        Vnsra => narrowing!(|a, b, _| (w(a) >> (b & (2 * bits as u64 - 1))) as u64),
        Vnclipu => narrowing!(|a, b, _| {
            let r = round_u(a as u128, (b & (2 * bits as u64 - 1)) as u32, vxrm);
            clamp_u(r as i128, sew, &mut sat)
        }),
        Vnclip => narrowing!(|a, b, _| {
            let r = round_s(w(a) as i128, (b & (2 * bits as u64 - 1)) as u32, vxrm);
            clamp_s(r, sew, &mut sat)
        }),

        Vmseq => compare(v, f, t, src, |a, b| a == b)?,
        Vmsne => compare(v, f, t, src, |a, b| a != b)?,
        Vmsltu => compare(v, f, t, src, |a, b| a < b)?,
        Vmslt => compare(v, f, t, src, |a, b| s(a) < s(b))?,
        Vmsleu => compare(v, f, t, src, |a, b| a <= b)?,
        Vmsle => compare(v, f, t, src, |a, b| s(a) <= s(b))?,
        Vmsgtu => compare(v, f, t, src, |a, b| a > b)?,
        Vmsgt => compare(v, f, t, src, |a, b| s(a) > s(b))?,

        Vadc | Vsbc | Vmadc | Vmsbc => carry(v, f, t, src)?,
        Vmerge | Vmv => merge(v, f, t, src)?,
        Vzext2 | Vsext2 | Vzext4 | Vsext4 | Vzext8 | Vsext8 => extend(v, f, t)?,
        Vbrev | Vbrev8 | Vrev8 | Vclz | Vctz | Vcpopv => {
            let op = f.op;
            elementwise(v, f, t, sew, sew, Src::Scalar(0), sew, |a, _, _| {
                bit_unary(op, a, sew)
            })?
        }
        Vredsum | Vredand | Vredor | Vredxor | Vredminu | Vredmin | Vredmaxu | Vredmax
        | Vwredsumu | Vwredsum => reduce(v, f, t)?,
        _ => return permute::execute(v, f, t, src).map(|()| None),
    }
    if sat {
        v.vxsat = true;
    }
    Ok(None)
}

/// Widening and narrowing need 2 * SEW <= 64 and 2 * LMUL <= 8.
pub(super) fn require_widening(t: Vtype) -> VResult {
    if t.sew > 4 || t.lmul > 2 {
        return Err(VStop::Illegal);
    }
    Ok(())
}

fn rotate_right(a: u64, n: u64, bits: u32) -> u64 {
    if n == 0 {
        return a;
    }
    let a = a & if bits == 64 {
        u64::MAX
    } else {
        (1 << bits) - 1
    };
    (a >> n) | (a << (bits as u64 - n))
}

fn bit_unary(op: VOp, a: u64, sew: usize) -> u64 {
    let bits = 8 * sew as u32;
    let a = zx(a, sew);
    match op {
        VOp::Vbrev => a.reverse_bits() >> (64 - bits),
        VOp::Vbrev8 => {
            let mut out = 0;
            for k in 0..sew {
                out |= (((a >> (8 * k)) as u8).reverse_bits() as u64) << (8 * k);
            }
            out
        }
        VOp::Vrev8 => a.swap_bytes() >> (64 - bits),
        VOp::Vclz => (a.leading_zeros() - (64 - bits)) as u64,
        VOp::Vctz => a.trailing_zeros().min(bits) as u64,
        _ => a.count_ones() as u64,
    }
}

/// vadc, vsbc, vmadc, vmsbc (section 11.4).
fn carry(v: &mut VectorUnit, f: &Fields, t: Vtype, src: Src) -> VResult {
    let sew = t.sew;
    let use_carry = !f.unmasked;
    let s2 = Group::new(t, f.vs2, sew)?;
    let mut sources = vec![s2];
    if let Src::Vector(r) = src {
        sources.push(Group::new(t, r, sew)?);
    }
    let to_mask = matches!(f.op, VOp::Vmadc | VOp::Vmsbc);
    let dst = if to_mask {
        Group {
            reg: f.vd,
            eew: 0,
            emul: 0,
        }
    } else {
        Group::new(t, f.vd, sew)?
    };
    // vadc/vsbc always read v0 as carry: vd may not be v0.
    check(dst, &sources, !to_mask)?;
    let subtract = matches!(f.op, VOp::Vsbc | VOp::Vmsbc);
    let op = f.op;
    let bits = 8 * sew as u32;
    super::each_active(v, true, |v, i| {
        let a = v.get(f.vs2, sew, i) as u128;
        let b = src.get(v, sew, i) as u128;
        let c = (use_carry && v.mask(0, i)) as u128;
        let result = if subtract {
            a.wrapping_sub(b).wrapping_sub(c)
        } else {
            a + b + c
        };
        if op == VOp::Vadc || op == VOp::Vsbc {
            v.set(f.vd, sew, i, zx(result as u64, sew));
        } else {
            v.set_mask(f.vd, i, (result >> bits) & 1 != 0);
        }
    });
    Ok(())
}

/// vmerge.v[vxi]m and vmv.v.[vxi] (sections 11.15, 11.16).
fn merge(v: &mut VectorUnit, f: &Fields, t: Vtype, src: Src) -> VResult {
    let sew = t.sew;
    let dst = Group::new(t, f.vd, sew)?;
    let mut sources = Vec::new();
    if !f.unmasked {
        sources.push(Group::new(t, f.vs2, sew)?);
    }
    if let Src::Vector(r) = src {
        sources.push(Group::new(t, r, sew)?);
    }
    check(dst, &sources, !f.unmasked)?;
    let merge = !f.unmasked;
    super::each_active(v, true, |v, i| {
        let value = if !merge || v.mask(0, i) {
            src.get(v, sew, i)
        } else {
            v.get(f.vs2, sew, i)
        };
        v.set(f.vd, sew, i, value);
    });
    Ok(())
}

/// vzext/vsext.vf2/4/8 (section 11.3).
fn extend(v: &mut VectorUnit, f: &Fields, t: Vtype) -> VResult {
    let (factor, signed) = match f.op {
        VOp::Vzext2 => (2, false),
        VOp::Vsext2 => (2, true),
        VOp::Vzext4 => (4, false),
        VOp::Vsext4 => (4, true),
        VOp::Vzext8 => (8, false),
        _ => (8, true),
    };
    let sew = t.sew;
    if sew < factor {
        return Err(VStop::Illegal);
    }
    let src_eew = sew / factor;
    let src = Group::new(t, f.vs2, src_eew)?;
    let dst = Group::new(t, f.vd, sew)?;
    check(dst, &[src], !f.unmasked)?;
    super::each_active(v, f.unmasked, |v, i| {
        let a = v.get(f.vs2, src_eew, i);
        let value = if signed { sx(a, src_eew) as u64 } else { a };
        v.set(f.vd, sew, i, zx(value, sew));
    });
    Ok(())
}

/// The integer reductions (section 14.1, 14.2).
fn reduce(v: &mut VectorUnit, f: &Fields, t: Vtype) -> VResult {
    let widening = matches!(f.op, VOp::Vwredsumu | VOp::Vwredsum);
    // The accumulator is one register: only 2 * SEW <= ELEN is required.
    if widening && t.sew > 4 {
        return Err(VStop::Illegal);
    }
    let sew = t.sew;
    let acc_eew = if widening { 2 * sew } else { sew };
    if v.vstart != 0 {
        return Err(VStop::Illegal);
    }
    let s2 = Group::new(t, f.vs2, sew)?;
    if !aligned(s2.reg, s2.regs()) {
        return Err(VStop::Illegal);
    }
    let vl = v.vl as usize;
    if vl == 0 {
        return Ok(());
    }
    let s = |x: u64| sx(x, sew);
    let mut acc = v.get(f.vs1, acc_eew, 0);
    for i in 0..vl {
        if !f.unmasked && !v.mask(0, i) {
            continue;
        }
        let e = v.get(f.vs2, sew, i);
        acc = match f.op {
            VOp::Vredsum => acc.wrapping_add(e),
            VOp::Vredand => acc & e,
            VOp::Vredor => acc | e,
            VOp::Vredxor => acc ^ e,
            VOp::Vredminu => acc.min(e),
            VOp::Vredmaxu => acc.max(e),
            VOp::Vredmin => s(acc).min(s(e)) as u64,
            VOp::Vredmax => s(acc).max(s(e)) as u64,
            VOp::Vwredsumu => acc.wrapping_add(e),
            _ => acc.wrapping_add(s(e) as u64),
        };
        acc = zx(acc, acc_eew);
    }
    v.set(f.vd, acc_eew, 0, acc);
    Ok(())
}
