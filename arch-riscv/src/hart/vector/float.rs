//! Vector floating point (V spec section 13), element by element through the scalar
//! FPU ([`crate::fpu::execute`]), so results and flags are those of the F and D
//! instructions bit for bit. SEW 32 and 64; SEW 16 arithmetic (Zvfh) is not
//! implemented and is illegal, as are the half-precision conversions.

use super::integer::{Group, Src, check, require_widening, sx, zx};
use super::{Fields, VStop, VectorUnit, Vtype, aligned, config, permute};
use crate::fpu::{self, RoundingMode, flags as fflags};
use crate::isa::OpKind as K;
use crate::isa::vector::{VOp, form};

/// An element as the scalar FPU takes it: single precision NaN-boxed.
fn boxed(value: u64, sew: usize) -> u64 {
    if sew == 4 {
        fpu::nan_box(value as u32)
    } else {
        value
    }
}

/// Calls the scalar FPU, ORing the flags in.
fn run(kind: K, a: u64, b: u64, c: u64, rm: RoundingMode, flags: &mut u8) -> u64 {
    match fpu::execute(kind, a, b, c, rm) {
        Some(r) => {
            *flags |= r.flags;
            r.value
        }
        None => 0,
    }
}

/// The single- or double-precision form of an operation.
fn pick(sew: usize, single: K, double: K) -> K {
    if sew == 4 { single } else { double }
}

/// Executes an OPFVV/OPFVF instruction; `Some(value)` for vfmv.f.s (f[rd]).
pub(super) fn execute(
    v: &mut VectorUnit,
    f: &Fields,
    scalar: u64,
    frm: u8,
    flags: &mut u8,
) -> Result<Option<u64>, VStop> {
    use VOp::*;
    let (t, _, _) = config(v)?;
    let sew = t.sew;
    let dynamic = RoundingMode::from_bits(frm);
    let exact_op = matches!(
        f.op,
        Vfmin
            | Vfmax
            | Vfsgnj
            | Vfsgnjn
            | Vfsgnjx
            | Vfslide1up
            | Vfslide1down
            | VfmvFS
            | VfmvSF
            | Vfclass
            | Vfmerge
            | Vmfeq
            | Vmfle
            | Vmflt
            | Vmfne
            | Vmfgt
            | Vmfge
            | Vfredmin
            | Vfredmax
            | VfcvtRtzXuF
            | VfcvtRtzXF
            | VfwcvtRtzXuF
            | VfwcvtRtzXF
            | VfncvtRtzXuF
            | VfncvtRtzXF
            | Vfrec7
            | Vfrsqrt7
    );
    let rm = match dynamic {
        Some(rm) => rm,
        None if exact_op => RoundingMode::NearestEven,
        None => return Err(VStop::Illegal),
    };
    let conversion = matches!(
        f.op,
        VfwcvtFXu | VfwcvtFX | VfncvtXuF | VfncvtXF | VfncvtRtzXuF | VfncvtRtzXF
    );
    if !(sew == 4 || sew == 8 || (conversion && sew == 2)) {
        return Err(VStop::Illegal);
    }
    let src = match f.funct3 {
        form::OPFVV => Src::Vector(f.vs1),
        _ => Src::Scalar(scalar),
    };
    // The second operand in FPU register form.
    let b_of = |v: &VectorUnit, i: usize| match src {
        Src::Vector(r) => boxed(v.get(r, sew, i), sew),
        Src::Scalar(x) if sew == 4 => x,
        Src::Scalar(x) => x,
    };
    macro_rules! binary {
        ($single:ident, $double:ident, $order:expr) => {{
            let kind = pick(sew, K::$single, K::$double);
            arith(v, f, t, sew, sew, src, |v, i, d| {
                let a = boxed(v.get(f.vs2, sew, i), sew);
                let b = b_of(v, i);
                let (x, y, z) = $order(a, b, boxed(d, sew));
                run(kind, x, y, z, rm, flags)
            })?
        }};
    }
    macro_rules! compare {
        ($single:ident, $double:ident, $order:expr, $negate:expr) => {{
            let kind = pick(sew, K::$single, K::$double);
            let s2 = Group::new(t, f.vs2, sew)?;
            let mut sources = vec![s2];
            if let Src::Vector(r) = src {
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
                let a = boxed(v.get(f.vs2, sew, i), sew);
                let b = b_of(v, i);
                let (x, y) = $order(a, b);
                let r = run(kind, x, y, 0, rm, flags) != 0;
                v.set_mask(f.vd, i, r != $negate);
            });
        }};
    }
    let ab = |a, b, _| (a, b, 0);
    let ba = |a, b, _| (b, a, 0);
    match f.op {
        Vfadd => binary!(FaddS, FaddD, ab),
        Vfsub => binary!(FsubS, FsubD, ab),
        Vfrsub => binary!(FsubS, FsubD, ba),
        Vfmul => binary!(FmulS, FmulD, ab),
        Vfdiv => binary!(FdivS, FdivD, ab),
        Vfrdiv => binary!(FdivS, FdivD, ba),
        Vfmin => binary!(FminS, FminD, ab),
        Vfmax => binary!(FmaxS, FmaxD, ab),
        Vfsgnj => binary!(FsgnjS, FsgnjD, ab),
        Vfsgnjn => binary!(FsgnjnS, FsgnjnD, ab),
        Vfsgnjx => binary!(FsgnjxS, FsgnjxD, ab),
        // vd = ±(vs1 * vs2) ± vd
        Vfmacc => binary!(FmaddS, FmaddD, |a, b, d| (b, a, d)),
        Vfnmacc => binary!(FnmaddS, FnmaddD, |a, b, d| (b, a, d)),
        Vfmsac => binary!(FmsubS, FmsubD, |a, b, d| (b, a, d)),
        Vfnmsac => binary!(FnmsubS, FnmsubD, |a, b, d| (b, a, d)),
        // vd = ±(vs1 * vd) ± vs2
        Vfmadd => binary!(FmaddS, FmaddD, |a, b, d| (b, d, a)),
        Vfnmadd => binary!(FnmaddS, FnmaddD, |a, b, d| (b, d, a)),
        Vfmsub => binary!(FmsubS, FmsubD, |a, b, d| (b, d, a)),
        Vfnmsub => binary!(FnmsubS, FnmsubD, |a, b, d| (b, d, a)),
        Vmfeq => compare!(FeqS, FeqD, |a, b| (a, b), false),
        Vmfne => compare!(FeqS, FeqD, |a, b| (a, b), true),
        Vmfle => compare!(FleS, FleD, |a, b| (a, b), false),
        Vmflt => compare!(FltS, FltD, |a, b| (a, b), false),
        Vmfgt => compare!(FltS, FltD, |a, b| (b, a), false),
        Vmfge => compare!(FleS, FleD, |a, b| (b, a), false),
        Vfsqrt => unary(v, f, t, sew, sew, |a| {
            run(
                pick(sew, K::FsqrtS, K::FsqrtD),
                boxed(a, sew),
                0,
                0,
                rm,
                flags,
            )
        })?,
        Vfclass => unary(v, f, t, sew, sew, |a| {
            run(
                pick(sew, K::FclassS, K::FclassD),
                boxed(a, sew),
                0,
                0,
                rm,
                flags,
            )
        })?,
        Vfrec7 | Vfrsqrt7 => {
            let recip = f.op == Vfrec7;
            unary(v, f, t, sew, sew, |a| {
                estimate::estimate(a, sew, recip, rm, flags)
            })?
        }
        VfcvtXuF | VfcvtXF | VfcvtFXu | VfcvtFX | VfcvtRtzXuF | VfcvtRtzXF => {
            let (kind, rm) = match f.op {
                VfcvtXuF => (pick(sew, K::FcvtWuS, K::FcvtLuD), rm),
                VfcvtXF => (pick(sew, K::FcvtWS, K::FcvtLD), rm),
                VfcvtFXu => (pick(sew, K::FcvtSWu, K::FcvtDLu), rm),
                VfcvtFX => (pick(sew, K::FcvtSW, K::FcvtDL), rm),
                VfcvtRtzXuF => (pick(sew, K::FcvtWuS, K::FcvtLuD), RoundingMode::TowardZero),
                _ => (pick(sew, K::FcvtWS, K::FcvtLD), RoundingMode::TowardZero),
            };
            let to_int = matches!(f.op, VfcvtXuF | VfcvtXF | VfcvtRtzXuF | VfcvtRtzXF);
            unary(v, f, t, sew, sew, |a| {
                let a = if to_int { boxed(a, sew) } else { a };
                run(kind, a, 0, 0, rm, flags)
            })?
        }
        VfwcvtXuF | VfwcvtXF | VfwcvtFXu | VfwcvtFX | VfwcvtFF | VfwcvtRtzXuF | VfwcvtRtzXF => {
            require_widening(t)?;
            let rtz = RoundingMode::TowardZero;
            let (kind, rm, from_float) = match (f.op, sew) {
                (VfwcvtXuF, 4) => (K::FcvtLuS, rm, true),
                (VfwcvtXF, 4) => (K::FcvtLS, rm, true),
                (VfwcvtRtzXuF, 4) => (K::FcvtLuS, rtz, true),
                (VfwcvtRtzXF, 4) => (K::FcvtLS, rtz, true),
                (VfwcvtFF, 4) => (K::FcvtDS, rm, true),
                (VfwcvtFXu, 4) => (K::FcvtDLu, rm, false),
                (VfwcvtFX, 4) => (K::FcvtDL, rm, false),
                (VfwcvtFXu, 2) => (K::FcvtSLu, rm, false),
                (VfwcvtFX, 2) => (K::FcvtSL, rm, false),
                _ => return Err(VStop::Illegal),
            };
            let signed = f.op == VfwcvtFX;
            unary(v, f, t, 2 * sew, sew, |a| {
                let a = if from_float {
                    boxed(a, sew)
                } else if signed {
                    sx(a, sew) as u64
                } else {
                    a
                };
                run(kind, a, 0, 0, rm, flags)
            })?
        }
        VfncvtXuF | VfncvtXF | VfncvtFXu | VfncvtFX | VfncvtFF | VfncvtRodFF | VfncvtRtzXuF
        | VfncvtRtzXF => {
            require_widening(t)?;
            let rtz = RoundingMode::TowardZero;
            let signed = matches!(f.op, VfncvtXF | VfncvtRtzXF);
            let (kind, rm) = match (f.op, sew) {
                (VfncvtXuF, 4) => (K::FcvtWuD, rm),
                (VfncvtXF, 4) => (K::FcvtWD, rm),
                (VfncvtRtzXuF, 4) => (K::FcvtWuD, rtz),
                (VfncvtRtzXF, 4) => (K::FcvtWD, rtz),
                (VfncvtXuF, 2) => (K::FcvtWuS, rm),
                (VfncvtXF, 2) => (K::FcvtWS, rm),
                (VfncvtRtzXuF, 2) => (K::FcvtWuS, rtz),
                (VfncvtRtzXF, 2) => (K::FcvtWS, rtz),
                (VfncvtFXu, 4) => (K::FcvtSLu, rm),
                (VfncvtFX, 4) => (K::FcvtSL, rm),
                (VfncvtFF, 4) => (K::FcvtSD, rm),
                (VfncvtRodFF, 4) => (K::FcvtSD, rtz),
                _ => return Err(VStop::Illegal),
            };
            let source_single = sew == 2;
            let odd = f.op == VfncvtRodFF;
            unary(v, f, t, sew, 2 * sew, |a| {
                let a = if source_single { boxed(a, 4) } else { a };
                let mut local = 0;
                let r = run(kind, a, 0, 0, rm, &mut local);
                let r = if sew == 2 {
                    narrow_int(r, signed, &mut local)
                } else if odd && local & fflags::NX != 0 && (r as u32) & 0x7f80_0000 != 0x7f80_0000
                {
                    r | 1
                } else {
                    r
                };
                *flags |= local;
                r
            })?
        }
        Vfwadd | Vfwsub | VfwaddW | VfwsubW | Vfwmul | Vfwmacc | Vfwnmacc | Vfwmsac | Vfwnmsac => {
            require_widening(t)?;
            if sew != 4 {
                return Err(VStop::Illegal);
            }
            let wide_a = matches!(f.op, VfwaddW | VfwsubW);
            let s2_eew = if wide_a { 8 } else { 4 };
            let kind = match f.op {
                Vfwadd | VfwaddW => K::FaddD,
                Vfwsub | VfwsubW => K::FsubD,
                Vfwmul => K::FmulD,
                Vfwmacc => K::FmaddD,
                Vfwnmacc => K::FnmaddD,
                Vfwmsac => K::FmsubD,
                _ => K::FnmsubD,
            };
            let fma = matches!(f.op, Vfwmacc | Vfwnmacc | Vfwmsac | Vfwnmsac);
            arith(v, f, t, 8, s2_eew, src, |v, i, d| {
                let widen = |x: u64, flags: &mut u8| run(K::FcvtDS, x, 0, 0, rm, flags);
                let raw_a = v.get(f.vs2, s2_eew, i);
                let a = if wide_a {
                    raw_a
                } else {
                    widen(boxed(raw_a, 4), flags)
                };
                let b = widen(b_of(v, i), flags);
                if fma {
                    run(kind, b, a, d, rm, flags)
                } else {
                    run(kind, a, b, 0, rm, flags)
                }
            })?
        }
        Vfredusum | Vfredosum | Vfredmin | Vfredmax | Vfwredusum | Vfwredosum => {
            reduce(v, f, t, rm, flags)?
        }
        Vfmerge => {
            let Src::Scalar(x) = src else {
                return Err(VStop::Illegal);
            };
            let value = if sew == 4 { unbox(x) } else { x };
            let dst = Group::new(t, f.vd, sew)?;
            let sources = if f.unmasked {
                vec![]
            } else {
                vec![Group::new(t, f.vs2, sew)?]
            };
            check(dst, &sources, !f.unmasked)?;
            let merge = !f.unmasked;
            super::each_active(v, true, |v, i| {
                let e = if !merge || v.mask(0, i) {
                    value
                } else {
                    v.get(f.vs2, sew, i)
                };
                v.set(f.vd, sew, i, e);
            });
        }
        VfmvFS => {
            let e = v.get(f.vs2, sew, 0);
            v.vstart = 0;
            return Ok(Some(boxed(e, sew)));
        }
        VfmvSF => {
            let value = if sew == 4 { unbox(scalar) } else { scalar };
            permute::mv_s(v, f, value)?
        }
        Vfslide1up | Vfslide1down => {
            let value = if sew == 4 { unbox(scalar) } else { scalar };
            if f.op == Vfslide1up {
                permute::slide_up(v, f, t, Src::Scalar(value))?
            } else {
                permute::slide_down(v, f, t, Src::Scalar(value))?
            }
        }
        _ => return Err(VStop::Illegal),
    }
    Ok(None)
}

/// A single-precision scalar operand: the low half if NaN-boxed, else the canonical NaN.
fn unbox(x: u64) -> u64 {
    if x >> 32 == 0xffff_ffff {
        x as u32 as u64
    } else {
        0x7fc0_0000
    }
}

/// Saturates a 32-bit conversion result to 16 bits; out of range sets NV alone.
fn narrow_int(r: u64, signed: bool, flags: &mut u8) -> u64 {
    let (value, clamped) = if signed {
        let x = r as i32;
        let c = x.clamp(i16::MIN as i32, i16::MAX as i32);
        (c as u16 as u64, c != x)
    } else {
        let x = r as u32;
        (x.min(0xffff) as u64, x > 0xffff)
    };
    if clamped {
        *flags = fflags::NV;
    }
    value
}

/// An element-wise FP operation writing `dst_eew` elements; the body gets the old
/// destination element.
fn arith(
    v: &mut VectorUnit,
    f: &Fields,
    t: Vtype,
    dst_eew: usize,
    s2_eew: usize,
    src: Src,
    mut body: impl FnMut(&VectorUnit, usize, u64) -> u64,
) -> Result<(), VStop> {
    let dst = Group::new(t, f.vd, dst_eew)?;
    let mut sources = vec![Group::new(t, f.vs2, s2_eew)?];
    if let Src::Vector(r) = src {
        sources.push(Group::new(t, r, t.sew)?);
    }
    check(dst, &sources, !f.unmasked)?;
    super::each_active(v, f.unmasked, |v, i| {
        let d = v.get(f.vd, dst_eew, i);
        let r = body(v, i, d);
        v.set(f.vd, dst_eew, i, zx(r, dst_eew));
    });
    Ok(())
}

/// A unary operation from vs2 (`src_eew`) to vd (`dst_eew`).
fn unary(
    v: &mut VectorUnit,
    f: &Fields,
    t: Vtype,
    dst_eew: usize,
    src_eew: usize,
    mut body: impl FnMut(u64) -> u64,
) -> Result<(), VStop> {
    let dst = Group::new(t, f.vd, dst_eew)?;
    check(dst, &[Group::new(t, f.vs2, src_eew)?], !f.unmasked)?;
    super::each_active(v, f.unmasked, |v, i| {
        let r = body(v.get(f.vs2, src_eew, i));
        v.set(f.vd, dst_eew, i, zx(r, dst_eew));
    });
    Ok(())
}

/// The FP reductions, in element order (section 14.3, 14.4).
fn reduce(
    v: &mut VectorUnit,
    f: &Fields,
    t: Vtype,
    rm: RoundingMode,
    flags: &mut u8,
) -> Result<(), VStop> {
    let sew = t.sew;
    let widening = matches!(f.op, VOp::Vfwredusum | VOp::Vfwredosum);
    // The accumulator is one register: only 2 * SEW <= ELEN is required.
    if widening && sew != 4 {
        return Err(VStop::Illegal);
    }
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
    let acc_eew = if widening { 8 } else { sew };
    let mut acc = boxed(v.get(f.vs1, acc_eew, 0), acc_eew);
    let kind = match f.op {
        VOp::Vfredmin => pick(sew, K::FminS, K::FminD),
        VOp::Vfredmax => pick(sew, K::FmaxS, K::FmaxD),
        _ => pick(acc_eew, K::FaddS, K::FaddD),
    };
    for i in 0..vl {
        if !f.unmasked && !v.mask(0, i) {
            continue;
        }
        let mut e = boxed(v.get(f.vs2, sew, i), sew);
        if widening {
            e = run(K::FcvtDS, e, 0, 0, rm, flags);
        }
        acc = run(kind, acc, e, 0, rm, flags);
    }
    v.set(f.vd, acc_eew, 0, zx(acc, acc_eew));
    Ok(())
}

mod estimate {
    //! vfrec7.v and vfrsqrt7.v: 7-bit estimates from the spec's tables.
    use crate::fpu::{RoundingMode, flags};

    /// The estimate of 1/x (`recip`) or 1/sqrt(x) for element `a` of `sew` bytes.
    pub fn estimate(a: u64, sew: usize, recip: bool, rm: RoundingMode, fl: &mut u8) -> u64 {
        let (exp_bits, sig_bits) = if sew == 4 { (8u32, 23u32) } else { (11, 52) };
        let sign = (a >> (exp_bits + sig_bits)) & 1;
        let exp = ((a >> sig_bits) & ((1 << exp_bits) - 1)) as i64;
        let sig = a & ((1u64 << sig_bits) - 1);
        let max_exp = (1i64 << exp_bits) - 1;
        let bias = (1i64 << (exp_bits - 1)) - 1;
        let inf = (max_exp as u64) << sig_bits;
        let qnan = inf | 1 << (sig_bits - 1);
        let nan = exp == max_exp && sig != 0;
        let snan = nan && sig >> (sig_bits - 1) == 0;
        let zero = exp == 0 && sig == 0;
        let sign_bit = sign << (exp_bits + sig_bits);
        if nan {
            if snan {
                *fl |= flags::NV;
            }
            return qnan;
        }
        if recip {
            if exp == max_exp {
                return sign_bit; // ±0
            }
            if zero {
                *fl |= flags::DZ;
                return sign_bit | inf;
            }
        } else {
            if zero {
                *fl |= flags::DZ;
                return sign_bit | inf;
            }
            if sign == 1 {
                *fl |= flags::NV;
                return qnan;
            }
            if exp == max_exp {
                return 0;
            }
        }
        // Normalize subnormals.
        let (mut e, mut s) = (exp, sig);
        if e == 0 {
            while s >> (sig_bits - 1) & 1 == 0 {
                s <<= 1;
                e -= 1;
            }
            s = (s << 1) & ((1 << sig_bits) - 1);
        }
        if recip {
            let index = (s >> (sig_bits - 7)) as usize;
            let out_e = 2 * bias - 1 - e;
            let out_s = (REC7[index] as u64) << (sig_bits - 7);
            if out_e < -1 {
                // Too small a result for even a subnormal estimate: the input was
                // huge subnormal-producing; the spec rounds to the largest finite
                // or infinity depending on rm.
                *fl |= flags::OF | flags::NX;
                let to_inf = match rm {
                    RoundingMode::TowardZero => false,
                    RoundingMode::Down => sign == 0,
                    RoundingMode::Up => sign == 1,
                    _ => true,
                };
                return sign_bit | if to_inf { inf } else { inf - 1 };
            }
            if out_e <= 0 {
                let shifted = (out_s | 1 << sig_bits) >> (1 - out_e);
                return sign_bit | shifted;
            }
            sign_bit | (out_e as u64) << sig_bits | out_s
        } else {
            let index = (((e & 1) as u64) << 6 | s >> (sig_bits - 6)) as usize;
            let out_e = (3 * bias - 1 - e) / 2;
            sign_bit | (out_e as u64) << sig_bits | (RSQRT7[index] as u64) << (sig_bits - 7)
        }
    }

    /// The spec's vfrec7 table (section 13.10), indexed by the top 7 significand bits.
    const REC7: [u8; 128] = [
        127, 125, 123, 121, 119, 117, 116, 114, 112, 110, 109, 107, 105, 104, 102, 100, 99, 97, 96,
        94, 93, 91, 90, 88, 87, 85, 84, 83, 81, 80, 79, 77, 76, 75, 74, 72, 71, 70, 69, 68, 66, 65,
        64, 63, 62, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47, 46, 45, 44, 43, 42,
        41, 40, 40, 39, 38, 37, 36, 35, 35, 34, 33, 32, 31, 31, 30, 29, 28, 28, 27, 26, 25, 25, 24,
        23, 23, 22, 21, 21, 20, 19, 19, 18, 17, 17, 16, 15, 15, 14, 14, 13, 12, 12, 11, 11, 10, 9,
        9, 8, 8, 7, 7, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0,
    ];

    /// The spec's vfrsqrt7 table (section 13.9), indexed by the exponent's low bit and
    /// the top 6 significand bits.
    const RSQRT7: [u8; 128] = [
        52, 51, 50, 48, 47, 46, 44, 43, 42, 41, 40, 39, 38, 36, 35, 34, 33, 32, 31, 30, 30, 29, 28,
        27, 26, 25, 24, 23, 23, 22, 21, 20, 19, 19, 18, 17, 16, 16, 15, 14, 14, 13, 12, 12, 11, 10,
        10, 9, 9, 8, 7, 7, 6, 6, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 127, 125, 123, 121, 119, 118, 116,
        114, 113, 111, 109, 108, 106, 105, 103, 102, 100, 99, 97, 96, 95, 93, 92, 91, 90, 88, 87,
        86, 85, 84, 83, 82, 80, 79, 78, 77, 76, 75, 74, 73, 72, 71, 70, 70, 69, 68, 67, 66, 65, 64,
        63, 63, 62, 61, 60, 59, 59, 58, 57, 56, 56, 55, 54, 53,
    ];
}
