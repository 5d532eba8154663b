//! Guest programs from the encoder on whole soft-backend machines (vCPU threads,
//! HSM, the SBI dispatcher): suspend and resume as the guest sees them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arch_riscv::csr;
use arch_riscv::isa::encode::Assembler;
use arch_riscv::isa::encode::reg::*;
use arch_riscv::layout::RAM_BASE;
use devices::bus::MmioBus;

use crate::hypervisor::soft::SoftHypervisor;
use crate::hypervisor::{Hypervisor, IrqChipRequest, Nesting, VmSetup};
use crate::machine::{ExitStatus, HartLines, Machine};
use crate::memory::GuestMemory;
use crate::sbi::{SbiHost, ext};
use crate::seccomp::SeccompFilters;
use crate::vcpu::vcpu_thread;
use crate::vm::StartGate;

/// Where the programs store what they observed.
const RESULTS: u64 = RAM_BASE + 0x8000;
/// A flag word the harts hand over through.
const FLAG: u64 = RAM_BASE + 0x9000;
/// An Sv39 root table mapping 0x8000_0000.. with one gigapage, identity.
const PAGE_TABLE: u64 = RAM_BASE + 0x1_0000;
/// 20 ms of the 10 MHz timebase.
const SLEEP_TICKS: u64 = 200_000;

/// Emits SBI call `extension.function(args...)`; the error lands in a0.
fn sbi(p: &mut Assembler, extension: u64, function: u64, args: &[u64]) {
    p.li(A7, extension).li(A6, function);
    for (reg, &value) in [A0, A1, A2, A3].iter().zip(args) {
        p.li(*reg, value);
    }
    p.ecall();
}

/// Stores register `reg` at RESULTS + 8 * slot.
fn record(p: &mut Assembler, slot: i32, reg: u8) {
    p.li(T6, RESULTS).sd(reg, T6, slot * 8);
}

/// Powers the machine off (SRST shutdown).
fn power_off(p: &mut Assembler) {
    sbi(p, ext::SRST, 0, &[0, 0]);
}

/// Runs `program` (at RAM_BASE) on `harts` soft harts, hart 0 booting, until the
/// VM ends, once as a plain guest and once with the H extension (`"nested"`);
/// returns how it ended and the 8 result words of each run.
fn run(harts: usize, program: &Assembler) -> [(ExitStatus, [u64; 8]); 2] {
    [false, true].map(|hypervisor| run_once(harts, program, hypervisor))
}

fn run_once(harts: usize, program: &Assembler, hypervisor: bool) -> (ExitStatus, [u64; 8]) {
    let mut memory = GuestMemory::new(16).expect("memory");
    // SAFETY: no vCPU exists yet.
    let ram = unsafe { memory.as_mut_slice() };
    let bytes = program.bytes();
    ram[..bytes.len()].copy_from_slice(&bytes);
    let vm = SoftHypervisor
        .create_vm(&VmSetup {
            vcpu_count: harts as u32,
            mmio_windows: Vec::new(),
            irqchip: IrqChipRequest::Auto,
            nesting: Nesting {
                hypervisor,
                nacl: None,
            },
            ..VmSetup::default()
        })
        .expect("vm");
    vm.add_memory_region(memory.region()).expect("region");
    let vcpus: Vec<_> = (0..harts as u32)
        .map(|id| vm.create_vcpu(id).expect("vcpu"))
        .collect();
    let machine = Arc::new(
        Machine::new(
            Arc::new(memory),
            MmioBus::new(),
            Arc::new(HartLines::default()),
            harts,
        )
        .expect("machine"),
    );
    machine.set_harts(vcpus.iter().map(|v| v.signals()).collect());
    machine
        .hart_states
        .start(0, RAM_BASE, 0)
        .expect("boot hart");
    let gate = Arc::new(StartGate::default());
    gate.open();
    let threads: Vec<_> = vcpus
        .into_iter()
        .enumerate()
        .map(|(id, vcpu)| {
            let machine = machine.clone();
            let gate = gate.clone();
            std::thread::spawn(move || {
                vcpu_thread(id, vcpu, machine, &SeccompFilters::disabled(), &gate)
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    while machine.exit_status().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    machine.stop_vcpus();
    for thread in threads {
        thread.join().expect("vCPU thread");
    }
    let mut results = [0u64; 8];
    for (slot, word) in results.iter_mut().enumerate() {
        let mut bytes = [0u8; 8];
        assert!(machine.read_guest(RESULTS + slot as u64 * 8, &mut bytes));
        *word = u64::from_le_bytes(bytes);
    }
    let status = machine
        .exit_status()
        .expect("the program did not finish in 20 s");
    (status, results)
}

/// Arms the timer SLEEP_TICKS ahead (keeping `now` in S5) and enables STIE only.
fn arm_timer(p: &mut Assembler) {
    p.li(T0, csr::irq::STIP).csrw(csr::SIE, T0);
    p.csrr(S5, csr::TIME).li(T1, SLEEP_TICKS).add(A0, S5, T1);
    p.li(A7, ext::TIME).li(A6, 0).ecall();
}

#[test]
fn retentive_suspend_sleeps_until_the_timer_and_keeps_registers() {
    let mut p = Assembler::new(RAM_BASE);
    p.li(S4, 0x1234_5678_9ABC_DEF0);
    arm_timer(&mut p);
    // Upper 32 bits set: suspend_type is 32 bits wide, so this is type 0.
    sbi(&mut p, ext::HSM, 3, &[0xFFFF_FFFF_0000_0000, 0, 0]);
    p.csrr(S6, csr::TIME);
    record(&mut p, 0, A0);
    record(&mut p, 1, S4);
    record(&mut p, 2, S5);
    record(&mut p, 3, S6);
    power_off(&mut p);
    for (status, r) in run(1, &p) {
        assert_eq!(status, ExitStatus::PowerOff);
        assert_eq!(r[0], 0, "SUCCESS");
        assert_eq!(r[1], 0x1234_5678_9ABC_DEF0, "registers kept");
        assert!(
            r[3] >= r[2] + SLEEP_TICKS,
            "woke at {} before the timer at {}",
            r[3],
            r[2] + SLEEP_TICKS
        );
    }
}

#[test]
fn non_retentive_suspend_resumes_at_the_address_with_the_spec_state() {
    let mut p = Assembler::new(RAM_BASE);
    let secondary = p.label();
    let resume = p.label();
    let wait_suspended = p.label();
    let wait_resumed = p.label();
    let fail = p.label();
    // Hart 0: start hart 1, wait until it is SUSPENDED, then wake it with an IPI.
    p.la(A1, secondary);
    p.li(A7, ext::HSM).li(A6, 0).li(A0, 1).li(A2, 0).ecall();
    p.bind(wait_suspended);
    sbi(&mut p, ext::HSM, 2, &[1]);
    p.li(T0, 4).bne_to(A1, T0, wait_suspended);
    record(&mut p, 0, A1);
    sbi(&mut p, ext::IPI, 0, &[0b10, 0]);
    p.bind(wait_resumed);
    p.li(T0, FLAG).ld(T1, T0, 0).beq_to(T1, ZERO, wait_resumed);
    sbi(&mut p, ext::HSM, 2, &[1]);
    record(&mut p, 1, A1);
    power_off(&mut p);

    // Hart 1: MMU on, SIE on, SSIE enabled, then a non-retentive suspend.
    p.bind(secondary);
    p.la(T0, fail).csrw(csr::STVEC, T0);
    p.li(T0, PAGE_TABLE + 2 * 8)
        .li(T1, ((RAM_BASE >> 12) << 10) | 0xCF)
        .sd(T1, T0, 0);
    p.li(T0, (8 << 60) | (PAGE_TABLE >> 12)).csrw(csr::SATP, T0);
    p.li(T0, csr::irq::SSIP).csrw(csr::SIE, T0);
    p.li(T0, csr::status::SIE).csrs(csr::SSTATUS, T0);
    p.la(A1, resume);
    p.li(A7, ext::HSM)
        .li(A6, 3)
        .li(A0, 0x8000_0000)
        .li(A2, 0xFEED_F00D)
        .ecall();
    // A non-retentive suspend does not return.
    p.li(T0, 0xBAD);
    record(&mut p, 7, T0);
    p.j_to(fail);

    p.bind(resume);
    record(&mut p, 2, A0);
    record(&mut p, 3, A1);
    p.csrr(T0, csr::SATP);
    record(&mut p, 4, T0);
    p.csrr(T0, csr::SSTATUS);
    record(&mut p, 5, T0);
    p.li(T0, FLAG).li(T1, 1).sd(T1, T0, 0);
    let park = p.here();
    p.wfi().j_to(park);

    p.bind(fail);
    p.csrr(T0, csr::SCAUSE);
    record(&mut p, 6, T0);
    power_off(&mut p);

    for (status, r) in run(2, &p) {
        assert_eq!(status, ExitStatus::PowerOff);
        assert_eq!((r[6], r[7]), (0, 0), "no trap, no return from the suspend");
        assert_eq!(r[0], 4, "hart_get_status: SUSPENDED");
        assert_eq!(r[1], 0, "hart_get_status after resume: STARTED");
        assert_eq!(r[2], 1, "a0 = hartid");
        assert_eq!(r[3], 0xFEED_F00D, "a1 = opaque");
        assert_eq!(r[4], 0, "satp = 0");
        assert_eq!(r[5] & csr::status::SIE, 0, "sstatus.SIE = 0");
    }
}

#[test]
fn bad_suspend_calls_return_their_errors_to_the_guest() {
    let mut p = Assembler::new(RAM_BASE);
    sbi(&mut p, ext::HSM, 3, &[0x8000_0000, 0x1000, 0]);
    record(&mut p, 0, A0);
    sbi(&mut p, ext::HSM, 3, &[0x8000_0000, RAM_BASE + 1, 0]);
    record(&mut p, 1, A0);
    sbi(&mut p, ext::HSM, 3, &[0x1000_0000, RAM_BASE, 0]);
    record(&mut p, 2, A0);
    sbi(&mut p, ext::HSM, 3, &[0x8000_0001, RAM_BASE, 0]);
    record(&mut p, 3, A0);
    power_off(&mut p);
    for (status, r) in run(1, &p) {
        assert_eq!(status, ExitStatus::PowerOff);
        assert_eq!(
            r[..4].iter().map(|&e| e as i64).collect::<Vec<_>>(),
            [-5, -5, -3, -3]
        );
    }
}

#[test]
fn system_suspend_needs_the_other_harts_stopped_and_resumes_at_the_address() {
    let mut p = Assembler::new(RAM_BASE);
    let secondary = p.label();
    let resume = p.label();
    let wait_stopped = p.label();
    // Hart 0: start hart 1 (it spins until FLAG), try to suspend: DENIED.
    p.la(A1, secondary);
    p.li(A7, ext::HSM).li(A6, 0).li(A0, 1).li(A2, 0).ecall();
    p.la(A1, resume);
    p.li(A7, ext::SUSP).li(A6, 0).li(A0, 0).li(A2, 0).ecall();
    record(&mut p, 0, A0);
    // Let hart 1 stop itself, and wait until it has.
    p.li(T0, FLAG).li(T1, 1).sd(T1, T0, 0);
    p.bind(wait_stopped);
    sbi(&mut p, ext::HSM, 2, &[1]);
    p.li(T0, 1).bne_to(A1, T0, wait_stopped);
    arm_timer(&mut p);
    record(&mut p, 1, S5);
    p.la(A1, resume);
    p.li(A7, ext::SUSP)
        .li(A6, 0)
        .li(A0, 0)
        .li(A2, 0x5A5A)
        .ecall();
    p.li(T0, 0xBAD);
    record(&mut p, 7, T0);
    power_off(&mut p);

    p.bind(resume);
    p.csrr(T0, csr::TIME);
    record(&mut p, 2, T0);
    record(&mut p, 3, A0);
    record(&mut p, 4, A1);
    power_off(&mut p);

    p.bind(secondary);
    let spin = p.here();
    p.li(T0, FLAG).ld(T1, T0, 0).beq_to(T1, ZERO, spin);
    sbi(&mut p, ext::HSM, 1, &[]);

    for (status, r) in run(2, &p) {
        assert_eq!(status, ExitStatus::PowerOff);
        assert_eq!(r[7], 0, "system_suspend does not return on success");
        assert_eq!(r[0] as i64, -4, "DENIED while hart 1 runs");
        assert!(r[2] >= r[1] + SLEEP_TICKS, "slept until the timer");
        assert_eq!((r[3], r[4]), (0, 0x5A5A), "a0 = hartid, a1 = opaque");
    }
}
