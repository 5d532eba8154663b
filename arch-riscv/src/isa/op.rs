//! The pre-decoded instruction: what the decoder produces once and the interpreter
//! executes many times.
//!
//! Compressed instructions are expanded into the base operation they stand for, with
//! `len == 2`. Integer destination register 0 is rewritten to [`SINK`] so the
//! interpreter never has to re-zero `x0`.

/// Index of the scratch register that receives writes aimed at `x0`.
pub const SINK: u8 = 32;

/// One decoded instruction: 16 bytes, 8-byte aligned, so the interpreter moves it
/// as two aligned words (a 12-byte copy split into overlapping stores stalls
/// store-to-load forwarding on every instruction).
///
/// Field use by operation family:
/// - integer R/I/S/B/U/J forms: `rd`, `rs1`, `rs2`, `imm` (sign-extended immediate;
///   branch and jump offsets are relative to the instruction's own pc).
/// - shifts by immediate: `imm` is the shift amount.
/// - CSR ops: `imm` is the CSR number; for the `*i` forms `rs1` holds the 5-bit uimm.
/// - loads/stores (integer and FP): `rs1` base, `imm` offset, `rd`/`rs2` data register.
/// - AMOs and LR/SC: `rm` holds the aq/rl bits (bit 1 aq, bit 0 rl).
/// - FP: `rd`, `rs1`, `rs2`, `rs3` are register numbers in the file the operation
///   names (f or x); `rm` is the raw 3-bit rounding-mode field.
/// - `Illegal`: `imm` holds the raw instruction bits (zero-extended for 16-bit ones).
/// - `SfenceVma`, `HfenceVvma`, `HfenceGvma`: `rs1` address, `rs2` ASID/VMID register.
/// - `Fence`: `imm` holds the pred/succ/fm bits (bits 31:20 of the instruction).
/// - `Vector`: `rs3` is the [`super::vector::VOp`], `imm` the raw instruction word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C, align(8))]
pub struct Op {
    /// What to do.
    pub kind: OpKind,
    /// Destination register (integer `x0` is already rewritten to [`SINK`]).
    pub rd: u8,
    /// First source register.
    pub rs1: u8,
    /// Second source register.
    pub rs2: u8,
    /// Immediate, CSR number, or raw bits, depending on `kind`.
    pub imm: i32,
    /// Third source register (fused multiply-add only).
    pub rs3: u8,
    /// Rounding-mode field of FP ops; aq/rl bits of atomics.
    pub rm: u8,
    /// Instruction length in bytes: 2 or 4; 0 marks a slot not decoded yet.
    pub len: u8,
    /// How often the hart jumped here (the compiled tier's hotness counter); zero
    /// as decoded.
    pub heat: u8,
    /// Where the compiled block that starts here lies in the code cache: 0 none yet,
    /// [`Op::NOT_COMPILABLE`] when compiling it failed, [`Op::COMPILING`] while the
    /// compile worker has it, else the byte offset (above [`Op::LAST_MARKER`]).
    pub block: u32,
}

impl Op {
    /// The marker stored in decode-cache slots that have not been decoded yet.
    pub const UNDECODED: Op = Op {
        kind: OpKind::Undecoded,
        rd: 0,
        rs1: 0,
        rs2: 0,
        imm: 0,
        rs3: 0,
        rm: 0,
        len: 0,
        heat: 0,
        block: 0,
    };

    /// The `block` value of an entry the compiled tier gave up on.
    pub const NOT_COMPILABLE: u32 = 1;
    /// The `block` value of an entry whose block is being compiled.
    pub const COMPILING: u32 = 2;
    /// The largest `block` value that is a marker rather than a code offset.
    pub const LAST_MARKER: u32 = 2;

    /// Whether a compiled block starts here.
    #[inline(always)]
    pub fn has_block(&self) -> bool {
        self.block > Op::LAST_MARKER
    }
}

/// Every operation the hart executes. RV64IMAFDC, Zicsr, Zifencei, the privileged
/// instructions and those of the hypervisor extension, then the RVA23 additions.
///
/// New kinds go at the end: the FP kinds form one range (`Flw..=FmvDX`), and
/// code that does not know a kind treats it as interpreted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
#[allow(missing_docs)] // The variants are the ISA's mnemonics.
pub enum OpKind {
    /// A decode-cache slot that must be decoded before it runs.
    Undecoded,
    /// Not a valid instruction: raises an illegal-instruction exception.
    Illegal,

    // RV64I
    Lui,
    Auipc,
    Jal,
    Jalr,
    Beq,
    Bne,
    Blt,
    Bge,
    Bltu,
    Bgeu,
    Lb,
    Lh,
    Lw,
    Ld,
    Lbu,
    Lhu,
    Lwu,
    Sb,
    Sh,
    Sw,
    Sd,
    Addi,
    Slti,
    Sltiu,
    Xori,
    Ori,
    Andi,
    Slli,
    Srli,
    Srai,
    Add,
    Sub,
    Sll,
    Slt,
    Sltu,
    Xor,
    Srl,
    Sra,
    Or,
    And,
    Addiw,
    Slliw,
    Srliw,
    Sraiw,
    Addw,
    Subw,
    Sllw,
    Srlw,
    Sraw,
    Fence,
    FenceI,
    Ecall,
    Ebreak,

    // M
    Mul,
    Mulh,
    Mulhsu,
    Mulhu,
    Div,
    Divu,
    Rem,
    Remu,
    Mulw,
    Divw,
    Divuw,
    Remw,
    Remuw,

    // A
    LrW,
    ScW,
    AmoswapW,
    AmoaddW,
    AmoxorW,
    AmoandW,
    AmoorW,
    AmominW,
    AmomaxW,
    AmominuW,
    AmomaxuW,
    LrD,
    ScD,
    AmoswapD,
    AmoaddD,
    AmoxorD,
    AmoandD,
    AmoorD,
    AmominD,
    AmomaxD,
    AmominuD,
    AmomaxuD,

    // Zicsr
    Csrrw,
    Csrrs,
    Csrrc,
    Csrrwi,
    Csrrsi,
    Csrrci,

    // Privileged
    Sret,
    Mret,
    Wfi,
    SfenceVma,

    // Hypervisor extension
    HfenceVvma,
    HfenceGvma,
    HlvB,
    HlvBu,
    HlvH,
    HlvHu,
    HlvW,
    HlvWu,
    HlvD,
    HlvxHu,
    HlvxWu,
    HsvB,
    HsvH,
    HsvW,
    HsvD,

    // F
    Flw,
    Fsw,
    FmaddS,
    FmsubS,
    FnmsubS,
    FnmaddS,
    FaddS,
    FsubS,
    FmulS,
    FdivS,
    FsqrtS,
    FsgnjS,
    FsgnjnS,
    FsgnjxS,
    FminS,
    FmaxS,
    FcvtWS,
    FcvtWuS,
    FcvtLS,
    FcvtLuS,
    FmvXW,
    FeqS,
    FltS,
    FleS,
    FclassS,
    FcvtSW,
    FcvtSWu,
    FcvtSL,
    FcvtSLu,
    FmvWX,

    // D
    Fld,
    Fsd,
    FmaddD,
    FmsubD,
    FnmsubD,
    FnmaddD,
    FaddD,
    FsubD,
    FmulD,
    FdivD,
    FsqrtD,
    FsgnjD,
    FsgnjnD,
    FsgnjxD,
    FminD,
    FmaxD,
    FcvtSD,
    FcvtDS,
    FeqD,
    FltD,
    FleD,
    FclassD,
    FcvtWD,
    FcvtWuD,
    FcvtLD,
    FcvtLuD,
    FmvXD,
    FcvtDW,
    FcvtDWu,
    FcvtDL,
    FcvtDLu,
    FmvDX,

    // Zba
    AddUw,
    Sh1add,
    Sh2add,
    Sh3add,
    Sh1addUw,
    Sh2addUw,
    Sh3addUw,
    SlliUw,

    // Zbb
    Andn,
    Orn,
    Xnor,
    Clz,
    Clzw,
    Ctz,
    Ctzw,
    Cpop,
    Cpopw,
    Max,
    Maxu,
    Min,
    Minu,
    SextB,
    SextH,
    ZextH,
    Rol,
    Rolw,
    Ror,
    Rorw,
    Rori,
    Roriw,
    OrcB,
    Rev8,

    // Zbs
    Bclr,
    Bclri,
    Bext,
    Bexti,
    Binv,
    Binvi,
    Bset,
    Bseti,

    // Zicond
    CzeroEqz,
    CzeroNez,

    // Zicbom, Zicboz
    CboInval,
    CboClean,
    CboFlush,
    CboZero,

    // Zawrs
    WrsNto,
    WrsSto,

    // Svinval
    SinvalVma,
    SfenceWInval,
    SfenceInvalIr,
    HinvalVvma,
    HinvalGvma,

    // Zimop
    MopR,
    MopRr,

    /// A V instruction: `rs3` holds its [`super::vector::VOp`], `imm` the raw word.
    Vector,
}
