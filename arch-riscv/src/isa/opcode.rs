//! Major opcodes (instruction bits 6:0), named as in the manual's opcode map; shared
//! by the decoder and the encoder.
#![allow(missing_docs)] // The names are the manual's.

pub const LOAD: u32 = 0x03;
pub const LOAD_FP: u32 = 0x07;
pub const MISC_MEM: u32 = 0x0f;
pub const OP_IMM: u32 = 0x13;
pub const AUIPC: u32 = 0x17;
pub const OP_IMM_32: u32 = 0x1b;
pub const STORE: u32 = 0x23;
pub const STORE_FP: u32 = 0x27;
pub const AMO: u32 = 0x2f;
pub const OP: u32 = 0x33;
pub const LUI: u32 = 0x37;
pub const OP_32: u32 = 0x3b;
pub const MADD: u32 = 0x43;
pub const MSUB: u32 = 0x47;
pub const NMSUB: u32 = 0x4b;
pub const NMADD: u32 = 0x4f;
pub const OP_FP: u32 = 0x53;
pub const OP_V: u32 = 0x57;
pub const BRANCH: u32 = 0x63;
pub const JALR: u32 = 0x67;
pub const JAL: u32 = 0x6f;
pub const SYSTEM: u32 = 0x73;
