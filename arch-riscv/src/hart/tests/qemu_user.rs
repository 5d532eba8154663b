//! Differential tests against QEMU user mode (`qemu-riscv64`, Debian's qemu-user):
//! one program runs every instruction of a list on random and edge-case operands,
//! storing each result, and is run both by QEMU, as a static Linux executable that
//! writes its results to stdout, and by the hart, which stops at the same `ecall`
//! (an SBI call in S-mode) with the results in its RAM.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use super::TestMachine;
use crate::isa::decode::tests::XorShift;
use crate::isa::encode::Assembler as A;
use crate::isa::encode::reg::*;
use crate::layout::RAM_BASE;

/// Operand pairs per instruction.
const PAIRS: usize = 256;

/// An instruction under test: emits `op a0, a1, a2` (or its unary/immediate form).
struct Case {
    name: String,
    emit: Box<dyn Fn(&mut A)>,
}

fn binary(name: &str, op: fn(&mut A, u8, u8, u8) -> &mut A) -> Case {
    Case {
        name: name.into(),
        emit: Box::new(move |p| {
            op(p, A0, A1, A2);
        }),
    }
}

fn unary(name: &str, op: fn(&mut A, u8, u8) -> &mut A) -> Case {
    Case {
        name: name.into(),
        emit: Box::new(move |p| {
            op(p, A0, A1);
        }),
    }
}

/// One case per shift amount.
fn immediates(name: &str, op: fn(&mut A, u8, u8, u32) -> &mut A, shamts: &[u32]) -> Vec<Case> {
    shamts
        .iter()
        .map(|&shamt| Case {
            name: format!("{name} {shamt}"),
            emit: Box::new(move |p| {
                op(p, A0, A1, shamt);
            }),
        })
        .collect()
}

const SHAMT64: &[u32] = &[0, 1, 7, 31, 32, 33, 63];
const SHAMT32: &[u32] = &[0, 1, 15, 31];

/// Zba, Zbb and Zbs.
fn zb_cases() -> Vec<Case> {
    let mut cases = vec![
        binary("add.uw", A::add_uw),
        binary("sh1add", A::sh1add),
        binary("sh2add", A::sh2add),
        binary("sh3add", A::sh3add),
        binary("sh1add.uw", A::sh1add_uw),
        binary("sh2add.uw", A::sh2add_uw),
        binary("sh3add.uw", A::sh3add_uw),
        binary("andn", A::andn),
        binary("orn", A::orn),
        binary("xnor", A::xnor),
        binary("max", A::max),
        binary("maxu", A::maxu),
        binary("min", A::min),
        binary("minu", A::minu),
        binary("rol", A::rol),
        binary("rolw", A::rolw),
        binary("ror", A::ror),
        binary("rorw", A::rorw),
        binary("bclr", A::bclr),
        binary("bext", A::bext),
        binary("binv", A::binv),
        binary("bset", A::bset),
        unary("clz", A::clz),
        unary("clzw", A::clzw),
        unary("ctz", A::ctz),
        unary("ctzw", A::ctzw),
        unary("cpop", A::cpop),
        unary("cpopw", A::cpopw),
        unary("sext.b", A::sext_b),
        unary("sext.h", A::sext_h),
        unary("zext.h", A::zext_h),
        unary("orc.b", A::orc_b),
        unary("rev8", A::rev8),
    ];
    cases.extend(immediates("slli.uw", A::slli_uw, SHAMT64));
    cases.extend(immediates("rori", A::rori, SHAMT64));
    cases.extend(immediates("roriw", A::roriw, SHAMT32));
    cases.extend(immediates("bclri", A::bclri, SHAMT64));
    cases.extend(immediates("bexti", A::bexti, SHAMT64));
    cases.extend(immediates("binvi", A::binvi, SHAMT64));
    cases.extend(immediates("bseti", A::bseti, SHAMT64));
    cases
}

fn zicond_cases() -> Vec<Case> {
    vec![
        binary("czero.eqz", A::czero_eqz),
        binary("czero.nez", A::czero_nez),
    ]
}

/// Operand pairs: edge cases first, then random values shaped to hit the
/// instructions' corners (zero bytes, small shift amounts, 32-bit sign boundaries).
fn operands(seed: u64) -> Vec<(u64, u64)> {
    let edges = [
        0,
        1,
        u64::MAX,
        1 << 63,
        i64::MAX as u64,
        0x7FFF_FFFF,
        0x8000_0000,
        0xFFFF_FFFF,
        0xFFFF_FFFF_8000_0000,
        0x0000_0080_0000_FF00,
        0xFFFF_FFFF_0000_0000,
        1 << 40,
    ];
    let mut pairs: Vec<(u64, u64)> = Vec::new();
    for (i, &a) in edges.iter().enumerate() {
        pairs.push((a, edges[(i * 3 + 1) % edges.len()]));
        pairs.push((a, 0));
    }
    let mut rng = XorShift(seed);
    let shaped = |rng: &mut XorShift| {
        let r = rng.next();
        match rng.next() % 6 {
            0 => r % 130,                       // shift amounts and bit indices, some > 63
            1 => r as i32 as i64 as u64,        // sign-extended words
            2 => r & 0x00FF_00FF_FF00_00FF,     // zero bytes
            3 => r & (rng.next() & rng.next()), // sparse bits
            _ => r,
        }
    };
    while pairs.len() < PAIRS {
        let a = shaped(&mut rng);
        let b = shaped(&mut rng);
        pairs.push((a, b));
    }
    pairs
}

/// The test program at `base`: for each operand pair, each case's result is stored
/// in turn; then `write(1, results, size)` and `exit(0)`. Returns the program and
/// the offset of its results from `base` (they follow the file, in zeroed memory).
fn program(base: u64, cases: &[Case], pairs: &[(u64, u64)]) -> (A, u64) {
    assert!(
        cases.len() * 8 <= 2047,
        "results of one pair must fit addi's reach"
    );
    let mut p = A::new(base);
    let data = p.label();
    let results = p.label();
    p.la(S0, data).la(S1, results).li(S2, pairs.len() as u64);
    let top = p.here();
    p.ld(A1, S0, 0).ld(A2, S0, 8);
    for (k, case) in cases.iter().enumerate() {
        (case.emit)(&mut p);
        p.sd(A0, S1, 8 * k as i32);
    }
    p.addi(S0, S0, 16)
        .addi(S1, S1, 8 * cases.len() as i32)
        .addi(S2, S2, -1)
        .bne_to(S2, ZERO, top);
    let size = (pairs.len() * cases.len() * 8) as u64;
    p.li(A0, 1).la(A1, results).li(A2, size).li(A7, 64).ecall();
    p.li(A0, 0).li(A7, 93).ecall();
    p.align(8);
    p.bind(data);
    for &(a, b) in pairs {
        p.data(&a.to_le_bytes()).data(&b.to_le_bytes());
    }
    p.bind(results);
    let offset = p.address(results).expect("bound") - base;
    (p, offset)
}

/// Where QEMU loads the executable, and the size of its headers, after which the
/// program starts.
pub(super) const ELF_BASE: u64 = 0x10000;
pub(super) const ELF_HEADERS: u64 = 0x80;

/// A static RISC-V ELF executable: `code` after the headers, one RWX segment that
/// extends `bss` zeroed bytes past the file.
pub(super) fn elf(code: &[u8], bss: u64) -> Vec<u8> {
    let file_size = ELF_HEADERS + code.len() as u64;
    let mut f = Vec::new();
    f.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    f.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    f.extend_from_slice(&243u16.to_le_bytes()); // EM_RISCV
    f.extend_from_slice(&1u32.to_le_bytes());
    f.extend_from_slice(&(ELF_BASE + ELF_HEADERS).to_le_bytes()); // entry
    f.extend_from_slice(&64u64.to_le_bytes()); // program headers
    f.extend_from_slice(&0u64.to_le_bytes()); // no section headers
    f.extend_from_slice(&5u32.to_le_bytes()); // RVC, double-float ABI
    for half in [64u16, 56, 1, 64, 0, 0] {
        f.extend_from_slice(&half.to_le_bytes());
    }
    f.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    f.extend_from_slice(&7u32.to_le_bytes()); // RWX
    f.extend_from_slice(&0u64.to_le_bytes()); // from offset 0
    f.extend_from_slice(&ELF_BASE.to_le_bytes());
    f.extend_from_slice(&ELF_BASE.to_le_bytes());
    f.extend_from_slice(&file_size.to_le_bytes());
    f.extend_from_slice(&(file_size + bss).to_le_bytes());
    f.extend_from_slice(&0x1000u64.to_le_bytes());
    f.resize(ELF_HEADERS as usize, 0);
    f.extend_from_slice(code);
    f
}

/// Runs the program under `qemu-riscv64 -cpu cpu` and returns what it wrote.
fn run_qemu(name: &str, cpu: &str, cases: &[Case], pairs: &[(u64, u64)]) -> Vec<u8> {
    let (p, results) = program(ELF_BASE + ELF_HEADERS, cases, pairs);
    let code = p.bytes();
    let size = (pairs.len() * cases.len() * 8) as u64;
    let bss = results + size - code.len() as u64;
    let path = std::env::temp_dir().join(format!("rvnest-{name}-{}.elf", std::process::id()));
    std::fs::write(&path, elf(&code, bss)).expect("write the test executable");
    // qemu-user runs only files with execute permission.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700))
        .expect("make the test executable executable");
    let output = Command::new("qemu-riscv64")
        .args(["-cpu", cpu])
        .arg(&path)
        .output();
    let _ = std::fs::remove_file(&path);
    let output = output
        .expect("qemu-riscv64 runs (Debian's qemu-user package, see resources/setup-host.sh)");
    assert!(
        output.status.success(),
        "qemu-riscv64 -cpu {cpu}: {:?}, {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        output.stdout.len() as u64,
        size,
        "qemu wrote a short result"
    );
    output.stdout
}

/// Runs the program on the hart and returns its results.
fn run_rvnest(cases: &[Case], pairs: &[(u64, u64)]) -> Vec<u8> {
    let (p, results) = program(RAM_BASE, cases, pairs);
    let mut m = TestMachine::new(&p);
    let call = m.run_to_ecall();
    assert_eq!(call.extension, 64, "stopped at the write call");
    let words = (pairs.len() * cases.len()) as u64;
    (0..words)
        .flat_map(|i| m.read64(RAM_BASE + results + 8 * i).to_le_bytes())
        .collect()
}

/// Compares QEMU's and the hart's results, naming the first few differences.
fn compare(cases: &[Case], pairs: &[(u64, u64)], qemu: &[u8], rvnest: &[u8]) {
    let word = |bytes: &[u8], i: usize| {
        u64::from_le_bytes(bytes[i * 8..i * 8 + 8].try_into().expect("8 bytes"))
    };
    let mut differences = Vec::new();
    for (j, &(a, b)) in pairs.iter().enumerate() {
        for (k, case) in cases.iter().enumerate() {
            let i = j * cases.len() + k;
            let (q, r) = (word(qemu, i), word(rvnest, i));
            if q != r && !qemu_ctzw_bug(&case.name, a, q, r) {
                differences.push(format!(
                    "{} a={a:#x} b={b:#x}: qemu {q:#x}, rvnest {r:#x}",
                    case.name
                ));
            }
        }
    }
    assert!(
        differences.is_empty(),
        "{} differences, first: {:#?}",
        differences.len(),
        &differences[..differences.len().min(10)]
    );
}

/// QEMU 7.2 (Debian 12's) gives `ctzw` of a value whose low word is zero the
/// trailing zeros of the whole register, where the specification says 32 ("counts
/// the number of 0's before the first 1, starting at bit 0 and progressing to bit
/// 31"). Such results are accepted when rvnest gives exactly 32.
fn qemu_ctzw_bug(name: &str, a: u64, qemu: u64, rvnest: u64) -> bool {
    name == "ctzw" && a as u32 == 0 && qemu == a.trailing_zeros() as u64 && rvnest == 32
}

#[test]
fn zba_zbb_zbs_match_qemu_on_random_operands() {
    let cases = zb_cases();
    let pairs = operands(0x5EED_0B17);
    let qemu = run_qemu("zb", "rv64,zba=true,zbb=true,zbs=true", &cases, &pairs);
    let rvnest = run_rvnest(&cases, &pairs);
    compare(&cases, &pairs, &qemu, &rvnest);
}

#[test]
fn zicond_matches_qemu_on_random_operands() {
    // QEMU has Zicond from 8.1, in its `max` CPU; older ones (Debian 12's 7.2) lack
    // it, and the hart's unit tests are then the only check.
    let help = Command::new("qemu-riscv64")
        .args(["-cpu", "help"])
        .output()
        .expect("qemu-riscv64 runs (Debian's qemu-user package, see resources/setup-host.sh)");
    if !String::from_utf8_lossy(&help.stdout)
        .lines()
        .any(|l| l.trim() == "max")
    {
        eprintln!("qemu-riscv64 has no `max` CPU (QEMU < 8.1, no Zicond): comparison skipped");
        return;
    }
    let cases = zicond_cases();
    let pairs = operands(0xC0DE);
    let qemu = run_qemu("zicond", "max", &cases, &pairs);
    let rvnest = run_rvnest(&cases, &pairs);
    compare(&cases, &pairs, &qemu, &rvnest);
}

#[test]
fn the_comparison_catches_a_wrong_result() {
    // The harness itself: a result the hart got wrong must show as a difference.
    let cases = vec![binary("sh1add", A::sh1add)];
    let pairs = operands(1);
    let mut rvnest = run_rvnest(&cases, &pairs);
    let qemu = rvnest.clone();
    rvnest[8] ^= 1;
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        compare(&cases, &pairs, &qemu, &rvnest)
    }));
    assert!(caught.is_err());
}
