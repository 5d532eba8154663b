//! Page-table walks: Sv39/48/57 with superpages, A/D updates, and the permission
//! and format faults of privileged spec 10.3.2.

use super::{PageTables, RAM_SIZE, TestMachine};
use crate::csr;
use crate::hart::mmu::*;
use crate::isa::encode::Assembler;
use crate::isa::encode::reg::*;
use crate::layout::RAM_BASE;

const ROOT: u64 = RAM_BASE + 0x10_0000;
const DATA: u64 = RAM_BASE + 0x30_0000;
const VA: u64 = 0x4000_0000;
const LEAF: u64 = PTE_V | PTE_A | PTE_D;

/// Page tables of `levels` levels rooted at ROOT.
struct Tables(PageTables);

impl Tables {
    fn new(levels: u32) -> Tables {
        Tables(PageTables::new(ROOT, levels, 0))
    }

    fn satp(&self) -> u64 {
        let mode = match self.0.levels {
            3 => csr::satp::MODE_SV39,
            4 => csr::satp::MODE_SV48,
            _ => csr::satp::MODE_SV57,
        };
        (mode << 60) | (ROOT >> 12)
    }

    fn map(&mut self, m: &TestMachine, va: u64, pa: u64, flags: u64, leaf_level: u32) -> u64 {
        self.0.map(m, va, pa, flags, leaf_level)
    }

    /// Identity-maps RAM with 2 MiB pages, supervisor RWX.
    fn map_ram(&mut self, m: &TestMachine) {
        for offset in (0..RAM_SIZE).step_by(0x20_0000) {
            self.map(
                m,
                RAM_BASE + offset,
                RAM_BASE + offset,
                LEAF | PTE_R | PTE_W | PTE_X,
                1,
            );
        }
    }
}

/// Emits: stvec = handler (which ECALLs), satp = `satp`, sfence.vma; then `body`.
fn program(satp: u64, sstatus_set: u64, body: impl FnOnce(&mut Assembler)) -> Assembler {
    let mut p = Assembler::new(RAM_BASE);
    let handler = p.label();
    p.la(T0, handler).csrw(csr::STVEC, T0);
    p.li(T0, sstatus_set).csrs(csr::SSTATUS, T0);
    p.li(T0, satp).csrw(csr::SATP, T0).sfence_vma(ZERO, ZERO);
    body(&mut p);
    p.addi(A7, ZERO, 0x7F).ecall(); // success marker: a7 = 0x7F
    p.align(4);
    p.bind(handler);
    p.addi(A7, ZERO, 0x7E).ecall(); // trap marker
    p
}

/// Runs a program; returns (machine, trapped?).
fn run_paged(
    levels: u32,
    sstatus_set: u64,
    setup: impl FnOnce(&mut Tables, &TestMachine),
    body: impl FnOnce(&mut Assembler),
) -> (TestMachine, bool) {
    let tables = Tables::new(levels);
    let p = program(tables.satp(), sstatus_set, body);
    let mut m = TestMachine::new(&p);
    let mut tables = tables;
    tables.map_ram(&m);
    setup(&mut tables, &m);
    let call = m.run_to_ecall();
    let trapped = call.extension == 0x7E;
    (m, trapped)
}

fn scause(m: &TestMachine) -> u64 {
    m.hart.csr(csr::SCAUSE).unwrap_or(u64::MAX)
}

fn stval(m: &TestMachine) -> u64 {
    m.hart.csr(csr::STVAL).unwrap_or(u64::MAX)
}

fn load_store_roundtrip(levels: u32) {
    let mut leaf_slot = 0;
    let (m, trapped) = run_paged(
        levels,
        0,
        |t, m| {
            m.write64(DATA + 8, 0x1122_3344_5566_7788);
            leaf_slot = t.map(m, VA, DATA, PTE_V | PTE_R | PTE_W, 0);
        },
        |p| {
            p.li(A1, VA).ld(A0, A1, 8).li(A2, 0xABCD).sd(A2, A1, 16);
        },
    );
    assert!(
        !trapped,
        "unexpected trap: scause {:#x} stval {:#x}",
        scause(&m),
        stval(&m)
    );
    assert_eq!(m.hart.reg(A0 as usize), 0x1122_3344_5566_7788);
    assert_eq!(m.read64(DATA + 16), 0xABCD);
    let pte = m.read64(leaf_slot);
    assert_eq!(
        pte & (PTE_A | PTE_D),
        PTE_A | PTE_D,
        "walk must set A and D"
    );
}

#[test]
fn sv39_walk_maps_loads_and_stores() {
    load_store_roundtrip(3);
}

#[test]
fn sv48_walk_maps_loads_and_stores() {
    load_store_roundtrip(4);
}

#[test]
fn sv57_walk_maps_loads_and_stores() {
    load_store_roundtrip(5);
}

#[test]
fn a_is_set_by_loads_and_d_only_by_stores() {
    let mut slot = 0;
    let (m, trapped) = run_paged(
        3,
        0,
        |t, m| slot = t.map(m, VA, DATA, PTE_V | PTE_R | PTE_W, 0),
        |p| {
            p.li(A1, VA).ld(A0, A1, 0);
        },
    );
    assert!(!trapped);
    assert_eq!(m.read64(slot) & (PTE_A | PTE_D), PTE_A);
}

#[test]
fn gigapage_and_megapage_leaves_translate_the_offset() {
    let (m, trapped) = run_paged(
        3,
        0,
        |t, m| {
            m.write64(DATA + 0x1238, 77);
            // A 2 MiB page at VA 0x4020_0000 onto the 2 MiB frame holding DATA.
            t.map(m, 0x4020_0000, DATA & !0x1F_FFFF, PTE_V | PTE_R, 1);
            // A 1 GiB page at VA 0x1_0000_0000 onto RAM's gigabyte.
            t.map(m, 0x1_0000_0000, 0x8000_0000, PTE_V | PTE_R, 2);
        },
        |p| {
            p.li(A1, 0x4020_0000 + (DATA & 0x1F_FFFF) + 0x1238)
                .ld(A0, A1, 0);
            p.li(A1, 0x1_0000_0000 + (DATA - 0x8000_0000) + 0x1238)
                .ld(A2, A1, 0);
        },
    );
    assert!(!trapped, "scause {:#x}", scause(&m));
    assert_eq!(m.hart.reg(A0 as usize), 77);
    assert_eq!(m.hart.reg(A2 as usize), 77);
}

/// Expects the body's access to VA+8 to fault with `cause`.
fn expect_fault(
    flags: u64,
    sstatus_set: u64,
    leaf_level: u32,
    cause: u64,
    body: impl FnOnce(&mut Assembler),
) {
    let (m, trapped) = run_paged(
        3,
        sstatus_set,
        |t, m| {
            t.map(m, VA, DATA, flags, leaf_level);
        },
        body,
    );
    assert!(trapped, "expected a fault with cause {cause}");
    assert_eq!(scause(&m), cause);
    assert_eq!(stval(&m), VA + 8);
}

fn load_va(p: &mut Assembler) {
    p.li(A1, VA).ld(A0, A1, 8);
}

fn store_va(p: &mut Assembler) {
    p.li(A1, VA).sd(A0, A1, 8);
}

#[test]
fn store_to_read_only_page_is_a_store_page_fault() {
    expect_fault(LEAF | PTE_R, 0, 0, 15, store_va);
}

#[test]
fn load_from_execute_only_page_faults_unless_mxr() {
    expect_fault(LEAF | PTE_X, 0, 0, 13, load_va);
    let (_, trapped) = run_paged(
        3,
        csr::status::MXR,
        |t, m| {
            t.map(m, VA, DATA, LEAF | PTE_X, 0);
        },
        load_va,
    );
    assert!(!trapped, "MXR makes executable pages readable");
}

#[test]
fn supervisor_access_to_user_page_needs_sum() {
    expect_fault(LEAF | PTE_R | PTE_W | PTE_U, 0, 0, 13, load_va);
    let (_, trapped) = run_paged(
        3,
        csr::status::SUM,
        |t, m| {
            t.map(m, VA, DATA, LEAF | PTE_R | PTE_W | PTE_U, 0);
        },
        load_va,
    );
    assert!(!trapped, "SUM permits S loads from U pages");
}

#[test]
fn supervisor_never_executes_user_pages() {
    let (m, trapped) = run_paged(
        3,
        csr::status::SUM,
        |t, m| {
            t.map(m, VA, DATA, LEAF | PTE_R | PTE_X | PTE_U, 0);
        },
        |p| {
            p.li(A1, VA + 8).jalr(ZERO, A1, 0);
        },
    );
    assert!(trapped);
    assert_eq!(scause(&m), 12);
    assert_eq!(stval(&m), VA + 8);
}

#[test]
fn invalid_and_reserved_ptes_fault() {
    expect_fault(PTE_A | PTE_D | PTE_R, 0, 0, 13, load_va); // V = 0
    expect_fault(LEAF | PTE_W, 0, 0, 13, load_va); // W without R is reserved
    expect_fault(LEAF | PTE_R | PTE_PBMT, 0, 0, 13, load_va); // PBMT 3 is reserved
    expect_fault(LEAF | PTE_R | (1 << 54), 0, 0, 13, load_va); // bits 60:54 reserved
    expect_fault(LEAF | PTE_R | (1 << 60), 0, 0, 13, load_va);
}

#[test]
fn svpbmt_nc_and_io_pages_map_like_pma_ones() {
    for pbmt in [0, 1 << 61, 2 << 61] {
        let (m, trapped) = run_paged(
            3,
            0,
            |t, m| {
                t.map(m, VA, DATA, LEAF | PTE_R | PTE_W | pbmt, 0);
            },
            |p| {
                p.li(A1, VA).li(A2, 0x77).sd(A2, A1, 8).ld(A0, A1, 8);
            },
        );
        assert!(!trapped, "PBMT {pbmt:#x}: scause {:#x}", scause(&m));
        assert_eq!(m.hart.reg(A0 as usize), 0x77);
        assert_eq!(m.read64(DATA + 8), 0x77);
    }
}

#[test]
fn pbmt_and_napot_bits_in_non_leaf_ptes_fault() {
    for bits in [1 << 61, PTE_N] {
        let (m, trapped) = run_paged(
            3,
            0,
            |t, m| {
                let leaf = t.map(m, VA, DATA, LEAF | PTE_R, 0);
                // The level-1 PTE pointing at the leaf's table, in the table pages
                // that follow the root.
                let table = leaf & !0xFFF;
                let pointer = (0..8 * 512)
                    .map(|i| ROOT + 8 * i)
                    .find(|&a| {
                        let pte = m.read64(a);
                        pte & PTE_V != 0 && pte & (PTE_R | PTE_X) == 0 && (pte >> 10) << 12 == table
                    })
                    .expect("the pointer to the leaf's table");
                m.write64(pointer, m.read64(pointer) | bits);
            },
            load_va,
        );
        assert!(trapped, "non-leaf bits {bits:#x}");
        assert_eq!(scause(&m), 13);
    }
}

#[test]
fn svnapot_64k_pages_take_the_low_ppn_bits_from_the_address() {
    // Sixteen 4 KiB PTEs for the 64 KiB range at VA, all the NAPOT encoding of the
    // frame at DATA (PPN[3:0] = 1000); each translates its own 4 KiB of the range.
    let (m, trapped) = run_paged(
        3,
        0,
        |t, m| {
            for i in 0..16 {
                let leaf = t.map(m, VA + i * 0x1000, DATA, LEAF | PTE_R | PTE_W, 0);
                m.write64(
                    leaf,
                    ((DATA >> 12) | 0b1000) << 10 | PTE_N | LEAF | PTE_R | PTE_W,
                );
            }
            m.write64(DATA + 0x5008, 0xABCD);
        },
        |p| {
            p.li(A1, VA + 0x5000).ld(A0, A1, 8);
            p.li(A1, VA + 0xF000).li(A2, 0x99).sd(A2, A1, 0x10);
        },
    );
    assert!(!trapped, "scause {:#x}", scause(&m));
    assert_eq!(m.hart.reg(A0 as usize), 0xABCD);
    assert_eq!(m.read64(DATA + 0xF010), 0x99);
}

#[test]
fn napot_with_other_sizes_or_on_superpages_faults() {
    // PPN[3:0] = 0100 would be a 32 KiB range: reserved.
    let (m, trapped) = run_paged(
        3,
        0,
        |t, m| {
            let leaf = t.map(m, VA, DATA, LEAF | PTE_R, 0);
            m.write64(leaf, ((DATA >> 12) | 0b0100) << 10 | PTE_N | LEAF | PTE_R);
        },
        load_va,
    );
    assert!(trapped);
    assert_eq!(scause(&m), 13);
    // N on a 2 MiB leaf.
    expect_fault(LEAF | PTE_R | PTE_N, 0, 1, 13, load_va);
}

#[test]
fn misaligned_superpage_faults() {
    // A 2 MiB leaf whose frame is only 4 KiB aligned.
    expect_fault(LEAF | PTE_R, 0, 1, 13, load_va);
}

#[test]
fn non_canonical_address_faults() {
    let (m, trapped) = run_paged(
        3,
        0,
        |_, _| {},
        |p| {
            p.li(A1, 1 << 40).ld(A0, A1, 0);
        },
    );
    assert!(trapped);
    assert_eq!(scause(&m), 13);
    assert_eq!(stval(&m), 1 << 40);
}

#[test]
fn unsupported_satp_mode_is_ignored() {
    let mut p = Assembler::new(RAM_BASE);
    p.li(T0, (11 << 60) | 0x1234)
        .csrw(csr::SATP, T0)
        .csrr(A0, csr::SATP)
        .ecall();
    let mut m = TestMachine::new(&p);
    m.run_to_ecall();
    assert_eq!(m.hart.reg(A0 as usize), 0);
}
