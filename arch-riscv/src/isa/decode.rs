//! Decoding of 16- and 32-bit instructions into [`super::Op`]s.

use super::Op;

/// Decodes one instruction (a 16-bit parcel in the low half when `bits & 3 != 3`).
pub fn decode(_bits: u32) -> Op {
    Op::UNDECODED
}
