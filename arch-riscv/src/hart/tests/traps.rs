//! Synchronous traps: causes, stval, sepc, the privilege stack, and U-mode limits.

use super::{TestMachine, run};
use crate::csr::{self, status};
use crate::hart::Privilege;
use crate::isa::encode::Assembler;
use crate::isa::encode::reg::*;
use crate::layout::{RAM_BASE, UART_BASE};

/// A program with a handler that ECALLs with a7 = 0x7E; `body` runs first.
fn with_handler(body: impl FnOnce(&mut Assembler)) -> TestMachine {
    run(|p| {
        let handler = p.label();
        p.la(T0, handler).csrw(csr::STVEC, T0);
        body(p);
        p.addi(A7, ZERO, 0x7F).ecall();
        p.align(4);
        p.bind(handler);
        p.addi(A7, ZERO, 0x7E).ecall();
    })
}

fn csr_of(m: &TestMachine, number: u16) -> u64 {
    m.hart.csr(number).expect("implemented CSR")
}

#[test]
fn illegal_instruction_reports_its_bits_and_pc() {
    let m = with_handler(|p| {
        p.emit(0xFFFF_FFFF);
    });
    assert_eq!(csr_of(&m, csr::SCAUSE), 2);
    assert_eq!(csr_of(&m, csr::STVAL), 0xFFFF_FFFF);
    assert_eq!(csr_of(&m, csr::SEPC), RAM_BASE + 12); // after la (8 bytes) + csrw
}

#[test]
fn machine_mode_csrs_and_mret_are_illegal() {
    let m = with_handler(|p| {
        p.csrr(A0, 0x300); // mstatus
    });
    assert_eq!(csr_of(&m, csr::SCAUSE), 2);
    let m = with_handler(|p| {
        p.mret();
    });
    assert_eq!(csr_of(&m, csr::SCAUSE), 2);
}

#[test]
fn ebreak_is_a_breakpoint_with_the_pc_in_stval() {
    let m = with_handler(|p| {
        p.ebreak();
    });
    assert_eq!(csr_of(&m, csr::SCAUSE), 3);
    assert_eq!(csr_of(&m, csr::STVAL), csr_of(&m, csr::SEPC));
}

/// Enters U-mode at the label after the SRET, with `user` as its code.
fn in_user_mode(user: impl FnOnce(&mut Assembler)) -> TestMachine {
    with_handler(|p| {
        let user_code = p.label();
        p.li(T1, status::SPP).csrc(csr::SSTATUS, T1);
        p.la(T1, user_code).csrw(csr::SEPC, T1).sret();
        p.bind(user_code);
        user(p);
    })
}

#[test]
fn ecall_from_user_mode_traps_to_supervisor_with_cause_8() {
    let m = in_user_mode(|p| {
        p.ecall();
    });
    assert_eq!(csr_of(&m, csr::SCAUSE), 8);
    assert_eq!(m.hart.privilege(), Privilege::Supervisor);
    assert_eq!(csr_of(&m, csr::SSTATUS) & status::SPP, 0, "SPP records U");
}

#[test]
fn user_mode_cannot_touch_supervisor_state() {
    for user in [
        (|p: &mut Assembler| {
            p.csrr(A0, csr::SSTATUS);
        }) as fn(&mut Assembler),
        |p| {
            p.sret();
        },
        |p| {
            p.wfi();
        },
        |p| {
            p.sfence_vma(ZERO, ZERO);
        },
    ] {
        let m = in_user_mode(user);
        assert_eq!(csr_of(&m, csr::SCAUSE), 2);
    }
}

#[test]
fn user_counter_access_follows_scounteren() {
    let m = in_user_mode(|p| {
        p.csrr(A0, csr::TIME);
    });
    assert_eq!(
        csr_of(&m, csr::SCAUSE),
        2,
        "scounteren.TM = 0 forbids rdtime in U"
    );
    let m = with_handler(|p| {
        let user_code = p.label();
        p.addi(T1, ZERO, 0b111).csrw(csr::SCOUNTEREN, T1);
        p.li(T1, status::SPP).csrc(csr::SSTATUS, T1);
        p.la(T1, user_code).csrw(csr::SEPC, T1).sret();
        p.bind(user_code);
        p.csrr(A0, csr::TIME).csrr(A1, csr::INSTRET).ecall();
    });
    assert_eq!(csr_of(&m, csr::SCAUSE), 8, "reached the ECALL");
    assert!(m.hart.reg(A1 as usize) > 0);
}

#[test]
fn sret_restores_interrupt_enable_from_spie() {
    let m = with_handler(|p| {
        let next = p.label();
        p.li(T1, status::SPIE | status::SPP).csrs(csr::SSTATUS, T1);
        p.la(T1, next).csrw(csr::SEPC, T1).sret();
        p.bind(next);
        p.csrr(A0, csr::SSTATUS);
    });
    let sstatus = m.hart.reg(A0 as usize);
    assert_ne!(sstatus & status::SIE, 0);
    assert_ne!(sstatus & status::SPIE, 0);
    assert_eq!(sstatus & status::SPP, 0);
}

#[test]
fn misaligned_loads_and_stores_work_across_pages() {
    let m = with_handler(|p| {
        p.li(A1, RAM_BASE + 0x2FFD)
            .li(A2, 0x0102_0304_0506_0708)
            .sd(A2, A1, 0)
            .ld(A0, A1, 0);
        p.lw(A3, A1, 1);
    });
    assert_eq!(m.hart.reg(A0 as usize), 0x0102_0304_0506_0708);
    assert_eq!(m.hart.reg(A3 as usize), 0x0405_0607);
    assert_eq!(m.read64(RAM_BASE + 0x3000) >> 8 & 0xFF, 0x04);
}

#[test]
fn unmapped_physical_memory_raises_access_faults() {
    let m = with_handler(|p| {
        p.li(A1, 0x2000_0000).ld(A0, A1, 0);
    });
    assert_eq!(csr_of(&m, csr::SCAUSE), 5);
    assert_eq!(csr_of(&m, csr::STVAL), 0x2000_0000);
    let m = with_handler(|p| {
        p.li(A1, 0x2000_0000).sd(A0, A1, 0);
    });
    assert_eq!(csr_of(&m, csr::SCAUSE), 7);
    let m = with_handler(|p| {
        p.li(A1, 0x2000_0000).jalr(ZERO, A1, 0);
    });
    assert_eq!(csr_of(&m, csr::SCAUSE), 1);
}

#[test]
fn mmio_loads_exit_and_complete_with_the_vmm_value() {
    let mut p = Assembler::new(RAM_BASE);
    p.li(A1, UART_BASE).lbu(A0, A1, 5).sb(A0, A1, 0).ecall();
    let mut m = TestMachine::new(&p);
    assert_eq!(
        m.hart.run(),
        crate::hart::Exit::MmioRead {
            addr: UART_BASE + 5,
            len: 1
        }
    );
    m.hart.complete_mmio_read(0x60);
    assert_eq!(
        m.hart.run(),
        crate::hart::Exit::MmioWrite {
            addr: UART_BASE,
            len: 1,
            data: 0x60
        }
    );
    assert!(matches!(m.hart.run(), crate::hart::Exit::Sbi(_)));
    assert_eq!(m.hart.reg(A0 as usize), 0x60);
}
