//! IEEE-754 arithmetic for the F and D extensions, exact as RISC-V defines it.
//!
//! The rounding arithmetic (add, subtract, multiply, divide, square root, fused
//! multiply-add, integer-to-float and float-to-float conversion) comes from the
//! `softfp` crate. It reads the rounding mode and reports exception flags through
//! process-wide callbacks; ours keep both in thread-local cells, so any number of vCPU
//! threads can compute at the same time.
//!
//! Everything else is done here on the raw bits, because `softfp` does not do it the
//! RISC-V way or gets it wrong:
//! - `FMIN`/`FMAX` follow F/D v2.2 (`minimumNumber`/`maximumNumber`): a signaling NaN
//!   operand sets NV but the other operand is still returned (`softfp` returns NaN).
//! - `FEQ` sets NV for a signaling NaN operand (`softfp`'s quiet compare never does).
//! - float-to-integer conversion: `softfp` silently wraps magnitudes of 2^32 to 2^33
//!   (2^64 to 2^65 for 64-bit targets) instead of saturating with NV.
//! - `FSQRT` of a signaling NaN: `softfp` sets DZ instead of NV.
//! - `FMADD` family: `softfp` turns every exact `±0 × y ± 0` into the cancellation
//!   zero (+0, or -0 when rounding down) even when product and addend have the same
//!   sign, where IEEE keeps that sign (`(+0 × -1) + -0` is -0).
//!
//! What `softfp` does get right, and the tests pin down: canonical NaN results
//! (`0x7fc00000`, `0x7ff8000000000000`), tininess detected after rounding, overflow to
//! infinity or to the largest finite number according to the rounding mode, and the
//! sign of exact zero sums.
//!
//! Under round-to-nearest-even, add/subtract/multiply/divide/square root first try a
//! host fast path that is exact by construction (error-free transformations decide
//! NX; operands and results are kept away from overflow and underflow) and fall back to
//! `softfp` otherwise.

use core::cmp::Ordering;

use softfp::{F32, F64, Fp, FpDesc};

use crate::isa::op::OpKind;

/// IEEE rounding mode, resolved (no DYN): the caller maps `rm` = 7 to `frm` and rejects
/// 5, 6 and invalid `frm` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum RoundingMode {
    /// Round to nearest, ties to even (RNE, 0).
    NearestEven = 0,
    /// Round toward zero (RTZ, 1).
    TowardZero = 1,
    /// Round down, toward -infinity (RDN, 2).
    Down = 2,
    /// Round up, toward +infinity (RUP, 3).
    Up = 3,
    /// Round to nearest, ties to max magnitude (RMM, 4).
    NearestMaxMagnitude = 4,
}

impl RoundingMode {
    /// The mode for a 3-bit `rm`/`frm` value; `None` for 5, 6 and 7 (DYN is the
    /// caller's to resolve) and anything larger.
    pub fn from_bits(rm: u8) -> Option<RoundingMode> {
        match rm {
            0 => Some(Self::NearestEven),
            1 => Some(Self::TowardZero),
            2 => Some(Self::Down),
            3 => Some(Self::Up),
            4 => Some(Self::NearestMaxMagnitude),
            _ => None,
        }
    }

    fn to_softfp(self) -> softfp::RoundingMode {
        match self {
            Self::NearestEven => softfp::RoundingMode::TiesToEven,
            Self::TowardZero => softfp::RoundingMode::TowardZero,
            Self::Down => softfp::RoundingMode::TowardNegative,
            Self::Up => softfp::RoundingMode::TowardPositive,
            Self::NearestMaxMagnitude => softfp::RoundingMode::TiesToAway,
        }
    }
}

/// The `fflags` bits as the `fcsr` holds them.
pub mod flags {
    /// Invalid operation.
    pub const NV: u8 = 0x10;
    /// Divide by zero.
    pub const DZ: u8 = 0x08;
    /// Overflow.
    pub const OF: u8 = 0x04;
    /// Underflow.
    pub const UF: u8 = 0x02;
    /// Inexact.
    pub const NX: u8 = 0x01;
}

use flags::{NV, NX};

/// Which register file an operand or result lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegFile {
    /// The integer registers `x0`-`x31`.
    Int,
    /// The floating-point registers `f0`-`f31`.
    Float,
}

/// Result of one FP operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FpResult {
    /// The raw 64-bit register value to write: NaN-boxed for single-precision results
    /// into f registers, sign-extended as the spec says for results into x registers.
    pub value: u64,
    /// The exception flags raised ([`flags`] bits), to OR into `fflags`.
    pub flags: u8,
}

/// NaN-boxes a single-precision value for an f register (the upper 32 bits all ones),
/// as FLW and every single-precision result do.
#[inline]
pub const fn nan_box(v: u32) -> u64 {
    0xffff_ffff_0000_0000 | v as u64
}

/// The single-precision value of an f register: the lower half if properly NaN-boxed,
/// the canonical NaN otherwise.
#[inline]
fn unbox(v: u64) -> u32 {
    if v >> 32 == 0xffff_ffff {
        v as u32
    } else {
        CANONICAL_NAN_S
    }
}

const CANONICAL_NAN_S: u32 = 0x7fc0_0000;

/// Sign-extends the low 32 bits, as RV64 does for every 32-bit result in an x register.
#[inline]
fn sext32(v: u64) -> u64 {
    v as u32 as i32 as i64 as u64
}

/// Executes one computational F/D operation (everything except the loads and stores
/// `Flw`/`Fsw`/`Fld`/`Fsd`).
///
/// `a`, `b`, `c` are the raw values of rs1, rs2 and rs3: `a` from the file
/// [`src_file`] names, `b` and `c` always from f registers (pass anything for operands
/// the operation does not have). Integer sources use their low 32 bits for the `W`/`WU`
/// conversions. Single-precision inputs that are not properly NaN-boxed are read as
/// the canonical NaN, except by `FMV.X.W`, which moves the low 32 bits unchanged.
/// `rm` is ignored by the operations [`uses_rounding_mode`] is false for.
///
/// Returns `None` if `kind` is not a computational FP operation.
pub fn execute(kind: OpKind, a: u64, b: u64, c: u64, rm: RoundingMode) -> Option<FpResult> {
    use OpKind as K;
    let rne = rm == RoundingMode::NearestEven;
    let sa = || F32::new(unbox(a));
    let sb = || F32::new(unbox(b));
    let sc = || F32::new(unbox(c));
    let da = F64::new(a);
    let db = F64::new(b);
    let dc = F64::new(c);
    let s = |v: F32| nan_box(v.0);
    let d = |v: F64| v.0;
    let res = match kind {
        // Single-precision arithmetic.
        K::FaddS | K::FsubS => {
            let (x, mut y) = (unbox(a), unbox(b));
            if kind == K::FsubS {
                y ^= 0x8000_0000;
            }
            match fast::add_s(x, y, rne) {
                Some(r) => r,
                None => env::run(rm, || s(F32::new(x) + F32::new(y))),
            }
        }
        K::FmulS => match fast::mul_s(unbox(a), unbox(b), rne) {
            Some(r) => r,
            None => env::run(rm, || s(sa() * sb())),
        },
        K::FdivS => match fast::div_s(unbox(a), unbox(b), rne) {
            Some(r) => r,
            None => env::run(rm, || s(sa() / sb())),
        },
        K::FsqrtS => match fast::sqrt_s(unbox(a), rne) {
            Some(r) => r,
            None => env::run(rm, || s(sqrt(sa()))),
        },
        K::FmaddS => env::run(rm, || s(fma(sa(), sb(), sc(), rm))),
        K::FmsubS => env::run(rm, || s(fma(sa(), sb(), -sc(), rm))),
        K::FnmsubS => env::run(rm, || s(fma(-sa(), sb(), sc(), rm))),
        K::FnmaddS => env::run(rm, || s(fma(-sa(), sb(), -sc(), rm))),
        K::FsgnjS | K::FsgnjnS | K::FsgnjxS => {
            exact(nan_box(
                sign_inject(S, unbox(a).into(), unbox(b).into(), kind) as u32,
            ))
        }
        K::FminS | K::FmaxS => min_max(S, unbox(a).into(), unbox(b).into(), kind == K::FmaxS),
        K::FeqS | K::FltS | K::FleS => compare(S, unbox(a).into(), unbox(b).into(), kind),
        K::FclassS => exact(classify(S, unbox(a).into())),
        K::FcvtWS => to_int(S, unbox(a).into(), rm, IntKind::W),
        K::FcvtWuS => to_int(S, unbox(a).into(), rm, IntKind::Wu),
        K::FcvtLS => to_int(S, unbox(a).into(), rm, IntKind::L),
        K::FcvtLuS => to_int(S, unbox(a).into(), rm, IntKind::Lu),
        K::FcvtSW => env::run(rm, || s(F32::convert_from_sint(a as u32))),
        K::FcvtSWu => env::run(rm, || s(F32::convert_from_uint(a as u32))),
        K::FcvtSL => env::run(rm, || s(F32::convert_from_sint(a))),
        K::FcvtSLu => env::run(rm, || s(F32::convert_from_uint(a))),
        K::FmvXW => exact(sext32(a)),
        K::FmvWX => exact(nan_box(a as u32)),

        // Double-precision arithmetic.
        K::FaddD | K::FsubD => {
            let y = if kind == K::FsubD { -db } else { db };
            match fast::add_d(a, y.0, rne) {
                Some(r) => r,
                None => env::run(rm, || d(da + y)),
            }
        }
        K::FmulD => match fast::mul_d(a, b, rne) {
            Some(r) => r,
            None => env::run(rm, || d(da * db)),
        },
        K::FdivD => match fast::div_d(a, b, rne) {
            Some(r) => r,
            None => env::run(rm, || d(da / db)),
        },
        K::FsqrtD => match fast::sqrt_d(a, rne) {
            Some(r) => r,
            None => env::run(rm, || d(sqrt(da))),
        },
        K::FmaddD => env::run(rm, || d(fma(da, db, dc, rm))),
        K::FmsubD => env::run(rm, || d(fma(da, db, -dc, rm))),
        K::FnmsubD => env::run(rm, || d(fma(-da, db, dc, rm))),
        K::FnmaddD => env::run(rm, || d(fma(-da, db, -dc, rm))),
        K::FsgnjD | K::FsgnjnD | K::FsgnjxD => exact(sign_inject(D, a, b, kind)),
        K::FminD | K::FmaxD => min_max(D, a, b, kind == K::FmaxD),
        K::FeqD | K::FltD | K::FleD => compare(D, a, b, kind),
        K::FclassD => exact(classify(D, a)),
        K::FcvtWD => to_int(D, a, rm, IntKind::W),
        K::FcvtWuD => to_int(D, a, rm, IntKind::Wu),
        K::FcvtLD => to_int(D, a, rm, IntKind::L),
        K::FcvtLuD => to_int(D, a, rm, IntKind::Lu),
        K::FcvtDW => env::run(rm, || d(F64::convert_from_sint(a as u32))),
        K::FcvtDWu => env::run(rm, || d(F64::convert_from_uint(a as u32))),
        K::FcvtDL => env::run(rm, || d(F64::convert_from_sint(a))),
        K::FcvtDLu => env::run(rm, || d(F64::convert_from_uint(a))),
        K::FmvXD | K::FmvDX => exact(a),
        K::FcvtSD => env::run(rm, || s(da.convert_format())),
        K::FcvtDS => env::run(rm, || d(sa().convert_format())),

        _ => return None,
    };
    Some(res)
}

/// The register file of the destination of `kind`.
///
/// `Int` for the compares, `FCLASS`, `FMV.X.*` and the float-to-integer conversions;
/// `Float` for every other F/D operation, including `FLW`/`FLD`. Operations without an
/// FP destination (`FSW`/`FSD` and every non-FP operation) report `Int`.
pub fn dest_file(kind: OpKind) -> RegFile {
    use OpKind as K;
    match kind {
        K::FeqS
        | K::FltS
        | K::FleS
        | K::FclassS
        | K::FcvtWS
        | K::FcvtWuS
        | K::FcvtLS
        | K::FcvtLuS
        | K::FmvXW
        | K::FeqD
        | K::FltD
        | K::FleD
        | K::FclassD
        | K::FcvtWD
        | K::FcvtWuD
        | K::FcvtLD
        | K::FcvtLuD
        | K::FmvXD
        | K::Fsw
        | K::Fsd => RegFile::Int,
        k if is_fp(k) => RegFile::Float,
        _ => RegFile::Int,
    }
}

/// The register file rs1 is read from.
///
/// `Int` for the integer-to-float conversions (`FCVT.S.W`/`WU`/`L`/`LU`,
/// `FCVT.D.W`/`WU`/`L`/`LU`), `FMV.W.X` and `FMV.D.X`, and for the FP loads and stores
/// (rs1 is the base address); `Float` for every other F/D operation. Non-FP
/// operations report `Int`. rs2 and rs3 of the computational operations are always f
/// registers.
pub fn src_file(kind: OpKind) -> RegFile {
    use OpKind as K;
    match kind {
        K::FcvtSW
        | K::FcvtSWu
        | K::FcvtSL
        | K::FcvtSLu
        | K::FmvWX
        | K::FcvtDW
        | K::FcvtDWu
        | K::FcvtDL
        | K::FcvtDLu
        | K::FmvDX
        | K::Flw
        | K::Fsw
        | K::Fld
        | K::Fsd => RegFile::Int,
        k if is_fp(k) => RegFile::Float,
        _ => RegFile::Int,
    }
}

/// Whether the encoding of `kind` has an `rm` field, so the caller must resolve DYN
/// and raise illegal instruction for a reserved rounding mode (static 5 or 6, or DYN
/// with `frm` above 4) before calling [`execute`].
///
/// True for the fused multiply-adds, `FADD`/`FSUB`/`FMUL`/`FDIV`/`FSQRT` and *every*
/// `FCVT`, including the exact ones (`FCVT.D.S`, `FCVT.D.W`, `FCVT.D.WU`): the
/// unprivileged spec says such instructions "have the rm field but are nevertheless
/// mathematically unaffected by the rounding mode; software should set their rm field
/// to RNE (000) but implementations must treat the rm field as usual (in particular,
/// with regard to decoding legal vs. reserved encodings)", and Spike evaluates its
/// trapping `RM` macro in `fcvt.d.s`, `fcvt.d.w` and `fcvt.d.wu` too.
///
/// False where funct3 is not a rounding mode: sign injection, min/max, compares,
/// classify, the moves, the loads and stores, and every non-FP operation.
pub fn uses_rounding_mode(kind: OpKind) -> bool {
    use OpKind as K;
    matches!(
        kind,
        K::FmaddS
            | K::FmsubS
            | K::FnmsubS
            | K::FnmaddS
            | K::FaddS
            | K::FsubS
            | K::FmulS
            | K::FdivS
            | K::FsqrtS
            | K::FcvtWS
            | K::FcvtWuS
            | K::FcvtLS
            | K::FcvtLuS
            | K::FcvtSW
            | K::FcvtSWu
            | K::FcvtSL
            | K::FcvtSLu
            | K::FmaddD
            | K::FmsubD
            | K::FnmsubD
            | K::FnmaddD
            | K::FaddD
            | K::FsubD
            | K::FmulD
            | K::FdivD
            | K::FsqrtD
            | K::FcvtSD
            | K::FcvtDS
            | K::FcvtWD
            | K::FcvtWuD
            | K::FcvtLD
            | K::FcvtLuD
            | K::FcvtDW
            | K::FcvtDWu
            | K::FcvtDL
            | K::FcvtDLu
    )
}

/// Whether `kind` belongs to F or D (loads and stores included).
fn is_fp(kind: OpKind) -> bool {
    (kind as u8) >= (OpKind::Flw as u8) && (kind as u8) <= (OpKind::FmvDX as u8)
}

#[inline]
fn exact(value: u64) -> FpResult {
    FpResult { value, flags: 0 }
}

/// The rounding mode and the flags `softfp` sees, per thread.
mod env {
    use core::cell::Cell;
    use std::sync::Once;

    use softfp::ExceptionFlags;

    use super::{FpResult, RoundingMode};

    thread_local! {
        static RM: Cell<softfp::RoundingMode> =
            const { Cell::new(softfp::RoundingMode::TiesToEven) };
        static FLAGS: Cell<u8> = const { Cell::new(0) };
    }

    static REGISTER: Once = Once::new();

    fn rounding_mode() -> softfp::RoundingMode {
        RM.with(Cell::get)
    }

    /// Accumulates flags; `softfp`'s bit values are the `fflags` ones.
    pub(super) fn raise(f: ExceptionFlags) {
        FLAGS.with(|c| c.set(c.get() | f.bits() as u8));
    }

    /// Runs `op` under `rm`, returning its value and the flags it raised.
    #[inline]
    pub(super) fn run(rm: RoundingMode, op: impl FnOnce() -> u64) -> FpResult {
        // The callbacks are process-wide; nothing else in rvnest registers any.
        REGISTER.call_once(|| {
            softfp::register_get_rounding_mode(rounding_mode);
            softfp::register_set_exception_flags(raise);
        });
        RM.with(|c| c.set(rm.to_softfp()));
        FLAGS.with(|c| c.set(0));
        let value = op();
        FpResult {
            value,
            flags: FLAGS.with(Cell::get),
        }
    }
}

/// Square root; `softfp` flags a signaling NaN operand with DZ instead of NV.
fn sqrt<Desc: FpDesc>(x: Fp<Desc>) -> Fp<Desc> {
    if x.is_signaling() {
        env::raise(softfp::ExceptionFlags::INVALID_OPERATION);
        return Fp::quiet_nan();
    }
    x.square_root()
}

/// `x * y + z` rounded once. `softfp` returns the cancellation zero for every exact
/// `±0 * y + ±0`; IEEE keeps the common sign when product and addend agree.
fn fma<Desc: FpDesc>(x: Fp<Desc>, y: Fp<Desc>, z: Fp<Desc>, rm: RoundingMode) -> Fp<Desc> {
    if z.is_zero() && ((x.is_zero() && y.is_finite()) || (y.is_zero() && x.is_finite())) {
        let product = Fp::<Desc>::zero(false)
            .copy_sign_xored(x)
            .copy_sign_xored(y);
        return if product.0 == z.0 {
            z
        } else {
            Fp::zero(rm == RoundingMode::Down)
        };
    }
    Fp::fused_multiply_add(x, y, z)
}

/// A binary interchange format, for the operations done on raw bits. Single-precision
/// values travel in the low 32 bits of a `u64`, upper bits zero.
#[derive(Clone, Copy)]
struct Fmt {
    exp_bits: u32,
    frac_bits: u32,
}

const S: Fmt = Fmt {
    exp_bits: 8,
    frac_bits: 23,
};
const D: Fmt = Fmt {
    exp_bits: 11,
    frac_bits: 52,
};

impl Fmt {
    #[inline]
    fn sign_bit(self) -> u64 {
        1 << (self.exp_bits + self.frac_bits)
    }

    #[inline]
    fn inf(self) -> u64 {
        ((1 << self.exp_bits) - 1) << self.frac_bits
    }

    #[inline]
    fn quiet_bit(self) -> u64 {
        1 << (self.frac_bits - 1)
    }

    #[inline]
    fn canonical_nan(self) -> u64 {
        self.inf() | self.quiet_bit()
    }

    #[inline]
    fn sign(self, x: u64) -> bool {
        x & self.sign_bit() != 0
    }

    #[inline]
    fn magnitude(self, x: u64) -> u64 {
        x & (self.sign_bit() - 1)
    }

    #[inline]
    fn is_nan(self, x: u64) -> bool {
        self.magnitude(x) > self.inf()
    }

    #[inline]
    fn is_snan(self, x: u64) -> bool {
        self.is_nan(x) && x & self.quiet_bit() == 0
    }

    /// A key whose integer order is the numeric order of non-NaN values; -0 and +0 get
    /// the same key.
    #[inline]
    fn key(self, x: u64) -> i64 {
        let m = self.magnitude(x) as i64;
        if self.sign(x) { -m } else { m }
    }
}

/// FSGNJ, FSGNJN, FSGNJX: all bits of `x` but the sign; no flags, no canonicalization.
fn sign_inject(f: Fmt, x: u64, y: u64, kind: OpKind) -> u64 {
    let sign = match kind {
        OpKind::FsgnjS | OpKind::FsgnjD => y,
        OpKind::FsgnjnS | OpKind::FsgnjnD => !y,
        _ => x ^ y,
    } & f.sign_bit();
    f.magnitude(x) | sign
}

/// FMIN/FMAX per F/D v2.2 (IEEE 754-2019 minimumNumber/maximumNumber): a NaN operand
/// yields the other operand, two NaNs the canonical NaN, -0 < +0, and any signaling
/// NaN sets NV.
fn min_max(f: Fmt, x: u64, y: u64, max: bool) -> FpResult {
    let flags = if f.is_snan(x) || f.is_snan(y) { NV } else { 0 };
    let value = match (f.is_nan(x), f.is_nan(y)) {
        (true, true) => f.canonical_nan(),
        (true, false) => y,
        (false, true) => x,
        (false, false) => {
            let pick_x = match f.key(x).cmp(&f.key(y)) {
                Ordering::Less => !max,
                Ordering::Greater => max,
                // Equal values, or zeros of either sign: -0 is the smaller.
                Ordering::Equal => f.sign(x) != max,
            };
            if pick_x { x } else { y }
        }
    };
    let value = if f.exp_bits == S.exp_bits {
        nan_box(value as u32)
    } else {
        value
    };
    FpResult { value, flags }
}

/// FEQ (quiet: NV only for a signaling NaN) and FLT/FLE (signaling: NV for any NaN).
/// Any NaN makes the result 0.
fn compare(f: Fmt, x: u64, y: u64, kind: OpKind) -> FpResult {
    let eq = matches!(kind, OpKind::FeqS | OpKind::FeqD);
    if f.is_nan(x) || f.is_nan(y) {
        let flags = if !eq || f.is_snan(x) || f.is_snan(y) {
            NV
        } else {
            0
        };
        return FpResult { value: 0, flags };
    }
    let (kx, ky) = (f.key(x), f.key(y));
    let holds = match kind {
        OpKind::FeqS | OpKind::FeqD => kx == ky,
        OpKind::FltS | OpKind::FltD => kx < ky,
        _ => kx <= ky,
    };
    exact(u64::from(holds))
}

/// FCLASS: one of ten bits, -inf (bit 0) up to +inf (bit 7), sNaN 8, qNaN 9.
fn classify(f: Fmt, x: u64) -> u64 {
    let m = f.magnitude(x);
    let neg = f.sign(x);
    let bit = if m > f.inf() {
        if x & f.quiet_bit() != 0 { 9 } else { 8 }
    } else if m == f.inf() {
        if neg { 0 } else { 7 }
    } else if m >= 1 << f.frac_bits {
        if neg { 1 } else { 6 }
    } else if m != 0 {
        if neg { 2 } else { 5 }
    } else if neg {
        3
    } else {
        4
    };
    1 << bit
}

/// The integer format of a float-to-integer conversion.
#[derive(Clone, Copy, PartialEq, Eq)]
enum IntKind {
    W,
    Wu,
    L,
    Lu,
}

/// FCVT.{W,WU,L,LU}.{S,D}: round `x` to an integer under `rm`; out-of-range values,
/// infinities and NaN saturate with NV (NaN to the largest positive value), otherwise
/// NX if rounding changed the value. 32-bit results are sign-extended, FCVT.WU included.
fn to_int(f: Fmt, x: u64, rm: RoundingMode, kind: IntKind) -> FpResult {
    // Largest representable magnitude for each sign.
    let (pos_limit, neg_limit): (u64, u64) = match kind {
        IntKind::W => (i32::MAX as u64, 1 << 31),
        IntKind::Wu => (u32::MAX.into(), 0),
        IntKind::L => (i64::MAX as u64, 1 << 63),
        IntKind::Lu => (u64::MAX, 0),
    };
    let finish = |v: u64, flags: u8| FpResult {
        value: if matches!(kind, IntKind::W | IntKind::Wu) {
            sext32(v)
        } else {
            v
        },
        flags,
    };
    let neg = f.sign(x);
    let m = f.magnitude(x);
    if m >= f.inf() {
        // NaN rounds to the positive extreme, infinities to their own.
        let v = if neg && m == f.inf() {
            neg_limit.wrapping_neg()
        } else {
            pos_limit
        };
        return finish(v, NV);
    }

    // value = sig * 2^exp
    let bias = (1i32 << (f.exp_bits - 1)) - 1;
    let biased = (m >> f.frac_bits) as i32;
    let frac = m & ((1 << f.frac_bits) - 1);
    let (sig, exp) = if biased == 0 {
        (frac, 1 - bias - f.frac_bits as i32)
    } else {
        (frac | 1 << f.frac_bits, biased - bias - f.frac_bits as i32)
    };

    let (magnitude, inexact): (u128, bool) = if sig == 0 {
        (0, false)
    } else if exp >= 0 {
        // sig < 2^53, so anything shifted by less than 64 fits.
        if exp >= 64 {
            (u128::MAX, false)
        } else {
            (u128::from(sig) << exp, false)
        }
    } else {
        let shift = exp.unsigned_abs();
        let (int, rem, half) = if shift >= 120 {
            // Far below 1/2: only the sticky bit remains.
            (0, 1, 1 << 119)
        } else {
            let sig = u128::from(sig);
            (sig >> shift, sig & ((1 << shift) - 1), 1u128 << (shift - 1))
        };
        let up = match rm {
            RoundingMode::NearestEven => rem > half || (rem == half && int & 1 == 1),
            RoundingMode::TowardZero => false,
            RoundingMode::Down => neg && rem != 0,
            RoundingMode::Up => !neg && rem != 0,
            RoundingMode::NearestMaxMagnitude => rem >= half,
        };
        (int + u128::from(up), rem != 0)
    };

    let limit = if neg { neg_limit } else { pos_limit };
    if magnitude > u128::from(limit) {
        return finish(
            if neg {
                neg_limit.wrapping_neg()
            } else {
                pos_limit
            },
            NV,
        );
    }
    let magnitude = magnitude as u64;
    let v = if neg {
        magnitude.wrapping_neg()
    } else {
        magnitude
    };
    finish(v, if inexact { NX } else { 0 })
}

/// Round-to-nearest-even shortcuts on the host FPU. Each returns `None` unless the
/// operands and the result are finite and far enough from the overflow and underflow
/// thresholds that the host result is the IEEE result and no flag but NX can arise;
/// NX is then decided exactly by an error-free transformation.
mod fast {
    use super::{FpResult, NX, nan_box};

    /// 2^120 and 2^-100: single-precision operand and result bounds.
    const S_HI: f32 = f32::from_bits((127 + 120) << 23);
    const S_LO: f32 = f32::from_bits((127 - 100) << 23);
    /// 2^1000 and 2^-900: double-precision operand and result bounds.
    const D_HI: f64 = f64::from_bits((1023 + 1000) << 52);
    const D_LO: f64 = f64::from_bits((1023 - 900) << 52);

    /// Magnitude within [2^-100, 2^120] (false for NaN).
    #[inline]
    fn in_range_s(v: f32) -> bool {
        let m = v.abs();
        (S_LO..=S_HI).contains(&m)
    }

    /// Magnitude within [2^-900, 2^1000] (false for NaN).
    #[inline]
    fn in_range_d(v: f64) -> bool {
        let m = v.abs();
        (D_LO..=D_HI).contains(&m)
    }

    /// Finite and at most 2^120 in magnitude (false for NaN).
    #[inline]
    fn operand_s(v: f32) -> bool {
        v.abs() <= S_HI
    }

    /// Finite and at most 2^1000 in magnitude (false for NaN).
    #[inline]
    fn operand_d(v: f64) -> bool {
        v.abs() <= D_HI
    }

    /// Positive and finite (false for zeros and NaN).
    #[inline]
    fn positive_finite(v: f32) -> bool {
        v > 0.0 && v.is_finite()
    }

    #[inline]
    fn nx(inexact: bool) -> u8 {
        if inexact { NX } else { 0 }
    }

    /// Sum; NX from Knuth's TwoSum, exact for any finite operands below 2^120.
    #[inline]
    pub(super) fn add_s(x: u32, y: u32, rne: bool) -> Option<FpResult> {
        let (x, y) = (f32::from_bits(x), f32::from_bits(y));
        if !rne || !operand_s(x) || !operand_s(y) {
            return None;
        }
        let s = x + y;
        if !in_range_s(s) {
            return None;
        }
        let yy = s - x;
        let err = (x - (s - yy)) + (y - yy);
        Some(FpResult {
            value: nan_box(s.to_bits()),
            flags: nx(err != 0.0),
        })
    }

    /// Product; a product of two singles is exact in double, so one rounding to single.
    #[inline]
    pub(super) fn mul_s(x: u32, y: u32, rne: bool) -> Option<FpResult> {
        if !rne {
            return None;
        }
        let p = f64::from(f32::from_bits(x)) * f64::from(f32::from_bits(y));
        let r = p as f32;
        if !in_range_s(r) {
            return None;
        }
        Some(FpResult {
            value: nan_box(r.to_bits()),
            flags: nx(f64::from(r) != p),
        })
    }

    /// Quotient via double (double rounding is innocuous: 53 >= 2*24 + 2); exact iff
    /// the single result times the divisor, exact in double, gives the dividend back.
    #[inline]
    pub(super) fn div_s(x: u32, y: u32, rne: bool) -> Option<FpResult> {
        if !rne {
            return None;
        }
        let (x, y) = (f64::from(f32::from_bits(x)), f64::from(f32::from_bits(y)));
        let q = (x / y) as f32;
        if !in_range_s(q) {
            return None;
        }
        Some(FpResult {
            value: nan_box(q.to_bits()),
            flags: nx(f64::from(q) * y != x),
        })
    }

    /// Square root via double (innocuous double rounding as for division).
    #[inline]
    pub(super) fn sqrt_s(x: u32, rne: bool) -> Option<FpResult> {
        let x = f32::from_bits(x);
        if !rne || !positive_finite(x) {
            return None;
        }
        let x = f64::from(x);
        let r = x.sqrt() as f32;
        let r64 = f64::from(r);
        Some(FpResult {
            value: nan_box(r.to_bits()),
            flags: nx(r64 * r64 != x),
        })
    }

    /// Sum; NX from TwoSum.
    #[inline]
    pub(super) fn add_d(x: u64, y: u64, rne: bool) -> Option<FpResult> {
        let (x, y) = (f64::from_bits(x), f64::from_bits(y));
        if !rne || !operand_d(x) || !operand_d(y) {
            return None;
        }
        let s = x + y;
        if !in_range_d(s) {
            return None;
        }
        let yy = s - x;
        let err = (x - (s - yy)) + (y - yy);
        Some(FpResult {
            value: s.to_bits(),
            flags: nx(err != 0.0),
        })
    }

    /// Product; the rounding error `x*y - p` is exactly representable (the product is
    /// far from underflow), so the fused `x*y - p` is exactly it.
    #[inline]
    pub(super) fn mul_d(x: u64, y: u64, rne: bool) -> Option<FpResult> {
        if !rne {
            return None;
        }
        let (x, y) = (f64::from_bits(x), f64::from_bits(y));
        let p = x * y;
        if !in_range_d(p) {
            return None;
        }
        Some(FpResult {
            value: p.to_bits(),
            flags: nx(x.mul_add(y, -p) != 0.0),
        })
    }

    /// Quotient; the remainder `x - q*y` of a correctly rounded quotient is exactly
    /// representable away from underflow, and zero iff the quotient is exact.
    #[inline]
    pub(super) fn div_d(x: u64, y: u64, rne: bool) -> Option<FpResult> {
        let (x, y) = (f64::from_bits(x), f64::from_bits(y));
        if !rne || !in_range_d(x) || !in_range_d(y) {
            return None;
        }
        let q = x / y;
        if !in_range_d(q) {
            return None;
        }
        Some(FpResult {
            value: q.to_bits(),
            flags: nx((-q).mul_add(y, x) != 0.0),
        })
    }

    /// Square root; `x - r*r` is exactly representable, zero iff the root is exact.
    #[inline]
    pub(super) fn sqrt_d(x: u64, rne: bool) -> Option<FpResult> {
        let x = f64::from_bits(x);
        if !rne || x < 0.0 || !in_range_d(x) {
            return None;
        }
        let r = x.sqrt();
        Some(FpResult {
            value: r.to_bits(),
            flags: nx((-r).mul_add(r, x) != 0.0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use OpKind as K;
    use RoundingMode as Rm;
    use flags::{DZ, OF, UF};

    const MODES: [Rm; 5] = [
        Rm::NearestEven,
        Rm::TowardZero,
        Rm::Down,
        Rm::Up,
        Rm::NearestMaxMagnitude,
    ];
    const RNE: Rm = Rm::NearestEven;

    const QNAN_S: u64 = nan_box(0x7fc0_0000);
    const QNAN_D: u64 = 0x7ff8_0000_0000_0000;
    const SNAN_S: u64 = nan_box(0x7f80_0001);
    const SNAN_D: u64 = 0x7ff0_0000_0000_0001;
    /// A quiet NaN with a payload and the sign set: never the canonical NaN.
    const PAYLOAD_QNAN_S: u64 = nan_box(0xffc1_2345);
    const PAYLOAD_QNAN_D: u64 = 0xfff8_0000_1234_5678;
    const INF_S: u32 = 0x7f80_0000;
    const INF_D: u64 = 0x7ff0_0000_0000_0000;
    const MAX_S: u32 = 0x7f7f_ffff;
    const MAX_D: u64 = 0x7fef_ffff_ffff_ffff;

    fn ex(kind: OpKind, a: u64, b: u64, c: u64, rm: Rm) -> FpResult {
        execute(kind, a, b, c, rm).unwrap_or_else(|| panic!("{kind:?} is not computational"))
    }

    fn r(value: u64, flags: u8) -> FpResult {
        FpResult { value, flags }
    }

    /// A boxed single from host value.
    fn s(v: f32) -> u64 {
        nan_box(v.to_bits())
    }

    fn sb(bits: u32) -> u64 {
        nan_box(bits)
    }

    fn d(v: f64) -> u64 {
        v.to_bits()
    }

    /// Checks `kind(a, b, c)` under each of the five modes, in `MODES` order.
    #[track_caller]
    fn check_modes(kind: OpKind, a: u64, b: u64, c: u64, expect: [FpResult; 5]) {
        for (rm, want) in MODES.into_iter().zip(expect) {
            assert_eq!(
                ex(kind, a, b, c, rm),
                want,
                "{kind:?} {a:#x} {b:#x} {c:#x} under {rm:?}"
            );
        }
    }

    /// The same value with the same flags under the five modes.
    fn each5(v: [u64; 5], flags: u8) -> [FpResult; 5] {
        v.map(|v| r(v, flags))
    }

    #[rustfmt::skip]
    const COMPUTATIONAL: [OpKind; 58] = [
        K::FmaddS, K::FmsubS, K::FnmsubS, K::FnmaddS, K::FaddS, K::FsubS, K::FmulS, K::FdivS,
        K::FsqrtS, K::FsgnjS, K::FsgnjnS, K::FsgnjxS, K::FminS, K::FmaxS, K::FcvtWS, K::FcvtWuS,
        K::FcvtLS, K::FcvtLuS, K::FmvXW, K::FeqS, K::FltS, K::FleS, K::FclassS, K::FcvtSW,
        K::FcvtSWu, K::FcvtSL, K::FcvtSLu, K::FmvWX, K::FmaddD, K::FmsubD, K::FnmsubD, K::FnmaddD,
        K::FaddD, K::FsubD, K::FmulD, K::FdivD, K::FsqrtD, K::FsgnjD, K::FsgnjnD, K::FsgnjxD,
        K::FminD, K::FmaxD, K::FcvtSD, K::FcvtDS, K::FeqD, K::FltD, K::FleD, K::FclassD, K::FcvtWD,
        K::FcvtWuD, K::FcvtLD, K::FcvtLuD, K::FmvXD, K::FcvtDW, K::FcvtDWu, K::FcvtDL, K::FcvtDLu,
        K::FmvDX,
    ];

    #[test]
    fn rounding_mode_from_bits() {
        for (bits, mode) in MODES.into_iter().enumerate() {
            assert_eq!(RoundingMode::from_bits(bits as u8), Some(mode));
            assert_eq!(mode as u8, bits as u8);
        }
        for bits in 5..=255 {
            assert_eq!(RoundingMode::from_bits(bits), None);
        }
    }

    #[test]
    fn flag_bits_match_fcsr() {
        assert_eq!((NV, DZ, OF, UF, NX), (0x10, 0x08, 0x04, 0x02, 0x01));
    }

    #[test]
    fn every_fp_kind_is_classified() {
        let fp_kinds = (OpKind::Flw as u8..=OpKind::FmvDX as u8).count();
        // The four loads and stores plus the computational ones.
        assert_eq!(fp_kinds, 4 + COMPUTATIONAL.len());
        for kind in COMPUTATIONAL {
            for rm in MODES {
                assert!(
                    execute(kind, sb(0x3f80_0000), sb(0x4000_0000), sb(0x4040_0000), rm).is_some()
                );
                assert!(execute(kind, d(1.0), d(2.0), d(3.0), rm).is_some());
            }
        }
        for kind in [
            K::Flw,
            K::Fsw,
            K::Fld,
            K::Fsd,
            K::Add,
            K::Illegal,
            K::Undecoded,
            K::Csrrw,
        ] {
            assert_eq!(execute(kind, 1, 2, 3, RNE), None, "{kind:?}");
            assert!(!uses_rounding_mode(kind));
        }
    }

    #[test]
    fn register_files() {
        #[rustfmt::skip]
        let int_dest = [
            K::FeqS, K::FltS, K::FleS, K::FclassS, K::FcvtWS, K::FcvtWuS, K::FcvtLS, K::FcvtLuS,
            K::FmvXW, K::FeqD, K::FltD, K::FleD, K::FclassD, K::FcvtWD, K::FcvtWuD, K::FcvtLD,
            K::FcvtLuD, K::FmvXD,
        ];
        #[rustfmt::skip]
        let int_src = [
            K::FcvtSW, K::FcvtSWu, K::FcvtSL, K::FcvtSLu, K::FmvWX, K::FcvtDW, K::FcvtDWu,
            K::FcvtDL, K::FcvtDLu, K::FmvDX,
        ];
        for kind in COMPUTATIONAL {
            let want = if int_dest.contains(&kind) {
                RegFile::Int
            } else {
                RegFile::Float
            };
            assert_eq!(dest_file(kind), want, "dest of {kind:?}");
            let want = if int_src.contains(&kind) {
                RegFile::Int
            } else {
                RegFile::Float
            };
            assert_eq!(src_file(kind), want, "src of {kind:?}");
        }
        assert_eq!(dest_file(K::Flw), RegFile::Float);
        assert_eq!(dest_file(K::Fld), RegFile::Float);
        for kind in [K::Flw, K::Fsw, K::Fld, K::Fsd, K::Add] {
            assert_eq!(src_file(kind), RegFile::Int);
        }
        assert_eq!(dest_file(K::Add), RegFile::Int);
    }

    #[test]
    fn which_ops_have_a_rounding_mode() {
        #[rustfmt::skip]
        let without = [
            K::FsgnjS, K::FsgnjnS, K::FsgnjxS, K::FminS, K::FmaxS, K::FmvXW, K::FeqS, K::FltS,
            K::FleS, K::FclassS, K::FmvWX, K::FsgnjD, K::FsgnjnD, K::FsgnjxD, K::FminD, K::FmaxD,
            K::FeqD, K::FltD, K::FleD, K::FclassD, K::FmvXD, K::FmvDX,
        ];
        for kind in COMPUTATIONAL {
            assert_eq!(
                uses_rounding_mode(kind),
                !without.contains(&kind),
                "{kind:?}"
            );
        }
        // Exact, but the rm field still has to be a legal one.
        for kind in [K::FcvtDS, K::FcvtDW, K::FcvtDWu] {
            assert!(uses_rounding_mode(kind));
        }
    }

    // ---- Rounding in all five modes -------------------------------------------------

    #[test]
    fn div_one_third_all_modes() {
        let (lo, hi) = (0x3eaa_aaaa, 0x3eaa_aaab);
        check_modes(
            K::FdivS,
            s(1.0),
            s(3.0),
            0,
            each5([hi, lo, lo, hi, hi].map(sb), NX),
        );
        let (lo, hi) = (0xbeaa_aaaa, 0xbeaa_aaab); // magnitudes
        check_modes(
            K::FdivS,
            s(-1.0),
            s(3.0),
            0,
            each5([hi, lo, hi, lo, hi].map(sb), NX),
        );
        let (lo, hi) = (0x3fd5_5555_5555_5555, 0x3fd5_5555_5555_5556);
        check_modes(K::FdivD, d(1.0), d(3.0), 0, each5([lo, lo, lo, hi, lo], NX));
        let (lo, hi) = (lo | 1 << 63, hi | 1 << 63);
        check_modes(
            K::FdivD,
            d(1.0),
            d(-3.0),
            0,
            each5([lo, lo, hi, lo, lo], NX),
        );
        // Exact quotients raise nothing.
        check_modes(K::FdivS, s(1.0), s(4.0), 0, each5([s(0.25); 5], 0));
        check_modes(K::FdivD, d(-9.0), d(3.0), 0, each5([d(-3.0); 5], 0));
    }

    #[test]
    fn add_all_modes() {
        // 1 + 2^-24: exactly half an ulp, a tie.
        let (one, up) = (sb(0x3f80_0000), sb(0x3f80_0001));
        check_modes(
            K::FaddS,
            s(1.0),
            sb(0x3380_0000),
            0,
            each5([one, one, one, up, up], NX),
        );
        // 1 + 0.75 ulp.
        check_modes(
            K::FaddS,
            s(1.0),
            sb(0x33c0_0000),
            0,
            each5([up, one, one, up, up], NX),
        );
        let (one, up) = (sb(0xbf80_0000), sb(0xbf80_0001));
        check_modes(
            K::FaddS,
            s(-1.0),
            sb(0xb3c0_0000),
            0,
            each5([up, one, up, one, up], NX),
        );
        check_modes(
            K::FsubS,
            s(-1.0),
            sb(0x3380_0000),
            0,
            each5([one, one, up, one, up], NX),
        );
        // Double: 1 + 2^-53 (tie) and 1 + 0.75 ulp.
        let (one, up) = (d(1.0), d(1.0) + 1);
        check_modes(
            K::FaddD,
            d(1.0),
            d(2f64.powi(-53)),
            0,
            each5([one, one, one, up, up], NX),
        );
        let q = d(0.75 * 2f64.powi(-52));
        check_modes(K::FaddD, d(1.0), q, 0, each5([up, one, one, up, up], NX));
        check_modes(
            K::FsubD,
            d(-1.0),
            q,
            0,
            each5([up, one, up, one, up].map(|v| v | 1 << 63), NX),
        );
        check_modes(K::FaddD, d(1.5), d(2.25), 0, each5([d(3.75); 5], 0));
    }

    #[test]
    fn mul_all_modes() {
        // (1 + 2^-23)^2 = 1 + 2^-22 + 2^-46.
        let (a, b) = (sb(0x3f80_0002), sb(0x3f80_0003));
        check_modes(
            K::FmulS,
            sb(0x3f80_0001),
            sb(0x3f80_0001),
            0,
            each5([a, a, a, b, a], NX),
        );
        // (1 + 2^-23) * 1.5 = 1.5 + 1.5 ulp: a tie between 1.5+1 and 1.5+2 ulps.
        let (odd, even) = (sb(0x3fc0_0001), sb(0x3fc0_0002));
        check_modes(
            K::FmulS,
            sb(0x3f80_0001),
            s(1.5),
            0,
            each5([even, odd, odd, even, even], NX),
        );
        let (odd, even) = (sb(0xbfc0_0001), sb(0xbfc0_0002));
        check_modes(
            K::FmulS,
            sb(0x3f80_0001),
            s(-1.5),
            0,
            each5([even, odd, even, odd, even], NX),
        );
        // (1 + 2^-52)^2 = 1 + 2^-51 + 2^-104.
        let (a, b) = (d(1.0) + 2, d(1.0) + 3);
        check_modes(
            K::FmulD,
            d(1.0) + 1,
            d(1.0) + 1,
            0,
            each5([a, a, a, b, a], NX),
        );
        let (a, b) = (a | 1 << 63, b | 1 << 63);
        check_modes(
            K::FmulD,
            d(1.0) + 1,
            d(-1.0) + 1,
            0,
            each5([a, a, b, a, a], NX),
        );
    }

    #[test]
    fn fma_all_modes() {
        // (1 + 2^-23)^2 - 1 = 2^-22 + 2^-46 = 2^-22 (1 + 2^-24): a tie.
        let (lo, hi) = (sb(0x3480_0000), sb(0x3480_0001));
        let x = sb(0x3f80_0001);
        check_modes(K::FmaddS, x, x, s(-1.0), each5([lo, lo, lo, hi, hi], NX));
        check_modes(K::FmsubS, x, x, s(1.0), each5([lo, lo, lo, hi, hi], NX));
        let (lo, hi) = (sb(0xb480_0000), sb(0xb480_0001));
        check_modes(K::FnmsubS, x, x, s(1.0), each5([lo, lo, hi, lo, hi], NX));
        check_modes(K::FnmaddS, x, x, s(-1.0), each5([lo, lo, hi, lo, hi], NX));
        // (1 + 3 * 2^-23)^2 - 1 = 1.5 * 2^-21 + 2.25 ulp.
        let x = sb(0x3f80_0003);
        let (lo, hi) = (sb(0x3540_0002), sb(0x3540_0003));
        check_modes(K::FmaddS, x, x, s(-1.0), each5([lo, lo, lo, hi, lo], NX));
        // Double: (1 + 2^-52)^2 - 1 = 2^-51 (1 + 2^-53): a tie again.
        let x = d(1.0) + 1;
        let (lo, hi) = (d(2f64.powi(-51)), d(2f64.powi(-51)) + 1);
        check_modes(K::FmaddD, x, x, d(-1.0), each5([lo, lo, lo, hi, hi], NX));
        // (1 + 2^-52)^2 - (1 + 2^-52) = 2^-52 (1 + 2^-52): exact.
        check_modes(
            K::FmaddD,
            x,
            x,
            d(-1.0) + 1,
            each5([d(2f64.powi(-52)) + 1; 5], 0),
        );
        // (1 + 2^-52)^2 + 1 = 2 + 2^-51 + 2^-104: one ulp of 2 plus a little.
        let (lo, hi) = (d(2.0) + 1, d(2.0) + 2);
        check_modes(K::FmaddD, x, x, d(1.0), each5([lo, lo, lo, hi, lo], NX));
        let (lo, hi) = (lo | 1 << 63, hi | 1 << 63);
        check_modes(K::FnmaddD, x, x, d(1.0), each5([lo, lo, hi, lo, lo], NX));
        check_modes(
            K::FmsubD,
            x,
            d(-1.0) + 1,
            d(1.0),
            each5([lo, lo, hi, lo, lo], NX),
        );
        check_modes(K::FnmsubD, d(-3.0), d(2.0), d(0.5), each5([d(6.5); 5], 0));
    }

    #[test]
    fn sqrt_all_modes() {
        // sqrt(2) single: 0x3fb504f3 is below the exact root, and the nearer.
        let (lo, hi) = (sb(0x3fb5_04f3), sb(0x3fb5_04f4));
        check_modes(K::FsqrtS, s(2.0), 0, 0, each5([lo, lo, lo, hi, lo], NX));
        // sqrt(2) double: 0x3ff6a09e667f3bcd is above the exact root, and the nearer.
        let (lo, hi) = (0x3ff6_a09e_667f_3bcc, 0x3ff6_a09e_667f_3bcd);
        check_modes(K::FsqrtD, d(2.0), 0, 0, each5([hi, lo, lo, hi, hi], NX));
        check_modes(K::FsqrtS, s(6.25), 0, 0, each5([s(2.5); 5], 0));
        check_modes(K::FsqrtD, d(0.25), 0, 0, each5([d(0.5); 5], 0));
        // Zeros keep their sign, +inf stays.
        check_modes(K::FsqrtS, s(-0.0), 0, 0, each5([s(-0.0); 5], 0));
        check_modes(K::FsqrtD, d(-0.0), 0, 0, each5([d(-0.0); 5], 0));
        check_modes(K::FsqrtD, INF_D, 0, 0, each5([INF_D; 5], 0));
    }

    #[test]
    fn float_to_int_all_modes() {
        let m = |v: i64| v as u64;
        let w = |v: i64| v as i32 as i64 as u64;
        for kind in [K::FcvtWS, K::FcvtLS] {
            check_modes(kind, s(2.5), 0, 0, each5([2, 2, 2, 3, 3], NX));
            check_modes(
                kind,
                s(-2.5),
                0,
                0,
                each5([m(-2), m(-2), m(-3), m(-2), m(-3)], NX),
            );
            check_modes(kind, s(3.5), 0, 0, each5([4, 3, 3, 4, 4], NX));
            check_modes(kind, s(-0.2), 0, 0, each5([0, 0, m(-1), 0, 0], NX));
            check_modes(kind, s(-7.0), 0, 0, each5([m(-7); 5], 0));
        }
        for kind in [K::FcvtWD, K::FcvtLD] {
            check_modes(kind, d(2.5), 0, 0, each5([2, 2, 2, 3, 3], NX));
            check_modes(
                kind,
                d(-2.5),
                0,
                0,
                each5([m(-2), m(-2), m(-3), m(-2), m(-3)], NX),
            );
            check_modes(kind, d(2.75), 0, 0, each5([3, 2, 2, 3, 3], NX));
            check_modes(kind, d(-0.5), 0, 0, each5([0, 0, m(-1), 0, m(-1)], NX));
        }
        for kind in [K::FcvtWuS, K::FcvtLuS] {
            check_modes(kind, s(2.5), 0, 0, each5([2, 2, 2, 3, 3], NX));
        }
        for kind in [K::FcvtWuD, K::FcvtLuD] {
            check_modes(kind, d(2.5), 0, 0, each5([2, 2, 2, 3, 3], NX));
            check_modes(kind, d(1.0e9), 0, 0, each5([1_000_000_000; 5], 0));
        }
        // Large exact values.
        check_modes(
            K::FcvtLD,
            d(-9.0e15),
            0,
            0,
            each5([m(-9_000_000_000_000_000); 5], 0),
        );
        check_modes(
            K::FcvtLuD,
            d(1.8e19),
            0,
            0,
            each5([18_000_000_000_000_000_000; 5], 0),
        );
        check_modes(
            K::FcvtWD,
            d(-2147483648.0),
            0,
            0,
            each5([w(i32::MIN.into()); 5], 0),
        );
        check_modes(
            K::FcvtLS,
            s(-9.223_372e18),
            0,
            0,
            each5([i64::MIN as u64; 5], 0),
        );
        // Tiny values: 2^-1074 rounds to 0 or 1 (away from zero in RUP).
        check_modes(K::FcvtLD, 1, 0, 0, each5([0, 0, 0, 1, 0], NX));
        check_modes(
            K::FcvtWS,
            sb(0x8000_0001),
            0,
            0,
            each5([0, 0, m(-1), 0, 0], NX),
        );
        // Zeros are exact.
        check_modes(K::FcvtWuS, s(-0.0), 0, 0, each5([0; 5], 0));
        check_modes(K::FcvtLD, d(-0.0), 0, 0, each5([0; 5], 0));
    }

    #[test]
    fn int_to_float_all_modes() {
        // 2^24 + 1: a tie between 2^24 and 2^24 + 2.
        let (lo, hi) = (sb(0x4b80_0000), sb(0x4b80_0001));
        for kind in [K::FcvtSW, K::FcvtSWu, K::FcvtSL, K::FcvtSLu] {
            check_modes(kind, 0x100_0001, 0, 0, each5([lo, lo, lo, hi, hi], NX));
        }
        // 2^24 + 3: a tie between 2^24 + 2 (odd significand) and 2^24 + 4.
        let (lo, hi) = (sb(0x4b80_0001), sb(0x4b80_0002));
        check_modes(K::FcvtSL, 0x100_0003, 0, 0, each5([hi, lo, lo, hi, hi], NX));
        let (lo, hi) = (sb(0xcb80_0001), sb(0xcb80_0002));
        check_modes(
            K::FcvtSW,
            (-0x100_0003i64) as u64,
            0,
            0,
            each5([hi, lo, hi, lo, hi], NX),
        );
        // W sources use the low 32 bits only, signed or unsigned.
        check_modes(
            K::FcvtSW,
            0x1234_5678_ffff_ffff,
            0,
            0,
            each5([s(-1.0); 5], 0),
        );
        check_modes(
            K::FcvtSWu,
            0x1234_5678_0000_0010,
            0,
            0,
            each5([s(16.0); 5], 0),
        );
        check_modes(
            K::FcvtDW,
            0xffff_ffff_8000_0000,
            0,
            0,
            each5([d(-2147483648.0); 5], 0),
        );
        check_modes(
            K::FcvtDWu,
            0x0000_0000_8000_0000,
            0,
            0,
            each5([d(2147483648.0); 5], 0),
        );
        check_modes(
            K::FcvtDWu,
            0xdead_beef_ffff_ffff,
            0,
            0,
            each5([d(4294967295.0); 5], 0),
        );
        check_modes(
            K::FcvtDW,
            0xdead_beef_ffff_ffff,
            0,
            0,
            each5([d(-1.0); 5], 0),
        );
        // 2^53 + 1 in double: a tie.
        let (lo, hi) = (d(9007199254740992.0), d(9007199254740992.0) + 1);
        check_modes(
            K::FcvtDL,
            (1 << 53) + 1,
            0,
            0,
            each5([lo, lo, lo, hi, hi], NX),
        );
        check_modes(
            K::FcvtDLu,
            (1 << 53) + 1,
            0,
            0,
            each5([lo, lo, lo, hi, hi], NX),
        );
        // u64::MAX: 2^64 - 1 rounds to 2^64 or down to 2^64 - 2^11.
        let (lo, hi) = (d(18446744073709549568.0), d(18446744073709551616.0));
        check_modes(K::FcvtDLu, u64::MAX, 0, 0, each5([hi, lo, lo, hi, hi], NX));
        check_modes(K::FcvtDL, u64::MAX, 0, 0, each5([d(-1.0); 5], 0));
        check_modes(
            K::FcvtDL,
            i64::MIN as u64,
            0,
            0,
            each5([d(-9223372036854775808.0); 5], 0),
        );
        check_modes(
            K::FcvtSLu,
            u64::MAX,
            0,
            0,
            each5(
                [
                    s(18446744073709551616.0),
                    sb(0x5f7f_ffff),
                    sb(0x5f7f_ffff),
                    s(18446744073709551616.0),
                    s(18446744073709551616.0),
                ],
                NX,
            ),
        );
        // Zero converts to +0 in every mode, without flags.
        for kind in [K::FcvtSW, K::FcvtSWu, K::FcvtSL, K::FcvtSLu] {
            check_modes(kind, 0, 0, 0, each5([s(0.0); 5], 0));
        }
        for kind in [K::FcvtDW, K::FcvtDWu, K::FcvtDL, K::FcvtDLu] {
            check_modes(kind, 0, 0, 0, each5([d(0.0); 5], 0));
        }
    }

    #[test]
    fn fcvt_s_d_all_modes() {
        // 1 + 2^-24 is a tie in single; 1 + 2^-24 + 2^-30 is just above it.
        let (lo, hi) = (s(1.0), sb(0x3f80_0001));
        check_modes(
            K::FcvtSD,
            0x3ff0_0000_1000_0000,
            0,
            0,
            each5([lo, lo, lo, hi, hi], NX),
        );
        check_modes(
            K::FcvtSD,
            0x3ff0_0000_1040_0000,
            0,
            0,
            each5([hi, lo, lo, hi, hi], NX),
        );
        let (lo, hi) = (s(-1.0), sb(0xbf80_0001));
        check_modes(
            K::FcvtSD,
            0xbff0_0000_1040_0000,
            0,
            0,
            each5([hi, lo, hi, lo, hi], NX),
        );
        check_modes(
            K::FcvtSD,
            d(0.1),
            0,
            0,
            each5(
                [s(0.1), sb(0x3dcc_cccc), sb(0x3dcc_cccc), s(0.1), s(0.1)],
                NX,
            ),
        );
        check_modes(K::FcvtSD, d(-1.5), 0, 0, each5([s(-1.5); 5], 0));
        // Overflow: infinity or the largest finite value, by mode.
        let (inf, max) = (sb(INF_S), sb(MAX_S));
        check_modes(
            K::FcvtSD,
            d(1e300),
            0,
            0,
            each5([inf, max, max, inf, inf], OF | NX),
        );
        let (inf, max) = (sb(INF_S | 1 << 31), sb(MAX_S | 1 << 31));
        check_modes(
            K::FcvtSD,
            d(-1e300),
            0,
            0,
            each5([inf, max, inf, max, inf], OF | NX),
        );
        // Underflow: exact subnormal results are not underflow; inexact ones are.
        check_modes(
            K::FcvtSD,
            d(2f64.powi(-140)),
            0,
            0,
            each5([sb(0x200); 5], 0),
        );
        let v = d(2f64.powi(-140) * (1.0 + 2f64.powi(-30)));
        check_modes(
            K::FcvtSD,
            v,
            0,
            0,
            each5([0x200, 0x200, 0x200, 0x201, 0x200].map(sb), UF | NX),
        );
        check_modes(
            K::FcvtSD,
            d(1e-300),
            0,
            0,
            each5([0, 0, 0, 1, 0].map(sb), UF | NX),
        );
        // Infinities and zeros convert exactly.
        check_modes(K::FcvtSD, INF_D, 0, 0, each5([sb(INF_S); 5], 0));
        check_modes(K::FcvtSD, d(-0.0), 0, 0, each5([s(-0.0); 5], 0));
    }

    #[test]
    fn fcvt_d_s_is_exact() {
        for rm in MODES {
            assert_eq!(ex(K::FcvtDS, s(0.1), 0, 0, rm), r(d(f64::from(0.1f32)), 0));
            assert_eq!(ex(K::FcvtDS, sb(1), 0, 0, rm), r(d(2f64.powi(-149)), 0));
            assert_eq!(
                ex(K::FcvtDS, sb(INF_S | 1 << 31), 0, 0, rm),
                r(INF_D | 1 << 63, 0)
            );
            assert_eq!(ex(K::FcvtDS, s(-0.0), 0, 0, rm), r(d(-0.0), 0));
            assert_eq!(
                ex(K::FcvtDS, sb(MAX_S), 0, 0, rm),
                r(d(f64::from(f32::MAX)), 0)
            );
        }
    }

    // ---- Exception flags ------------------------------------------------------------

    #[test]
    fn invalid_and_divide_by_zero() {
        for rm in MODES {
            assert_eq!(ex(K::FdivS, s(0.0), s(0.0), 0, rm), r(QNAN_S, NV));
            assert_eq!(ex(K::FdivD, d(-0.0), d(0.0), 0, rm), r(QNAN_D, NV));
            assert_eq!(ex(K::FdivS, sb(INF_S), sb(INF_S), 0, rm), r(QNAN_S, NV));
            assert_eq!(ex(K::FdivS, s(1.0), s(0.0), 0, rm), r(sb(INF_S), DZ));
            assert_eq!(
                ex(K::FdivS, s(1.0), s(-0.0), 0, rm),
                r(sb(INF_S | 1 << 31), DZ)
            );
            assert_eq!(ex(K::FdivD, d(-1.0), d(0.0), 0, rm), r(INF_D | 1 << 63, DZ));
            assert_eq!(ex(K::FdivD, d(1.0), INF_D, 0, rm), r(0, 0));
            assert_eq!(ex(K::FsqrtS, s(-1.0), 0, 0, rm), r(QNAN_S, NV));
            assert_eq!(ex(K::FsqrtD, d(-1.0), 0, 0, rm), r(QNAN_D, NV));
            assert_eq!(ex(K::FsqrtD, INF_D | 1 << 63, 0, 0, rm), r(QNAN_D, NV));
            assert_eq!(
                ex(K::FaddS, sb(INF_S), sb(INF_S | 1 << 31), 0, rm),
                r(QNAN_S, NV)
            );
            assert_eq!(ex(K::FsubD, INF_D, INF_D, 0, rm), r(QNAN_D, NV));
            assert_eq!(ex(K::FmulS, sb(INF_S), s(0.0), 0, rm), r(QNAN_S, NV));
            assert_eq!(ex(K::FmulD, d(-0.0), INF_D, 0, rm), r(QNAN_D, NV));
            assert_eq!(ex(K::FmaddS, sb(INF_S), s(0.0), s(1.0), rm), r(QNAN_S, NV));
            assert_eq!(
                ex(K::FmaddD, INF_D, d(1.0), INF_D | 1 << 63, rm),
                r(QNAN_D, NV)
            );
            // inf * 0 + qNaN must still raise NV.
            assert_eq!(ex(K::FmaddS, s(0.0), sb(INF_S), QNAN_S, rm), r(QNAN_S, NV));
            assert_eq!(
                ex(K::FmaddD, INF_D, d(0.0), PAYLOAD_QNAN_D, rm),
                r(QNAN_D, NV)
            );
            // Infinite results of valid operations raise nothing.
            assert_eq!(
                ex(K::FmulS, sb(INF_S), s(-2.0), 0, rm),
                r(sb(INF_S | 1 << 31), 0)
            );
            assert_eq!(ex(K::FaddD, INF_D, d(1e308), 0, rm), r(INF_D, 0));
        }
    }

    #[test]
    fn overflow_by_mode() {
        let (inf, max) = (sb(INF_S), sb(MAX_S));
        check_modes(
            K::FmulS,
            sb(MAX_S),
            s(2.0),
            0,
            each5([inf, max, max, inf, inf], OF | NX),
        );
        check_modes(
            K::FaddS,
            sb(MAX_S),
            sb(MAX_S),
            0,
            each5([inf, max, max, inf, inf], OF | NX),
        );
        let (inf, max) = (sb(INF_S | 1 << 31), sb(MAX_S | 1 << 31));
        check_modes(
            K::FmulS,
            sb(MAX_S),
            s(-2.0),
            0,
            each5([inf, max, inf, max, inf], OF | NX),
        );
        let (inf, max) = (INF_D, MAX_D);
        check_modes(
            K::FmulD,
            MAX_D,
            d(1.5),
            0,
            each5([inf, max, max, inf, inf], OF | NX),
        );
        check_modes(
            K::FdivD,
            MAX_D,
            d(0.5),
            0,
            each5([inf, max, max, inf, inf], OF | NX),
        );
        check_modes(
            K::FmaddD,
            MAX_D,
            d(2.0),
            d(-1.0),
            each5([inf, max, max, inf, inf], OF | NX),
        );
        let (inf, max) = (INF_D | 1 << 63, MAX_D | 1 << 63);
        check_modes(
            K::FsubD,
            MAX_D | 1 << 63,
            MAX_D,
            0,
            each5([inf, max, inf, max, inf], OF | NX),
        );
        // MAX + half an ulp is a tie that RNE/RMM round to infinity; smaller is not overflow.
        // Overflow is judged on the value rounded with unbounded exponent: rounding
        // toward zero or down it is MAX, so NX alone.
        let flag = |v: u64| r(v, if v == INF_D { OF | NX } else { NX });
        let half_ulp = d(2f64.powi(970));
        check_modes(
            K::FaddD,
            MAX_D,
            half_ulp,
            0,
            [INF_D, MAX_D, MAX_D, INF_D, INF_D].map(flag),
        );
        let below = d(2f64.powi(969));
        check_modes(
            K::FaddD,
            MAX_D,
            below,
            0,
            [MAX_D, MAX_D, MAX_D, INF_D, MAX_D].map(flag),
        );
    }

    #[test]
    fn underflow_and_tininess_after_rounding() {
        // Exact subnormal results do not underflow.
        check_modes(
            K::FmulS,
            sb(0x0080_0000),
            s(0.5),
            0,
            each5([sb(0x0040_0000); 5], 0),
        );
        check_modes(
            K::FmulD,
            0x0010_0000_0000_0000,
            d(0.25),
            0,
            each5([0x0004_0000_0000_0000; 5], 0),
        );
        check_modes(
            K::FsubS,
            sb(0x0080_0001),
            sb(0x0080_0000),
            0,
            each5([sb(1); 5], 0),
        );
        // Inexact subnormal results do: (2^-126 + 2^-149) / 2 is a tie.
        check_modes(
            K::FmulS,
            sb(0x0080_0001),
            s(0.5),
            0,
            each5(
                [0x40_0000, 0x40_0000, 0x40_0000, 0x40_0001, 0x40_0001].map(sb),
                UF | NX,
            ),
        );
        // Half the smallest subnormal: a tie between 0 and 2^-149.
        check_modes(
            K::FmulS,
            sb(1),
            s(0.5),
            0,
            each5([0, 0, 0, 1, 1].map(sb), UF | NX),
        );
        check_modes(
            K::FmulD,
            1 | 1 << 63,
            d(0.5),
            0,
            each5([0, 0, 1, 0, 1].map(|v| v | 1 << 63), UF | NX),
        );
        check_modes(K::FdivD, 1, d(3.0), 0, each5([0, 0, 0, 1, 0], UF | NX));

        // (1 - 2^-24) * 2^-126 = 2^-126 - 2^-150: with unbounded exponent that is
        // representable and below 2^-126, so tiny even when it rounds up to 2^-126.
        let min = sb(0x0080_0000);
        let below = sb(0x007f_ffff);
        check_modes(
            K::FmulS,
            sb(0x3f7f_ffff),
            min,
            0,
            each5([min, below, below, min, min], UF | NX),
        );
        // (1 - 2^-13) * (1 + 2^-13) * 2^-126 = 2^-126 - 2^-152: with unbounded exponent it
        // rounds to 2^-126 in RNE/RUP/RMM, so it is not tiny after rounding: NX alone.
        let expect = [
            r(min, NX),
            r(below, UF | NX),
            r(below, UF | NX),
            r(min, NX),
            r(min, NX),
        ];
        check_modes(K::FmulS, sb(0x3f7f_f800), sb(0x0080_0400), 0, expect);
        check_modes(K::FmaddS, sb(0x3f7f_f800), sb(0x0080_0400), s(0.0), expect);
        // The same for double: (1 - 2^-27) * (1 + 2^-27) * 2^-1022 = 2^-1022 - 2^-1076.
        let (min, below) = (0x0010_0000_0000_0000, 0x000f_ffff_ffff_ffff);
        let expect = [
            r(min, NX),
            r(below, UF | NX),
            r(below, UF | NX),
            r(min, NX),
            r(min, NX),
        ];
        check_modes(
            K::FmulD,
            0x3fef_ffff_fc00_0000,
            0x0010_0000_0200_0000,
            0,
            expect,
        );
        // ... and 2^-1022 - 2^-1075 is tiny after rounding: UF in every mode.
        let expect = [
            r(min, UF | NX),
            r(below, UF | NX),
            r(below, UF | NX),
            r(min, UF | NX),
            r(min, UF | NX),
        ];
        check_modes(K::FmulD, 0x3fef_ffff_ffff_ffff, min, 0, expect);
        // Conversion to single: 2^-126 - 2^-152 as a double.
        let v = d(2f64.powi(-126) - 2f64.powi(-152));
        let (min, below) = (sb(0x0080_0000), sb(0x007f_ffff));
        let expect = [
            r(min, NX),
            r(below, UF | NX),
            r(below, UF | NX),
            r(min, NX),
            r(min, NX),
        ];
        check_modes(K::FcvtSD, v, 0, 0, expect);
    }

    // ---- NaNs -----------------------------------------------------------------------

    #[test]
    fn canonical_nan_results() {
        // NaN operands never propagate their payload or sign.
        for rm in MODES {
            for kind in [K::FaddS, K::FsubS, K::FmulS, K::FdivS] {
                assert_eq!(
                    ex(kind, PAYLOAD_QNAN_S, s(1.0), 0, rm),
                    r(QNAN_S, 0),
                    "{kind:?}"
                );
                assert_eq!(
                    ex(kind, s(1.0), PAYLOAD_QNAN_S, 0, rm),
                    r(QNAN_S, 0),
                    "{kind:?}"
                );
            }
            for kind in [K::FaddD, K::FsubD, K::FmulD, K::FdivD] {
                assert_eq!(
                    ex(kind, PAYLOAD_QNAN_D, d(1.0), 0, rm),
                    r(QNAN_D, 0),
                    "{kind:?}"
                );
                assert_eq!(
                    ex(kind, d(1.0), PAYLOAD_QNAN_D, 0, rm),
                    r(QNAN_D, 0),
                    "{kind:?}"
                );
            }
            assert_eq!(ex(K::FsqrtS, PAYLOAD_QNAN_S, 0, 0, rm), r(QNAN_S, 0));
            assert_eq!(ex(K::FsqrtD, PAYLOAD_QNAN_D, 0, 0, rm), r(QNAN_D, 0));
            for kind in [K::FmaddS, K::FmsubS, K::FnmsubS, K::FnmaddS] {
                assert_eq!(ex(kind, s(1.0), s(2.0), PAYLOAD_QNAN_S, rm), r(QNAN_S, 0));
                assert_eq!(ex(kind, PAYLOAD_QNAN_S, s(2.0), s(3.0), rm), r(QNAN_S, 0));
            }
            for kind in [K::FmaddD, K::FmsubD, K::FnmsubD, K::FnmaddD] {
                assert_eq!(ex(kind, d(1.0), PAYLOAD_QNAN_D, d(3.0), rm), r(QNAN_D, 0));
            }
            assert_eq!(ex(K::FcvtSD, PAYLOAD_QNAN_D, 0, 0, rm), r(QNAN_S, 0));
            assert_eq!(ex(K::FcvtDS, PAYLOAD_QNAN_S, 0, 0, rm), r(QNAN_D, 0));
        }
    }

    #[test]
    fn signaling_nan_operands_raise_invalid() {
        for rm in MODES {
            for kind in [K::FaddS, K::FsubS, K::FmulS, K::FdivS] {
                assert_eq!(ex(kind, SNAN_S, s(1.0), 0, rm), r(QNAN_S, NV), "{kind:?}");
                assert_eq!(ex(kind, s(1.0), SNAN_S, 0, rm), r(QNAN_S, NV), "{kind:?}");
                assert_eq!(ex(kind, QNAN_S, SNAN_S, 0, rm), r(QNAN_S, NV), "{kind:?}");
            }
            for kind in [K::FaddD, K::FsubD, K::FmulD, K::FdivD] {
                assert_eq!(ex(kind, SNAN_D, d(1.0), 0, rm), r(QNAN_D, NV), "{kind:?}");
                assert_eq!(ex(kind, d(0.0), SNAN_D, 0, rm), r(QNAN_D, NV), "{kind:?}");
            }
            // softfp reports DZ here; the spec wants NV.
            assert_eq!(ex(K::FsqrtS, SNAN_S, 0, 0, rm), r(QNAN_S, NV));
            assert_eq!(ex(K::FsqrtD, SNAN_D, 0, 0, rm), r(QNAN_D, NV));
            for (a, b, c) in [
                (SNAN_S, s(1.0), s(1.0)),
                (s(1.0), SNAN_S, s(1.0)),
                (s(1.0), s(1.0), SNAN_S),
            ] {
                for kind in [K::FmaddS, K::FmsubS, K::FnmsubS, K::FnmaddS] {
                    assert_eq!(ex(kind, a, b, c, rm), r(QNAN_S, NV));
                }
            }
            assert_eq!(ex(K::FmaddD, INF_D, d(0.0), SNAN_D, rm), r(QNAN_D, NV));
            assert_eq!(ex(K::FmaddD, d(2.0), d(3.0), SNAN_D, rm), r(QNAN_D, NV));
            // Conversions.
            assert_eq!(ex(K::FcvtDS, SNAN_S, 0, 0, rm), r(QNAN_D, NV));
            assert_eq!(ex(K::FcvtDS, nan_box(0xff80_1234), 0, 0, rm), r(QNAN_D, NV));
            assert_eq!(ex(K::FcvtSD, SNAN_D, 0, 0, rm), r(QNAN_S, NV));
            assert_eq!(ex(K::FcvtWS, SNAN_S, 0, 0, rm), r(i32::MAX as u64, NV));
            assert_eq!(ex(K::FcvtLuD, SNAN_D, 0, 0, rm), r(u64::MAX, NV));
        }
    }

    #[test]
    fn min_max_follow_v2_2() {
        let (one, two) = (s(1.0), s(2.0));
        let cases_s = [
            // (a, b, min, max, flags)
            (one, two, one, two, 0),
            (two, one, one, two, 0),
            (s(-3.0), two, s(-3.0), two, 0),
            (s(-3.0), s(-4.0), s(-4.0), s(-3.0), 0),
            (s(-0.0), s(0.0), s(-0.0), s(0.0), 0),
            (s(0.0), s(-0.0), s(-0.0), s(0.0), 0),
            (s(-0.0), s(-0.0), s(-0.0), s(-0.0), 0),
            (
                sb(INF_S | 1 << 31),
                sb(INF_S),
                sb(INF_S | 1 << 31),
                sb(INF_S),
                0,
            ),
            // One NaN: the other operand.
            (PAYLOAD_QNAN_S, one, one, one, 0),
            (one, QNAN_S, one, one, 0),
            // Signaling: still the other operand, but NV.
            (SNAN_S, one, one, one, NV),
            (s(-0.0), SNAN_S, s(-0.0), s(-0.0), NV),
            // Two NaNs: canonical NaN.
            (PAYLOAD_QNAN_S, QNAN_S, QNAN_S, QNAN_S, 0),
            (SNAN_S, PAYLOAD_QNAN_S, QNAN_S, QNAN_S, NV),
            (SNAN_S, SNAN_S, QNAN_S, QNAN_S, NV),
            // Improperly boxed: the canonical quiet NaN, so the other operand, no flags.
            (0x3f80_0000, two, two, two, 0),
        ];
        for (a, b, min, max, flags) in cases_s {
            assert_eq!(
                ex(K::FminS, a, b, 0, RNE),
                r(min, flags),
                "fmin.s {a:#x} {b:#x}"
            );
            assert_eq!(
                ex(K::FmaxS, a, b, 0, RNE),
                r(max, flags),
                "fmax.s {a:#x} {b:#x}"
            );
        }
        let cases_d = [
            (d(1.0), d(2.0), d(1.0), d(2.0), 0),
            (d(-0.0), d(0.0), d(-0.0), d(0.0), 0),
            (d(0.0), d(-0.0), d(-0.0), d(0.0), 0),
            (d(-1e300), d(-1e-300), d(-1e300), d(-1e-300), 0),
            (PAYLOAD_QNAN_D, d(-5.0), d(-5.0), d(-5.0), 0),
            (d(7.0), SNAN_D, d(7.0), d(7.0), NV),
            (QNAN_D, PAYLOAD_QNAN_D, QNAN_D, QNAN_D, 0),
            (SNAN_D, SNAN_D, QNAN_D, QNAN_D, NV),
        ];
        for (a, b, min, max, flags) in cases_d {
            assert_eq!(
                ex(K::FminD, a, b, 0, RNE),
                r(min, flags),
                "fmin.d {a:#x} {b:#x}"
            );
            assert_eq!(
                ex(K::FmaxD, a, b, 0, RNE),
                r(max, flags),
                "fmax.d {a:#x} {b:#x}"
            );
        }
    }

    #[test]
    fn compares() {
        let t = |kind, a, b| ex(kind, a, b, 0, RNE);
        for (eq, lt, le, one, two, nz, pz, q, p, sn) in [
            (
                K::FeqS,
                K::FltS,
                K::FleS,
                s(1.0),
                s(2.0),
                s(-0.0),
                s(0.0),
                QNAN_S,
                PAYLOAD_QNAN_S,
                SNAN_S,
            ),
            (
                K::FeqD,
                K::FltD,
                K::FleD,
                d(1.0),
                d(2.0),
                d(-0.0),
                d(0.0),
                QNAN_D,
                PAYLOAD_QNAN_D,
                SNAN_D,
            ),
        ] {
            assert_eq!(t(eq, one, one), r(1, 0));
            assert_eq!(t(eq, one, two), r(0, 0));
            assert_eq!(t(lt, one, two), r(1, 0));
            assert_eq!(t(lt, two, one), r(0, 0));
            assert_eq!(t(lt, one, one), r(0, 0));
            assert_eq!(t(le, one, one), r(1, 0));
            assert_eq!(t(le, two, one), r(0, 0));
            // -0 == +0.
            assert_eq!(t(eq, nz, pz), r(1, 0));
            assert_eq!(t(lt, nz, pz), r(0, 0));
            assert_eq!(t(le, pz, nz), r(1, 0));
            // Quiet NaN: FEQ quiet, FLT/FLE signaling.
            for nan in [q, p] {
                assert_eq!(t(eq, nan, one), r(0, 0));
                assert_eq!(t(eq, nan, nan), r(0, 0));
                assert_eq!(t(lt, nan, one), r(0, NV));
                assert_eq!(t(le, one, nan), r(0, NV));
            }
            // Signaling NaN: NV for all three.
            assert_eq!(t(eq, sn, one), r(0, NV));
            assert_eq!(t(eq, one, sn), r(0, NV));
            assert_eq!(t(lt, sn, one), r(0, NV));
            assert_eq!(t(le, sn, sn), r(0, NV));
        }
        assert_eq!(t(K::FltS, s(-2.0), s(-1.0)), r(1, 0));
        assert_eq!(t(K::FleD, d(-1.0), d(-2.0)), r(0, 0));
        assert_eq!(t(K::FltD, INF_D | 1 << 63, d(-1e308)), r(1, 0));
        assert_eq!(t(K::FltS, sb(1 | 1 << 31), s(0.0)), r(1, 0));
        // Improperly boxed operands are NaN: FEQ quietly false.
        assert_eq!(t(K::FeqS, 0x3f80_0000, 0x3f80_0000), r(0, 0));
        assert_eq!(t(K::FleS, 0x3f80_0000, s(1.0)), r(0, NV));
    }

    #[test]
    fn classify_all_ten_classes() {
        let cases_s: [(u32, u64); 10] = [
            (0xff80_0000, 1 << 0),
            (0xbf80_0000, 1 << 1),
            (0x8000_0001, 1 << 2),
            (0x8000_0000, 1 << 3),
            (0x0000_0000, 1 << 4),
            (0x007f_ffff, 1 << 5),
            (0x0080_0000, 1 << 6),
            (0x7f80_0000, 1 << 7),
            (0x7fbf_ffff, 1 << 8),
            (0xffc0_0001, 1 << 9),
        ];
        for (bits, class) in cases_s {
            assert_eq!(
                ex(K::FclassS, sb(bits), 0, 0, RNE),
                r(class, 0),
                "{bits:#x}"
            );
        }
        assert_eq!(ex(K::FclassS, sb(MAX_S), 0, 0, RNE), r(1 << 6, 0));
        // Improperly boxed: the canonical (quiet) NaN.
        assert_eq!(ex(K::FclassS, 0x3f80_0000, 0, 0, RNE), r(1 << 9, 0));
        assert_eq!(
            ex(K::FclassS, 0x0000_0001_ff80_0000, 0, 0, RNE),
            r(1 << 9, 0)
        );
        let cases_d: [(u64, u64); 10] = [
            (0xfff0_0000_0000_0000, 1 << 0),
            (0x8010_0000_0000_0000, 1 << 1),
            (0x800f_ffff_ffff_ffff, 1 << 2),
            (0x8000_0000_0000_0000, 1 << 3),
            (0x0000_0000_0000_0000, 1 << 4),
            (0x0000_0000_0000_0001, 1 << 5),
            (0x7fef_ffff_ffff_ffff, 1 << 6),
            (0x7ff0_0000_0000_0000, 1 << 7),
            (0xfff0_0000_0000_0001, 1 << 8),
            (0x7ff8_0000_0000_0000, 1 << 9),
        ];
        for (bits, class) in cases_d {
            assert_eq!(ex(K::FclassD, bits, 0, 0, RNE), r(class, 0), "{bits:#x}");
        }
    }

    #[test]
    fn nan_boxing_of_inputs() {
        // Upper half not all ones: the operand is the canonical quiet NaN (no NV).
        for bad in [
            0x3f80_0000,
            0x7fff_ffff_3f80_0000,
            0xffff_fffe_3f80_0000,
            0xffff_ffff,
        ] {
            assert_eq!(ex(K::FaddS, bad, s(1.0), 0, RNE), r(QNAN_S, 0));
            assert_eq!(ex(K::FaddS, bad, s(1.0), 0, Rm::Up), r(QNAN_S, 0));
            assert_eq!(ex(K::FmulS, s(1.0), bad, 0, RNE), r(QNAN_S, 0));
            assert_eq!(ex(K::FsqrtS, bad, 0, 0, RNE), r(QNAN_S, 0));
            assert_eq!(ex(K::FmaddS, s(1.0), s(1.0), bad, RNE), r(QNAN_S, 0));
            assert_eq!(ex(K::FcvtWS, bad, 0, 0, RNE), r(i32::MAX as u64, NV));
            assert_eq!(ex(K::FcvtDS, bad, 0, 0, RNE), r(QNAN_D, 0));
            // FSGNJ: the canonical NaN's bits with rs2's sign.
            assert_eq!(
                ex(K::FsgnjS, bad, s(-1.0), 0, RNE),
                r(nan_box(0xffc0_0000), 0)
            );
            assert_eq!(ex(K::FsgnjS, s(-1.0), bad, 0, RNE), r(s(1.0), 0));
            assert_eq!(ex(K::FsgnjnS, s(2.0), bad, 0, RNE), r(s(-2.0), 0));
        }
        // Properly boxed values with arbitrary bits are used as they are.
        assert_eq!(ex(K::FaddS, s(1.5), s(2.25), 0, RNE), r(s(3.75), 0));
        // Single results are boxed, double ones are not.
        assert_eq!(ex(K::FcvtSD, d(1.0), 0, 0, RNE).value >> 32, 0xffff_ffff);
        assert_eq!(ex(K::FcvtDS, s(1.0), 0, 0, RNE).value, d(1.0));
    }

    #[test]
    fn sign_injection() {
        for rm in MODES {
            assert_eq!(ex(K::FsgnjS, s(1.5), s(-0.0), 0, rm), r(s(-1.5), 0));
            assert_eq!(ex(K::FsgnjS, s(-1.5), s(2.0), 0, rm), r(s(1.5), 0));
            assert_eq!(ex(K::FsgnjnS, s(1.5), s(1.5), 0, rm), r(s(-1.5), 0));
            assert_eq!(ex(K::FsgnjnS, s(-1.5), s(-3.0), 0, rm), r(s(1.5), 0));
            assert_eq!(ex(K::FsgnjxS, s(-1.5), s(-1.5), 0, rm), r(s(1.5), 0));
            assert_eq!(ex(K::FsgnjxS, s(-1.5), s(2.0), 0, rm), r(s(-1.5), 0));
            // NaN payloads survive, signaling NaNs raise nothing.
            assert_eq!(
                ex(K::FsgnjnS, SNAN_S, SNAN_S, 0, rm),
                r(nan_box(0xff80_0001), 0)
            );
            assert_eq!(
                ex(K::FsgnjxS, PAYLOAD_QNAN_S, s(-1.0), 0, rm),
                r(nan_box(0x7fc1_2345), 0)
            );
            assert_eq!(ex(K::FsgnjD, d(3.0), d(-1.0), 0, rm), r(d(-3.0), 0));
            assert_eq!(ex(K::FsgnjnD, d(3.0), d(-1.0), 0, rm), r(d(3.0), 0));
            assert_eq!(ex(K::FsgnjxD, d(-3.0), d(-1.0), 0, rm), r(d(3.0), 0));
            assert_eq!(
                ex(K::FsgnjD, SNAN_D, d(-1.0), 0, rm),
                r(SNAN_D | 1 << 63, 0)
            );
            assert_eq!(
                ex(K::FsgnjxD, PAYLOAD_QNAN_D, d(-1.0), 0, rm),
                r(PAYLOAD_QNAN_D & !(1 << 63), 0)
            );
        }
    }

    #[test]
    fn moves() {
        // FMV.X.W sign-extends bit 31 and moves the low half unchanged, boxed or not.
        assert_eq!(
            ex(K::FmvXW, s(-1.0), 0, 0, RNE),
            r(0xffff_ffff_bf80_0000, 0)
        );
        assert_eq!(ex(K::FmvXW, s(1.0), 0, 0, RNE), r(0x3f80_0000, 0));
        assert_eq!(
            ex(K::FmvXW, 0x0000_0000_ffc0_0001, 0, 0, RNE),
            r(0xffff_ffff_ffc0_0001, 0)
        );
        assert_eq!(
            ex(K::FmvXW, 0x1234_5678_7f80_0001, 0, 0, RNE),
            r(0x7f80_0001, 0)
        );
        // FMV.W.X boxes the low 32 bits, keeping NaN payloads.
        assert_eq!(
            ex(K::FmvWX, 0xdead_beef_7f80_0001, 0, 0, RNE),
            r(nan_box(0x7f80_0001), 0)
        );
        assert_eq!(
            ex(K::FmvWX, 0xffff_ffff_bf80_0000, 0, 0, RNE),
            r(s(-1.0), 0)
        );
        // The D moves are raw.
        assert_eq!(ex(K::FmvXD, SNAN_D, 0, 0, RNE), r(SNAN_D, 0));
        assert_eq!(
            ex(K::FmvDX, 0x0123_4567_89ab_cdef, 0, 0, RNE),
            r(0x0123_4567_89ab_cdef, 0)
        );
    }

    #[test]
    fn fcvt_saturation() {
        const W_MAX: u64 = i32::MAX as u64;
        const W_MIN: u64 = i32::MIN as i64 as u64;
        const WU_MAX: u64 = u64::MAX; // 2^32 - 1, sign-extended
        const L_MAX: u64 = i64::MAX as u64;
        const L_MIN: u64 = i64::MIN as u64;
        let ninf_s = sb(INF_S | 1 << 31);
        let ninf_d = INF_D | 1 << 63;
        for rm in MODES {
            for (a, w, wu, l, lu) in [
                // NaN: the largest positive value.
                (QNAN_S, W_MAX, WU_MAX, L_MAX, u64::MAX),
                (PAYLOAD_QNAN_S, W_MAX, WU_MAX, L_MAX, u64::MAX),
                (SNAN_S, W_MAX, WU_MAX, L_MAX, u64::MAX),
                (nan_box(0xff80_0001), W_MAX, WU_MAX, L_MAX, u64::MAX),
                // Infinities.
                (sb(INF_S), W_MAX, WU_MAX, L_MAX, u64::MAX),
                (ninf_s, W_MIN, 0, L_MIN, 0),
                // Out of range: 2^32, 2^33 (softfp wraps these), 2^64, 2^65, 2^100, MAX.
                (s(4294967296.0), W_MAX, WU_MAX, 4294967296, 4294967296),
                (s(8589934592.0), W_MAX, WU_MAX, 8589934592, 8589934592),
                (s(-8589934592.0), W_MIN, 0, (-8589934592i64) as u64, 0),
                (s(18446744073709551616.0), W_MAX, WU_MAX, L_MAX, u64::MAX),
                (s(36893488147419103232.0), W_MAX, WU_MAX, L_MAX, u64::MAX),
                (s(-36893488147419103232.0), W_MIN, 0, L_MIN, 0),
                (s(1e30), W_MAX, WU_MAX, L_MAX, u64::MAX),
                (sb(MAX_S | 1 << 31), W_MIN, 0, L_MIN, 0),
                (s(9223372036854775808.0), W_MAX, WU_MAX, L_MAX, 1 << 63),
                (s(-9223372036854775808.0), W_MIN, 0, L_MIN, 0),
                (s(-2147483648.0), W_MIN, 0, W_MIN, 0),
                (
                    s(2147483648.0),
                    W_MAX,
                    0xffff_ffff_8000_0000,
                    1 << 31,
                    1 << 31,
                ),
                (s(-1.0), (-1i64) as u64, 0, (-1i64) as u64, 0),
            ] {
                let want_nv = |kind: OpKind, v: u64| {
                    // Expected flag: exact conversions raise nothing, everything else NV.
                    let exact = match (kind, a) {
                        (K::FcvtLS, x) if x == s(4294967296.0) => true,
                        (K::FcvtLuS, x) if x == s(4294967296.0) => true,
                        (K::FcvtLS, x) if x == s(8589934592.0) || x == s(-8589934592.0) => true,
                        (K::FcvtLuS, x) if x == s(8589934592.0) => true,
                        (K::FcvtLuS, x) if x == s(9223372036854775808.0) => true,
                        (K::FcvtWS | K::FcvtLS, x) if x == s(-2147483648.0) => true,
                        (K::FcvtWuS | K::FcvtLS | K::FcvtLuS, x) if x == s(2147483648.0) => true,
                        (K::FcvtLS, x) if x == s(-9223372036854775808.0) => true,
                        (K::FcvtWS | K::FcvtLS, x) if x == s(-1.0) => true,
                        _ => false,
                    };
                    r(v, if exact { 0 } else { NV })
                };
                assert_eq!(
                    ex(K::FcvtWS, a, 0, 0, rm),
                    want_nv(K::FcvtWS, w),
                    "w.s {a:#x} {rm:?}"
                );
                assert_eq!(
                    ex(K::FcvtWuS, a, 0, 0, rm),
                    want_nv(K::FcvtWuS, wu),
                    "wu.s {a:#x} {rm:?}"
                );
                assert_eq!(
                    ex(K::FcvtLS, a, 0, 0, rm),
                    want_nv(K::FcvtLS, l),
                    "l.s {a:#x} {rm:?}"
                );
                assert_eq!(
                    ex(K::FcvtLuS, a, 0, 0, rm),
                    want_nv(K::FcvtLuS, lu),
                    "lu.s {a:#x} {rm:?}"
                );
            }
            for (a, w, wu, l, lu) in [
                (QNAN_D, W_MAX, WU_MAX, L_MAX, u64::MAX),
                (PAYLOAD_QNAN_D, W_MAX, WU_MAX, L_MAX, u64::MAX),
                (SNAN_D | 1 << 63, W_MAX, WU_MAX, L_MAX, u64::MAX),
                (INF_D, W_MAX, WU_MAX, L_MAX, u64::MAX),
                (ninf_d, W_MIN, 0, L_MIN, 0),
                (d(1e300), W_MAX, WU_MAX, L_MAX, u64::MAX),
                (d(-1e300), W_MIN, 0, L_MIN, 0),
                (d(18446744073709551616.0), W_MAX, WU_MAX, L_MAX, u64::MAX),
                (d(-9223372036854777856.0), W_MIN, 0, L_MIN, 0),
                (d(4294967296.0), W_MAX, WU_MAX, 1 << 32, 1 << 32),
                (d(-2147483649.0), W_MIN, 0, (-2147483649i64) as u64, 0),
                (d(-3.0), (-3i64) as u64, 0, (-3i64) as u64, 0),
            ] {
                let exact = |kind: OpKind| match kind {
                    K::FcvtLD => [d(4294967296.0), d(-2147483649.0), d(-3.0)].contains(&a),
                    K::FcvtLuD => a == d(4294967296.0),
                    K::FcvtWD => a == d(-3.0),
                    _ => false,
                };
                for (kind, v) in [
                    (K::FcvtWD, w),
                    (K::FcvtWuD, wu),
                    (K::FcvtLD, l),
                    (K::FcvtLuD, lu),
                ] {
                    let want = r(v, if exact(kind) { 0 } else { NV });
                    assert_eq!(ex(kind, a, 0, 0, rm), want, "{kind:?} {a:#x} {rm:?}");
                }
            }
        }
        // Values that only go out of range after rounding.
        let below_2_31 = d(2147483647.5);
        check_modes(
            K::FcvtWD,
            below_2_31,
            0,
            0,
            [
                r(W_MAX, NV),
                r(W_MAX, NX),
                r(W_MAX, NX),
                r(W_MAX, NV),
                r(W_MAX, NV),
            ],
        );
        let below_min = d(-2147483648.5);
        check_modes(
            K::FcvtWD,
            below_min,
            0,
            0,
            [
                r(W_MIN, NX),
                r(W_MIN, NX),
                r(W_MIN, NV),
                r(W_MIN, NX),
                r(W_MIN, NV),
            ],
        );
        let below_2_32 = d(4294967295.5);
        check_modes(
            K::FcvtWuD,
            below_2_32,
            0,
            0,
            [
                r(WU_MAX, NV),
                r(WU_MAX, NX),
                r(WU_MAX, NX),
                r(WU_MAX, NV),
                r(WU_MAX, NV),
            ],
        );
        // Unsigned conversion of negative values: 0 with NV once the rounded value is
        // negative; 0 with NX only while it rounds to zero.
        check_modes(
            K::FcvtWuS,
            s(-0.5),
            0,
            0,
            [r(0, NX), r(0, NX), r(0, NV), r(0, NX), r(0, NV)],
        );
        check_modes(
            K::FcvtWuS,
            s(-0.7),
            0,
            0,
            [r(0, NV), r(0, NX), r(0, NV), r(0, NX), r(0, NV)],
        );
        check_modes(
            K::FcvtLuD,
            d(-0.25),
            0,
            0,
            [r(0, NX), r(0, NX), r(0, NV), r(0, NX), r(0, NX)],
        );
        check_modes(K::FcvtWuD, d(-1.0), 0, 0, each5([0; 5], NV));
        check_modes(K::FcvtLuS, s(-1e10), 0, 0, each5([0; 5], NV));
        // FCVT.WU results are sign-extended from bit 31.
        check_modes(
            K::FcvtWuS,
            s(3e9),
            0,
            0,
            each5([0xffff_ffff_b2d0_5e00; 5], 0),
        );
        check_modes(K::FcvtWuD, d(4294967295.0), 0, 0, each5([u64::MAX; 5], 0));
        check_modes(
            K::FcvtWuD,
            d(2147483647.0),
            0,
            0,
            each5([0x7fff_ffff; 5], 0),
        );
        // FCVT.W results too.
        check_modes(K::FcvtWS, s(-1.0), 0, 0, each5([u64::MAX; 5], 0));
    }

    #[test]
    fn signed_zero_results() {
        // x - x is +0, except -0 when rounding down.
        let z = [d(0.0), d(0.0), d(-0.0), d(0.0), d(0.0)];
        check_modes(K::FsubD, d(1.5), d(1.5), 0, each5(z, 0));
        check_modes(K::FaddD, d(0.0), d(-0.0), 0, each5(z, 0));
        check_modes(K::FaddD, d(-0.0), d(-0.0), 0, each5([d(-0.0); 5], 0));
        check_modes(K::FaddS, s(-0.0), s(-0.0), 0, each5([s(-0.0); 5], 0));
        check_modes(K::FsubS, s(-0.0), s(0.0), 0, each5([s(-0.0); 5], 0));
        let zs = [s(0.0), s(0.0), s(-0.0), s(0.0), s(0.0)];
        check_modes(K::FaddS, s(-2.5), s(2.5), 0, each5(zs, 0));
        check_modes(K::FmulS, s(-0.0), s(3.0), 0, each5([s(-0.0); 5], 0));
        check_modes(K::FdivD, d(-0.0), d(-3.0), 0, each5([d(0.0); 5], 0));
        // Fused multiply-add with an exact zero product: a zero sum keeps the common
        // sign (softfp gets this wrong) and cancels to +0 (-0 rounding down) otherwise.
        check_modes(K::FmaddS, s(0.0), s(-1.0), s(-0.0), each5([s(-0.0); 5], 0));
        check_modes(K::FmaddD, d(-0.0), d(-1.0), d(0.0), each5([d(0.0); 5], 0));
        check_modes(K::FmaddD, d(0.0), d(1.0), d(-0.0), each5(z, 0));
        check_modes(K::FmaddS, s(-0.0), s(1.0), s(0.0), each5(zs, 0));
        check_modes(K::FnmaddS, s(0.0), s(1.0), s(0.0), each5([s(-0.0); 5], 0));
        check_modes(K::FnmaddD, d(0.0), d(-1.0), d(0.0), each5(z, 0));
        check_modes(K::FmsubD, d(0.0), d(1.0), d(0.0), each5(z, 0));
        check_modes(K::FmsubD, d(-0.0), d(1.0), d(0.0), each5([d(-0.0); 5], 0));
        check_modes(K::FnmsubS, s(0.0), s(1.0), s(0.0), each5(zs, 0));
        check_modes(K::FnmsubS, s(0.0), s(1.0), s(-0.0), each5([s(-0.0); 5], 0));
        // Nonzero product that cancels exactly.
        check_modes(K::FmaddD, d(2.0), d(3.0), d(-6.0), each5(z, 0));
        // A zero product plus a nonzero addend is the addend.
        check_modes(K::FmaddD, d(0.0), d(5.0), d(-7.0), each5([d(-7.0); 5], 0));
    }

    // ---- Cross-checks against the host FPU -------------------------------------------

    /// xorshift64*: deterministic operands.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        /// A double biased towards interesting values: specials, extremes, small
        /// integers, and random bits with exponents in `[lo, hi]`.
        fn f64_in(&mut self, lo: i32, hi: i32) -> f64 {
            let r = self.next();
            let sign = (r >> 63) << 63;
            let exp = (lo + (r % (hi - lo + 1) as u64) as i32 + 1023) as u64;
            let frac = self.next() & ((1 << 52) - 1);
            let frac = match r >> 8 & 3 {
                0 => frac & !((1 << 40) - 1), // few significant bits: exact results
                _ => frac,
            };
            f64::from_bits(sign | exp << 52 | frac)
        }

        fn any_f64(&mut self) -> f64 {
            match self.next() % 8 {
                0 => [
                    0.0,
                    -0.0,
                    f64::INFINITY,
                    -f64::INFINITY,
                    f64::NAN,
                    1.0,
                    -1.0,
                    f64::MAX,
                    f64::MIN_POSITIVE,
                    5e-324,
                ][(self.next() % 10) as usize],
                1 => f64::from_bits(self.next()),
                2 => f64::from_bits(self.next() & 0x800f_ffff_ffff_ffff), // subnormal
                3 => self.f64_in(-1022, -950),
                4 => self.f64_in(950, 1023),
                5 => (self.next() as i64 >> (self.next() % 64)) as f64,
                _ => self.f64_in(-60, 60),
            }
        }

        fn f32_in(&mut self, lo: i32, hi: i32) -> f32 {
            let r = self.next();
            let sign = ((r >> 63) as u32) << 31;
            let exp = (lo + (r % (hi - lo + 1) as u64) as i32 + 127) as u32;
            let frac = self.next() as u32 & ((1 << 23) - 1);
            let frac = if r >> 8 & 3 == 0 {
                frac & !((1 << 12) - 1)
            } else {
                frac
            };
            f32::from_bits(sign | exp << 23 | frac)
        }

        fn any_f32(&mut self) -> f32 {
            match self.next() % 8 {
                0 => [
                    0.0,
                    -0.0,
                    f32::INFINITY,
                    -f32::INFINITY,
                    f32::NAN,
                    1.0,
                    -1.0,
                    f32::MAX,
                    f32::MIN_POSITIVE,
                    1e-45,
                ][(self.next() % 10) as usize],
                1 => f32::from_bits(self.next() as u32),
                2 => f32::from_bits(self.next() as u32 & 0x807f_ffff),
                3 => self.f32_in(-126, -100),
                4 => self.f32_in(100, 127),
                5 => (self.next() as i32 >> (self.next() % 32)) as f32,
                _ => self.f32_in(-30, 30),
            }
        }
    }

    /// The host's round-to-nearest-even value, canonicalized like RISC-V.
    fn host_d(v: f64) -> u64 {
        if v.is_nan() { QNAN_D } else { v.to_bits() }
    }

    fn host_s(v: f32) -> u64 {
        if v.is_nan() { QNAN_S } else { s(v) }
    }

    /// Round-to-nearest-even results (the fast path and softfp alike) equal the host's,
    /// for every arithmetic operation and conversion.
    #[test]
    fn rne_values_match_host() {
        let mut rng = Rng(0x1234_5678_9abc_def1);
        for _ in 0..30_000 {
            let (x, y, z) = (rng.any_f64(), rng.any_f64(), rng.any_f64());
            let v = |kind| ex(kind, d(x), d(y), d(z), RNE).value;
            assert_eq!(v(K::FaddD), host_d(x + y), "{x:e} + {y:e}");
            assert_eq!(v(K::FsubD), host_d(x - y), "{x:e} - {y:e}");
            assert_eq!(v(K::FmulD), host_d(x * y), "{x:e} * {y:e}");
            assert_eq!(v(K::FdivD), host_d(x / y), "{x:e} / {y:e}");
            assert_eq!(v(K::FsqrtD), host_d(x.sqrt()), "sqrt {x:e}");
            assert_eq!(
                v(K::FmaddD),
                host_d(x.mul_add(y, z)),
                "{x:e} * {y:e} + {z:e}"
            );
            assert_eq!(
                v(K::FmsubD),
                host_d(x.mul_add(y, -z)),
                "{x:e} * {y:e} - {z:e}"
            );
            assert_eq!(
                v(K::FnmsubD),
                host_d((-x).mul_add(y, z)),
                "-{x:e} * {y:e} + {z:e}"
            );
            assert_eq!(
                v(K::FnmaddD),
                host_d((-x).mul_add(y, -z)),
                "-{x:e} * {y:e} - {z:e}"
            );
            assert_eq!(v(K::FcvtSD), host_s(x as f32), "{x:e} as f32");
            if !x.is_nan() {
                assert_eq!(
                    ex(K::FcvtLD, d(x), 0, 0, Rm::TowardZero).value,
                    x as i64 as u64,
                    "{x:e}"
                );
                assert_eq!(
                    ex(K::FcvtLuD, d(x), 0, 0, Rm::TowardZero).value,
                    x as u64,
                    "{x:e}"
                );
                assert_eq!(
                    ex(K::FcvtWD, d(x), 0, 0, Rm::TowardZero).value,
                    x as i32 as i64 as u64
                );
                assert_eq!(
                    ex(K::FcvtLD, d(x), 0, 0, RNE).value,
                    x.round_ties_even() as i64 as u64
                );
                assert_eq!(
                    ex(K::FcvtLD, d(x), 0, 0, Rm::Down).value,
                    x.floor() as i64 as u64
                );
                assert_eq!(
                    ex(K::FcvtLD, d(x), 0, 0, Rm::Up).value,
                    x.ceil() as i64 as u64
                );
                assert_eq!(
                    ex(K::FcvtLD, d(x), 0, 0, Rm::NearestMaxMagnitude).value,
                    x.round() as i64 as u64
                );
            }
            let i = rng.next() >> (rng.next() % 64);
            assert_eq!(ex(K::FcvtDL, i, 0, 0, RNE).value, d(i as i64 as f64));
            assert_eq!(ex(K::FcvtDLu, i, 0, 0, RNE).value, d(i as f64));
            assert_eq!(ex(K::FcvtSL, i, 0, 0, RNE).value, s(i as i64 as f32));
            assert_eq!(ex(K::FcvtSLu, i, 0, 0, RNE).value, s(i as f32));
            assert_eq!(ex(K::FcvtSW, i, 0, 0, RNE).value, s(i as i32 as f32));
            assert_eq!(ex(K::FcvtSWu, i, 0, 0, RNE).value, s(i as u32 as f32));

            let (x, y, z) = (rng.any_f32(), rng.any_f32(), rng.any_f32());
            let v = |kind| ex(kind, s(x), s(y), s(z), RNE).value;
            assert_eq!(v(K::FaddS), host_s(x + y), "{x:e} + {y:e}");
            assert_eq!(v(K::FsubS), host_s(x - y), "{x:e} - {y:e}");
            assert_eq!(v(K::FmulS), host_s(x * y), "{x:e} * {y:e}");
            assert_eq!(v(K::FdivS), host_s(x / y), "{x:e} / {y:e}");
            assert_eq!(v(K::FsqrtS), host_s(x.sqrt()), "sqrt {x:e}");
            assert_eq!(
                v(K::FmaddS),
                host_s(x.mul_add(y, z)),
                "{x:e} * {y:e} + {z:e}"
            );
            assert_eq!(
                v(K::FnmaddS),
                host_s((-x).mul_add(y, -z)),
                "-{x:e} * {y:e} - {z:e}"
            );
            assert_eq!(v(K::FcvtDS), host_d(f64::from(x)), "{x:e} as f64");
            if !x.is_nan() {
                assert_eq!(
                    ex(K::FcvtWS, s(x), 0, 0, Rm::TowardZero).value,
                    x as i32 as i64 as u64
                );
                assert_eq!(
                    ex(K::FcvtWuS, s(x), 0, 0, Rm::TowardZero).value,
                    x as u32 as i32 as i64 as u64
                );
                assert_eq!(ex(K::FcvtLuS, s(x), 0, 0, Rm::TowardZero).value, x as u64);
                assert_eq!(
                    ex(K::FcvtWS, s(x), 0, 0, Rm::NearestMaxMagnitude).value,
                    x.round() as i32 as i64 as u64
                );
            }
        }
    }

    /// The same operation through `softfp` only, for comparison with the fast path.
    fn slow(kind: OpKind, a: u64, b: u64) -> FpResult {
        let (sa, sb_) = (F32::new(unbox(a)), F32::new(unbox(b)));
        let (da, db) = (F64::new(a), F64::new(b));
        env::run(RNE, || match kind {
            K::FaddS => nan_box((sa + sb_).0),
            K::FsubS => nan_box((sa - sb_).0),
            K::FmulS => nan_box((sa * sb_).0),
            K::FdivS => nan_box((sa / sb_).0),
            K::FsqrtS => nan_box(sqrt(sa).0),
            K::FaddD => (da + db).0,
            K::FsubD => (da - db).0,
            K::FmulD => (da * db).0,
            K::FdivD => (da / db).0,
            K::FsqrtD => sqrt(da).0,
            _ => unreachable!(),
        })
    }

    /// The fast path agrees with softfp on value and flags, and takes the bulk of
    /// ordinary operands.
    #[test]
    fn fast_path_matches_softfp() {
        let mut rng = Rng(0xfeed_face_cafe_beef);
        let mut taken = 0;
        let n = 40_000;
        for _ in 0..n {
            let (x, y) = (d(rng.any_f64()), d(rng.any_f64()));
            let (xs, ys) = (s(rng.any_f32()), s(rng.any_f32()));
            let cases = [
                (K::FaddD, x, y, fast::add_d(x, y, true)),
                (K::FsubD, x, y, fast::add_d(x, y ^ 1 << 63, true)),
                (K::FmulD, x, y, fast::mul_d(x, y, true)),
                (K::FdivD, x, y, fast::div_d(x, y, true)),
                (K::FsqrtD, x, 0, fast::sqrt_d(x, true)),
                (K::FaddS, xs, ys, fast::add_s(unbox(xs), unbox(ys), true)),
                (
                    K::FsubS,
                    xs,
                    ys,
                    fast::add_s(unbox(xs), unbox(ys) ^ 1 << 31, true),
                ),
                (K::FmulS, xs, ys, fast::mul_s(unbox(xs), unbox(ys), true)),
                (K::FdivS, xs, ys, fast::div_s(unbox(xs), unbox(ys), true)),
                (K::FsqrtS, xs, 0, fast::sqrt_s(unbox(xs), true)),
            ];
            for (kind, a, b, fast) in cases {
                let slow = slow(kind, a, b);
                assert_eq!(ex(kind, a, b, 0, RNE), slow, "{kind:?} {a:#x} {b:#x}");
                if let Some(fast) = fast {
                    taken += 1;
                    assert_eq!(fast, slow, "{kind:?} {a:#x} {b:#x}");
                }
            }
        }
        // Never under another mode.
        assert!(fast::add_d(d(1.0), d(2.0), false).is_none());
        assert!(fast::sqrt_s(unbox(s(2.0)), false).is_none());
        assert!(taken > n * 10 / 4, "fast path taken only {taken} times");
    }

    fn step_up(bits: u64, f: Fmt) -> u64 {
        // Next representable value toward +inf, for finite nonzero values.
        if f.sign(bits) { bits - 1 } else { bits + 1 }
    }

    fn step_down(bits: u64, f: Fmt) -> u64 {
        if f.sign(bits) { bits + 1 } else { bits - 1 }
    }

    /// From the host's RNE result `n` (raw bits, finite, nonzero, not near overflow or
    /// underflow), the sign of `exact - n`, and whether `exact` lies exactly halfway,
    /// the expected result under each mode.
    fn directed(f: Fmt, n: u64, err: Ordering, tie: bool) -> [u64; 5] {
        let neg = f.sign(n);
        let (down, up) = match err {
            Ordering::Less => (step_down(n, f), n),
            Ordering::Greater => (n, step_up(n, f)),
            Ordering::Equal => return [n; 5],
        };
        let (toward_zero, away) = if neg { (up, down) } else { (down, up) };
        let rmm = if tie { away } else { n };
        [n, toward_zero, down, up, rmm]
    }

    /// Directed rounding and ties-to-away, checked against the host's RNE result and
    /// an exactly computed error term, for add, multiply, divide and square root.
    #[test]
    fn directed_rounding_matches_error_terms() {
        let mut rng = Rng(0x0dd_ba11_5eed);
        let sgn = |v: f64| v.partial_cmp(&0.0).unwrap();
        for _ in 0..20_000 {
            // Double: operands in [2^-400, 2^400], far from overflow and underflow.
            let (x, y) = (rng.f64_in(-400, 400), rng.f64_in(-400, 400));
            let y_near = f64::from_bits(x.to_bits() ^ (rng.next() & 0xff) ^ (rng.next() & 1) << 63);
            for y in [y, y_near, rng.f64_in(-60, 0) * x] {
                let n = x + y;
                if n == 0.0 {
                    continue;
                }
                let yy = n - x;
                let err = (x - (n - yy)) + (y - yy);
                let other = f64::from_bits(if err > 0.0 {
                    step_up(n.to_bits(), D)
                } else {
                    step_down(n.to_bits(), D)
                });
                let tie = err != 0.0 && other - n == 2.0 * err;
                let want = directed(D, n.to_bits(), sgn(err), tie);
                let fl = if err != 0.0 { NX } else { 0 };
                check_modes(K::FaddD, d(x), d(y), 0, each5(want, fl));
            }
            let n = x * y;
            let err = x.mul_add(y, -n);
            let other = f64::from_bits(if err > 0.0 {
                step_up(n.to_bits(), D)
            } else {
                step_down(n.to_bits(), D)
            });
            let tie = err != 0.0 && other - n == 2.0 * err;
            check_modes(
                K::FmulD,
                d(x),
                d(y),
                0,
                each5(
                    directed(D, n.to_bits(), sgn(err), tie),
                    if err != 0.0 { NX } else { 0 },
                ),
            );
            let q = x / y;
            let rem = (-q).mul_add(y, x); // exact - q = rem / y
            let e = sgn(rem) as i8 * sgn(y) as i8;
            check_modes(
                K::FdivD,
                d(x),
                d(y),
                0,
                each5(
                    directed(D, q.to_bits(), e.cmp(&0), false),
                    if rem != 0.0 { NX } else { 0 },
                ),
            );
            let ax = x.abs();
            let root = ax.sqrt();
            let rem = (-root).mul_add(root, ax);
            check_modes(
                K::FsqrtD,
                d(ax),
                0,
                0,
                each5(
                    directed(D, root.to_bits(), sgn(rem), false),
                    if rem != 0.0 { NX } else { 0 },
                ),
            );

            // Single: operands in [2^-50, 2^50].
            let (x, y) = (rng.f32_in(-50, 50), rng.f32_in(-50, 50));
            let n = x + y;
            if n != 0.0 {
                let yy = n - x;
                let err = (x - (n - yy)) + (y - yy);
                let other = f32::from_bits(if err > 0.0 {
                    step_up(n.to_bits().into(), S)
                } else {
                    step_down(n.to_bits().into(), S)
                } as u32);
                let tie = err != 0.0 && other - n == 2.0 * err;
                let want = directed(S, n.to_bits().into(), sgn(err.into()), tie)
                    .map(|v| nan_box(v as u32));
                check_modes(
                    K::FaddS,
                    s(x),
                    s(y),
                    0,
                    each5(want, if err != 0.0 { NX } else { 0 }),
                );
            }
            let exact = f64::from(x) * f64::from(y);
            let n = exact as f32;
            let err = exact - f64::from(n);
            let other = f32::from_bits(if err > 0.0 {
                step_up(n.to_bits().into(), S)
            } else {
                step_down(n.to_bits().into(), S)
            } as u32);
            let tie = err != 0.0 && f64::from(other) - f64::from(n) == 2.0 * err;
            let want = directed(S, n.to_bits().into(), sgn(err), tie).map(|v| nan_box(v as u32));
            check_modes(
                K::FmulS,
                s(x),
                s(y),
                0,
                each5(want, if err != 0.0 { NX } else { 0 }),
            );
            let q = (f64::from(x) / f64::from(y)) as f32;
            let rem = f64::from(x) - f64::from(q) * f64::from(y);
            let e = sgn(rem) as i8 * sgn(y.into()) as i8;
            let want = directed(S, q.to_bits().into(), e.cmp(&0), false).map(|v| nan_box(v as u32));
            check_modes(
                K::FdivS,
                s(x),
                s(y),
                0,
                each5(want, if rem != 0.0 { NX } else { 0 }),
            );
        }
    }

    /// Rounding mode and flags are per thread: concurrent harts do not disturb each
    /// other.
    #[test]
    fn threads_compute_independently() {
        let handles: Vec<_> = MODES
            .into_iter()
            .map(|rm| {
                std::thread::spawn(move || {
                    let want = ex(K::FdivS, s(-1.0), s(3.0), 0, rm);
                    for i in 0..20_000 {
                        assert_eq!(ex(K::FdivS, s(-1.0), s(3.0), 0, rm), want);
                        if i % 2 == 0 {
                            assert_eq!(ex(K::FdivD, d(1.0), d(0.0), 0, rm), r(INF_D, DZ));
                        } else {
                            assert_eq!(ex(K::FaddD, d(1.0), d(2.0), 0, rm), r(d(3.0), 0));
                        }
                    }
                    want
                })
            })
            .collect();
        let got: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let (lo, hi) = (sb(0xbeaa_aaaa), sb(0xbeaa_aaab));
        assert_eq!(got, each5([hi, lo, hi, lo, hi], NX));
    }
}
