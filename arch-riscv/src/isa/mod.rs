//! The instruction set: decoded operations, the decoder and an encoder for test programs.

mod compressed;
pub mod decode;
pub mod encode;
pub mod op;
pub mod opcode;
mod table;
pub mod vector;

pub use decode::decode;
pub use op::{Op, OpKind, SINK};
