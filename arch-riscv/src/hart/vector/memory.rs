//! Vector loads and stores (V spec section 7) through the hart's own memory path,
//! so translation, permissions and faults are those of scalar accesses. A fault
//! sets vstart to the element (segment) it hit and traps; fault-only-first loads
//! trim vl instead for elements after the first.

use super::integer::{Group, check, zx};
use super::{Fields, VResult, VStop, VectorUnit, Vtype, aligned, overlap_ok};
use crate::hart::Hart;
use crate::hart::memory::Stop;
use crate::hart::trap::{Cause, Trap};
use crate::isa::vector::VOp;

/// Element width in bytes of a load/store width field; `None` for the scalar FP ones.
fn width_bytes(width: u32) -> Option<usize> {
    match width {
        0 => Some(1),
        5 => Some(2),
        6 => Some(4),
        7 => Some(8),
        _ => None,
    }
}

/// What an access does, element by element.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Addressing {
    /// base + i * stride + k * eew.
    Strided(u64),
    /// base + index[i] + k * eew, index elements of this width.
    Indexed(usize),
}

impl Hart {
    /// Executes a vector load or store.
    pub(super) fn vector_memory(&mut self, v: &mut VectorUnit, f: &Fields) -> VResult {
        use VOp::*;
        let Some(width) = width_bytes(f.funct3) else {
            return Err(VStop::Illegal);
        };
        let nf = ((f.bits >> 29) & 7) as usize + 1;
        let base = self.x[f.vs1 as usize & 31];
        let store = matches!(
            f.op,
            StoreUnit
                | StoreStrided
                | StoreIndexedUnordered
                | StoreIndexedOrdered
                | StoreWhole
                | StoreMask
        );
        match f.op {
            LoadWhole | StoreWhole => return self.whole(v, f, width, nf, base, store),
            LoadMask | StoreMask => return self.mask_access(v, f, base, store),
            _ => {}
        }
        let Some(t) = Vtype::decode(v.vtype) else {
            return Err(VStop::Illegal);
        };
        let (eew, addressing) = match f.op {
            LoadUnit | StoreUnit | LoadFaultFirst => {
                (width, Addressing::Strided((nf * width) as u64))
            }
            LoadStrided | StoreStrided => (width, Addressing::Strided(self.x[f.vs2 as usize & 31])),
            _ => (t.sew, Addressing::Indexed(width)),
        };
        let data = Group::new(t, f.vd, eew)?;
        if data.regs() * nf > 8 || f.vd as usize + data.regs() * nf > 32 {
            return Err(VStop::Illegal);
        }
        if !f.unmasked && f.vd == 0 {
            return Err(VStop::Illegal);
        }
        if !aligned(f.vd, data.regs()) {
            return Err(VStop::Illegal);
        }
        if let Addressing::Indexed(index_eew) = addressing {
            let index = Group::new(t, f.vs2, index_eew)?;
            check(index, &[], false)?;
            if !store {
                let whole = data.regs() * nf;
                let fine = if nf > 1 {
                    !super::overlap(f.vd, whole, f.vs2, index.regs())
                } else {
                    overlap_ok(
                        f.vd,
                        data.regs(),
                        eew,
                        f.vs2,
                        index.regs(),
                        index_eew,
                        index.emul < 0,
                    )
                };
                if !fine {
                    return Err(VStop::Illegal);
                }
            }
        }
        let first_only = f.op == LoadFaultFirst;
        let vl = v.vl as usize;
        let mut i = v.vstart as usize;
        while i < vl {
            if f.unmasked || v.mask(0, i) {
                let element = match addressing {
                    Addressing::Strided(stride) => {
                        base.wrapping_add((i as u64).wrapping_mul(stride))
                    }
                    Addressing::Indexed(index_eew) => base.wrapping_add(v.get(f.vs2, index_eew, i)),
                };
                for k in 0..nf {
                    let addr = element.wrapping_add((k * eew) as u64);
                    let reg = f.vd + (k * data.regs()) as u8;
                    let done = if store {
                        let value = v.get(reg, eew, i);
                        self.vector_store(addr, eew, value)
                    } else {
                        self.vector_load(addr, eew)
                            .map(|value| v.set(reg, eew, i, value))
                    };
                    if let Err(trap) = done {
                        if first_only && i > 0 {
                            v.vl = i as u64;
                            break;
                        }
                        v.vstart = i as u64;
                        return Err(trap.into());
                    }
                }
                if v.vl as usize != vl {
                    break;
                }
            }
            i += 1;
        }
        v.vstart = 0;
        Ok(())
    }

    /// vl<nf>re<eew>.v and vs<nf>r.v: `nf` whole registers, unmasked, vtype unused.
    fn whole(
        &mut self,
        v: &mut VectorUnit,
        f: &Fields,
        eew: usize,
        nf: usize,
        base: u64,
        store: bool,
    ) -> VResult {
        if !aligned(f.vd, nf) {
            return Err(VStop::Illegal);
        }
        let eew = if store { 1 } else { eew };
        let evl = nf * v.vlenb / eew;
        for i in v.vstart as usize..evl {
            let addr = base.wrapping_add((i * eew) as u64);
            let done = if store {
                let value = v.get(f.vd, eew, i);
                self.vector_store(addr, eew, value)
            } else {
                self.vector_load(addr, eew)
                    .map(|value| v.set(f.vd, eew, i, value))
            };
            if let Err(trap) = done {
                v.vstart = i as u64;
                return Err(trap.into());
            }
        }
        v.vstart = 0;
        Ok(())
    }

    /// vlm.v and vsm.v: ceil(vl / 8) bytes of a mask.
    fn mask_access(&mut self, v: &mut VectorUnit, f: &Fields, base: u64, store: bool) -> VResult {
        if Vtype::decode(v.vtype).is_none() {
            return Err(VStop::Illegal);
        }
        let evl = (v.vl as usize).div_ceil(8);
        for i in v.vstart as usize..evl {
            let addr = base.wrapping_add(i as u64);
            let done = if store {
                let value = v.get(f.vd, 1, i);
                self.vector_store(addr, 1, value)
            } else {
                self.vector_load(addr, 1)
                    .map(|value| v.set(f.vd, 1, i, value))
            };
            if let Err(trap) = done {
                v.vstart = i as u64;
                return Err(trap.into());
            }
        }
        v.vstart = 0;
        Ok(())
    }

    /// One element load; MMIO is refused with an access fault.
    fn vector_load(&mut self, addr: u64, size: usize) -> Result<u64, Trap> {
        match self.load(addr, size as u64) {
            Ok(value) => Ok(zx(value, size)),
            Err(Stop::Trap(trap)) => Err(trap),
            Err(Stop::Exit(_)) => Err(Trap {
                gva: self.virt,
                ..Trap::new(Cause::LoadAccess, addr)
            }),
        }
    }

    /// One element store; MMIO is refused with an access fault.
    fn vector_store(&mut self, addr: u64, size: usize, value: u64) -> Result<(), Trap> {
        match self.store(addr, size as u64, value) {
            Ok(()) => Ok(()),
            Err(Stop::Trap(trap)) => Err(trap),
            Err(Stop::Exit(_)) => Err(Trap {
                gva: self.virt,
                ..Trap::new(Cause::StoreAccess, addr)
            }),
        }
    }
}
