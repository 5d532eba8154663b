//! Decode-cache coherence: code rewritten after it ran is seen after FENCE.I.

use super::run;
use crate::isa::encode::{self, reg::*};

#[test]
fn fence_i_makes_rewritten_code_visible() {
    let m = run(|p| {
        let patched = p.label();
        let done = p.label();
        // First pass: run `patched` (addi a0, a0, 1), then overwrite it with
        // `addi a0, a0, 100`, FENCE.I and run it again.
        p.addi(A0, ZERO, 0).addi(S1, ZERO, 2);
        let again = p.here();
        p.jal_to(RA, patched);
        p.addi(S1, S1, -1).beq_to(S1, ZERO, done);
        p.la(T0, patched)
            .li(T1, encode::addi(A0, A0, 100) as u64)
            .sw(T1, T0, 0)
            .fence_i();
        p.j_to(again);
        p.bind(patched);
        p.addi(A0, A0, 1).jalr(ZERO, RA, 0);
        p.bind(done);
        p.ecall();
    });
    assert_eq!(m.hart.reg(A0 as usize), 101);
}
