//! NACL against a mock hart and hand-built shared memory: every error path and each
//! sync, with the order of effects checked from the mock's log.

use std::collections::BTreeMap;

use crate::hart::{Hfence, NestedHart};
use crate::shmem::{self, config};
use crate::{Feature, Features, NaclState, Outcome, error, function};

const RAM_BASE: u64 = 0x8000_0000;
const RAM_SIZE: u64 = 0x10_0000;
const SHMEM: u64 = RAM_BASE + 0x4000;
const HSTATUS: u16 = 0x600;
const HVIP: u16 = 0x645;
const HIP: u16 = 0x644;
const HGATP: u16 = 0x680;
const VSATP: u16 = 0x280;
const CSRS: [u16; 5] = [HSTATUS, HVIP, HIP, HGATP, VSATP];

/// A hart with five H/VS CSRs, RAM as a word map, and a log of what was done.
#[derive(Default)]
struct Mock {
    csrs: BTreeMap<u16, u64>,
    memory: BTreeMap<u64, u64>,
    gprs: [u64; 32],
    log: Vec<String>,
}

impl NestedHart for Mock {
    fn h_csrs(&self) -> &'static [u16] {
        &CSRS
    }
    fn read_h_csr(&self, csr: u16) -> Option<u64> {
        CSRS.contains(&csr)
            .then(|| self.csrs.get(&csr).copied().unwrap_or(0))
    }
    fn write_h_csr(&mut self, csr: u16, value: u64) {
        // hgatp is WARL here: only the low 44 bits stick.
        let value = if csr == HGATP {
            value & ((1 << 44) - 1)
        } else {
            value
        };
        self.csrs.insert(csr, value);
        self.log.push(format!("csr {csr:#x}={value:#x}"));
    }
    fn set_gpr(&mut self, index: usize, value: u64) {
        self.gprs[index] = value;
        if index == 31 {
            self.log.push("gprs".into());
        }
    }
    fn hfence(&mut self, fence: Hfence) {
        self.log.push(format!("{fence:?}"));
    }
    fn sret(&mut self) {
        self.log.push("sret".into());
    }
    fn read_phys(&self, gpa: u64) -> Option<u64> {
        self.is_ram(gpa, 8)
            .then(|| self.memory.get(&gpa).copied().unwrap_or(0))
    }
    fn write_phys(&mut self, gpa: u64, value: u64) -> bool {
        self.memory.insert(gpa, value);
        self.is_ram(gpa, 8)
    }
    fn is_ram(&self, gpa: u64, len: u64) -> bool {
        gpa >= RAM_BASE
            && gpa
                .checked_add(len)
                .is_some_and(|end| end <= RAM_BASE + RAM_SIZE)
    }
}

impl Mock {
    fn word(&self, offset: u64) -> u64 {
        self.memory.get(&(SHMEM + offset)).copied().unwrap_or(0)
    }
    fn set_word(&mut self, offset: u64, value: u64) {
        self.memory.insert(SHMEM + offset, value);
    }
    /// What the guest hypervisor does to write a CSR through the CSR space.
    fn guest_writes_csr(&mut self, csr: u16, value: u64) {
        self.set_word(shmem::csr_word(csr), value);
        let index = shmem::csr_index(csr);
        let word = shmem::DIRTY_BITMAP + 8 * (index / 64);
        let bits = self.word(word) | 1 << (index % 64);
        self.set_word(word, bits);
    }
    fn dirty(&self, csr: u16) -> bool {
        let index = shmem::csr_index(csr);
        self.word(shmem::DIRTY_BITMAP + 8 * (index / 64)) & 1 << (index % 64) != 0
    }
}

fn call(state: &mut NaclState, hart: &mut Mock, function: u64, args: &[u64]) -> Outcome {
    let mut a = [0; 6];
    a[..args.len()].copy_from_slice(args);
    state.handle(hart, function, a)
}

fn ret(error: i64, value: u64) -> Outcome {
    Outcome::Return { error, value }
}

/// A state with all features and shared memory at SHMEM.
fn ready() -> (NaclState, Mock) {
    let mut state = NaclState::new(Features::all());
    let mut hart = Mock::default();
    assert_eq!(
        call(&mut state, &mut hart, function::SET_SHMEM, &[SHMEM, 0, 0]),
        ret(0, 0)
    );
    hart.log.clear();
    (state, hart)
}

#[test]
fn probe_reports_exactly_the_configured_features() {
    let mut state = NaclState::new(Features::from_iter([Feature::SyncCsr, Feature::SyncSret]));
    let mut hart = Mock::default();
    let probe = |s: &mut NaclState, h: &mut Mock, id| call(s, h, function::PROBE_FEATURE, &[id]);
    assert_eq!(probe(&mut state, &mut hart, 0), ret(0, 1));
    assert_eq!(probe(&mut state, &mut hart, 1), ret(0, 0));
    assert_eq!(probe(&mut state, &mut hart, 2), ret(0, 1));
    assert_eq!(probe(&mut state, &mut hart, 3), ret(0, 0));
    assert_eq!(
        probe(&mut state, &mut hart, 4),
        ret(0, 0),
        "unknown ids are unavailable, not errors"
    );
    assert_eq!(probe(&mut state, &mut hart, u64::MAX), ret(0, 0));
}

#[test]
fn set_shmem_validates_flags_alignment_and_address() {
    let mut state = NaclState::new(Features::all());
    let mut hart = Mock::default();
    let mut set = |args: &[u64]| call(&mut state, &mut hart, function::SET_SHMEM, args);
    assert_eq!(
        set(&[SHMEM, 0, 1]),
        ret(error::INVALID_PARAM, 0),
        "flags != 0"
    );
    assert_eq!(
        set(&[SHMEM + 8, 0, 0]),
        ret(error::INVALID_PARAM, 0),
        "misaligned"
    );
    assert_eq!(
        set(&[0x1000_0000, 0, 0]),
        ret(error::INVALID_ADDRESS, 0),
        "MMIO, not RAM"
    );
    assert_eq!(
        set(&[0x1000, 0, 0]),
        ret(error::INVALID_ADDRESS, 0),
        "outside RAM"
    );
    assert_eq!(
        set(&[RAM_BASE + RAM_SIZE - 0x2000, 0, 0]),
        ret(error::INVALID_ADDRESS, 0),
        "straddles the end of RAM"
    );
    assert_eq!(
        set(&[SHMEM, 1, 0]),
        ret(error::INVALID_ADDRESS, 0),
        "upper address bits on RV64"
    );
    assert_eq!(set(&[SHMEM, 0, 0]), ret(0, 0));
    assert_eq!(state.shmem(), Some(SHMEM));
    assert_eq!(
        call(
            &mut state,
            &mut hart,
            function::SET_SHMEM,
            &[u64::MAX, u64::MAX, 0]
        ),
        ret(0, 0),
        "disable"
    );
    assert_eq!(state.shmem(), None);
    assert_eq!(
        call(&mut state, &mut hart, function::SYNC_CSR, &[u64::MAX]),
        ret(error::NO_SHMEM, 0)
    );
}

#[test]
fn set_shmem_fills_the_csr_space_with_current_values() {
    let mut state = NaclState::new(Features::all());
    let mut hart = Mock::default();
    hart.csrs.insert(HGATP, 0x8000_0000_0000_1234);
    assert_eq!(
        call(&mut state, &mut hart, function::SET_SHMEM, &[SHMEM, 0, 0]),
        ret(0, 0)
    );
    assert_eq!(hart.word(shmem::csr_word(HGATP)), 0x8000_0000_0000_1234);
}

#[test]
fn functions_without_their_feature_or_shmem_are_refused() {
    let mut state = NaclState::new(Features::from_iter([Feature::SyncCsr]));
    let mut hart = Mock::default();
    assert_eq!(
        call(&mut state, &mut hart, function::SYNC_HFENCE, &[0]),
        ret(error::NOT_SUPPORTED, 0)
    );
    assert_eq!(
        call(&mut state, &mut hart, function::SYNC_SRET, &[]),
        ret(error::NOT_SUPPORTED, 0)
    );
    assert_eq!(
        call(&mut state, &mut hart, function::SYNC_CSR, &[0x600]),
        ret(error::NO_SHMEM, 0)
    );
    assert_eq!(
        call(&mut state, &mut hart, 5, &[]),
        ret(error::NOT_SUPPORTED, 0),
        "unknown function"
    );
    assert_eq!(state.stats.errors, 4);
}

#[test]
fn sync_csr_rejects_numbers_outside_the_h_and_vs_range() {
    let (mut state, mut hart) = ready();
    for csr in [
        0x100, 0x300, 0x1600, 0x6FF, /* in range, not implemented */
    ] {
        assert_eq!(
            call(&mut state, &mut hart, function::SYNC_CSR, &[csr]),
            ret(error::INVALID_PARAM, 0),
            "{csr:#x}"
        );
    }
}

#[test]
fn sync_csr_applies_dirty_values_clears_bits_and_writes_back() {
    let (mut state, mut hart) = ready();
    hart.guest_writes_csr(HGATP, 0xFFFF_F000_0000_5678);
    assert_eq!(
        call(&mut state, &mut hart, function::SYNC_CSR, &[HGATP as u64]),
        ret(0, 0)
    );
    assert_eq!(hart.csrs[&HGATP], 0x0000_0000_0000_5678 & ((1 << 44) - 1));
    assert!(!hart.dirty(HGATP));
    assert_eq!(
        hart.word(shmem::csr_word(HGATP)),
        hart.csrs[&HGATP],
        "WARL value written back"
    );
    // A clean CSR is only written back.
    hart.csrs.insert(VSATP, 42);
    assert_eq!(
        call(&mut state, &mut hart, function::SYNC_CSR, &[VSATP as u64]),
        ret(0, 0)
    );
    assert_eq!(hart.word(shmem::csr_word(VSATP)), 42);
    assert_eq!(hart.log, [format!("csr {HGATP:#x}=0x5678")]);
    assert_eq!(state.stats.csrs_written, 1);
}

#[test]
fn sync_all_csrs_applies_hvip_before_hip() {
    let (mut state, mut hart) = ready();
    hart.guest_writes_csr(HIP, 0);
    hart.guest_writes_csr(HVIP, 4);
    assert_eq!(
        call(&mut state, &mut hart, function::SYNC_CSR, &[u64::MAX]),
        ret(0, 0)
    );
    let order: Vec<&str> = hart.log.iter().map(String::as_str).collect();
    assert_eq!(order, ["csr 0x645=0x4", "csr 0x644=0x0"]);
}

/// Writes HFENCE entry `index` as the guest does (config last).
fn put_hfence(hart: &mut Mock, index: u64, cfg: u64, page_number: u64, page_count: u64) {
    let entry = shmem::hfence_entry(index);
    hart.set_word(entry + 8, page_number);
    hart.set_word(entry + 24, page_count);
    hart.set_word(entry, cfg);
}

fn cfg(kind: u64, order: u64, vmid: u64, asid: u64) -> u64 {
    config::PENDING | kind << 56 | order << 48 | vmid << 16 | asid
}

#[test]
fn hfence_entries_of_every_type_decode_with_their_scope() {
    let (mut state, mut hart) = ready();
    put_hfence(&mut hart, 0, cfg(0, 0, 0, 0), 0x80, 2);
    put_hfence(&mut hart, 1, cfg(1, 0, 0, 0), 0, 0);
    put_hfence(&mut hart, 2, cfg(2, 9, 7, 0), 3, 1);
    put_hfence(&mut hart, 3, cfg(3, 0, 7, 0), 0, 0);
    put_hfence(&mut hart, 4, cfg(4, 0, 7, 0), 0x10, 4);
    put_hfence(&mut hart, 5, cfg(5, 0, 7, 0), 0, 0);
    put_hfence(&mut hart, 6, cfg(6, 0, 7, 9), 0x10, 1);
    put_hfence(&mut hart, 7, cfg(7, 0, 7, 9), 0, 0);
    put_hfence(&mut hart, 8, cfg(4, 0, 1, 0) & !config::PENDING, 0, 0); // not pending
    assert_eq!(
        call(&mut state, &mut hart, function::SYNC_HFENCE, &[u64::MAX]),
        ret(0, 0)
    );
    let expected = [
        Hfence::Gvma {
            vmid: None,
            range: Some((0x80_000, 0x2000)),
        },
        Hfence::Gvma {
            vmid: None,
            range: None,
        },
        Hfence::Gvma {
            vmid: Some(7),
            range: Some((3 << 21, 1 << 21)),
        },
        Hfence::Gvma {
            vmid: Some(7),
            range: None,
        },
        Hfence::Vvma {
            vmid: 7,
            asid: None,
            range: Some((0x10_000, 0x4000)),
        },
        Hfence::Vvma {
            vmid: 7,
            asid: None,
            range: None,
        },
        Hfence::Vvma {
            vmid: 7,
            asid: Some(9),
            range: Some((0x10_000, 0x1000)),
        },
        Hfence::Vvma {
            vmid: 7,
            asid: Some(9),
            range: None,
        },
    ];
    assert_eq!(hart.log, expected.map(|f| format!("{f:?}")));
    for index in 0..8 {
        assert_eq!(
            hart.word(shmem::hfence_entry(index)) & config::PENDING,
            0,
            "entry {index} cleared"
        );
    }
    assert_eq!(state.stats.hfences, 8);
}

#[test]
fn hfence_index_out_of_range_and_corrupt_entries_are_invalid_param() {
    let (mut state, mut hart) = ready();
    assert_eq!(
        call(&mut state, &mut hart, function::SYNC_HFENCE, &[60]),
        ret(error::INVALID_PARAM, 0)
    );
    put_hfence(&mut hart, 5, cfg(9, 0, 0, 0), 0, 0); // reserved type
    assert_eq!(
        call(&mut state, &mut hart, function::SYNC_HFENCE, &[5]),
        ret(error::INVALID_PARAM, 0)
    );
    assert_eq!(
        hart.log,
        [format!(
            "{:?}",
            Hfence::Gvma {
                vmid: None,
                range: None
            }
        )],
        "the widest fence"
    );
    assert_eq!(
        hart.word(shmem::hfence_entry(5)) & config::PENDING,
        0,
        "cleared all the same"
    );
    put_hfence(&mut hart, 6, cfg(0, 60, 0, 0), 1, 1); // order overflows the address
    assert_eq!(
        call(&mut state, &mut hart, function::SYNC_HFENCE, &[6]),
        ret(error::INVALID_PARAM, 0)
    );
    put_hfence(&mut hart, 7, cfg(4, 0, 0, 0) | 1 << 40, 0, 1); // reserved bit
    assert_eq!(
        call(&mut state, &mut hart, function::SYNC_HFENCE, &[7]),
        ret(error::INVALID_PARAM, 0)
    );
    assert_eq!(
        call(&mut state, &mut hart, function::SYNC_HFENCE, &[8]),
        ret(0, 0),
        "empty entry"
    );
}

#[test]
fn sync_sret_runs_in_the_specified_order() {
    let (mut state, mut hart) = ready();
    hart.guest_writes_csr(HGATP, 0x1000);
    put_hfence(&mut hart, 0, cfg(1, 0, 0, 0), 0, 0);
    for i in 1..32 {
        hart.set_word(8 * i, 100 + i);
    }
    hart.csrs.insert(HSTATUS, 0x2_0000_0000); // the guest hypervisor's own hstatus
    hart.set_word(shmem::AUTOSWAP_HSTATUS, 0x2_0000_0080); // the nested guest's (SPV)
    hart.set_word(shmem::AUTOSWAP_FLAGS, shmem::AUTOSWAP_FLAG_HSTATUS);
    assert_eq!(
        call(&mut state, &mut hart, function::SYNC_SRET, &[]),
        Outcome::Resumed
    );
    let gvma_all = format!(
        "{:?}",
        Hfence::Gvma {
            vmid: None,
            range: None
        }
    );
    let order: Vec<&str> = hart.log.iter().map(String::as_str).collect();
    assert_eq!(
        order,
        [
            "csr 0x680=0x1000",
            gvma_all.as_str(),
            "gprs",
            "csr 0x600=0x200000080",
            "sret"
        ]
    );
    assert_eq!(hart.gprs[1], 101);
    assert_eq!(hart.gprs[31], 131);
    assert_eq!(
        hart.word(shmem::AUTOSWAP_HSTATUS),
        0x2_0000_0000,
        "host hstatus parked in the swap area"
    );
}

#[test]
fn leaving_the_guest_swaps_back_and_refreshes_clean_words_only() {
    let (mut state, mut hart) = ready();
    hart.set_word(shmem::AUTOSWAP_FLAGS, shmem::AUTOSWAP_FLAG_HSTATUS);
    hart.set_word(shmem::AUTOSWAP_HSTATUS, 0x2_0000_0000); // host hstatus
    hart.csrs.insert(HSTATUS, 0x2_0000_01C0); // after trap entry: SPV, SPVP, GVA
    hart.csrs.insert(VSATP, 0x99);
    hart.guest_writes_csr(HGATP, 0x4242); // written, not yet synced
    state.on_guest_exit(&mut hart);
    assert_eq!(hart.csrs[&HSTATUS], 0x2_0000_0000);
    assert_eq!(
        hart.word(shmem::AUTOSWAP_HSTATUS),
        0x2_0000_01C0,
        "the guest's hstatus, for the hypervisor to read"
    );
    assert_eq!(hart.word(shmem::csr_word(HSTATUS)), 0x2_0000_0000);
    assert_eq!(hart.word(shmem::csr_word(VSATP)), 0x99);
    assert_eq!(
        hart.word(shmem::csr_word(HGATP)),
        0x4242,
        "a dirty word is the guest's"
    );
}

#[test]
fn without_autoswap_leaving_the_guest_only_refreshes() {
    let mut state = NaclState::new(Features::from_iter([Feature::SyncCsr, Feature::SyncSret]));
    let mut hart = Mock::default();
    call(&mut state, &mut hart, function::SET_SHMEM, &[SHMEM, 0, 0]);
    hart.set_word(shmem::AUTOSWAP_FLAGS, shmem::AUTOSWAP_FLAG_HSTATUS);
    hart.csrs.insert(HSTATUS, 0x80);
    state.on_guest_exit(&mut hart);
    assert_eq!(hart.csrs[&HSTATUS], 0x80);
    assert_eq!(hart.word(shmem::csr_word(HSTATUS)), 0x80);
}

#[test]
fn a_direct_write_replaces_a_stale_dirty_word() {
    let (mut state, mut hart) = ready();
    hart.guest_writes_csr(HSTATUS, 0x111); // queued, never synced
    hart.csrs.insert(HSTATUS, 0x222); // then written with csrw
    state.csr_written(&mut hart, HSTATUS);
    assert_eq!(hart.word(shmem::csr_word(HSTATUS)), 0x222);
    assert_eq!(
        call(&mut state, &mut hart, function::SYNC_CSR, &[u64::MAX]),
        ret(0, 0)
    );
    assert_eq!(
        hart.csrs[&HSTATUS], 0x222,
        "the later sync must not bring back 0x111"
    );
}

#[test]
fn a_plain_sret_into_the_guest_applies_queued_csrs_and_hfences_first() {
    let mut state = NaclState::new(Features::from_iter([Feature::SyncCsr]));
    let mut hart = Mock::default();
    call(&mut state, &mut hart, function::SET_SHMEM, &[SHMEM, 0, 0]);
    hart.log.clear();
    hart.guest_writes_csr(HGATP, 0x77);
    put_hfence(&mut hart, 3, cfg(1, 0, 0, 0), 0, 0);
    state.before_guest_entry(&mut hart);
    let gvma_all = format!(
        "{:?}",
        Hfence::Gvma {
            vmid: None,
            range: None
        }
    );
    assert_eq!(hart.log, ["csr 0x680=0x77".to_string(), gvma_all]);
    assert!(!hart.dirty(HGATP));
}
