//! Zicbom and Zicboz (with their senvcfg enables), Zimop, Zawrs and Svinval in S
//! and U mode; the VS-mode cases are in `hypervisor`.

use super::{TestMachine, run};
use crate::csr::{self, envcfg, status};
use crate::isa::encode::Assembler;
use crate::isa::encode::reg::*;
use crate::layout::RAM_BASE;

const DATA: u64 = RAM_BASE + 0x20_0000;

/// Runs `body` (in S-mode) with a handler that records scause in s2 (else -1).
fn with_handler(body: impl FnOnce(&mut Assembler)) -> TestMachine {
    run(|p| {
        let handler = p.label();
        p.addi(S2, ZERO, -1);
        p.la(T0, handler).csrw(csr::STVEC, T0);
        body(p);
        p.ecall();
        p.align(4);
        p.bind(handler);
        p.csrr(S2, csr::SCAUSE).ecall();
    })
}

/// Sets senvcfg to `senvcfg`, then runs `user` in U-mode.
fn in_user_mode(senvcfg: u64, user: impl FnOnce(&mut Assembler)) -> TestMachine {
    with_handler(|p| {
        let user_code = p.label();
        p.li(T1, senvcfg).csrw(csr::SENVCFG, T1);
        p.li(T1, status::SPP).csrc(csr::SSTATUS, T1);
        p.la(T1, user_code).csrw(csr::SEPC, T1).sret();
        p.bind(user_code);
        user(p);
    })
}

fn cause(m: &TestMachine) -> i64 {
    m.hart.reg(S2 as usize) as i64
}

fn fill(m: &TestMachine, from: u64, to: u64) {
    for addr in (from..to).step_by(8) {
        m.write64(addr, 0x5A5A_5A5A_5A5A_5A5A);
    }
}

#[test]
fn cbo_zero_clears_the_aligned_64_byte_block_of_its_address() {
    let body = |p: &mut Assembler| {
        p.li(A1, DATA + 0x40 + 0x27).cbo_zero(A1);
    };
    let mut program = Assembler::new(RAM_BASE);
    body(&mut program);
    program.ecall();
    let mut m = TestMachine::new(&program);
    fill(&m, DATA, DATA + 0xC0);
    m.run_to_ecall();
    assert_eq!(m.read64(DATA + 0x38), 0x5A5A_5A5A_5A5A_5A5A);
    for addr in (DATA + 0x40..DATA + 0x80).step_by(8) {
        assert_eq!(m.read64(addr), 0, "{addr:#x}");
    }
    assert_eq!(m.read64(DATA + 0x80), 0x5A5A_5A5A_5A5A_5A5A);
}

#[test]
fn cbo_zero_breaks_a_reservation_on_its_block() {
    let m = run(|p| {
        p.li(A1, DATA + 0x48)
            .lr_d(A0, A1, false, false)
            .addi(A0, A0, 1)
            .li(A2, DATA + 0x40)
            .cbo_zero(A2)
            .sc_d(A3, A0, A1, false, false)
            .ecall();
    });
    assert_eq!(m.hart.reg(A3 as usize), 1, "sc.d fails");
    assert_eq!(m.read64(DATA + 0x48), 0);
}

#[test]
fn cache_block_operations_outside_ram_are_store_access_faults() {
    let m = with_handler(|p| {
        p.li(A1, 0x1000_0123).cbo_zero(A1);
    });
    assert_eq!(cause(&m), 7);
    assert_eq!(
        m.hart.csr(csr::STVAL),
        Some(0x1000_0100),
        "the block address"
    );
    // clean/flush/inval outside RAM are fine without paging (nothing to check).
    let m = with_handler(|p| {
        p.li(A1, DATA).cbo_clean(A1).cbo_flush(A1).cbo_inval(A1);
    });
    assert_eq!(cause(&m), -1);
}

#[test]
fn user_mode_cache_block_operations_follow_senvcfg() {
    let all = envcfg::CBIE | envcfg::CBCFE | envcfg::CBZE;
    type Op = fn(&mut Assembler, u8) -> &mut Assembler;
    let ops: [(Op, u64); 4] = [
        (Assembler::cbo_zero, envcfg::CBZE),
        (Assembler::cbo_clean, envcfg::CBCFE),
        (Assembler::cbo_flush, envcfg::CBCFE),
        (Assembler::cbo_inval, 1 << 4),
    ];
    for (op, enable) in ops {
        let m = in_user_mode(all & !enable & !envcfg::CBIE, |p| {
            p.li(A1, DATA);
            op(p, A1);
        });
        assert_eq!(cause(&m), 2, "disabled: illegal");
        let m = in_user_mode(enable, |p| {
            p.li(A1, DATA);
            op(p, A1);
        });
        assert_eq!(cause(&m), 8, "enabled: runs on to the ECALL from U");
    }
}

#[test]
fn senvcfg_keeps_the_cache_block_fields_and_drops_reserved_cbie() {
    let m = run(|p| {
        p.li(T0, u64::MAX)
            .csrw(csr::SENVCFG, T0)
            .csrr(A0, csr::SENVCFG)
            .li(T0, 2 << 4)
            .csrw(csr::SENVCFG, T0)
            .csrr(A1, csr::SENVCFG)
            .ecall();
    });
    assert_eq!(
        m.hart.reg(A0 as usize),
        envcfg::CBIE | envcfg::CBCFE | envcfg::CBZE
    );
    assert_eq!(m.hart.reg(A1 as usize), 0);
}

#[test]
fn may_be_operations_write_zero() {
    let m = run(|p| {
        p.li(A0, 5).li(A1, 6).li(A2, 7);
        p.mop_r(0, A0, A1).mop_r(31, A1, A2).mop_rr(7, A2, A0, A1);
        p.mop_r(5, ZERO, A1);
        p.ecall();
    });
    for r in [A0, A1, A2] {
        assert_eq!(m.hart.reg(r as usize), 0);
    }
}

#[test]
fn wrs_waits_only_while_a_reservation_is_held() {
    let m = run(|p| {
        p.li(A1, DATA)
            .wrs_nto()
            .wrs_sto()
            .lr_d(A0, A1, false, false)
            .wrs_nto()
            .wrs_sto()
            .li(A2, 9)
            .ecall();
    });
    assert_eq!(m.hart.reg(A2 as usize), 9);
}

#[test]
fn svinval_in_user_mode_is_illegal() {
    type Fence = fn(&mut Assembler) -> &mut Assembler;
    let fences: [Fence; 3] = [
        |p| p.sinval_vma(ZERO, ZERO),
        Assembler::sfence_w_inval,
        Assembler::sfence_inval_ir,
    ];
    for fence in fences {
        let m = in_user_mode(0, |p| {
            fence(p);
        });
        assert_eq!(cause(&m), 2);
    }
    let m = with_handler(|p| {
        p.sfence_w_inval().sinval_vma(ZERO, ZERO).sfence_inval_ir();
    });
    assert_eq!(cause(&m), -1);
}

#[test]
fn cbo_zero_through_a_cached_translation_zeroes_whole_blocks() {
    // The sd fills the store TLB; the cbo.zero ops then take its fast path.
    let m = run(|p| {
        p.li(A1, DATA + 0x100).li(A2, 7).sd(A2, A1, 0);
        p.li(A3, DATA + 0x1C0)
            .cbo_zero(A3)
            .addi(A3, A3, 64)
            .cbo_zero(A3);
        p.ld(A0, A1, 0).ecall();
    });
    assert_eq!(m.hart.reg(A0 as usize), 7);
    let mut p = Assembler::new(RAM_BASE);
    p.li(A1, DATA + 0x100).sd(ZERO, A1, 0);
    p.li(A3, DATA + 0x1C0)
        .cbo_zero(A3)
        .addi(A3, A3, 64)
        .cbo_zero(A3)
        .ecall();
    let mut m = TestMachine::new(&p);
    fill(&m, DATA + 0x180, DATA + 0x240);
    m.run_to_ecall();
    assert_eq!(m.read64(DATA + 0x1B8), 0x5A5A_5A5A_5A5A_5A5A);
    for addr in (DATA + 0x1C0..DATA + 0x200).step_by(8) {
        assert_eq!(m.read64(addr), 0, "{addr:#x}");
    }
    assert_eq!(m.read64(DATA + 0x200), 0);
    assert_eq!(m.read64(DATA + 0x238), 0);
}
