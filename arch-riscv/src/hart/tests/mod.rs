//! Unit tests of the hart with encoder-generated guest programs.
//!
//! A test assembles a program at [`RAM_BASE`], runs the hart until it makes an SBI
//! call (the programs' way of saying "done"), and checks registers, CSRs and memory.

mod alu;
mod atomics;
mod bitmanip;
mod cmo;
#[cfg(jit)]
mod compiled;
#[cfg(jit)]
mod differential;
mod fp;
mod fuzz;
mod hypervisor;
mod icache;
mod interrupts;
mod paging;
mod qemu_user;
mod qemu_vector;
mod traps;
mod vector;

use std::alloc::{Layout, alloc_zeroed, dealloc};
use std::time::Instant;

use super::mmu::PagingMode;
use super::ram::GuestRam;
use super::{Exit, Hart, HartConfig, SbiCall};
use crate::isa::encode::Assembler;
use crate::layout::{RAM_BASE, UART_BASE, UART_SIZE};

/// The tier the tests run on, from `RVNEST_TEST_TIER`: `interpreter` (the default),
/// `compiled` (the default threshold), or `compile-all` (every block compiled at its
/// first entry).
pub fn tier_under_test() -> Option<super::CompileConfig> {
    match std::env::var("RVNEST_TEST_TIER").as_deref() {
        Ok("compiled") => Some(super::CompileConfig::default()),
        Ok("compile-all") => Some(super::CompileConfig {
            threshold: 0,
            ..Default::default()
        }),
        Ok("interpreter") | Err(_) => None,
        Ok(other) => panic!("RVNEST_TEST_TIER={other}: want interpreter, compiled or compile-all"),
    }
}

/// Guest RAM of the test machine.
pub const RAM_SIZE: u64 = 4 << 20;

/// A hart with its own RAM.
pub struct TestMachine {
    pub hart: Hart,
    pub ram: GuestRam,
    host: *mut u8,
    layout: Layout,
}

impl TestMachine {
    /// A machine whose RAM holds `program` at [`RAM_BASE`], the hart at its start.
    pub fn new(program: &Assembler) -> TestMachine {
        TestMachine::build(program, true)
    }

    /// The same, for a hart without the H extension.
    pub fn new_without_h(program: &Assembler) -> TestMachine {
        TestMachine::build(program, false)
    }

    /// The same, on the tier `compile` chooses rather than the one under test.
    pub fn with_tier(program: &Assembler, compile: Option<super::CompileConfig>) -> TestMachine {
        let mut machine = TestMachine::build(program, true);
        machine.hart.set_tier(compile);
        machine
    }

    /// The same, for a hart whose VLEN is `vlen` bits.
    pub fn with_vlen(program: &Assembler, vlen: u32) -> TestMachine {
        TestMachine::build_with(program, true, Some(vlen))
    }

    fn build(program: &Assembler, hypervisor: bool) -> TestMachine {
        TestMachine::build_with(program, hypervisor, Some(128))
    }

    fn build_with(program: &Assembler, hypervisor: bool, vlen: Option<u32>) -> TestMachine {
        let layout = Layout::from_size_align(RAM_SIZE as usize, 4096).expect("layout");
        // SAFETY: the layout has a non-zero size.
        let host = unsafe { alloc_zeroed(layout) };
        assert!(!host.is_null());
        // SAFETY: `host` is RAM_SIZE bytes, page aligned, freed only in Drop after
        // the hart is gone.
        let ram = unsafe { GuestRam::new(RAM_BASE, host, RAM_SIZE) };
        assert!(ram.write_bytes(RAM_BASE, &program.bytes()));
        let mut hart = Hart::new(HartConfig {
            hart_id: 0,
            ram,
            mmio: vec![(UART_BASE, UART_SIZE)],
            max_paging: PagingMode::Sv57,
            epoch: Instant::now(),
            hypervisor,
            nacl: None,
            fences: Default::default(),
            vlen,
            compile: tier_under_test(),
        });
        hart.reset(RAM_BASE, 0);
        TestMachine {
            hart,
            ram,
            host,
            layout,
        }
    }

    /// Runs until an SBI call, answering MMIO reads with `mmio_value`; panics after
    /// too many exits.
    pub fn run_to_ecall(&mut self) -> SbiCall {
        for _ in 0..1000 {
            match self.hart.run() {
                Exit::Sbi(call) => return call,
                Exit::MmioRead { .. } => self.hart.complete_mmio_read(0x5A),
                Exit::MmioWrite { .. } | Exit::Kicked => {}
            }
        }
        panic!("no SBI call after 1000 exits; pc = {:#x}", self.hart.pc());
    }

    /// Reads a 64-bit word of guest RAM.
    pub fn read64(&self, gpa: u64) -> u64 {
        self.ram.read(gpa, 8).expect("in RAM")
    }

    /// Writes a 64-bit word of guest RAM.
    pub fn write64(&self, gpa: u64, value: u64) {
        assert!(self.ram.write(gpa, 8, value));
    }
}

impl Drop for TestMachine {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout; the hart holding a copy of the
        // pointer is dropped with `self` and never runs again.
        unsafe { dealloc(self.host, self.layout) };
    }
}

/// Assembles with `build`, runs to the first ECALL, returns the machine.
pub fn run(build: impl FnOnce(&mut Assembler)) -> TestMachine {
    let mut program = Assembler::new(RAM_BASE);
    build(&mut program);
    let mut machine = TestMachine::new(&program);
    machine.run_to_ecall();
    machine
}

/// Page tables written by a test straight into guest RAM: a bump allocator for table
/// pages after `root`, `levels` levels, and `extra` more index bits at the root (2 for
/// the G-stage's x4 modes).
pub struct PageTables {
    pub root: u64,
    pub levels: u32,
    pub extra: u32,
    next: u64,
}

impl PageTables {
    /// Tables rooted at `root`; new table pages follow the root.
    pub fn new(root: u64, levels: u32, extra: u32) -> PageTables {
        let root_size = 0x1000 << extra;
        PageTables {
            root,
            levels,
            extra,
            next: root + root_size,
        }
    }

    /// Maps `va` to `pa` with a leaf at `leaf_level` (0 = 4 KiB); returns the
    /// leaf's address.
    pub fn map(&mut self, m: &TestMachine, va: u64, pa: u64, flags: u64, leaf_level: u32) -> u64 {
        use super::mmu::PTE_V;
        let index = |level: u32, va: u64| {
            let bits = if level == self.levels - 1 {
                9 + self.extra
            } else {
                9
            };
            (va >> (12 + 9 * level)) & ((1 << bits) - 1)
        };
        let mut table = self.root;
        for level in (leaf_level + 1..self.levels).rev() {
            let slot = table + index(level, va) * 8;
            let pte = m.read64(slot);
            table = if pte & PTE_V == 0 {
                let new = self.next;
                self.next += 0x1000;
                assert!(new < RAM_BASE + RAM_SIZE);
                m.write64(slot, (new >> 12) << 10 | PTE_V);
                new
            } else {
                (pte >> 10) << 12
            };
        }
        let slot = table + index(leaf_level, va) * 8;
        m.write64(slot, (pa >> 12) << 10 | flags);
        slot
    }
}
