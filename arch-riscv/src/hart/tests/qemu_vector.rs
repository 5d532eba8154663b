//! Differential test of the V extension against QEMU user mode (`qemu-riscv64 -cpu
//! rv64,v=true,vlen=N`): a generated program runs instances of every line of the
//! vector decode table with random operands, masks, vtype, vl, vstart, vxrm and frm,
//! on random register contents, and after each records the architectural state:
//! whether it trapped (an illegal-instruction handler notes it and resumes), the x
//! and f destination, vl, vtype, vstart, vxsat, fflags, a checksum of the memory
//! stores write to, and all 32 vector registers. QEMU (as a static Linux executable
//! with a SIGILL handler) and the hart (in S-mode with stvec at the same handler)
//! must agree on every word.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use super::TestMachine;
use super::qemu_user::{ELF_BASE, ELF_HEADERS, elf};
use crate::csr;
use crate::isa::decode::tests::XorShift;
use crate::isa::encode::Assembler as A;
use crate::isa::encode::reg::*;
use crate::isa::encode::{VMem, vtype};
use crate::isa::vector::{LINES, Line, Operands, VOp, encode};
use crate::layout::RAM_BASE;

/// Words each case records before its vector registers.
const HEADER_WORDS: usize = 9;
/// Bytes of the scratch memory loads and stores use; the base sits in its middle.
const SCRATCH: u64 = 64 << 10;
/// Words of per-case input data.
const INPUT_WORDS: usize = 16;

/// One generated instruction and the state it runs in.
struct Case {
    name: &'static str,
    word: u32,
    /// Load vs2's group from the small-index region first (indexed accesses).
    small_indexes: Option<u8>,
    stores: bool,
    input: [u64; INPUT_WORDS],
}

/// The operations QEMU 7.2 lacks (Zvbb, newer than it), and those whose translation
/// aborts it (the round-towards-zero conversions hit an assertion in
/// `decode_save_opc`).
fn in_qemu(line: &Line) -> bool {
    use VOp::*;
    !matches!(
        line.op,
        Vandn | Vbrev | Vbrev8 | Vrev8 | Vclz | Vctz | Vcpopv | Vrol | Vror | Vwsll
    ) && !line.name.contains(".rtz.")
}

/// VLMAX of `vtype` at `vlen` bits, `None` when it is reserved.
fn vlmax(vtype: u64, vlen: u32) -> Option<u64> {
    let t = crate::hart::vector::Vtype::decode(vtype)?;
    Some(t.vlmax(vlen as usize / 8) as u64)
}

/// Whether vstart must stay 0 for QEMU 7.2: where the element count is not vl
/// (whole registers, masks), slides up, which QEMU leaves with vstart as it was when
/// the offset is past vl, and the scalar moves, which never reset it there (the
/// spec resets vstart after every instruction).
fn whole_or_mask(line: &Line) -> bool {
    use VOp::*;
    matches!(
        line.op,
        LoadWhole
            | StoreWhole
            | LoadMask
            | StoreMask
            | VmvNr
            | Vslideup
            | VmvXS
            | VfmvFS
            | VmvSX
            | VfmvSF
    )
}

/// The vsew at which a vector FP line reads or writes half-precision values (Zvfh,
/// or Zvfhmin's conversions), which QEMU 7.2 executes and the hart refuses: SEW 16,
/// or SEW 8 for the conversions between narrower integers and wider floats.
fn half_precision_sew(line: &Line) -> Option<u64> {
    use crate::isa::vector::form;
    use VOp::*;
    let funct3 = (line.pattern_value() >> 12) & 7;
    if funct3 != form::OPFVV && funct3 != form::OPFVF {
        return None;
    }
    match line.op {
        VfwcvtFXu | VfwcvtFX | VfncvtXuF | VfncvtXF => Some(0),
        _ => Some(1),
    }
}

/// A random vtype: usually legal, sometimes reserved (vill).
fn random_vtype(rng: &mut XorShift) -> u64 {
    if rng.next().is_multiple_of(16) {
        return rng.next() & 0xff;
    }
    let sew = [8, 16, 32, 64][(rng.next() % 4) as usize];
    let lmul = [-3, -2, -1, 0, 1, 2, 3][(rng.next() % 7) as usize];
    vtype(sew, lmul, rng.next() & 1 != 0, rng.next() & 1 != 0) as u64
}

/// A random FP scalar: a NaN-boxed single or a double, often a special value.
fn random_fp(rng: &mut XorShift) -> u64 {
    let specials32 = [
        0u32,
        0x8000_0000,
        0x7f80_0000,
        0xff80_0000,
        0x7fc0_0000,
        0x7f80_0001,
        0x3f80_0000,
        1,
    ];
    let specials64 = [
        0u64,
        1 << 63,
        0x7ff0 << 48,
        0x7ff8 << 48,
        0x7ff0_0000_0000_0001,
        0x3ff0 << 48,
        1,
    ];
    match rng.next() % 6 {
        0 => 0xffff_ffff_0000_0000 | specials32[(rng.next() % 8) as usize] as u64,
        1 => specials64[(rng.next() % 7) as usize],
        2 | 3 => 0xffff_ffff_0000_0000 | (rng.next() as u32 & 0xc7ff_ffff) as u64 | 0x3800_0000,
        4 => rng.next() & 0xc7ff_ffff_ffff_ffff | 0x3800_0000_0000_0000,
        _ => rng.next(),
    }
}

/// `count` instances of `line` with random fields.
fn instances(line: &'static Line, count: usize, vlen: u32, rng: &mut XorShift) -> Vec<Case> {
    let mut cases = Vec::new();
    for _ in 0..count {
        let mut input = [0u64; INPUT_WORDS];
        for word in &mut input[0..5] {
            *word = match rng.next() % 4 {
                0 => rng.next() % 40,
                1 => rng.next() as i8 as i64 as u64,
                _ => rng.next(),
            };
        }
        for word in &mut input[5..9] {
            *word = random_fp(rng);
        }
        let mut vtype = random_vtype(rng);
        if let Some(half) = half_precision_sew(line)
            && vtype & !0xff == 0
            && (vtype >> 3) & 7 == half
        {
            // QEMU 7.2 computes in half precision (Zvfh) there, which the hart does
            // not implement; take the next SEW instead.
            vtype += 1 << 3;
        }
        let avl = match rng.next() % 4 {
            0 => u64::MAX,
            1 => rng.next() % 4,
            _ => rng.next() % 300,
        };
        input[10] = vtype;
        input[11] = avl;
        input[12] = rng.next() % 4; // vxrm
        input[13] = rng.next() % 5; // frm
        // vstart, below vl: QEMU 7.2 leaves vstart as it is when vstart >= vl where the
        // spec resets it.
        let vl = vlmax(vtype, vlen).map_or(0, |max| avl.min(max));
        input[14] = if rng.next().is_multiple_of(5) && vl > 1 && !whole_or_mask(line) {
            rng.next() % vl.min(8)
        } else {
            0
        };
        input[15] = random_fp(rng); // f4 before
        // a7: a stride for strided accesses, a vtype for vsetvl.
        input[9] = (rng.next() % 129) as i64 as u64 - 64;
        // Registers: distinct aligned groups, sometimes anything.
        let mut bases = [8u8, 16, 24];
        for k in (1..3).rev() {
            bases.swap(k, (rng.next() % (k as u64 + 1)) as usize);
        }
        let wild = rng.next().is_multiple_of(10);
        let reg = |rng: &mut XorShift, base: u8| if wild { (rng.next() % 32) as u8 } else { base };
        let (mut vd, mut vs2) = (reg(rng, bases[0]), reg(rng, bases[1]));
        let mut src1 = reg(rng, bases[2]) as u32;
        let masked = rng.next().is_multiple_of(2);
        let mut extra = 0;
        let mut small_indexes = None;
        match line.operands {
            Operands::VX | Operands::VXM | Operands::MvX => src1 = 11 + (rng.next() % 5) as u32,
            Operands::VF | Operands::VFM | Operands::MvF => src1 = (rng.next() % 4) as u32,
            Operands::VI | Operands::VIM | Operands::MvI => src1 = (rng.next() % 32) as u32,
            Operands::XV => vd = if line.op == VOp::VfmvFS { 4 } else { 16 },
            Operands::WholeMove => {
                src1 = [0, 1, 3, 7][(rng.next() % 4) as usize];
            }
            Operands::Config => {
                vd = 16;
                src1 = if rng.next().is_multiple_of(4) { 0 } else { 11 };
                match line.op {
                    VOp::Vsetvli => extra = (random_vtype(rng) as u32) << 20,
                    VOp::Vsetivli => {
                        extra = (random_vtype(rng) as u32 & 0x3ff) << 20;
                        src1 = (rng.next() % 32) as u32;
                    }
                    _ => {
                        vs2 = 17;
                        input[9] = random_vtype(rng);
                    }
                }
            }
            Operands::Memory => {
                src1 = 10;
                let width = [0u32, 5, 6, 7][(rng.next() % 4) as usize];
                let nf = match line.op {
                    VOp::LoadWhole | VOp::StoreWhole => [0u32, 1, 3, 7][(rng.next() % 4) as usize],
                    _ if rng.next().is_multiple_of(3) => (rng.next() % 8) as u32,
                    _ => 0,
                };
                extra = nf << 29 | width << 12;
                match line.op {
                    VOp::LoadStrided | VOp::StoreStrided => vs2 = 17,
                    VOp::LoadIndexedOrdered
                    | VOp::LoadIndexedUnordered
                    | VOp::StoreIndexedOrdered
                    | VOp::StoreIndexedUnordered => {
                        vs2 = bases[1];
                        small_indexes = Some(vs2);
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        let word = encode(line, vd as u32, vs2 as u32, src1, !masked as u32, extra);
        let stores = matches!(
            line.op,
            VOp::StoreUnit
                | VOp::StoreStrided
                | VOp::StoreIndexedOrdered
                | VOp::StoreIndexedUnordered
                | VOp::StoreWhole
                | VOp::StoreMask
        );
        cases.push(Case {
            name: line.name,
            word,
            small_indexes,
            stores,
            input,
        });
    }
    cases
}

/// Every QEMU-supported line, `count` times.
fn all_cases(seed: u64, count: usize, vlen: u32) -> Vec<Case> {
    let mut rng = XorShift(seed);
    LINES
        .iter()
        .filter(|l| in_qemu(l))
        .flat_map(|l| instances(l, count, vlen, &mut rng))
        .collect()
}

/// Bytes each case records.
fn case_bytes(vlenb: u64) -> u64 {
    8 * HEADER_WORDS as u64 + 32 * vlenb
}

/// The program for QEMU (`linux` true: a SIGILL handler through rt_sigaction, the
/// results written to stdout) or the hart (stvec at the handler, V and F on in
/// sstatus, an SBI call at the end).
fn program(base: u64, linux: bool, vlenb: u64, cases: &[Case], seed: u64) -> (A, u64, u64) {
    let mut p = A::new(base);
    let (inputs, results, init, indexes, scratch, handler, act) = (
        p.label(),
        p.label(),
        p.label(),
        p.label(),
        p.label(),
        p.label(),
        p.label(),
    );
    if linux {
        p.li(A0, 4)
            .la(A1, act)
            .li(A2, 0)
            .li(A3, 8)
            .li(A7, 134)
            .ecall();
    } else {
        p.li(T0, crate::csr::status::VS | crate::csr::status::FS)
            .csrs(csr::SSTATUS, T0)
            .la(T0, handler)
            .csrw(csr::STVEC, T0);
    }
    p.mv(S11, SP)
        .la(S0, inputs)
        .la(S1, results)
        .la(S2, init)
        .la(S3, indexes);
    // s8: the scratch base; a0 is set from it for each case (a signal handler
    // entered through QEMU clobbers a0..a2).
    p.la(S8, scratch).li(T0, SCRATCH / 2).add(S8, S8, T0);
    for (k, case) in cases.iter().enumerate() {
        // Vector registers from the random region, at an offset that varies.
        p.li(T0, (k as u64 % 32) * vlenb).add(T0, S2, T0);
        for group in [0u8, 8, 16, 24] {
            p.vload(VMem::Whole, 8, 1, group, T0, false)
                .li(T1, 8 * vlenb)
                .add(T0, T0, T1);
        }
        if let Some(group) = case.small_indexes {
            p.vload(VMem::Whole, 8, 1, group, S3, false);
        }
        for (i, reg) in [A1, A2, A3, A4, A5].into_iter().enumerate() {
            p.ld(reg, S0, 8 * i as i32);
        }
        for i in 0..4u8 {
            p.fld(i, S0, 8 * (5 + i as i32));
        }
        p.ld(A7, S0, 72)
            .ld(T1, S0, 80)
            .ld(T2, S0, 88)
            .vsetvl(ZERO, T2, T1);
        p.ld(T3, S0, 96).csrw(csr::VXRM, T3);
        p.ld(T3, S0, 104).csrw(csr::FRM, T3);
        p.csrw(csr::VXSAT, ZERO).csrw(csr::FFLAGS, ZERO);
        p.fld(4, S0, 120).li(A6, 0x5a5a_5a5a);
        p.mv(A0, S8);
        let resume = p.label();
        p.la(S10, resume).mv(S9, S1);
        p.ld(T3, S0, 112).csrw(csr::VSTART, T3);
        p.emit(case.word);
        p.bind(resume);
        p.sd(A6, S1, 8).fsd(4, S1, 16);
        for (i, number) in [csr::VL, csr::VTYPE, csr::VSTART, csr::VXSAT, csr::FFLAGS]
            .into_iter()
            .enumerate()
        {
            p.csrr(T0, number).sd(T0, S1, 24 + 8 * i as i32);
        }
        if case.stores {
            // A multiplicative checksum of the whole scratch area.
            p.la(T0, scratch)
                .li(T1, SCRATCH)
                .add(T1, T0, T1)
                .li(T2, 0)
                .li(T4, 0x100_0000_01b3);
            let top = p.here();
            p.ld(T3, T0, 0)
                .mul(T2, T2, T4)
                .xor(T2, T2, T3)
                .addi(T0, T0, 8)
                .bltu_to(T0, T1, top);
            p.sd(T2, S1, 64);
        }
        // Whole-register stores start at vstart: clear it first.
        p.csrw(csr::VSTART, ZERO)
            .addi(T0, S1, 8 * HEADER_WORDS as i32);
        for group in [0u8, 8, 16, 24] {
            p.vstore(VMem::Whole, 8, 1, group, T0, false)
                .li(T1, 8 * vlenb)
                .add(T0, T0, T1);
        }
        p.li(T0, case_bytes(vlenb))
            .add(S1, S1, T0)
            .addi(S0, S0, 8 * INPUT_WORDS as i32);
    }
    let size = cases.len() as u64 * case_bytes(vlenb);
    if linux {
        p.li(A0, 1).la(A1, results).li(A2, size).li(A7, 64).ecall();
        p.li(A0, 0).li(A7, 93).ecall();
    } else {
        p.li(A7, 64).ecall();
    }
    // The illegal-instruction handler: note the trap, drop the signal frame, resume.
    p.align(4);
    p.bind(handler);
    p.li(T0, 1).sd(T0, S9, 0).mv(SP, S11);
    if linux {
        // Leaving without rt_sigreturn keeps SIGILL blocked: unblock it.
        p.li(A0, 1)
            .la(A1, act)
            .addi(A1, A1, 16)
            .li(A2, 0)
            .li(A3, 8)
            .li(A7, 135)
            .ecall();
    }
    p.jalr(ZERO, S10, 0);
    p.align(8);
    p.bind(act);
    let handler_address = p.address(handler).expect("bound");
    // struct sigaction: handler, SA_SIGINFO | SA_NODEFER, a mask holding SIGILL (also the
    // set the handler unblocks).
    p.data(&handler_address.to_le_bytes())
        .data(&(0x4000_0004u64).to_le_bytes())
        .data(&(1u64 << 3).to_le_bytes());
    p.bind(inputs);
    for case in cases {
        for word in case.input {
            p.data(&word.to_le_bytes());
        }
    }
    let mut rng = XorShift(seed ^ 0xabcd);
    p.bind(init);
    for _ in 0..(64 * vlenb / 8) {
        p.data(&rng.next().to_le_bytes());
    }
    p.bind(indexes);
    for _ in 0..(8 * vlenb / 8) {
        p.data(&(rng.next() % 64).to_le_bytes());
    }
    p.bind(scratch);
    for _ in 0..(SCRATCH / 8) {
        p.data(&rng.next().to_le_bytes());
    }
    p.align(8);
    p.bind(results);
    let offset = p.address(results).expect("bound") - base;
    (p, offset, size)
}

fn run_qemu(vlen: u32, cases: &[Case], seed: u64) -> Vec<u8> {
    let vlenb = vlen as u64 / 8;
    let (p, results, size) = program(ELF_BASE + ELF_HEADERS, true, vlenb, cases, seed);
    let code = p.bytes();
    let bss = results + size - code.len() as u64;
    let path =
        std::env::temp_dir().join(format!("rvnest-vector-{vlen}-{}.elf", std::process::id()));
    std::fs::write(&path, elf(&code, bss)).expect("write the test executable");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let cpu = format!("rv64,v=true,vext_spec=v1.0,vlen={vlen},elen=64");
    let output = Command::new("qemu-riscv64")
        .args(["-cpu", &cpu])
        .arg(&path)
        .output();
    let output = output
        .expect("qemu-riscv64 runs (Debian's qemu-user package, see resources/setup-host.sh)");
    assert!(
        output.status.success(),
        "qemu-riscv64 -cpu {cpu} {}: {:?}, {}",
        path.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        output.stdout.len() as u64,
        size,
        "qemu wrote a short result"
    );
    let _ = std::fs::remove_file(&path);
    output.stdout
}

fn run_rvnest(vlen: u32, cases: &[Case], seed: u64) -> Vec<u8> {
    let vlenb = vlen as u64 / 8;
    let (p, results, size) = program(RAM_BASE, false, vlenb, cases, seed);
    let mut m = TestMachine::with_vlen(&p, vlen);
    let call = m.run_to_ecall();
    assert_eq!(
        call.extension,
        64,
        "stopped at the final call, pc {:#x}",
        m.hart.pc()
    );
    (0..size / 8)
        .flat_map(|i| m.read64(RAM_BASE + results + 8 * i).to_le_bytes())
        .collect()
}

const HEADER_NAMES: [&str; HEADER_WORDS] = [
    "trapped",
    "x rd",
    "f rd",
    "vl",
    "vtype",
    "vstart",
    "vxsat",
    "fflags",
    "store checksum",
];

fn compare(vlen: u32, cases: &[Case], qemu: &[u8], rvnest: &[u8]) {
    let vlenb = vlen as usize / 8;
    let per_case = case_bytes(vlenb as u64) as usize;
    let mut differences = Vec::new();
    let mut failing = std::collections::BTreeMap::<&str, usize>::new();
    for (k, case) in cases.iter().enumerate() {
        let q = &qemu[k * per_case..(k + 1) * per_case];
        let r = &rvnest[k * per_case..(k + 1) * per_case];
        if q == r {
            continue;
        }
        *failing.entry(case.name).or_default() += 1;
        let word =
            |b: &[u8], i: usize| u64::from_le_bytes(b[8 * i..8 * i + 8].try_into().expect("8"));
        let mut what = Vec::new();
        for (i, name) in HEADER_NAMES.iter().enumerate() {
            if word(q, i) != word(r, i) {
                what.push(format!(
                    "{name}: qemu {:#x} rvnest {:#x}",
                    word(q, i),
                    word(r, i)
                ));
            }
        }
        for reg in 0..32 {
            let at = 8 * HEADER_WORDS + reg * vlenb;
            if q[at..at + vlenb] != r[at..at + vlenb] {
                what.push(format!(
                    "v{reg}: qemu {:02x?} rvnest {:02x?}",
                    &q[at..at + vlenb],
                    &r[at..at + vlenb]
                ));
            }
        }
        differences.push(format!(
            "case {k} {} {:#010x} vtype {:#x} avl {} vstart {} vxrm {} frm {}: {}",
            case.name,
            case.word,
            case.input[10],
            case.input[11] as i64,
            case.input[14],
            case.input[12],
            case.input[13],
            what.join("; ")
        ));
    }
    assert!(
        differences.is_empty(),
        "VLEN {vlen}: {} of {} cases differ; by instruction {:?}; first: {:#?}",
        differences.len(),
        cases.len(),
        failing,
        &differences[..differences.len().min(12)]
    );
}

fn differential(vlen: u32, seed: u64) {
    // Instances per line: as many as the test machine's 4 MiB hold at this VLEN.
    let count = if vlen <= 128 { 10 } else { 6 };
    let cases = all_cases(seed, count, vlen);
    let qemu = run_qemu(vlen, &cases, seed);
    let rvnest = run_rvnest(vlen, &cases, seed);
    compare(vlen, &cases, &qemu, &rvnest);
}

#[test]
fn vector_instructions_match_qemu_at_vlen_128() {
    differential(128, 0x5eed_0128);
}

#[test]
fn vector_instructions_match_qemu_at_vlen_256() {
    differential(256, 0x5eed_0256);
}
