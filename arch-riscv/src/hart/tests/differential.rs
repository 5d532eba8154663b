//! The compiled tier against the interpreter: the same random programs run on both,
//! and the whole architectural state must match at every checkpoint (an ECALL ends
//! each block of the program): x, f, pc, fcsr and every CSR, privilege and V,
//! instructions retired, and the data memory the programs write.
//!
//! The programs are loops of random integer, M, memory (aligned, misaligned, MMIO),
//! atomic, CSR and FP instructions with forward branches, so that compiled code
//! chains, side-exits at every kind of operation and loops back on itself; seeds run
//! with the MMU off, with Sv39, and inside a nested guest (V=1, two stages).

use super::{PageTables, TestMachine};
use crate::csr::{self, hstatus, status};
use crate::hart::mmu::{PTE_A, PTE_D, PTE_R, PTE_U, PTE_V, PTE_W, PTE_X};
use crate::hart::{CompileConfig, Exit, Privilege};
use crate::isa::decode::tests::XorShift as Rng;
use crate::isa::encode::Assembler;
use crate::isa::encode::reg::*;
use crate::layout::{RAM_BASE, UART_BASE};

/// Page tables live here (the G-stage root is 16 KiB aligned).
const TABLES: u64 = RAM_BASE + 0x10_0000;
const VS_TABLES: u64 = RAM_BASE + 0x18_0000;
/// The programs' data, addressed as DATA ± 2 KiB through `t5`.
const DATA: u64 = RAM_BASE + 0x20_0000;
/// The a7 value of the last ECALL.
const DONE: u64 = 0x444F_4E45;
const LEAF: u64 = PTE_V | PTE_A | PTE_D | PTE_R | PTE_W | PTE_X;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum World {
    Bare,
    Sv39,
    Nested,
}

/// Registers the random instructions write: everything but t4 (the trap handler's),
/// t5 (the data pointer) and t6 (the loop counter).
fn dest(rng: &mut Rng) -> u8 {
    1 + (rng.next() % 28) as u8
}

fn src(rng: &mut Rng) -> u8 {
    (rng.next() % 32) as u8
}

fn imm12(rng: &mut Rng) -> i32 {
    (rng.next() % 4096) as i32 - 2048
}

/// A data offset for a `size`-byte access, aligned most of the time.
fn data_offset(rng: &mut Rng, size: i32) -> i32 {
    let offset = (rng.next() % 4000) as i32 - 2000;
    if rng.next().is_multiple_of(16) {
        offset
    } else {
        offset & !(size - 1)
    }
}

type R = fn(&mut Assembler, u8, u8, u8) -> &mut Assembler;
type I = fn(&mut Assembler, u8, u8, i32) -> &mut Assembler;
type Shift = fn(&mut Assembler, u8, u8, u32) -> &mut Assembler;

const R_OPS: [R; 28] = [
    Assembler::add,
    Assembler::sub,
    Assembler::sll,
    Assembler::slt,
    Assembler::sltu,
    Assembler::xor,
    Assembler::srl,
    Assembler::sra,
    Assembler::or,
    Assembler::and,
    Assembler::addw,
    Assembler::subw,
    Assembler::sllw,
    Assembler::srlw,
    Assembler::sraw,
    Assembler::mul,
    Assembler::mulh,
    Assembler::mulhsu,
    Assembler::mulhu,
    Assembler::div,
    Assembler::divu,
    Assembler::rem,
    Assembler::remu,
    Assembler::mulw,
    Assembler::divw,
    Assembler::divuw,
    Assembler::remw,
    Assembler::remuw,
];
const I_OPS: [I; 7] = [
    Assembler::addi,
    Assembler::slti,
    Assembler::sltiu,
    Assembler::xori,
    Assembler::ori,
    Assembler::andi,
    Assembler::addiw,
];
const LOADS: [(I, i32); 7] = [
    (Assembler::lb, 1),
    (Assembler::lh, 2),
    (Assembler::lw, 4),
    (Assembler::ld, 8),
    (Assembler::lbu, 1),
    (Assembler::lhu, 2),
    (Assembler::lwu, 4),
];
const STORES: [(I, i32); 4] = [
    (Assembler::sb, 1),
    (Assembler::sh, 2),
    (Assembler::sw, 4),
    (Assembler::sd, 8),
];

/// One random instruction that is not a branch.
fn straight(p: &mut Assembler, rng: &mut Rng) {
    let (rd, rs1, rs2) = (dest(rng), src(rng), src(rng));
    match rng.next() % 20 {
        0..=5 => {
            R_OPS[(rng.next() % R_OPS.len() as u64) as usize](p, rd, rs1, rs2);
        }
        6..=8 => {
            I_OPS[(rng.next() % I_OPS.len() as u64) as usize](p, rd, rs1, imm12(rng));
        }
        9 => {
            let (op, width): (Shift, u64) = match rng.next() % 6 {
                0 => (Assembler::slli, 64),
                1 => (Assembler::srli, 64),
                2 => (Assembler::srai, 64),
                3 => (Assembler::slliw, 32),
                4 => (Assembler::srliw, 32),
                _ => (Assembler::sraiw, 32),
            };
            op(p, rd, rs1, (rng.next() % width) as u32);
        }
        10 => {
            let imm20 = (rng.next() % (1 << 20)) as i32 - (1 << 19);
            if rng.next() & 1 == 0 {
                p.lui(rd, imm20)
            } else {
                p.auipc(rd, imm20)
            };
        }
        11..=13 => {
            let (op, size) = LOADS[(rng.next() % LOADS.len() as u64) as usize];
            op(p, rd, T5, data_offset(rng, size));
        }
        14..=16 => {
            let (op, size) = STORES[(rng.next() % STORES.len() as u64) as usize];
            op(p, rs2, T5, data_offset(rng, size));
        }
        17 => match rng.next() % 4 {
            0 => {
                p.amoadd_d(rd, rs2, T5, false, false);
            }
            1 => {
                // A UART register: an MMIO exit from the middle of a block.
                p.li(rd, UART_BASE).lbu(dest(rng), rd, 5);
            }
            2 => {
                p.csrw(csr::SSCRATCH, rs1);
            }
            _ => {
                p.csrr(rd, csr::SSCRATCH);
            }
        },
        18 => {
            let f = (rng.next() % 8) as u8;
            p.fmv_d_x(f, rs1);
            p.fadd_d(f, f, (rng.next() % 8) as u8, 7);
        }
        _ => {
            p.fmv_x_d(rd, (rng.next() % 8) as u8);
        }
    }
}

/// A loop of random instructions with forward branches, ending in an ECALL.
fn block(p: &mut Assembler, rng: &mut Rng) {
    p.li(T6, 1 + rng.next() % 40);
    let top = p.label();
    p.bind(top);
    let mut left = 1 + rng.next() % 24;
    while left > 0 {
        if rng.next().is_multiple_of(6) {
            let skip = p.label();
            let (a, b) = (src(rng), src(rng));
            let branch = match rng.next() % 6 {
                0 => Assembler::beq_to,
                1 => Assembler::bne_to,
                2 => Assembler::blt_to,
                3 => Assembler::bge_to,
                4 => Assembler::bltu_to,
                _ => Assembler::bgeu_to,
            };
            branch(p, a, b, skip);
            for _ in 0..1 + rng.next() % 3 {
                straight(p, rng);
            }
            p.bind(skip);
        } else {
            straight(p, rng);
        }
        left -= 1;
    }
    p.addi(T6, T6, -1).bne_to(T6, ZERO, top);
    p.ecall();
}

/// The whole program: set-up for `world`, blocks, the final ECALL.
fn program(rng: &mut Rng, world: World) -> Assembler {
    let mut p = Assembler::new(RAM_BASE);
    let handler = p.label();
    let body = p.label();
    p.li(T0, status::FS_INITIAL).csrs(csr::SSTATUS, T0);
    match world {
        World::Bare => {
            p.j_to(body);
        }
        World::Sv39 => {
            p.li(T0, (8 << 60) | (TABLES >> 12))
                .csrw(csr::SATP, T0)
                .sfence_vma(ZERO, ZERO);
            p.j_to(body);
        }
        World::Nested => {
            p.la(T0, handler).csrw(csr::STVEC, T0);
            p.li(T0, (8 << 60) | (TABLES >> 12)).csrw(csr::HGATP, T0);
            p.li(T0, (8 << 60) | (VS_TABLES >> 12)).csrw(csr::VSATP, T0);
            p.hfence_gvma(ZERO, ZERO);
            p.li(T0, status::FS_INITIAL).csrs(csr::VSSTATUS, T0);
            p.li(T0, hstatus::SPV).csrs(csr::HSTATUS, T0);
            p.li(T0, status::SPP).csrs(csr::SSTATUS, T0);
            p.la(T0, body).csrw(csr::SEPC, T0).sret();
        }
    }
    // The nested guest's ECALLs trap into HS: report them to the VMM, then return
    // to the instruction after them.
    p.align(4);
    p.bind(handler);
    p.ecall();
    p.csrr(T4, csr::SEPC)
        .addi(T4, T4, 4)
        .csrw(csr::SEPC, T4)
        .sret();
    p.align(4);
    p.bind(body);
    p.li(T5, DATA);
    for _ in 0..6 {
        block(&mut p, rng);
    }
    p.li(A7, DONE).ecall();
    p
}

/// Writes the page tables of `world` (identity maps: the G-stage and Sv39 with
/// gigapages over the UART and RAM, the VS stage the same).
fn tables(m: &TestMachine, world: World) {
    let user = if world == World::Nested { PTE_U } else { 0 };
    let extra = if world == World::Nested { 2 } else { 0 };
    let mut t = PageTables::new(TABLES, 3, extra);
    t.map(m, 0, 0, LEAF | user, 2);
    t.map(m, RAM_BASE, RAM_BASE, LEAF | user, 2);
    if world == World::Nested {
        let mut vs = PageTables::new(VS_TABLES, 3, 0);
        vs.map(m, 0, 0, LEAF, 2);
        vs.map(m, RAM_BASE, RAM_BASE, LEAF, 2);
    }
}

/// Everything a checkpoint compares.
#[derive(Debug, PartialEq)]
struct State {
    x: Vec<u64>,
    f: [u64; 32],
    pc: u64,
    csr: String,
    privilege: Privilege,
    virt: bool,
    instructions: u64,
    data: Vec<u8>,
}

fn state(m: &TestMachine) -> State {
    let data = (DATA - 4096..DATA + 4096)
        .step_by(8)
        .flat_map(|gpa| m.read64(gpa).to_le_bytes())
        .collect();
    State {
        x: (0..32).map(|r| m.hart.reg(r)).collect(),
        f: m.hart.f,
        pc: m.hart.pc,
        csr: format!("{:?}", m.hart.csr),
        privilege: m.hart.privilege,
        virt: m.hart.virt,
        instructions: m.hart.stats.instructions,
        data,
    }
}

/// Runs the program of `seed` and returns the state at every ECALL.
fn checkpoints(seed: u64, world: World, compile: Option<CompileConfig>) -> Vec<State> {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let p = program(&mut rng, world);
    let mut m = TestMachine::with_tier(&p, compile);
    tables(&m, world);
    for r in 1..29 {
        m.hart.set_reg(r, rng.next());
    }
    let mut states = Vec::new();
    for _ in 0..10_000 {
        match m.hart.run() {
            Exit::Sbi(call) => {
                states.push(state(&m));
                if call.extension == DONE {
                    return states;
                }
                m.hart.complete_sbi(0, 0);
            }
            Exit::MmioRead { addr, .. } => m.hart.complete_mmio_read(addr ^ 0x5A),
            Exit::MmioWrite { .. } | Exit::Kicked => {}
        }
    }
    panic!("seed {seed}: no end after 10000 exits");
}

fn compare(seeds: std::ops::Range<u64>, world: World) {
    let compile_all = CompileConfig {
        threshold: 0,
        code_cache_bytes: 4 << 20,
        ..CompileConfig::default()
    };
    let hot = CompileConfig {
        threshold: 8,
        ..compile_all.clone()
    };
    for seed in seeds {
        let reference = checkpoints(seed, world, None);
        assert!(reference.len() >= 7, "seed {seed}: the program ended early");
        for compile in [&compile_all, &hot] {
            let compiled = checkpoints(seed, world, Some(compile.clone()));
            assert_eq!(reference.len(), compiled.len(), "seed {seed}, {world:?}");
            for (i, (want, got)) in reference.iter().zip(&compiled).enumerate() {
                assert_eq!(
                    want, got,
                    "seed {seed}, {world:?}, checkpoint {i}, {compile:?}"
                );
            }
        }
    }
}

#[test]
fn random_programs_match_the_interpreter_with_the_mmu_off() {
    compare(0..40, World::Bare);
}

#[test]
fn random_programs_match_the_interpreter_under_sv39() {
    compare(100..130, World::Sv39);
}

#[test]
fn random_programs_match_the_interpreter_in_a_nested_guest() {
    compare(200..230, World::Nested);
}
