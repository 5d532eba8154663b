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

/// A FENCE.I on one hart makes every hart of the VM see rewritten code, as QEMU
/// does: a guest hypervisor may move a nested guest that patched its code and fenced
/// to another hart without fencing there.
#[test]
fn fence_i_on_another_hart_makes_rewritten_code_visible() {
    use crate::layout::RAM_BASE;

    let mut program = crate::isa::encode::Assembler::new(RAM_BASE);
    // The routine at RAM_BASE, then a fence at RAM_BASE + 0x1000 for the second hart.
    program.addi(A0, ZERO, 1).ecall();
    program.align(0x1000).fence_i().ecall();
    let mut m = super::TestMachine::new(&program);
    m.run_to_ecall();
    assert_eq!(m.hart.reg(A0 as usize), 1);

    // Another hart rewrites the routine and fences on its own.
    assert!(m.ram.write(RAM_BASE, 4, encode::addi(A0, ZERO, 2) as u64));
    let mut other = super::super::Hart::new(super::super::HartConfig {
        hart_id: 1,
        ram: m.ram,
        mmio: Vec::new(),
        max_paging: super::PagingMode::Sv57,
        epoch: std::time::Instant::now(),
        hypervisor: false,
        nacl: None,
        fences: m.hart.fences.clone(),
        vlen: None,
        compile: super::tier_under_test(),
    });
    other.set_pc(RAM_BASE + 0x1000);
    assert!(matches!(other.run(), super::Exit::Sbi(_)));

    m.hart.set_pc(RAM_BASE);
    m.run_to_ecall();
    assert_eq!(m.hart.reg(A0 as usize), 2);
}

/// Straight-line code runs on into the next page: after a 2-byte instruction that
/// ends a page, and through a 4-byte instruction that straddles two pages.
#[test]
fn straight_line_code_crosses_page_boundaries() {
    let m = run(|p| {
        const C_NOP: u16 = 0x0001;
        p.addi(A0, ZERO, 0);
        // First page: ends with a 2-byte `c.addi a0, 1` at offset 0xFFE.
        while p.pc() & 0xFFF != 0xFFE {
            p.emit16(C_NOP);
        }
        p.emit16(0x0505); // c.addi a0, 1
        // Second page: a 4-byte instruction at 0xFFE straddles into the third.
        while p.pc() & 0xFFF != 0xFFE {
            p.emit16(C_NOP);
        }
        p.addi(A0, A0, 10).addi(A0, A0, 100).ecall();
    });
    assert_eq!(m.hart.reg(A0 as usize), 111);
}
