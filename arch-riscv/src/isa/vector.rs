//! The V 1.0 decode table: one line per encoding, as the vector spec's opcode tables
//! (chapter "Vector Instruction Listing") give them.
//!
//! A vector instruction decodes to [`OpKind::Vector`] with the operation, a
//! [`VOp`], in `Op::rs3`, the raw instruction word in `Op::imm` (the vector unit
//! reads vm, nf, width and the register fields from it) and `rd`/`rs1`/`rs2` set as
//! in the word. Arithmetic lines name the operation once per operand form
//! (`vadd.vv`, `vadd.vx`, `vadd.vi`): the form is funct3, read when the op runs.
//! What depends on vtype (register-group alignment, SEW limits, overlap rules) is
//! checked when the instruction executes.

use super::opcode::{LOAD_FP, OP_V, STORE_FP};
use super::table::Pattern;
use super::{Op, OpKind};

macro_rules! vops {
    ($($name:ident),* $(,)?) => {
        /// A vector operation: one per mnemonic family, independent of operand form.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[repr(u8)]
        #[allow(missing_docs)] // The variants are the spec's mnemonics.
        pub enum VOp { $($name),* }

        impl VOp {
            /// Every operation, indexed by its discriminant.
            pub const ALL: &'static [VOp] = &[$(VOp::$name),*];
        }
    };
}

vops! {
    // Configuration.
    Vsetvli, Vsetivli, Vsetvl,
    // Loads and stores (width, nf and mop are read from the word).
    LoadUnit, LoadStrided, LoadIndexedUnordered, LoadIndexedOrdered, LoadFaultFirst,
    LoadWhole, LoadMask, StoreUnit, StoreStrided, StoreIndexedUnordered,
    StoreIndexedOrdered, StoreWhole, StoreMask,
    // OPI.
    Vadd, Vsub, Vrsub, Vminu, Vmin, Vmaxu, Vmax, Vand, Vor, Vxor, Vrgather, Vrgatherei16,
    Vslideup, Vslidedown, Vadc, Vmadc, Vsbc, Vmsbc, Vmerge, Vmv, Vmseq, Vmsne, Vmsltu,
    Vmslt, Vmsleu, Vmsle, Vmsgtu, Vmsgt, Vsaddu, Vsadd, Vssubu, Vssub, Vsll, Vsmul,
    VmvNr, Vsrl, Vsra, Vssrl, Vssra, Vnsrl, Vnsra, Vnclipu, Vnclip, Vwredsumu, Vwredsum,
    // OPM.
    Vredsum, Vredand, Vredor, Vredxor, Vredminu, Vredmin, Vredmaxu, Vredmax, Vaaddu,
    Vaadd, Vasubu, Vasub, Vslide1up, Vslide1down, VmvXS, Vcpop, Vfirst, VmvSX, Vzext2,
    Vsext2, Vzext4, Vsext4, Vzext8, Vsext8, Vmsbf, Vmsof, Vmsif, Viota, Vid, Vcompress,
    Vmandn, Vmand, Vmor, Vmxor, Vmorn, Vmnand, Vmnor, Vmxnor, Vdivu, Vdiv, Vremu, Vrem,
    Vmulhu, Vmul, Vmulhsu, Vmulh, Vmadd, Vnmsub, Vmacc, Vnmsac, Vwaddu, Vwadd, Vwsubu,
    Vwsub, VwadduW, VwaddW, VwsubuW, VwsubW, Vwmulu, Vwmulsu, Vwmul, Vwmaccu, Vwmacc,
    Vwmaccus, Vwmaccsu,
    // OPF.
    Vfadd, Vfredusum, Vfsub, Vfredosum, Vfmin, Vfredmin, Vfmax, Vfredmax, Vfsgnj,
    Vfsgnjn, Vfsgnjx, Vfslide1up, Vfslide1down, VfmvFS, VfmvSF, VfcvtXuF, VfcvtXF,
    VfcvtFXu, VfcvtFX, VfcvtRtzXuF, VfcvtRtzXF, VfwcvtXuF, VfwcvtXF, VfwcvtFXu, VfwcvtFX,
    VfwcvtFF, VfwcvtRtzXuF, VfwcvtRtzXF, VfncvtXuF, VfncvtXF, VfncvtFXu, VfncvtFX,
    VfncvtFF, VfncvtRodFF, VfncvtRtzXuF, VfncvtRtzXF, Vfsqrt, Vfrsqrt7, Vfrec7, Vfclass,
    Vfmerge, Vmfeq, Vmfle, Vmflt, Vmfne, Vmfgt, Vmfge, Vfdiv, Vfrdiv, Vfmul, Vfrsub,
    Vfmadd, Vfnmadd, Vfmsub, Vfnmsub, Vfmacc, Vfnmacc, Vfmsac, Vfnmsac, Vfwadd,
    Vfwredusum, Vfwsub, Vfwredosum, VfwaddW, VfwsubW, Vfwmul, Vfwmacc, Vfwnmacc,
    Vfwmsac, Vfwnmsac,
    // Zvbb.
    Vandn, Vbrev, Vbrev8, Vrev8, Vclz, Vctz, Vcpopv, Vrol, Vror, Vwsll,
}

impl VOp {
    /// The operation stored in an op's `rs3` by the decoder.
    pub fn from_index(index: u8) -> Option<VOp> {
        Self::ALL.get(index as usize).copied()
    }
}

/// funct3 of the OP-V major opcode: the operand form of an arithmetic line.
pub mod form {
    #![allow(missing_docs)] // The spec's names.
    pub const OPIVV: u32 = 0;
    pub const OPFVV: u32 = 1;
    pub const OPMVV: u32 = 2;
    pub const OPIVI: u32 = 3;
    pub const OPIVX: u32 = 4;
    pub const OPFVF: u32 = 5;
    pub const OPMVX: u32 = 6;
    pub const OPCFG: u32 = 7;
}

use form::*;

/// How the operands of a line are written in assembly, for the encoder and the
/// tests that generate instances of every line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operands {
    /// `vd, vs2, vs1[, v0.t]`.
    VV,
    /// `vd, vs2, rs1[, v0.t]` (x register).
    VX,
    /// `vd, vs2, simm5[, v0.t]` (uimm5 for shifts, slides, gathers and clips).
    VI,
    /// `vd, vs2, rs1[, v0.t]` (f register).
    VF,
    /// Multiply-adds: `vd, vs1, vs2` (assembly order differs, fields do not).
    VVAcc,
    /// Carry and merge forms, `vd, vs2, vs1, v0` (vm = 0 fixed).
    VVM,
    /// `vd, vs2, rs1, v0`.
    VXM,
    /// `vd, vs2, simm5, v0`.
    VIM,
    /// `vd, vs2, fs1, v0`.
    VFM,
    /// Unary over vs2: `vd, vs2[, v0.t]` (vs1 fixed).
    V,
    /// `vd, vs1` with vs2 = 0, vm = 1 (vmv.v.v).
    MvV,
    /// `vd, rs1` with vs2 = 0, vm = 1 (vmv.v.x, vmv.s.x).
    MvX,
    /// `vd, simm5` with vs2 = 0, vm = 1 (vmv.v.i).
    MvI,
    /// `vd, fs1` with vs2 = 0, vm = 1 (vfmv.v.f, vfmv.s.f).
    MvF,
    /// `rd, vs2[, v0.t]` (vmv.x.s, vcpop.m, vfirst.m, vfmv.f.s).
    XV,
    /// `vd[, v0.t]` (vid.v).
    VdOnly,
    /// `vd, vs2` with vm = 1 and simm5 = registers - 1 (vmv<nr>r.v).
    WholeMove,
    /// vsetvli/vsetivli/vsetvl.
    Config,
    /// Loads and stores: `vd/vs3, (rs1)[, rs2 or vs2][, v0.t]`.
    Memory,
}

/// One encoding.
#[derive(Clone, Copy, Debug)]
pub struct Line {
    /// The assembler mnemonic (loads and stores name their 8-bit, one-field form:
    /// the width and nf fields stay free).
    pub name: &'static str,
    /// What it decodes to.
    pub op: VOp,
    /// How its operands are written.
    pub operands: Operands,
    /// Its fixed bits.
    pub(crate) pattern: Pattern,
}

const fn opv(f3: u32, f6: u32) -> Pattern {
    Pattern::op32(OP_V).f3(f3).f6(f6)
}

/// The unary lines: vs1 selects the operation.
const fn unary(f3: u32, f6: u32, vs1: u32) -> Pattern {
    opv(f3, f6).rs1(vs1)
}

/// The vm bit (25) fixed to `v`.
const fn vm(p: Pattern, v: u32) -> Pattern {
    p.field(25, 1, v)
}

/// A load/store: mop (27:26) and mew (28) = 0.
const fn mem(opcode: u32, mop: u32) -> Pattern {
    Pattern::op32(opcode).field(26, 2, mop).field(28, 1, 0)
}

macro_rules! lines {
    ($( $name:literal $op:ident $operands:ident $pattern:expr; )*) => {
        [$(Line {
            name: $name,
            op: VOp::$op,
            operands: Operands::$operands,
            pattern: $pattern,
        },)*]
    };
}

/// Every V 1.0 encoding (and Zvbb's), in the spec's funct6 order.
pub const LINES: &[Line] = &lines! {
    "vsetvli"        Vsetvli    Config  Pattern::op32(OP_V).f3(OPCFG).field(31, 1, 0);
    "vsetivli"       Vsetivli   Config  Pattern::op32(OP_V).f3(OPCFG).field(30, 2, 3);
    "vsetvl"         Vsetvl     Config  Pattern::op32(OP_V).f3(OPCFG).f7(0x40);

    "vle.v"          LoadUnit   Memory  mem(LOAD_FP, 0).rs2(0);
    "vlm.v"          LoadMask   Memory  mem(LOAD_FP, 0).rs2(0xb).field(29, 3, 0).field(25, 1, 1).f3(0);
    "vl1re.v"        LoadWhole  Memory  mem(LOAD_FP, 0).rs2(8).field(25, 1, 1);
    "vleff.v"        LoadFaultFirst Memory mem(LOAD_FP, 0).rs2(0x10);
    "vluxei.v"       LoadIndexedUnordered Memory mem(LOAD_FP, 1);
    "vlse.v"         LoadStrided Memory mem(LOAD_FP, 2);
    "vloxei.v"       LoadIndexedOrdered Memory mem(LOAD_FP, 3);
    "vse.v"          StoreUnit  Memory  mem(STORE_FP, 0).rs2(0);
    "vsm.v"          StoreMask  Memory  mem(STORE_FP, 0).rs2(0xb).field(29, 3, 0).field(25, 1, 1).f3(0);
    "vs1r.v"         StoreWhole Memory  mem(STORE_FP, 0).rs2(8).field(25, 1, 1).f3(0);
    "vsuxei.v"       StoreIndexedUnordered Memory mem(STORE_FP, 1);
    "vsse.v"         StoreStrided Memory mem(STORE_FP, 2);
    "vsoxei.v"       StoreIndexedOrdered Memory mem(STORE_FP, 3);

    "vadd.vv"        Vadd       VV      opv(OPIVV, 0x00);
    "vadd.vx"        Vadd       VX      opv(OPIVX, 0x00);
    "vadd.vi"        Vadd       VI      opv(OPIVI, 0x00);
    "vandn.vv"       Vandn      VV      opv(OPIVV, 0x01);
    "vandn.vx"       Vandn      VX      opv(OPIVX, 0x01);
    "vsub.vv"        Vsub       VV      opv(OPIVV, 0x02);
    "vsub.vx"        Vsub       VX      opv(OPIVX, 0x02);
    "vrsub.vx"       Vrsub      VX      opv(OPIVX, 0x03);
    "vrsub.vi"       Vrsub      VI      opv(OPIVI, 0x03);
    "vminu.vv"       Vminu      VV      opv(OPIVV, 0x04);
    "vminu.vx"       Vminu      VX      opv(OPIVX, 0x04);
    "vmin.vv"        Vmin       VV      opv(OPIVV, 0x05);
    "vmin.vx"        Vmin       VX      opv(OPIVX, 0x05);
    "vmaxu.vv"       Vmaxu      VV      opv(OPIVV, 0x06);
    "vmaxu.vx"       Vmaxu      VX      opv(OPIVX, 0x06);
    "vmax.vv"        Vmax       VV      opv(OPIVV, 0x07);
    "vmax.vx"        Vmax       VX      opv(OPIVX, 0x07);
    "vand.vv"        Vand       VV      opv(OPIVV, 0x09);
    "vand.vx"        Vand       VX      opv(OPIVX, 0x09);
    "vand.vi"        Vand       VI      opv(OPIVI, 0x09);
    "vor.vv"         Vor        VV      opv(OPIVV, 0x0a);
    "vor.vx"         Vor        VX      opv(OPIVX, 0x0a);
    "vor.vi"         Vor        VI      opv(OPIVI, 0x0a);
    "vxor.vv"        Vxor       VV      opv(OPIVV, 0x0b);
    "vxor.vx"        Vxor       VX      opv(OPIVX, 0x0b);
    "vxor.vi"        Vxor       VI      opv(OPIVI, 0x0b);
    "vrgather.vv"    Vrgather   VV      opv(OPIVV, 0x0c);
    "vrgather.vx"    Vrgather   VX      opv(OPIVX, 0x0c);
    "vrgather.vi"    Vrgather   VI      opv(OPIVI, 0x0c);
    "vrgatherei16.vv" Vrgatherei16 VV   opv(OPIVV, 0x0e);
    "vslideup.vx"    Vslideup   VX      opv(OPIVX, 0x0e);
    "vslideup.vi"    Vslideup   VI      opv(OPIVI, 0x0e);
    "vslidedown.vx"  Vslidedown VX      opv(OPIVX, 0x0f);
    "vslidedown.vi"  Vslidedown VI      opv(OPIVI, 0x0f);
    "vadc.vvm"       Vadc       VVM     vm(opv(OPIVV, 0x10), 0);
    "vadc.vxm"       Vadc       VXM     vm(opv(OPIVX, 0x10), 0);
    "vadc.vim"       Vadc       VIM     vm(opv(OPIVI, 0x10), 0);
    "vmadc.vv"       Vmadc      VV      opv(OPIVV, 0x11);
    "vmadc.vx"       Vmadc      VX      opv(OPIVX, 0x11);
    "vmadc.vi"       Vmadc      VI      opv(OPIVI, 0x11);
    "vsbc.vvm"       Vsbc       VVM     vm(opv(OPIVV, 0x12), 0);
    "vsbc.vxm"       Vsbc       VXM     vm(opv(OPIVX, 0x12), 0);
    "vmsbc.vv"       Vmsbc      VV      opv(OPIVV, 0x13);
    "vmsbc.vx"       Vmsbc      VX      opv(OPIVX, 0x13);
    "vror.vv"        Vror       VV      opv(OPIVV, 0x14);
    "vror.vx"        Vror       VX      opv(OPIVX, 0x14);
    "vror.vi"        Vror       VI      Pattern::op32(OP_V).f3(OPIVI).field(27, 5, 0x0a);
    "vrol.vv"        Vrol       VV      opv(OPIVV, 0x15);
    "vrol.vx"        Vrol       VX      opv(OPIVX, 0x15);
    "vmerge.vvm"     Vmerge     VVM     vm(opv(OPIVV, 0x17), 0);
    "vmerge.vxm"     Vmerge     VXM     vm(opv(OPIVX, 0x17), 0);
    "vmerge.vim"     Vmerge     VIM     vm(opv(OPIVI, 0x17), 0);
    "vmv.v.v"        Vmv        MvV     vm(opv(OPIVV, 0x17), 1).rs2(0);
    "vmv.v.x"        Vmv        MvX     vm(opv(OPIVX, 0x17), 1).rs2(0);
    "vmv.v.i"        Vmv        MvI     vm(opv(OPIVI, 0x17), 1).rs2(0);
    "vmseq.vv"       Vmseq      VV      opv(OPIVV, 0x18);
    "vmseq.vx"       Vmseq      VX      opv(OPIVX, 0x18);
    "vmseq.vi"       Vmseq      VI      opv(OPIVI, 0x18);
    "vmsne.vv"       Vmsne      VV      opv(OPIVV, 0x19);
    "vmsne.vx"       Vmsne      VX      opv(OPIVX, 0x19);
    "vmsne.vi"       Vmsne      VI      opv(OPIVI, 0x19);
    "vmsltu.vv"      Vmsltu     VV      opv(OPIVV, 0x1a);
    "vmsltu.vx"      Vmsltu     VX      opv(OPIVX, 0x1a);
    "vmslt.vv"       Vmslt      VV      opv(OPIVV, 0x1b);
    "vmslt.vx"       Vmslt      VX      opv(OPIVX, 0x1b);
    "vmsleu.vv"      Vmsleu     VV      opv(OPIVV, 0x1c);
    "vmsleu.vx"      Vmsleu     VX      opv(OPIVX, 0x1c);
    "vmsleu.vi"      Vmsleu     VI      opv(OPIVI, 0x1c);
    "vmsle.vv"       Vmsle      VV      opv(OPIVV, 0x1d);
    "vmsle.vx"       Vmsle      VX      opv(OPIVX, 0x1d);
    "vmsle.vi"       Vmsle      VI      opv(OPIVI, 0x1d);
    "vmsgtu.vx"      Vmsgtu     VX      opv(OPIVX, 0x1e);
    "vmsgtu.vi"      Vmsgtu     VI      opv(OPIVI, 0x1e);
    "vmsgt.vx"       Vmsgt      VX      opv(OPIVX, 0x1f);
    "vmsgt.vi"       Vmsgt      VI      opv(OPIVI, 0x1f);
    "vsaddu.vv"      Vsaddu     VV      opv(OPIVV, 0x20);
    "vsaddu.vx"      Vsaddu     VX      opv(OPIVX, 0x20);
    "vsaddu.vi"      Vsaddu     VI      opv(OPIVI, 0x20);
    "vsadd.vv"       Vsadd      VV      opv(OPIVV, 0x21);
    "vsadd.vx"       Vsadd      VX      opv(OPIVX, 0x21);
    "vsadd.vi"       Vsadd      VI      opv(OPIVI, 0x21);
    "vssubu.vv"      Vssubu     VV      opv(OPIVV, 0x22);
    "vssubu.vx"      Vssubu     VX      opv(OPIVX, 0x22);
    "vssub.vv"       Vssub      VV      opv(OPIVV, 0x23);
    "vssub.vx"       Vssub      VX      opv(OPIVX, 0x23);
    "vsll.vv"        Vsll       VV      opv(OPIVV, 0x25);
    "vsll.vx"        Vsll       VX      opv(OPIVX, 0x25);
    "vsll.vi"        Vsll       VI      opv(OPIVI, 0x25);
    "vsmul.vv"       Vsmul      VV      opv(OPIVV, 0x27);
    "vsmul.vx"       Vsmul      VX      opv(OPIVX, 0x27);
    "vmv<nr>r.v"     VmvNr      WholeMove vm(opv(OPIVI, 0x27), 1);
    "vsrl.vv"        Vsrl       VV      opv(OPIVV, 0x28);
    "vsrl.vx"        Vsrl       VX      opv(OPIVX, 0x28);
    "vsrl.vi"        Vsrl       VI      opv(OPIVI, 0x28);
    "vsra.vv"        Vsra       VV      opv(OPIVV, 0x29);
    "vsra.vx"        Vsra       VX      opv(OPIVX, 0x29);
    "vsra.vi"        Vsra       VI      opv(OPIVI, 0x29);
    "vssrl.vv"       Vssrl      VV      opv(OPIVV, 0x2a);
    "vssrl.vx"       Vssrl      VX      opv(OPIVX, 0x2a);
    "vssrl.vi"       Vssrl      VI      opv(OPIVI, 0x2a);
    "vssra.vv"       Vssra      VV      opv(OPIVV, 0x2b);
    "vssra.vx"       Vssra      VX      opv(OPIVX, 0x2b);
    "vssra.vi"       Vssra      VI      opv(OPIVI, 0x2b);
    "vnsrl.wv"       Vnsrl      VV      opv(OPIVV, 0x2c);
    "vnsrl.wx"       Vnsrl      VX      opv(OPIVX, 0x2c);
    "vnsrl.wi"       Vnsrl      VI      opv(OPIVI, 0x2c);
    "vnsra.wv"       Vnsra      VV      opv(OPIVV, 0x2d);
    "vnsra.wx"       Vnsra      VX      opv(OPIVX, 0x2d);
    "vnsra.wi"       Vnsra      VI      opv(OPIVI, 0x2d);
    "vnclipu.wv"     Vnclipu    VV      opv(OPIVV, 0x2e);
    "vnclipu.wx"     Vnclipu    VX      opv(OPIVX, 0x2e);
    "vnclipu.wi"     Vnclipu    VI      opv(OPIVI, 0x2e);
    "vnclip.wv"      Vnclip     VV      opv(OPIVV, 0x2f);
    "vnclip.wx"      Vnclip     VX      opv(OPIVX, 0x2f);
    "vnclip.wi"      Vnclip     VI      opv(OPIVI, 0x2f);
    "vwredsumu.vs"   Vwredsumu  VV      opv(OPIVV, 0x30);
    "vwredsum.vs"    Vwredsum   VV      opv(OPIVV, 0x31);
    "vwsll.vv"       Vwsll      VV      opv(OPIVV, 0x35);
    "vwsll.vx"       Vwsll      VX      opv(OPIVX, 0x35);
    "vwsll.vi"       Vwsll      VI      opv(OPIVI, 0x35);

    "vredsum.vs"     Vredsum    VV      opv(OPMVV, 0x00);
    "vredand.vs"     Vredand    VV      opv(OPMVV, 0x01);
    "vredor.vs"      Vredor     VV      opv(OPMVV, 0x02);
    "vredxor.vs"     Vredxor    VV      opv(OPMVV, 0x03);
    "vredminu.vs"    Vredminu   VV      opv(OPMVV, 0x04);
    "vredmin.vs"     Vredmin    VV      opv(OPMVV, 0x05);
    "vredmaxu.vs"    Vredmaxu   VV      opv(OPMVV, 0x06);
    "vredmax.vs"     Vredmax    VV      opv(OPMVV, 0x07);
    "vaaddu.vv"      Vaaddu     VV      opv(OPMVV, 0x08);
    "vaaddu.vx"      Vaaddu     VX      opv(OPMVX, 0x08);
    "vaadd.vv"       Vaadd      VV      opv(OPMVV, 0x09);
    "vaadd.vx"       Vaadd      VX      opv(OPMVX, 0x09);
    "vasubu.vv"      Vasubu     VV      opv(OPMVV, 0x0a);
    "vasubu.vx"      Vasubu     VX      opv(OPMVX, 0x0a);
    "vasub.vv"       Vasub      VV      opv(OPMVV, 0x0b);
    "vasub.vx"       Vasub      VX      opv(OPMVX, 0x0b);
    "vslide1up.vx"   Vslide1up  VX      opv(OPMVX, 0x0e);
    "vslide1down.vx" Vslide1down VX     opv(OPMVX, 0x0f);
    "vmv.x.s"        VmvXS      XV      vm(unary(OPMVV, 0x10, 0x00), 1);
    "vcpop.m"        Vcpop      XV      unary(OPMVV, 0x10, 0x10);
    "vfirst.m"       Vfirst     XV      unary(OPMVV, 0x10, 0x11);
    "vmv.s.x"        VmvSX      MvX     vm(opv(OPMVX, 0x10), 1).rs2(0);
    "vzext.vf8"      Vzext8     V       unary(OPMVV, 0x12, 0x02);
    "vsext.vf8"      Vsext8     V       unary(OPMVV, 0x12, 0x03);
    "vzext.vf4"      Vzext4     V       unary(OPMVV, 0x12, 0x04);
    "vsext.vf4"      Vsext4     V       unary(OPMVV, 0x12, 0x05);
    "vzext.vf2"      Vzext2     V       unary(OPMVV, 0x12, 0x06);
    "vsext.vf2"      Vsext2     V       unary(OPMVV, 0x12, 0x07);
    "vbrev8.v"       Vbrev8     V       unary(OPMVV, 0x12, 0x08);
    "vrev8.v"        Vrev8      V       unary(OPMVV, 0x12, 0x09);
    "vbrev.v"        Vbrev      V       unary(OPMVV, 0x12, 0x0a);
    "vclz.v"         Vclz       V       unary(OPMVV, 0x12, 0x0c);
    "vctz.v"         Vctz       V       unary(OPMVV, 0x12, 0x0d);
    "vcpop.v"        Vcpopv     V       unary(OPMVV, 0x12, 0x0e);
    "vmsbf.m"        Vmsbf      V       unary(OPMVV, 0x14, 0x01);
    "vmsof.m"        Vmsof      V       unary(OPMVV, 0x14, 0x02);
    "vmsif.m"        Vmsif      V       unary(OPMVV, 0x14, 0x03);
    "viota.m"        Viota      V       unary(OPMVV, 0x14, 0x10);
    "vid.v"          Vid        VdOnly  unary(OPMVV, 0x14, 0x11).rs2(0);
    "vcompress.vm"   Vcompress  VV      vm(opv(OPMVV, 0x17), 1);
    "vmandn.mm"      Vmandn     VV      vm(opv(OPMVV, 0x18), 1);
    "vmand.mm"       Vmand      VV      vm(opv(OPMVV, 0x19), 1);
    "vmor.mm"        Vmor       VV      vm(opv(OPMVV, 0x1a), 1);
    "vmxor.mm"       Vmxor      VV      vm(opv(OPMVV, 0x1b), 1);
    "vmorn.mm"       Vmorn      VV      vm(opv(OPMVV, 0x1c), 1);
    "vmnand.mm"      Vmnand     VV      vm(opv(OPMVV, 0x1d), 1);
    "vmnor.mm"       Vmnor      VV      vm(opv(OPMVV, 0x1e), 1);
    "vmxnor.mm"      Vmxnor     VV      vm(opv(OPMVV, 0x1f), 1);
    "vdivu.vv"       Vdivu      VV      opv(OPMVV, 0x20);
    "vdivu.vx"       Vdivu      VX      opv(OPMVX, 0x20);
    "vdiv.vv"        Vdiv       VV      opv(OPMVV, 0x21);
    "vdiv.vx"        Vdiv       VX      opv(OPMVX, 0x21);
    "vremu.vv"       Vremu      VV      opv(OPMVV, 0x22);
    "vremu.vx"       Vremu      VX      opv(OPMVX, 0x22);
    "vrem.vv"        Vrem       VV      opv(OPMVV, 0x23);
    "vrem.vx"        Vrem       VX      opv(OPMVX, 0x23);
    "vmulhu.vv"      Vmulhu     VV      opv(OPMVV, 0x24);
    "vmulhu.vx"      Vmulhu     VX      opv(OPMVX, 0x24);
    "vmul.vv"        Vmul       VV      opv(OPMVV, 0x25);
    "vmul.vx"        Vmul       VX      opv(OPMVX, 0x25);
    "vmulhsu.vv"     Vmulhsu    VV      opv(OPMVV, 0x26);
    "vmulhsu.vx"     Vmulhsu    VX      opv(OPMVX, 0x26);
    "vmulh.vv"       Vmulh      VV      opv(OPMVV, 0x27);
    "vmulh.vx"       Vmulh      VX      opv(OPMVX, 0x27);
    "vmadd.vv"       Vmadd      VVAcc   opv(OPMVV, 0x29);
    "vmadd.vx"       Vmadd      VX      opv(OPMVX, 0x29);
    "vnmsub.vv"      Vnmsub     VVAcc   opv(OPMVV, 0x2b);
    "vnmsub.vx"      Vnmsub     VX      opv(OPMVX, 0x2b);
    "vmacc.vv"       Vmacc      VVAcc   opv(OPMVV, 0x2d);
    "vmacc.vx"       Vmacc      VX      opv(OPMVX, 0x2d);
    "vnmsac.vv"      Vnmsac     VVAcc   opv(OPMVV, 0x2f);
    "vnmsac.vx"      Vnmsac     VX      opv(OPMVX, 0x2f);
    "vwaddu.vv"      Vwaddu     VV      opv(OPMVV, 0x30);
    "vwaddu.vx"      Vwaddu     VX      opv(OPMVX, 0x30);
    "vwadd.vv"       Vwadd      VV      opv(OPMVV, 0x31);
    "vwadd.vx"       Vwadd      VX      opv(OPMVX, 0x31);
    "vwsubu.vv"      Vwsubu     VV      opv(OPMVV, 0x32);
    "vwsubu.vx"      Vwsubu     VX      opv(OPMVX, 0x32);
    "vwsub.vv"       Vwsub      VV      opv(OPMVV, 0x33);
    "vwsub.vx"       Vwsub      VX      opv(OPMVX, 0x33);
    "vwaddu.wv"      VwadduW    VV      opv(OPMVV, 0x34);
    "vwaddu.wx"      VwadduW    VX      opv(OPMVX, 0x34);
    "vwadd.wv"       VwaddW     VV      opv(OPMVV, 0x35);
    "vwadd.wx"       VwaddW     VX      opv(OPMVX, 0x35);
    "vwsubu.wv"      VwsubuW    VV      opv(OPMVV, 0x36);
    "vwsubu.wx"      VwsubuW    VX      opv(OPMVX, 0x36);
    "vwsub.wv"       VwsubW     VV      opv(OPMVV, 0x37);
    "vwsub.wx"       VwsubW     VX      opv(OPMVX, 0x37);
    "vwmulu.vv"      Vwmulu     VV      opv(OPMVV, 0x38);
    "vwmulu.vx"      Vwmulu     VX      opv(OPMVX, 0x38);
    "vwmulsu.vv"     Vwmulsu    VV      opv(OPMVV, 0x3a);
    "vwmulsu.vx"     Vwmulsu    VX      opv(OPMVX, 0x3a);
    "vwmul.vv"       Vwmul      VV      opv(OPMVV, 0x3b);
    "vwmul.vx"       Vwmul      VX      opv(OPMVX, 0x3b);
    "vwmaccu.vv"     Vwmaccu    VVAcc   opv(OPMVV, 0x3c);
    "vwmaccu.vx"     Vwmaccu    VX      opv(OPMVX, 0x3c);
    "vwmacc.vv"      Vwmacc     VVAcc   opv(OPMVV, 0x3d);
    "vwmacc.vx"      Vwmacc     VX      opv(OPMVX, 0x3d);
    "vwmaccus.vx"    Vwmaccus   VX      opv(OPMVX, 0x3e);
    "vwmaccsu.vv"    Vwmaccsu   VVAcc   opv(OPMVV, 0x3f);
    "vwmaccsu.vx"    Vwmaccsu   VX      opv(OPMVX, 0x3f);

    "vfadd.vv"       Vfadd      VV      opv(OPFVV, 0x00);
    "vfadd.vf"       Vfadd      VF      opv(OPFVF, 0x00);
    "vfredusum.vs"   Vfredusum  VV      opv(OPFVV, 0x01);
    "vfsub.vv"       Vfsub      VV      opv(OPFVV, 0x02);
    "vfsub.vf"       Vfsub      VF      opv(OPFVF, 0x02);
    "vfredosum.vs"   Vfredosum  VV      opv(OPFVV, 0x03);
    "vfmin.vv"       Vfmin      VV      opv(OPFVV, 0x04);
    "vfmin.vf"       Vfmin      VF      opv(OPFVF, 0x04);
    "vfredmin.vs"    Vfredmin   VV      opv(OPFVV, 0x05);
    "vfmax.vv"       Vfmax      VV      opv(OPFVV, 0x06);
    "vfmax.vf"       Vfmax      VF      opv(OPFVF, 0x06);
    "vfredmax.vs"    Vfredmax   VV      opv(OPFVV, 0x07);
    "vfsgnj.vv"      Vfsgnj     VV      opv(OPFVV, 0x08);
    "vfsgnj.vf"      Vfsgnj     VF      opv(OPFVF, 0x08);
    "vfsgnjn.vv"     Vfsgnjn    VV      opv(OPFVV, 0x09);
    "vfsgnjn.vf"     Vfsgnjn    VF      opv(OPFVF, 0x09);
    "vfsgnjx.vv"     Vfsgnjx    VV      opv(OPFVV, 0x0a);
    "vfsgnjx.vf"     Vfsgnjx    VF      opv(OPFVF, 0x0a);
    "vfslide1up.vf"  Vfslide1up VF      opv(OPFVF, 0x0e);
    "vfslide1down.vf" Vfslide1down VF   opv(OPFVF, 0x0f);
    "vfmv.f.s"       VfmvFS     XV      vm(unary(OPFVV, 0x10, 0x00), 1);
    "vfmv.s.f"       VfmvSF     MvF     vm(opv(OPFVF, 0x10), 1).rs2(0);
    "vfcvt.xu.f.v"   VfcvtXuF   V       unary(OPFVV, 0x12, 0x00);
    "vfcvt.x.f.v"    VfcvtXF    V       unary(OPFVV, 0x12, 0x01);
    "vfcvt.f.xu.v"   VfcvtFXu   V       unary(OPFVV, 0x12, 0x02);
    "vfcvt.f.x.v"    VfcvtFX    V       unary(OPFVV, 0x12, 0x03);
    "vfcvt.rtz.xu.f.v" VfcvtRtzXuF V    unary(OPFVV, 0x12, 0x06);
    "vfcvt.rtz.x.f.v" VfcvtRtzXF V      unary(OPFVV, 0x12, 0x07);
    "vfwcvt.xu.f.v"  VfwcvtXuF  V       unary(OPFVV, 0x12, 0x08);
    "vfwcvt.x.f.v"   VfwcvtXF   V       unary(OPFVV, 0x12, 0x09);
    "vfwcvt.f.xu.v"  VfwcvtFXu  V       unary(OPFVV, 0x12, 0x0a);
    "vfwcvt.f.x.v"   VfwcvtFX   V       unary(OPFVV, 0x12, 0x0b);
    "vfwcvt.f.f.v"   VfwcvtFF   V       unary(OPFVV, 0x12, 0x0c);
    "vfwcvt.rtz.xu.f.v" VfwcvtRtzXuF V  unary(OPFVV, 0x12, 0x0e);
    "vfwcvt.rtz.x.f.v" VfwcvtRtzXF V    unary(OPFVV, 0x12, 0x0f);
    "vfncvt.xu.f.w"  VfncvtXuF  V       unary(OPFVV, 0x12, 0x10);
    "vfncvt.x.f.w"   VfncvtXF   V       unary(OPFVV, 0x12, 0x11);
    "vfncvt.f.xu.w"  VfncvtFXu  V       unary(OPFVV, 0x12, 0x12);
    "vfncvt.f.x.w"   VfncvtFX   V       unary(OPFVV, 0x12, 0x13);
    "vfncvt.f.f.w"   VfncvtFF   V       unary(OPFVV, 0x12, 0x14);
    "vfncvt.rod.f.f.w" VfncvtRodFF V    unary(OPFVV, 0x12, 0x15);
    "vfncvt.rtz.xu.f.w" VfncvtRtzXuF V  unary(OPFVV, 0x12, 0x16);
    "vfncvt.rtz.x.f.w" VfncvtRtzXF V    unary(OPFVV, 0x12, 0x17);
    "vfsqrt.v"       Vfsqrt     V       unary(OPFVV, 0x13, 0x00);
    "vfrsqrt7.v"     Vfrsqrt7   V       unary(OPFVV, 0x13, 0x04);
    "vfrec7.v"       Vfrec7     V       unary(OPFVV, 0x13, 0x05);
    "vfclass.v"      Vfclass    V       unary(OPFVV, 0x13, 0x10);
    "vfmerge.vfm"    Vfmerge    VFM     vm(opv(OPFVF, 0x17), 0);
    "vfmv.v.f"       Vfmerge    MvF     vm(opv(OPFVF, 0x17), 1).rs2(0);
    "vmfeq.vv"       Vmfeq      VV      opv(OPFVV, 0x18);
    "vmfeq.vf"       Vmfeq      VF      opv(OPFVF, 0x18);
    "vmfle.vv"       Vmfle      VV      opv(OPFVV, 0x19);
    "vmfle.vf"       Vmfle      VF      opv(OPFVF, 0x19);
    "vmflt.vv"       Vmflt      VV      opv(OPFVV, 0x1b);
    "vmflt.vf"       Vmflt      VF      opv(OPFVF, 0x1b);
    "vmfne.vv"       Vmfne      VV      opv(OPFVV, 0x1c);
    "vmfne.vf"       Vmfne      VF      opv(OPFVF, 0x1c);
    "vmfgt.vf"       Vmfgt      VF      opv(OPFVF, 0x1d);
    "vmfge.vf"       Vmfge      VF      opv(OPFVF, 0x1f);
    "vfdiv.vv"       Vfdiv      VV      opv(OPFVV, 0x20);
    "vfdiv.vf"       Vfdiv      VF      opv(OPFVF, 0x20);
    "vfrdiv.vf"      Vfrdiv     VF      opv(OPFVF, 0x21);
    "vfmul.vv"       Vfmul      VV      opv(OPFVV, 0x24);
    "vfmul.vf"       Vfmul      VF      opv(OPFVF, 0x24);
    "vfrsub.vf"      Vfrsub     VF      opv(OPFVF, 0x27);
    "vfmadd.vv"      Vfmadd     VVAcc   opv(OPFVV, 0x28);
    "vfmadd.vf"      Vfmadd     VF      opv(OPFVF, 0x28);
    "vfnmadd.vv"     Vfnmadd    VVAcc   opv(OPFVV, 0x29);
    "vfnmadd.vf"     Vfnmadd    VF      opv(OPFVF, 0x29);
    "vfmsub.vv"      Vfmsub     VVAcc   opv(OPFVV, 0x2a);
    "vfmsub.vf"      Vfmsub     VF      opv(OPFVF, 0x2a);
    "vfnmsub.vv"     Vfnmsub    VVAcc   opv(OPFVV, 0x2b);
    "vfnmsub.vf"     Vfnmsub    VF      opv(OPFVF, 0x2b);
    "vfmacc.vv"      Vfmacc     VVAcc   opv(OPFVV, 0x2c);
    "vfmacc.vf"      Vfmacc     VF      opv(OPFVF, 0x2c);
    "vfnmacc.vv"     Vfnmacc    VVAcc   opv(OPFVV, 0x2d);
    "vfnmacc.vf"     Vfnmacc    VF      opv(OPFVF, 0x2d);
    "vfmsac.vv"      Vfmsac     VVAcc   opv(OPFVV, 0x2e);
    "vfmsac.vf"      Vfmsac     VF      opv(OPFVF, 0x2e);
    "vfnmsac.vv"     Vfnmsac    VVAcc   opv(OPFVV, 0x2f);
    "vfnmsac.vf"     Vfnmsac    VF      opv(OPFVF, 0x2f);
    "vfwadd.vv"      Vfwadd     VV      opv(OPFVV, 0x30);
    "vfwadd.vf"      Vfwadd     VF      opv(OPFVF, 0x30);
    "vfwredusum.vs"  Vfwredusum VV      opv(OPFVV, 0x31);
    "vfwsub.vv"      Vfwsub     VV      opv(OPFVV, 0x32);
    "vfwsub.vf"      Vfwsub     VF      opv(OPFVF, 0x32);
    "vfwredosum.vs"  Vfwredosum VV      opv(OPFVV, 0x33);
    "vfwadd.wv"      VfwaddW    VV      opv(OPFVV, 0x34);
    "vfwadd.wf"      VfwaddW    VF      opv(OPFVF, 0x34);
    "vfwsub.wv"      VfwsubW    VV      opv(OPFVV, 0x36);
    "vfwsub.wf"      VfwsubW    VF      opv(OPFVF, 0x36);
    "vfwmul.vv"      Vfwmul     VV      opv(OPFVV, 0x38);
    "vfwmul.vf"      Vfwmul     VF      opv(OPFVF, 0x38);
    "vfwmacc.vv"     Vfwmacc    VVAcc   opv(OPFVV, 0x3c);
    "vfwmacc.vf"     Vfwmacc    VF      opv(OPFVF, 0x3c);
    "vfwnmacc.vv"    Vfwnmacc   VVAcc   opv(OPFVV, 0x3d);
    "vfwnmacc.vf"    Vfwnmacc   VF      opv(OPFVF, 0x3d);
    "vfwmsac.vv"     Vfwmsac    VVAcc   opv(OPFVV, 0x3e);
    "vfwmsac.vf"     Vfwmsac    VF      opv(OPFVF, 0x3e);
    "vfwnmsac.vv"    Vfwnmsac   VVAcc   opv(OPFVV, 0x3f);
    "vfwnmsac.vf"    Vfwnmsac   VF      opv(OPFVF, 0x3f);
};

impl Line {
    /// The fixed bits of the line (funct3 among them for arithmetic lines).
    pub fn pattern_value(&self) -> u32 {
        self.pattern.value
    }
}

/// Whether the major opcode of `bits` may hold a vector instruction.
#[inline]
pub(crate) fn is_vector_major(bits: u32) -> bool {
    match bits & 0x7f {
        OP_V => true,
        // The FP loads and stores use widths 1..=4 (h, w, d, q); 0 and 5..=7 are V's.
        LOAD_FP | STORE_FP => !matches!((bits >> 12) & 7, 1..=4),
        _ => false,
    }
}

/// The line a vector instruction matches, if any.
pub fn lookup(bits: u32) -> Option<&'static Line> {
    if !is_vector_major(bits) {
        return None;
    }
    let line = LINES.iter().find(|l| l.pattern.matches(bits))?;
    valid(line, bits).then_some(line)
}

/// The reserved encodings a pattern cannot express.
fn valid(line: &Line, bits: u32) -> bool {
    let nf = (bits >> 29) & 7;
    match line.op {
        // Whole-register loads and stores move 1, 2, 4 or 8 registers.
        VOp::LoadWhole | VOp::StoreWhole => matches!(nf, 0 | 1 | 3 | 7),
        VOp::VmvNr => matches!((bits >> 15) & 31, 0 | 1 | 3 | 7),
        _ => true,
    }
}

/// Decodes a vector instruction, or `None` when `bits` is not one.
pub(crate) fn decode(bits: u32) -> Option<Op> {
    let line = lookup(bits)?;
    Some(Op {
        kind: OpKind::Vector,
        rd: ((bits >> 7) & 31) as u8,
        rs1: ((bits >> 15) & 31) as u8,
        rs2: ((bits >> 20) & 31) as u8,
        rs3: line.op as u8,
        imm: bits as i32,
        len: 4,
        ..Op::UNDECODED
    })
}

/// Encodes an instance of `line` with the given fields (`src1` is vs1, rs1, fs1 or
/// the 5-bit immediate, `vm` 1 for unmasked; fields the line fixes are overwritten by
/// its pattern). Loads and stores take `width` and `nf` in `extra` (bits 14:12 and
/// 31:29); the config lines take the raw vtype/immediate bits.
pub const fn encode(line: &Line, vd: u32, vs2: u32, src1: u32, vm: u32, extra: u32) -> u32 {
    let free = (vd & 31) << 7 | (src1 & 31) << 15 | (vs2 & 31) << 20 | (vm & 1) << 25 | extra;
    (free & !line.pattern.mask) | line.pattern.value
}

/// The line named `name`.
pub fn line(name: &str) -> Option<&'static Line> {
    LINES.iter().find(|l| l.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::isa::table::overlapping_pairs;

    #[test]
    fn lines_overlap_only_where_a_fixed_field_picks_the_special_case() {
        let pairs = overlapping_pairs(
            &LINES
                .iter()
                .map(|l| (l.name, l.pattern))
                .collect::<Vec<_>>(),
        );
        // vmerge.* (vm = 0) and vmv.v.* (vm = 1) split on vm; vle.v's lumop 0 and the
        // others differ in rs2. The unit-stride lines with a fixed lumop overlap the
        // generic unit-stride one only if a pattern is wrong.
        assert_eq!(pairs, Vec::<(&str, &str)>::new());
    }

    #[test]
    fn known_words_decode_to_their_line() {
        // vadd.vv v1, v2, v3 = 0x022180d7 (vm = 1).
        assert_eq!(lookup(0x0221_80d7).map(|l| l.name), Some("vadd.vv"));
        // vsetvli a0, a1, e32, m1, ta, ma = 0x0d05f557.
        assert_eq!(lookup(0x0d05_f557).map(|l| l.name), Some("vsetvli"));
        // vle32.v v1, (a0) = 0x02056087.
        assert_eq!(lookup(0x0205_6087).map(|l| l.name), Some("vle.v"));
        // flw is not a vector load.
        assert!(lookup(0x0005_2007).is_none());
        // vl3re8.v is reserved.
        assert!(lookup(0x4280_0087 | 8 << 20).is_none());
        // vfmv.v.f v1, fa0 = 0x5e0550d7.
        assert_eq!(lookup(0x5e05_50d7).map(|l| l.name), Some("vfmv.v.f"));
    }

    #[test]
    fn every_operation_has_a_line() {
        for op in VOp::ALL {
            assert!(LINES.iter().any(|l| l.op == *op), "{op:?} has no line");
        }
        assert!(VOp::ALL.len() < 256, "VOp must fit Op::rs3");
    }
}
