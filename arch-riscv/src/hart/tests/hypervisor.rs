//! The H extension with encoder-generated programs: two-stage translation with
//! superpages at both stages, guest-page faults (htval, htinst, GVA), virtual
//! instructions, HLV/HLVX/HSV permissions, delegation, hvip-injected interrupts.
//!
//! Each program starts in HS-mode, builds nothing itself (the tables are written
//! from Rust), enters the guest with SRET (hstatus.SPV) and ends with an ECALL from
//! HS that stops the hart. Traps into HS land on `hs_handler`, which records
//! scause in s2 and ECALLs; traps delegated to VS land on the guest's handler,
//! which records vscause in s3 and ECALLs (from VS: a trap into HS, cause 10).

use super::{PageTables as Tables, RAM_SIZE, TestMachine};
use crate::csr::{self, hstatus, irq, status};
use crate::hart::mmu::*;
use crate::isa::encode::reg::*;
use crate::isa::encode::{Assembler, Label};
use crate::layout::RAM_BASE;

/// G-stage root: 16 KiB aligned.
const G_ROOT: u64 = RAM_BASE + 0x10_0000;
/// VS-stage root (a guest physical address; the G-stage maps RAM 1:1).
const VS_ROOT: u64 = RAM_BASE + 0x18_0000;
/// Guest data page, as guest physical (= machine physical) address.
const DATA: u64 = RAM_BASE + 0x30_0000;
/// Guest virtual address of the data page.
const GVA: u64 = 0x4000_0000;
const LEAF: u64 = PTE_V | PTE_A | PTE_D;

/// The G-stage (Sv39x4): all of RAM with one gigapage, user RWX.
fn g_stage(m: &TestMachine) -> Tables {
    let mut g = Tables {
        root: G_ROOT,
        levels: 3,
        extra: 2,
        next: G_ROOT + 0x4000,
    };
    g.map(
        m,
        0x8000_0000,
        0x8000_0000,
        LEAF | PTE_R | PTE_W | PTE_X | PTE_U,
        2,
    );
    g
}

/// The VS-stage (Sv39): RAM 1:1 with 2 MiB pages (supervisor RWX), plus whatever
/// the test adds.
fn vs_stage(m: &TestMachine) -> Tables {
    let mut vs = Tables {
        root: VS_ROOT,
        levels: 3,
        extra: 0,
        next: VS_ROOT + 0x1000,
    };
    for offset in (0..RAM_SIZE).step_by(0x20_0000) {
        vs.map(
            m,
            RAM_BASE + offset,
            RAM_BASE + offset,
            LEAF | PTE_R | PTE_W | PTE_X,
            1,
        );
    }
    vs
}

const HGATP: u64 = (8 << 60) | (5 << 44) | (G_ROOT >> 12); // Sv39x4, VMID 5
const VSATP: u64 = (8 << 60) | (VS_ROOT >> 12);

/// HS code: handlers, both stages on, then SRET into the guest at `guest`.
/// `hs_setup` runs first (extra CSR set-up); `guest` is the VS code.
fn program(
    hs_setup: impl FnOnce(&mut Assembler),
    guest: impl FnOnce(&mut Assembler, Label),
) -> Assembler {
    program_with(HGATP, hs_setup, guest)
}

/// [`program`] with another hgatp.
fn program_with(
    hgatp: u64,
    hs_setup: impl FnOnce(&mut Assembler),
    guest: impl FnOnce(&mut Assembler, Label),
) -> Assembler {
    let mut p = Assembler::new(RAM_BASE);
    let hs_handler = p.label();
    let guest_entry = p.label();
    let vs_handler = p.label();
    p.la(T0, hs_handler).csrw(csr::STVEC, T0);
    p.li(T0, hgatp)
        .csrw(csr::HGATP, T0)
        .li(T0, VSATP)
        .csrw(csr::VSATP, T0);
    p.hfence_gvma(ZERO, ZERO);
    p.la(T0, vs_handler).csrw(csr::VSTVEC, T0);
    p.addi(S2, ZERO, -1).addi(S3, ZERO, -1);
    hs_setup(&mut p);
    p.li(T0, hstatus::SPV | hstatus::SPVP)
        .csrs(csr::HSTATUS, T0);
    p.li(T0, status::SPP).csrs(csr::SSTATUS, T0);
    p.la(T0, guest_entry).csrw(csr::SEPC, T0).sret();
    p.align(4);
    p.bind(hs_handler);
    p.csrr(S2, csr::SCAUSE).ecall();
    p.align(4);
    p.bind(vs_handler);
    p.csrr(S3, csr::SCAUSE); // in VS this reads vscause
    p.ecall(); // from VS: cause 10 into HS
    p.align(4);
    p.bind(guest_entry);
    guest(&mut p, vs_handler);
    p.ecall();
    p
}

/// Runs a program whose tables `tables` adjusts after the standard maps.
fn run_guest(
    hs_setup: impl FnOnce(&mut Assembler),
    guest: impl FnOnce(&mut Assembler, Label),
    tables: impl FnOnce(&TestMachine, &mut Tables, &mut Tables),
) -> TestMachine {
    let p = program(hs_setup, guest);
    let mut m = TestMachine::new(&p);
    let mut g = g_stage(&m);
    let mut vs = vs_stage(&m);
    tables(&m, &mut g, &mut vs);
    m.run_to_ecall();
    m
}

/// Guest code emitted into a program.
type GuestCode = fn(&mut Assembler, Label);

fn csr_of(m: &TestMachine, number: u16) -> u64 {
    m.hart
        .csr(number)
        .unwrap_or_else(|| panic!("CSR {number:#x} not implemented"))
}

fn hs_cause(m: &TestMachine) -> u64 {
    m.hart.reg(S2 as usize)
}

fn vs_cause(m: &TestMachine) -> u64 {
    m.hart.reg(S3 as usize)
}

/// Offset of DATA inside its 2 MiB frame.
const DATA_IN_FRAME: u64 = DATA & 0x1F_FFFF;

#[test]
fn guest_runs_under_two_stages_with_superpages_at_both() {
    let m = run_guest(
        |_| {},
        |p, _| {
            // GVA -> (VS megapage) GPA -> (G gigapage) machine address.
            p.li(A1, GVA + DATA_IN_FRAME + 0x1238)
                .ld(A0, A1, 0)
                .li(A2, 77)
                .sd(A2, A1, 8);
        },
        |m, _, vs| {
            m.write64(DATA + 0x1238, 0xFEED);
            vs.map(m, GVA, DATA - DATA_IN_FRAME, LEAF | PTE_R | PTE_W, 1);
        },
    );
    assert_eq!(
        hs_cause(&m),
        10,
        "the guest's closing ECALL traps to HS as an ECALL from VS"
    );
    assert_eq!(m.hart.reg(A0 as usize), 0xFEED);
    assert_eq!(m.read64(DATA + 0x1240), 77);
    assert_ne!(csr_of(&m, csr::HSTATUS) & hstatus::SPV, 0, "came from V=1");
    assert_eq!(
        csr_of(&m, csr::HSTATUS) & hstatus::GVA,
        0,
        "no guest address in stval"
    );
}

#[test]
fn g_stage_fault_is_a_guest_page_fault_with_htval_and_gva() {
    let gpa = RAM_BASE + 0x7000_0000; // beyond the G-stage gigapage
    let m = run_guest(
        |_| {},
        |p, _| {
            p.li(A1, GVA + 0x10).ld(A0, A1, 0);
        },
        |m, _, vs| {
            vs.map(m, GVA, gpa, LEAF | PTE_R, 0);
        },
    );
    assert_eq!(hs_cause(&m), 21, "load guest-page fault");
    assert_eq!(csr_of(&m, csr::STVAL), GVA + 0x10);
    assert_eq!(csr_of(&m, csr::HTVAL), (gpa + 0x10) >> 2);
    assert_eq!(
        csr_of(&m, csr::HTINST),
        crate::isa::encode::ld(A0, 0, 0) as u64,
        "transformed ld"
    );
    let h = csr_of(&m, csr::HSTATUS);
    assert_ne!(h & hstatus::GVA, 0);
    assert_ne!(h & hstatus::SPV, 0);
    assert_ne!(h & hstatus::SPVP, 0, "the guest was in VS");
}

#[test]
fn g_stage_fault_on_a_vs_page_table_read_reports_the_pte_address() {
    let m = run_guest(
        |_| {},
        |p, _| {
            p.li(A1, 0x1_0000_0000u64).ld(A0, A1, 0);
        },
        |m, _, _| {
            // The VS root's entry for 0x1_0000_0000 points to a table outside the G-stage.
            let slot = VS_ROOT + 4 * 8;
            m.write64(slot, ((RAM_BASE + 0x7000_0000) >> 12) << 10 | PTE_V);
        },
    );
    assert_eq!(
        hs_cause(&m),
        21,
        "reported as the original access's guest-page fault"
    );
    assert_eq!(csr_of(&m, csr::STVAL), 0x1_0000_0000);
    assert_eq!(csr_of(&m, csr::HTVAL), (RAM_BASE + 0x7000_0000) >> 2);
    assert_eq!(
        csr_of(&m, csr::HTINST),
        0x3000,
        "pseudoinstruction of an implicit 64-bit read"
    );
}

#[test]
fn g_stage_requires_user_pages_and_write_permission() {
    let m = run_guest(
        |_| {},
        |p, _| {
            p.li(A1, GVA).sd(A0, A1, 0);
        },
        |m, g, vs| {
            vs.map(m, GVA, 0xC000_0000, LEAF | PTE_R | PTE_W, 0);
            g.map(m, 0xC000_0000, DATA, LEAF | PTE_R | PTE_U, 0); // read-only at G
        },
    );
    assert_eq!(hs_cause(&m), 23, "store guest-page fault");
    assert_eq!(csr_of(&m, csr::HTVAL), 0xC000_0000 >> 2);
}

#[test]
fn vs_stage_page_faults_go_to_vs_when_delegated() {
    let setup = |p: &mut Assembler| {
        p.li(T0, 1 << 13).csrw(csr::HEDELEG, T0); // load page faults
    };
    let m = run_guest(
        setup,
        |p, _| {
            p.li(A1, GVA).ld(A0, A1, 0); // not mapped at the VS stage
        },
        |_, _, _| {},
    );
    assert_eq!(vs_cause(&m), 13, "delegated: vscause");
    assert_eq!(csr_of(&m, csr::VSTVAL), GVA);
    assert_eq!(hs_cause(&m), 10, "then the handler's ECALL from VS");
    let m = run_guest(
        |_| {},
        |p, _| {
            p.li(A1, GVA).ld(A0, A1, 0);
        },
        |_, _, _| {},
    );
    assert_eq!(hs_cause(&m), 13, "not delegated: HS");
    assert_ne!(csr_of(&m, csr::HSTATUS) & hstatus::GVA, 0);
}

#[test]
fn hypervisor_csrs_and_instructions_are_virtual_instructions_in_vs() {
    for guest in [
        (|p: &mut Assembler, _: Label| {
            p.csrr(A0, csr::HSTATUS);
        }) as fn(&mut Assembler, Label),
        |p, _| {
            p.csrr(A0, csr::VSSTATUS);
        },
        |p, _| {
            p.hfence_vvma(ZERO, ZERO);
        },
        |p, _| {
            p.hlv_d(A0, ZERO);
        },
    ] {
        let m = run_guest(|_| {}, guest, |_, _, _| {});
        assert_eq!(hs_cause(&m), 22);
        assert_ne!(csr_of(&m, csr::STVAL), 0, "stval holds the instruction");
    }
}

#[test]
fn hstatus_traps_sret_wfi_and_satp_from_vs() {
    let cases: [(u64, GuestCode); 3] = [
        (hstatus::VTSR, |p, _| {
            p.sret();
        }),
        (hstatus::VTW, |p, _| {
            p.wfi();
        }),
        (hstatus::VTVM, |p, _| {
            p.csrr(A0, csr::SATP);
        }),
    ];
    for (bit, guest) in cases {
        let m = run_guest(
            move |p| {
                p.li(T0, bit).csrs(csr::HSTATUS, T0);
            },
            guest,
            |_, _, _| {},
        );
        assert_eq!(hs_cause(&m), 22, "hstatus bit {bit:#x}");
    }
}

#[test]
fn vs_sees_its_own_csrs_through_the_s_numbers() {
    let m = run_guest(
        |p| {
            p.li(T0, 0x1234).csrw(csr::VSSCRATCH, T0);
        },
        |p, _| {
            p.csrr(A0, csr::SSCRATCH)
                .li(T1, 0x55)
                .csrw(csr::SSCRATCH, T1);
        },
        |_, _, _| {},
    );
    assert_eq!(m.hart.reg(A0 as usize), 0x1234);
    assert_eq!(csr_of(&m, csr::VSSCRATCH), 0x55);
    assert_eq!(csr_of(&m, csr::SSCRATCH), 0, "HS's own sscratch untouched");
}

#[test]
fn time_in_the_guest_includes_htimedelta() {
    let m = run_guest(
        |p| {
            p.li(T0, 1 << 40)
                .csrw(csr::HTIMEDELTA, T0)
                .addi(T0, ZERO, 2)
                .csrw(csr::HCOUNTEREN, T0);
        },
        |p, _| {
            p.csrr(A0, csr::TIME);
        },
        |_, _, _| {},
    );
    assert!(m.hart.reg(A0 as usize) >= 1 << 40);
    let m = run_guest(
        |_| {},
        |p, _| {
            p.csrr(A0, csr::TIME);
        },
        |_, _, _| {},
    );
    assert_eq!(hs_cause(&m), 22, "hcounteren.TM clear: virtual instruction");
}

#[test]
fn hvip_injects_vs_interrupts_delegated_or_not() {
    let guest = |p: &mut Assembler, _: Label| {
        p.addi(T1, ZERO, irq::SSIP as i32).csrw(csr::SIE, T1); // vsie.SSIE
        p.csrrsi(ZERO, csr::SSTATUS, status::SIE as u8); // vsstatus.SIE
        p.j(0);
    };
    let delegated = |p: &mut Assembler| {
        p.li(T0, irq::VSSIP)
            .csrw(csr::HIDELEG, T0)
            .csrw(csr::HVIP, T0)
            .csrw(csr::HIE, T0);
    };
    let m = run_guest(delegated, guest, |_, _, _| {});
    assert_eq!(vs_cause(&m), (1 << 63) | 1, "VSSI arrives in VS as SSI");
    let not_delegated = |p: &mut Assembler| {
        p.li(T0, irq::VSSIP).csrw(csr::HVIP, T0).csrw(csr::HIE, T0);
    };
    let m = run_guest(not_delegated, guest, |_, _, _| {});
    assert_eq!(
        hs_cause(&m),
        (1 << 63) | 2,
        "undelegated VSSI goes to HS as cause 2"
    );
}

/// Runs HS code only (no guest): `body` then ECALL; traps land on the HS handler.
fn run_hs(
    body: impl FnOnce(&mut Assembler),
    tables: impl FnOnce(&TestMachine, &mut Tables, &mut Tables),
) -> TestMachine {
    let mut p = Assembler::new(RAM_BASE);
    let handler = p.label();
    p.la(T0, handler).csrw(csr::STVEC, T0);
    p.li(T0, HGATP)
        .csrw(csr::HGATP, T0)
        .li(T0, VSATP)
        .csrw(csr::VSATP, T0);
    p.addi(S2, ZERO, -1);
    body(&mut p);
    p.ecall();
    p.align(4);
    p.bind(handler);
    p.csrr(S2, csr::SCAUSE).ecall();
    let mut m = TestMachine::new(&p);
    let mut g = g_stage(&m);
    let mut vs = vs_stage(&m);
    tables(&m, &mut g, &mut vs);
    m.run_to_ecall();
    m
}

#[test]
fn hlv_uses_spvp_and_the_guest_page_permissions() {
    let user_page = |m: &TestMachine, _: &mut Tables, vs: &mut Tables| {
        m.write64(DATA, 0xABCD);
        vs.map(m, GVA, DATA, LEAF | PTE_R | PTE_W | PTE_U, 0);
    };
    // SPVP = 0: the access is VU's, which may read a user page.
    let m = run_hs(
        |p| {
            p.li(A1, GVA).hlv_d(A0, A1);
        },
        user_page,
    );
    assert_eq!(hs_cause(&m), u64::MAX, "no trap");
    assert_eq!(m.hart.reg(A0 as usize), 0xABCD);
    // SPVP = 1 without vsstatus.SUM: VS may not read a user page.
    let m = run_hs(
        |p| {
            p.li(T0, hstatus::SPVP)
                .csrs(csr::HSTATUS, T0)
                .li(A1, GVA)
                .hlv_d(A0, A1);
        },
        user_page,
    );
    assert_eq!(hs_cause(&m), 13);
    assert_eq!(csr_of(&m, csr::STVAL), GVA);
    assert_ne!(
        csr_of(&m, csr::HSTATUS) & hstatus::GVA,
        0,
        "stval is a guest virtual address"
    );
    assert_eq!(
        csr_of(&m, csr::HSTATUS) & hstatus::SPV,
        0,
        "the trap came from V=0"
    );
}

#[test]
fn hlvx_needs_execute_and_hsv_needs_write() {
    let exec_only = |m: &TestMachine, _: &mut Tables, vs: &mut Tables| {
        m.write64(DATA, 0x1111_2222);
        vs.map(m, GVA, DATA, LEAF | PTE_X | PTE_U, 0);
    };
    let m = run_hs(
        |p| {
            p.li(A1, GVA).hlvx_wu(A0, A1);
        },
        exec_only,
    );
    assert_eq!(hs_cause(&m), u64::MAX);
    assert_eq!(m.hart.reg(A0 as usize), 0x1111_2222);
    let m = run_hs(
        |p| {
            p.li(A1, GVA).hlv_w(A0, A1);
        },
        exec_only,
    );
    assert_eq!(hs_cause(&m), 13, "HLV needs read permission");
    let m = run_hs(
        |p| {
            p.li(A1, GVA).hsv_d(A1, A1);
        },
        |m, _, vs| {
            vs.map(m, GVA, DATA, LEAF | PTE_R | PTE_U, 0);
        },
    );
    assert_eq!(hs_cause(&m), 15);
}

#[test]
fn hlv_in_u_mode_needs_hstatus_hu() {
    let user = |hu: bool| {
        run_hs(
            move |p| {
                let user_code = p.label();
                if hu {
                    p.li(T0, hstatus::HU).csrs(csr::HSTATUS, T0);
                }
                p.li(T1, status::SPP).csrc(csr::SSTATUS, T1);
                p.la(T1, user_code).csrw(csr::SEPC, T1).sret();
                p.bind(user_code);
                p.li(A1, GVA).hlv_d(A0, A1);
            },
            |m, _, vs| {
                vs.map(m, GVA, DATA, LEAF | PTE_R | PTE_U, 0);
            },
        )
    };
    assert_eq!(hs_cause(&user(false)), 2, "illegal without HU");
    assert_eq!(
        hs_cause(&user(true)),
        8,
        "with HU the load works and the closing ECALL is from U"
    );
}

#[test]
fn hypervisor_state_is_illegal_without_the_h_extension() {
    let mut p = Assembler::new(RAM_BASE);
    let handler = p.label();
    p.la(T0, handler)
        .csrw(csr::STVEC, T0)
        .csrr(A0, csr::HSTATUS)
        .ecall();
    p.align(4);
    p.bind(handler);
    p.csrr(S2, csr::SCAUSE).ecall();
    let mut m = TestMachine::new_without_h(&p);
    m.run_to_ecall();
    assert_eq!(hs_cause(&m), 2);
}

#[test]
fn hgatp_keeps_fourteen_vmid_bits_and_ignores_unsupported_modes() {
    let m = run_hs(
        |p| {
            p.li(T0, (8 << 60) | (0x3FFF << 44))
                .csrw(csr::HGATP, T0)
                .csrr(A0, csr::HGATP);
            p.li(T0, 7 << 60).csrw(csr::HGATP, T0).csrr(A1, csr::HGATP);
        },
        |_, _, _| {},
    );
    assert_eq!(m.hart.reg(A0 as usize), (8 << 60) | (0x3FFF << 44));
    assert_eq!(
        m.hart.reg(A1 as usize),
        (8 << 60) | (0x3FFF << 44),
        "mode 7 is not a G-stage mode"
    );
}

#[test]
fn sv48x4_and_sv57x4_g_stages_translate_through_every_level() {
    for (mode, levels) in [(9u64, 4u32), (10, 5)] {
        let hgatp = (mode << 60) | (G_ROOT >> 12);
        let p = program_with(
            hgatp,
            |_| {},
            |p, _| {
                p.li(A1, GVA + 0x18).ld(A0, A1, 0);
            },
        );
        let mut m = TestMachine::new(&p);
        let mut g = Tables {
            root: G_ROOT,
            levels,
            extra: 2,
            next: G_ROOT + 0x4000,
        };
        // RAM as 2 MiB pages, and the data page as a 4 KiB page at a high GPA.
        for offset in (0..RAM_SIZE).step_by(0x20_0000) {
            g.map(
                &m,
                RAM_BASE + offset,
                RAM_BASE + offset,
                LEAF | PTE_R | PTE_W | PTE_X | PTE_U,
                1,
            );
        }
        // A non-zero index at the top level, still a GPA a VS-stage PTE can hold.
        let high_gpa = 3 << (12 + 9 * (levels - 1));
        g.map(&m, high_gpa, DATA, LEAF | PTE_R | PTE_U, 0);
        let mut vs = vs_stage(&m);
        vs.map(&m, GVA, high_gpa, LEAF | PTE_R, 0);
        m.write64(DATA + 0x18, 0x5757 + mode);
        m.run_to_ecall();
        assert_eq!(hs_cause(&m), 10, "mode {mode}: reached the closing ECALL");
        assert_eq!(m.hart.reg(A0 as usize), 0x5757 + mode);
    }
}

#[test]
fn cbo_zero_in_vs_needs_henvcfg_cbze_and_zeroes_through_both_stages() {
    let guest: GuestCode = |p, _| {
        p.li(A1, GVA + DATA_IN_FRAME + 0x1238).cbo_zero(A1);
    };
    let tables = |m: &TestMachine, _: &mut Tables, vs: &mut Tables| {
        for offset in (0x11C0..0x1280).step_by(8) {
            m.write64(DATA + offset, u64::MAX);
        }
        vs.map(m, GVA, DATA - DATA_IN_FRAME, LEAF | PTE_R | PTE_W, 1);
    };
    let m = run_guest(|_| {}, guest, tables);
    assert_eq!(hs_cause(&m), 22, "henvcfg.CBZE = 0: a virtual instruction");
    assert_eq!(m.read64(DATA + 0x1200), u64::MAX);

    let enable = |p: &mut Assembler| {
        p.li(T0, csr::envcfg::CBZE).csrs(csr::HENVCFG, T0);
    };
    let m = run_guest(enable, guest, tables);
    assert_eq!(hs_cause(&m), 10, "ran to the guest's ECALL");
    assert_eq!(m.read64(DATA + 0x11F8), u64::MAX, "the block before stays");
    for offset in (0x1200..0x1240).step_by(8) {
        assert_eq!(m.read64(DATA + offset), 0, "block byte {offset:#x}");
    }
    assert_eq!(m.read64(DATA + 0x1240), u64::MAX, "the block after stays");
}

#[test]
fn svinval_in_vs_follows_sfence_vma_and_hinval_is_virtual() {
    let m = run_guest(
        |_| {},
        |p, _| {
            p.sinval_vma(ZERO, ZERO).sfence_w_inval().sfence_inval_ir();
        },
        |_, _, _| {},
    );
    assert_eq!(hs_cause(&m), 10);
    let vtvm = |p: &mut Assembler| {
        p.li(T0, hstatus::VTVM).csrs(csr::HSTATUS, T0);
    };
    let m = run_guest(
        vtvm,
        |p, _| {
            p.sinval_vma(ZERO, ZERO);
        },
        |_, _, _| {},
    );
    assert_eq!(
        hs_cause(&m),
        22,
        "hstatus.VTVM traps sinval.vma like sfence.vma"
    );
    let m = run_guest(
        |_| {},
        |p, _| {
            p.hinval_gvma(ZERO, ZERO);
        },
        |_, _, _| {},
    );
    assert_eq!(hs_cause(&m), 22);
}

#[test]
fn vs_stage_pbmt_needs_henvcfg_pbmte() {
    let guest: GuestCode = |p, _| {
        p.li(A1, GVA + DATA_IN_FRAME + 0x1238).ld(A0, A1, 0);
    };
    let tables = |m: &TestMachine, _: &mut Tables, vs: &mut Tables| {
        m.write64(DATA + 0x1238, 0xFEED);
        let io = 2 << 61;
        vs.map(m, GVA, DATA - DATA_IN_FRAME, LEAF | PTE_R | PTE_W | io, 1);
    };
    let m = run_guest(|_| {}, guest, tables);
    assert_eq!(
        hs_cause(&m),
        13,
        "PBMT with henvcfg.PBMTE = 0: a load page fault"
    );
    let enable = |p: &mut Assembler| {
        p.li(T0, csr::henvcfg::PBMTE).csrs(csr::HENVCFG, T0);
    };
    let m = run_guest(enable, guest, tables);
    assert_eq!(hs_cause(&m), 10, "ran to the guest's ECALL");
    assert_eq!(m.hart.reg(A0 as usize), 0xFEED);
    // The G-stage always has Svpbmt.
    let g_io = |m: &TestMachine, g: &mut Tables, vs: &mut Tables| {
        m.write64(DATA + 0x1238, 0xFEED);
        vs.map(m, GVA, DATA - DATA_IN_FRAME, LEAF | PTE_R | PTE_W, 1);
        let leaf = g.map(
            m,
            0x8000_0000,
            0x8000_0000,
            LEAF | PTE_R | PTE_W | PTE_X | PTE_U,
            2,
        );
        m.write64(leaf, m.read64(leaf) | 1 << 61);
    };
    let m = run_guest(|_| {}, guest, g_io);
    assert_eq!(hs_cause(&m), 10);
    assert_eq!(m.hart.reg(A0 as usize), 0xFEED);
}
