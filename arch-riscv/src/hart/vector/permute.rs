//! Mask instructions (section 15) and permutations (section 16): scalar moves,
//! slides, gathers, compress and whole-register moves.

use super::integer::{Group, Src, check, zx};
use super::{Fields, VResult, VStop, VectorUnit, Vtype, aligned, config, overlap};
use crate::isa::vector::VOp;

/// vmv.x.s: element 0 of vs2, sign-extended from SEW (vl is not read).
pub(super) fn mv_x_s(v: &mut VectorUnit, f: &Fields) -> Result<u64, VStop> {
    let (t, _, _) = config(v)?;
    let value = super::integer::sx(v.get(f.vs2, t.sew, 0), t.sew) as u64;
    v.vstart = 0;
    Ok(value)
}

/// Writes `value` to element 0 of vd when vstart < vl (vmv.s.x, vfmv.s.f).
pub(super) fn mv_s(v: &mut VectorUnit, f: &Fields, value: u64) -> VResult {
    let (t, vl, vstart) = config(v)?;
    if vstart < vl {
        v.set(f.vd, t.sew, 0, zx(value, t.sew));
    }
    v.vstart = 0;
    Ok(())
}

/// vcpop.m and vfirst.m.
pub(super) fn mask_scalar(v: &mut VectorUnit, f: &Fields) -> Result<u64, VStop> {
    let (_, vl, vstart) = config(v)?;
    if vstart != 0 {
        return Err(VStop::Illegal);
    }
    let active = (0..vl).filter(|&i| (f.unmasked || v.mask(0, i)) && v.mask(f.vs2, i));
    Ok(if f.op == VOp::Vcpop {
        active.count() as u64
    } else {
        active.min().map_or(u64::MAX, |i| i as u64)
    })
}

/// The remaining OPI/OPM operations: mask logic, mask-derived sets, slides,
/// gathers, compress and vmv.s.x.
pub(super) fn execute(v: &mut VectorUnit, f: &Fields, t: Vtype, src: Src) -> VResult {
    use VOp::*;
    match f.op {
        Vmandn | Vmand | Vmor | Vmxor | Vmorn | Vmnand | Vmnor | Vmxnor => {
            let op = f.op;
            super::each_active(v, true, |v, i| {
                let (a, b) = (v.mask(f.vs2, i), v.mask(f.vs1, i));
                let r = match op {
                    Vmandn => a & !b,
                    Vmand => a & b,
                    Vmor => a | b,
                    Vmxor => a ^ b,
                    Vmorn => a | !b,
                    Vmnand => !(a & b),
                    Vmnor => !(a | b),
                    _ => !(a ^ b),
                };
                v.set_mask(f.vd, i, r);
            });
            Ok(())
        }
        Vmsbf | Vmsif | Vmsof => set_before_first(v, f),
        Viota => iota(v, f, t),
        Vid => {
            let dst = Group::new(t, f.vd, t.sew)?;
            check(dst, &[], !f.unmasked)?;
            let sew = t.sew;
            super::each_active(v, f.unmasked, |v, i| v.set(f.vd, sew, i, zx(i as u64, sew)));
            Ok(())
        }
        VmvSX => match src {
            Src::Scalar(x) => mv_s(v, f, x),
            Src::Vector(_) => Err(VStop::Illegal),
        },
        Vslideup | Vslide1up => slide_up(v, f, t, src),
        Vslidedown | Vslide1down => slide_down(v, f, t, src),
        Vrgather | Vrgatherei16 => gather(v, f, t, src),
        Vcompress => compress(v, f, t),
        _ => Err(VStop::Illegal),
    }
}

/// vmsbf.m, vmsif.m, vmsof.m (section 15.4 to 15.6).
fn set_before_first(v: &mut VectorUnit, f: &Fields) -> VResult {
    let (_, vl, vstart) = config(v)?;
    if vstart != 0 || f.vd == f.vs2 || (!f.unmasked && f.vd == 0) {
        return Err(VStop::Illegal);
    }
    let mut found = false;
    for i in 0..vl {
        if !f.unmasked && !v.mask(0, i) {
            continue;
        }
        let bit = v.mask(f.vs2, i);
        let r = match f.op {
            VOp::Vmsbf => !found && !bit,
            VOp::Vmsif => !found,
            _ => !found && bit,
        };
        found |= bit;
        v.set_mask(f.vd, i, r);
    }
    Ok(())
}

/// viota.m (section 15.8).
fn iota(v: &mut VectorUnit, f: &Fields, t: Vtype) -> VResult {
    let (_, vl, vstart) = config(v)?;
    let dst = Group::new(t, f.vd, t.sew)?;
    if vstart != 0 || overlap(f.vd, dst.regs(), f.vs2, 1) {
        return Err(VStop::Illegal);
    }
    check(dst, &[], !f.unmasked)?;
    let mut count = 0u64;
    for i in 0..vl {
        if !f.unmasked && !v.mask(0, i) {
            continue;
        }
        v.set(f.vd, t.sew, i, zx(count, t.sew));
        count += v.mask(f.vs2, i) as u64;
    }
    Ok(())
}

/// Register checks shared by slides and gathers: vd aligned, distinct from the
/// sources, not v0 when masked.
fn distinct(v_: &Fields, t: Vtype, dst: Group, sources: &[Group]) -> VResult {
    check(dst, sources, !v_.unmasked)?;
    for s in sources {
        if overlap(dst.reg, dst.regs(), s.reg, s.regs()) {
            return Err(VStop::Illegal);
        }
    }
    let _ = t;
    Ok(())
}

/// vslideup.v[xi] and vslide1up.vx (and vfslide1up.vf through the same path).
pub(super) fn slide_up(v: &mut VectorUnit, f: &Fields, t: Vtype, src: Src) -> VResult {
    let sew = t.sew;
    let dst = Group::new(t, f.vd, sew)?;
    distinct(f, t, dst, &[Group::new(t, f.vs2, sew)?])?;
    let (vl, vstart) = (v.vl as usize, v.vstart as usize);
    let one = matches!(f.op, VOp::Vslide1up | VOp::Vfslide1up);
    let Src::Scalar(x) = src else {
        return Err(VStop::Illegal);
    };
    if one {
        for i in vstart..vl {
            if !f.unmasked && !v.mask(0, i) {
                continue;
            }
            let value = if i == 0 {
                zx(x, sew)
            } else {
                v.get(f.vs2, sew, i - 1)
            };
            v.set(f.vd, sew, i, value);
        }
    } else {
        let offset = x;
        for i in vstart.max(offset.min(vl as u64) as usize)..vl {
            if (i as u64) < offset || (!f.unmasked && !v.mask(0, i)) {
                continue;
            }
            let value = v.get(f.vs2, sew, i - offset as usize);
            v.set(f.vd, sew, i, value);
        }
    }
    v.vstart = 0;
    Ok(())
}

/// vslidedown.v[xi] and vslide1down.vx (and vfslide1down.vf).
pub(super) fn slide_down(v: &mut VectorUnit, f: &Fields, t: Vtype, src: Src) -> VResult {
    let sew = t.sew;
    let dst = Group::new(t, f.vd, sew)?;
    check(dst, &[Group::new(t, f.vs2, sew)?], !f.unmasked)?;
    let vlmax = t.vlmax(v.vlenb) as u64;
    let (vl, vstart) = (v.vl as usize, v.vstart as usize);
    let one = matches!(f.op, VOp::Vslide1down | VOp::Vfslide1down);
    let Src::Scalar(x) = src else {
        return Err(VStop::Illegal);
    };
    // Read every source first: vd may equal vs2 for slides down.
    let offset = if one { 1 } else { x };
    let values: Vec<Option<u64>> = (vstart..vl)
        .map(|i| {
            if !f.unmasked && !v.mask(0, i) {
                return None;
            }
            let from = (i as u64).checked_add(offset);
            Some(match from {
                _ if one && i + 1 == vl => zx(x, sew),
                Some(j) if j < vlmax => v.get(f.vs2, sew, j as usize),
                _ => 0,
            })
        })
        .collect();
    for (k, value) in values.into_iter().enumerate() {
        if let Some(value) = value {
            v.set(f.vd, sew, vstart + k, value);
        }
    }
    v.vstart = 0;
    Ok(())
}

/// vrgather.v[vxi] and vrgatherei16.vv (section 16.4).
fn gather(v: &mut VectorUnit, f: &Fields, t: Vtype, src: Src) -> VResult {
    let sew = t.sew;
    let index_eew = if f.op == VOp::Vrgatherei16 { 2 } else { sew };
    let dst = Group::new(t, f.vd, sew)?;
    let mut sources = vec![Group::new(t, f.vs2, sew)?];
    if let Src::Vector(r) = src {
        sources.push(Group::new(t, r, index_eew)?);
    }
    distinct(f, t, dst, &sources)?;
    let vlmax = t.vlmax(v.vlenb) as u64;
    super::each_active(v, f.unmasked, |v, i| {
        let index = match src {
            Src::Vector(r) => v.get(r, index_eew, i),
            Src::Scalar(x) => x,
        };
        let value = if index < vlmax {
            v.get(f.vs2, sew, index as usize)
        } else {
            0
        };
        v.set(f.vd, sew, i, value);
    });
    Ok(())
}

/// vcompress.vm (section 16.5).
fn compress(v: &mut VectorUnit, f: &Fields, t: Vtype) -> VResult {
    let sew = t.sew;
    if v.vstart != 0 {
        return Err(VStop::Illegal);
    }
    let dst = Group::new(t, f.vd, sew)?;
    let s2 = Group::new(t, f.vs2, sew)?;
    if !aligned(dst.reg, dst.regs())
        || !aligned(s2.reg, s2.regs())
        || overlap(dst.reg, dst.regs(), s2.reg, s2.regs())
        || overlap(dst.reg, dst.regs(), f.vs1, 1)
    {
        return Err(VStop::Illegal);
    }
    let vl = v.vl as usize;
    let mut out = 0;
    for i in 0..vl {
        if v.mask(f.vs1, i) {
            let value = v.get(f.vs2, sew, i);
            v.set(f.vd, sew, out, value);
            out += 1;
        }
    }
    Ok(())
}

/// vmv<nr>r.v (section 16.6): whole registers, independent of vtype and vl.
pub(super) fn whole_move(v: &mut VectorUnit, f: &Fields) -> VResult {
    let regs = f.vs1 as usize + 1;
    if !aligned(f.vd, regs) || !aligned(f.vs2, regs) {
        return Err(VStop::Illegal);
    }
    // Element size of SEW for vstart's unit; bytes past vstart are copied.
    let sew = Vtype::decode(v.vtype).map_or(1, |t| t.sew);
    let total = regs * v.vlenb;
    let start = (v.vstart as usize * sew).min(total);
    if f.vd != f.vs2 {
        let from = f.vs2 as usize * v.vlenb;
        let to = f.vd as usize * v.vlenb;
        v.regs.copy_within(from + start..from + total, to + start);
    }
    v.vstart = 0;
    Ok(())
}
