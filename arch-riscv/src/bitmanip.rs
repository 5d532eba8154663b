//! The scalar integer operations of Zba, Zbb, Zbs and Zicond, as pure functions of
//! their operands (after the bit-manipulation specification 1.0.0 and the Zicond
//! specification 1.0.0).

use crate::isa::OpKind;

/// Computes `kind` on `a` (rs1), `b` (rs2) and `shamt` (the immediate of the
/// shift-immediate forms: 0..=63, the W forms use its low 5 bits).
///
/// Returns `None` if `kind` is not one of these operations.
pub fn execute(kind: OpKind, a: u64, b: u64, shamt: u32) -> Option<u64> {
    use OpKind::*;
    let shamt = shamt & 63;
    let index = (b & 63) as u32;
    let word = a as u32 as u64;
    Some(match kind {
        // Zba
        AddUw => b.wrapping_add(word),
        Sh1add => b.wrapping_add(a << 1),
        Sh2add => b.wrapping_add(a << 2),
        Sh3add => b.wrapping_add(a << 3),
        Sh1addUw => b.wrapping_add(word << 1),
        Sh2addUw => b.wrapping_add(word << 2),
        Sh3addUw => b.wrapping_add(word << 3),
        SlliUw => word << shamt,

        // Zbb
        Andn => a & !b,
        Orn => a | !b,
        Xnor => !(a ^ b),
        Clz => a.leading_zeros() as u64,
        Clzw => (a as u32).leading_zeros() as u64,
        Ctz => a.trailing_zeros() as u64,
        Ctzw => (a as u32).trailing_zeros() as u64,
        Cpop => a.count_ones() as u64,
        Cpopw => (a as u32).count_ones() as u64,
        Max => (a as i64).max(b as i64) as u64,
        Maxu => a.max(b),
        Min => (a as i64).min(b as i64) as u64,
        Minu => a.min(b),
        SextB => a as i8 as i64 as u64,
        SextH => a as i16 as i64 as u64,
        ZextH => a as u16 as u64,
        Rol => a.rotate_left(index),
        Rolw => sext32((a as u32).rotate_left(index & 31)),
        Ror => a.rotate_right(index),
        Rorw => sext32((a as u32).rotate_right(index & 31)),
        Rori => a.rotate_right(shamt),
        Roriw => sext32((a as u32).rotate_right(shamt & 31)),
        OrcB => orc_b(a),
        Rev8 => a.swap_bytes(),

        // Zbs
        Bclr => a & !(1 << index),
        Bclri => a & !(1 << shamt),
        Bext => (a >> index) & 1,
        Bexti => (a >> shamt) & 1,
        Binv => a ^ (1 << index),
        Binvi => a ^ (1 << shamt),
        Bset => a | (1 << index),
        Bseti => a | (1 << shamt),

        // Zicond
        CzeroEqz => {
            if b == 0 {
                0
            } else {
                a
            }
        }
        CzeroNez => {
            if b != 0 {
                0
            } else {
                a
            }
        }
        _ => return None,
    })
}

/// Sign-extends a 32-bit result.
fn sext32(value: u32) -> u64 {
    value as i32 as i64 as u64
}

/// `orc.b`: each byte becomes 0xff if any of its bits is set, else 0.
fn orc_b(a: u64) -> u64 {
    // Bit 7 of each byte of `high` is set iff the byte of `a` is non-zero.
    let low7 = 0x7f7f_7f7f_7f7f_7f7f;
    let high = ((a & low7).wrapping_add(low7) | a) & !low7;
    // Spread each byte's bit 7 to the whole byte: 0x80 -> 0xff.
    (high >> 7).wrapping_mul(0xff)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte-at-a-time definition of `orc.b` in the specification.
    fn orc_b_reference(a: u64) -> u64 {
        let mut out = 0;
        for i in 0..8 {
            if (a >> (8 * i)) & 0xff != 0 {
                out |= 0xff << (8 * i);
            }
        }
        out
    }

    #[test]
    fn orc_b_matches_the_bytewise_definition() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // Clear random bytes so that zero and non-zero bytes mix.
            let mask = (0..8).fold(0u64, |m, i| {
                if (x >> (i * 5)) & 1 != 0 {
                    m | 0xff << (8 * i)
                } else {
                    m
                }
            });
            let a = x & mask;
            assert_eq!(orc_b(a), orc_b_reference(a), "{a:#x}");
        }
        assert_eq!(orc_b(0), 0);
        assert_eq!(orc_b(u64::MAX), u64::MAX);
        assert_eq!(orc_b(0x0100_8000_0001_0000), 0xff00_ff00_00ff_0000);
    }

    #[test]
    fn non_bitmanip_kinds_are_refused() {
        assert_eq!(execute(OpKind::Add, 1, 2, 0), None);
        assert_eq!(execute(OpKind::Illegal, 1, 2, 0), None);
    }
}
