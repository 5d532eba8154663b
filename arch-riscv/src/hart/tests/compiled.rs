//! The compiled tier itself: blocks are compiled and entered, loops chain inside
//! compiled code, counts stay exact, and a guest spinning in compiled code still
//! returns to the VMM when kicked.

use super::TestMachine;
use crate::csr;
use crate::hart::{Compilation, CompileConfig, Exit, SharedCompiler};
use crate::isa::encode::Assembler;
use crate::isa::encode::reg::*;
use crate::layout::RAM_BASE;

const COMPILE_ALL: CompileConfig = CompileConfig {
    threshold: 0,
    code_cache_bytes: 1 << 20,
    compiler: Compilation::Inline,
};

/// Sums 1..=n in a loop, then stores the sum and reads instret.
fn counting_loop(n: u64) -> Assembler {
    let mut p = Assembler::new(RAM_BASE);
    p.li(T0, n).li(A0, 0).li(T2, RAM_BASE + 0x8000);
    let top = p.label();
    p.bind(top);
    p.add(A0, A0, T0)
        .addi(T0, T0, -1)
        .sd(A0, T2, 0)
        .ld(A1, T2, 0);
    p.bne_to(T0, ZERO, top);
    p.csrr(A2, csr::INSTRET).ecall();
    p
}

fn run_on(program: &Assembler, compile: Option<CompileConfig>) -> TestMachine {
    let mut m = TestMachine::with_tier(program, compile);
    m.run_to_ecall();
    m
}

#[test]
fn a_hot_loop_runs_compiled_with_the_interpreters_results_and_counts() {
    let program = counting_loop(10_000);
    let interpreted = run_on(&program, None);
    let compiled = run_on(&program, Some(COMPILE_ALL));
    for r in [A0, A1, A2, T0] {
        assert_eq!(
            compiled.hart.reg(r as usize),
            interpreted.hart.reg(r as usize),
            "x{r}"
        );
    }
    assert_eq!(compiled.hart.reg(A0 as usize), 10_000 * 10_001 / 2);
    assert_eq!(
        compiled.hart.stats().instructions,
        interpreted.hart.stats().instructions
    );
    let stats = compiled.hart.compile_stats().expect("tier on");
    assert!(stats.blocks >= 1, "{stats:?}");
    // The loop's back edge stays inside compiled code: far fewer entries than
    // iterations (one per slice at most, plus the first misses of the TLB).
    assert!(stats.entries < 100, "{stats:?}");
}

#[test]
fn the_default_threshold_compiles_only_once_code_is_hot() {
    let cold = run_on(&counting_loop(10), Some(CompileConfig::default()));
    assert_eq!(cold.hart.compile_stats().expect("tier on").blocks, 0);
    let hot = run_on(&counting_loop(5_000), Some(CompileConfig::default()));
    assert!(hot.hart.compile_stats().expect("tier on").blocks >= 1);
}

#[test]
fn a_guest_spinning_in_compiled_code_returns_when_kicked() {
    let mut p = Assembler::new(RAM_BASE);
    let top = p.label();
    p.bind(top);
    p.addi(A0, A0, 1);
    p.j_to(top);
    let mut m = TestMachine::with_tier(&p, Some(COMPILE_ALL));
    let signals = m.hart.signals();
    let kicker = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(50));
        signals.kick();
    });
    assert_eq!(m.hart.run(), Exit::Kicked);
    kicker.join().expect("kicker");
    assert!(m.hart.reg(A0 as usize) > 1000);
}

#[test]
fn a_full_code_cache_is_emptied_and_refilled() {
    // Many distinct hot blocks in a cache that holds only a few.
    let mut p = Assembler::new(RAM_BASE);
    p.li(T1, 50);
    let outer = p.label();
    p.bind(outer);
    for _ in 0..200 {
        let next = p.label();
        p.addi(A0, A0, 1).j_to(next);
        p.bind(next);
    }
    p.addi(T1, T1, -1).bne_to(T1, ZERO, outer).ecall();
    let compile = CompileConfig {
        threshold: 0,
        code_cache_bytes: 16 << 10,
        compiler: Compilation::Inline,
    };
    let m = run_on(&p, Some(compile));
    assert_eq!(m.hart.reg(A0 as usize), 200 * 50);
    let stats = m.hart.compile_stats().expect("tier on");
    assert!(stats.cache_flushes >= 1, "{stats:?}");
    assert!(stats.code_bytes <= stats.code_cache_bytes);
}

#[test]
fn blocks_compiled_in_the_background_arrive_and_are_shared_between_harts() {
    let program = counting_loop(200_000);
    let interpreted = run_on(&program, None);
    let shared = SharedCompiler::default();
    let background = CompileConfig {
        threshold: 0,
        code_cache_bytes: 1 << 20,
        compiler: Compilation::Background(shared),
    };
    // Two harts of one VM run the same code: the worker compiles it once.
    let mut first = TestMachine::with_tier(&program, Some(background.clone()));
    let mut second = TestMachine::with_tier(&program, Some(background));
    first.run_to_ecall();
    second.run_to_ecall();
    for m in [&first, &second] {
        assert_eq!(m.hart.reg(A0 as usize), interpreted.hart.reg(A0 as usize));
        assert_eq!(
            m.hart.stats().instructions,
            interpreted.hart.stats().instructions
        );
    }
    let (first, second) = (
        first.hart.compile_stats().expect("tier on"),
        second.hart.compile_stats().expect("tier on"),
    );
    // The loop runs for a million instructions: its block arrives before the end
    // (the first hart's from the worker's cranelift, the second's from its library).
    assert!(first.blocks >= 1 && first.instructions > 0, "{first:?}");
    assert!(second.blocks >= 1 && second.instructions > 0, "{second:?}");
    assert_eq!(second.blocks_shared, second.blocks, "{second:?}");
}
