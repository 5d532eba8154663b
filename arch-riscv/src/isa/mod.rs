//! The instruction set: decoded operations, the decoder and an encoder for test programs.

pub mod decode;
pub mod encode;
pub mod op;

pub use decode::decode;
pub use op::{Op, OpKind, SINK};
