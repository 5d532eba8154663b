//! Interrupts: enables, priority, vectored mode, delivery from U-mode, WFI wake-up.

use std::time::Duration;

use super::run;
use crate::csr::{self, irq, status};
use crate::isa::encode::Assembler;
use crate::isa::encode::reg::*;
use crate::layout::RAM_BASE;

const INTERRUPT: u64 = 1 << 63;

/// Handler at a label; `setup` then an ECALL with a7 = 0x7F if no interrupt came.
fn program(p: &mut Assembler, vectored: bool, setup: impl FnOnce(&mut Assembler)) {
    let handler = p.label();
    p.la(T0, handler);
    if vectored {
        p.ori(T0, T0, 1);
    }
    p.csrw(csr::STVEC, T0).addi(A6, ZERO, 0);
    setup(p);
    p.addi(A7, ZERO, 0x7F).ecall();
    p.align(64);
    p.bind(handler);
    // Vectored entries: 16 slots of one `addi a6, a6, 1` each, sliding into the
    // common tail, so entering at slot k leaves a6 = 16 - k.
    for _ in 0..16 {
        p.addi(A6, A6, 1);
    }
    p.addi(A7, ZERO, 0x7E).ecall();
}

#[test]
fn timer_interrupt_fires_when_time_passes_stimecmp() {
    let m = run(|p| {
        program(p, false, |p| {
            p.csrw(csr::STIMECMP, ZERO);
            p.li(T1, irq::STIP).csrw(csr::SIE, T1);
            p.csrrsi(ZERO, csr::SSTATUS, status::SIE as u8);
            p.j(0); // spin until the interrupt
        })
    });
    assert_eq!(m.hart.csr(csr::SCAUSE), Some(INTERRUPT | irq::STI));
    assert_eq!(m.hart.reg(A7 as usize), 0x7E);
    assert_eq!(
        m.hart.csr(csr::SSTATUS).unwrap_or(0) & status::SPIE,
        status::SPIE
    );
}

#[test]
fn disabled_interrupts_stay_pending_and_wfi_still_wakes() {
    let m = run(|p| {
        program(p, false, |p| {
            p.csrw(csr::STIMECMP, ZERO);
            p.li(T1, irq::STIP).csrw(csr::SIE, T1);
            p.wfi(); // SIE = 0: WFI returns without a trap
            p.csrr(A0, csr::SIP);
        })
    });
    assert_eq!(
        m.hart.reg(A7 as usize),
        0x7F,
        "no trap with sstatus.SIE clear"
    );
    assert_eq!(m.hart.reg(A0 as usize) & irq::STIP, irq::STIP);
}

#[test]
fn vectored_mode_jumps_to_base_plus_four_times_cause() {
    let m = run(|p| {
        program(p, true, |p| {
            p.addi(T1, ZERO, irq::SSIP as i32)
                .csrs(csr::SIP, T1)
                .csrw(csr::SIE, T1);
            p.csrrsi(ZERO, csr::SSTATUS, status::SIE as u8);
        })
    });
    assert_eq!(m.hart.csr(csr::SCAUSE), Some(INTERRUPT | irq::SSI));
    assert_eq!(16 - m.hart.reg(A6 as usize), irq::SSI);
}

#[test]
fn external_beats_software_beats_timer() {
    let mut p = Assembler::new(RAM_BASE);
    program(&mut p, false, |p| {
        p.csrw(csr::STIMECMP, ZERO);
        p.li(T1, irq::S_MASK).csrw(csr::SIE, T1);
        p.addi(T1, ZERO, irq::SSIP as i32).csrs(csr::SIP, T1);
        p.csrrsi(ZERO, csr::SSTATUS, status::SIE as u8);
    });
    let mut m = super::TestMachine::new(&p);
    m.hart.signals().set_external_interrupt(true);
    m.run_to_ecall();
    assert_eq!(m.hart.csr(csr::SCAUSE), Some(INTERRUPT | irq::SEI));
}

#[test]
fn user_mode_takes_interrupts_even_with_sie_clear() {
    let m = run(|p| {
        program(p, false, |p| {
            let user = p.label();
            p.addi(T1, ZERO, irq::SSIP as i32)
                .csrs(csr::SIP, T1)
                .csrw(csr::SIE, T1);
            p.li(T1, status::SPP | status::SPIE).csrc(csr::SSTATUS, T1);
            p.la(T1, user).csrw(csr::SEPC, T1).sret();
            p.bind(user);
            p.j(0);
        })
    });
    assert_eq!(m.hart.csr(csr::SCAUSE), Some(INTERRUPT | irq::SSI));
}

#[test]
fn wfi_sleeps_until_another_thread_sends_an_ipi() {
    let mut p = Assembler::new(RAM_BASE);
    program(&mut p, false, |p| {
        p.addi(T1, ZERO, irq::SSIP as i32).csrw(csr::SIE, T1);
        p.wfi();
        p.csrr(A0, csr::SIP);
    });
    let mut m = super::TestMachine::new(&p);
    let signals = m.hart.signals();
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        signals.send_ipi();
    });
    m.run_to_ecall();
    sender.join().expect("sender");
    assert_eq!(m.hart.reg(A0 as usize) & irq::SSIP, irq::SSIP);
}
