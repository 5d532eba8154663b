//! Guest code is guest-controlled input: random instruction streams, with traps
//! vectored back into them and whatever CSR writes, paging modes and H-extension
//! state they stumble into, must never panic the hart, and every slice must end.

use super::{RAM_SIZE, TestMachine};
use crate::hart::Exit;
use crate::isa::decode::tests::XorShift as Rng;
use crate::isa::encode::Assembler;
use crate::layout::RAM_BASE;

/// Bytes of random code per run.
const CODE: u64 = 64 << 10;

/// The major opcodes of RV64GC (bits 6:0), so that most random words decode.
const OPCODES: [u32; 20] = [
    0x03, 0x07, 0x0F, 0x13, 0x17, 0x1B, 0x23, 0x27, 0x2F, 0x33, 0x37, 0x3B, 0x43, 0x47, 0x4B, 0x4F,
    0x53, 0x63, 0x67, 0x73,
];

/// Fills the code area with random instructions: mostly 32-bit ones with a valid
/// major opcode, some compressed parcels, some raw noise.
fn random_code(m: &TestMachine, rng: &mut Rng) {
    for offset in (0..CODE).step_by(4) {
        let r = rng.next();
        let bits = (r >> 16) as u32;
        let word = match r % 8 {
            0..=4 => (bits & !0x7F) | OPCODES[(r >> 8) as usize % OPCODES.len()],
            5 | 6 => (bits & !0x0003_0003) | (r as u32 & 0x0002_0002),
            _ => bits,
        };
        assert!(m.ram.write(RAM_BASE + offset, 4, u64::from(word)));
    }
}

/// A random code address, 2-byte aligned.
fn code_address(rng: &mut Rng) -> u64 {
    RAM_BASE + ((rng.next() % CODE) & !1)
}

fn fuzz(seed: u64, hypervisor: bool) {
    let program = Assembler::new(RAM_BASE);
    let mut m = if hypervisor {
        TestMachine::new(&program)
    } else {
        TestMachine::new_without_h(&program)
    };
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    random_code(&m, &mut rng);
    // Scribble over the rest of RAM too: page tables and data come from it.
    for offset in (CODE..RAM_SIZE).step_by(8 * 64) {
        assert!(m.ram.write(RAM_BASE + offset, 8, rng.next()));
    }
    for reg in 1..32 {
        // Registers point into RAM half of the time, so loads and stores hit it.
        let value = if rng.next() & 1 == 0 {
            RAM_BASE + rng.next() % RAM_SIZE
        } else {
            rng.next()
        };
        m.hart.set_reg(reg, value);
    }
    m.hart.csr.sstatus |= crate::csr::status::FS_DIRTY;
    if hypervisor {
        // Some exceptions and VS interrupts are delegated to VS.
        m.hart.csr.hedeleg = rng.next() & 0xB1FF;
        m.hart.csr.hideleg = rng.next() & crate::csr::irq::VS_MASK;
    }
    for _ in 0..400 {
        // A fresh start and fresh trap vectors (direct or vectored) each slice, so
        // that a trap loop does not eat the run; the state the code left stays.
        m.hart.set_pc(code_address(&mut rng));
        m.hart.csr.stvec = (code_address(&mut rng) & !3) | (rng.next() & 1);
        m.hart.csr.vstvec = (code_address(&mut rng) & !3) | (rng.next() & 1);
        // A slice runs at most a few thousand instructions, then returns.
        match m.hart.run_slice() {
            Some(Exit::Sbi(_)) => m.hart.complete_sbi(-2, 0),
            Some(Exit::MmioRead { .. }) => m.hart.complete_mmio_read(rng.next()),
            Some(Exit::MmioWrite { .. }) | Some(Exit::Kicked) | None => {}
        }
        // Interrupts and events between slices, as `run()` does; a hart that
        // executed WFI would sleep there, so pretend the interrupt came.
        m.hart.waiting_for_interrupt = false;
        let _ = m.hart.service_events();
    }
}

#[test]
fn random_code_never_panics_the_hart() {
    for seed in 0..24 {
        fuzz(seed, false);
    }
}

#[test]
fn random_code_never_panics_a_hart_with_the_h_extension() {
    for seed in 100..124 {
        fuzz(seed, true);
    }
}
