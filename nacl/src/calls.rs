//! The NACL functions and the shared-memory rules the L0 keeps (SBI spec 15.1-15.9).

use crate::hart::{Hfence, NestedHart};
use crate::shmem::{self, config};
use crate::{Feature, Features, NaclStats, error, function};

/// The hstatus CSR, which autoswap exchanges.
const HSTATUS: u16 = 0x600;

/// What the VMM does after a NACL call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Return to the caller with a0 = error, a1 = value (pc past the ECALL).
    Return {
        /// SBI error code.
        error: i64,
        /// Return value.
        value: u64,
    },
    /// sync_sret succeeded: the vCPU already resumes elsewhere (in the nested guest);
    /// its registers and pc must not be touched.
    Resumed,
}

impl Outcome {
    const fn ok(value: u64) -> Outcome {
        Outcome::Return {
            error: error::SUCCESS,
            value,
        }
    }

    const fn err(error: i64) -> Outcome {
        Outcome::Return { error, value: 0 }
    }
}

/// One hart's NACL state: the features offered and the shared memory set.
#[derive(Clone, Debug, Default)]
pub struct NaclState {
    features: Features,
    shmem: Option<u64>,
    /// Counters.
    pub stats: NaclStats,
}

impl NaclState {
    /// A hart offered `features`, with no shared memory yet.
    pub fn new(features: Features) -> NaclState {
        NaclState {
            features,
            shmem: None,
            stats: NaclStats::default(),
        }
    }

    /// The features offered.
    pub fn features(&self) -> Features {
        self.features
    }

    /// Guest physical address of the shared memory, if set.
    pub fn shmem(&self) -> Option<u64> {
        self.shmem
    }

    /// Serves NACL function `function` with arguments `a`.
    pub fn handle(&mut self, hart: &mut dyn NestedHart, function: u64, a: [u64; 6]) -> Outcome {
        self.stats.calls[function.min(5) as usize] += 1;
        let outcome = match function {
            function::PROBE_FEATURE => Outcome::ok(u64::from(self.features.has_id(a[0]))),
            function::SET_SHMEM => self.set_shmem(hart, a[0], a[1], a[2]),
            function::SYNC_CSR => self.checked(Feature::SyncCsr, |s, shmem| {
                if a[0] == u64::MAX {
                    s.sync_all_csrs(hart, shmem);
                    Outcome::ok(0)
                } else if !shmem::is_h_csr(a[0]) || hart.read_h_csr(a[0] as u16).is_none() {
                    Outcome::err(error::INVALID_PARAM)
                } else {
                    s.sync_csr(hart, shmem, a[0] as u16);
                    Outcome::ok(0)
                }
            }),
            function::SYNC_HFENCE => self.checked(Feature::SyncHfence, |s, shmem| {
                if a[0] == u64::MAX {
                    s.sync_all_hfences(hart, shmem)
                } else if a[0] < shmem::HFENCE_COUNT {
                    s.sync_hfence(hart, shmem, a[0])
                } else {
                    Outcome::err(error::INVALID_PARAM)
                }
            }),
            function::SYNC_SRET => {
                self.checked(Feature::SyncSret, |s, shmem| s.sync_sret(hart, shmem))
            }
            _ => Outcome::err(error::NOT_SUPPORTED),
        };
        if matches!(outcome, Outcome::Return { error, .. } if error != error::SUCCESS) {
            self.stats.errors += 1;
        }
        outcome
    }

    /// Runs `body` if `feature` is offered and shared memory is set; otherwise the
    /// spec's NOT_SUPPORTED or NO_SHMEM.
    fn checked(
        &mut self,
        feature: Feature,
        body: impl FnOnce(&mut Self, u64) -> Outcome,
    ) -> Outcome {
        if !self.features.has(feature) {
            return Outcome::err(error::NOT_SUPPORTED);
        }
        match self.shmem {
            Some(shmem) => body(self, shmem),
            None => Outcome::err(error::NO_SHMEM),
        }
    }

    /// set_shmem (15.6): all-ones disables; otherwise the region must be page
    /// aligned, flags zero, and the whole 12 KiB ordinary RAM.
    fn set_shmem(&mut self, hart: &mut dyn NestedHart, lo: u64, hi: u64, flags: u64) -> Outcome {
        if lo == u64::MAX && hi == u64::MAX {
            self.shmem = None;
            return Outcome::ok(0);
        }
        if flags != 0 || lo & 0xFFF != 0 {
            return Outcome::err(error::INVALID_PARAM);
        }
        // On RV64 the address is `lo`; a non-zero `hi` names memory beyond 64 bits.
        if hi != 0 || !hart.is_ram(lo, shmem::SIZE) {
            return Outcome::err(error::INVALID_ADDRESS);
        }
        self.shmem = Some(lo);
        self.refresh(hart);
        Outcome::ok(0)
    }

    fn read(hart: &dyn NestedHart, shmem: u64, offset: u64) -> u64 {
        hart.read_phys(shmem + offset).unwrap_or(0)
    }

    fn write(hart: &mut dyn NestedHart, shmem: u64, offset: u64, value: u64) {
        hart.write_phys(shmem + offset, value);
    }

    /// The dirty-bitmap word holding `csr`'s bit, and the bit's mask in it.
    fn dirty_word(csr: u16) -> (u64, u64) {
        let index = shmem::csr_index(csr);
        (shmem::DIRTY_BITMAP + 8 * (index / 64), 1 << (index % 64))
    }

    fn is_dirty(hart: &dyn NestedHart, shmem: u64, csr: u16) -> bool {
        let (word, bit) = Self::dirty_word(csr);
        Self::read(hart, shmem, word) & bit != 0
    }

    /// Synchronizes one CSR (15.2): apply a dirty value, clear its bit, and write
    /// the latest value back in every case.
    fn sync_csr(&mut self, hart: &mut dyn NestedHart, shmem: u64, csr: u16) {
        let (word, bit) = Self::dirty_word(csr);
        let dirty = Self::read(hart, shmem, word);
        if dirty & bit != 0 {
            let value = Self::read(hart, shmem, shmem::csr_word(csr));
            hart.write_h_csr(csr, value);
            Self::write(hart, shmem, word, dirty & !bit);
            self.stats.csrs_written += 1;
        }
        if let Some(value) = hart.read_h_csr(csr) {
            Self::write(hart, shmem, shmem::csr_word(csr), value);
        }
    }

    /// Synchronizes every implemented CSR, dependencies first (hvip before hip).
    fn sync_all_csrs(&mut self, hart: &mut dyn NestedHart, shmem: u64) {
        for &csr in hart.h_csrs() {
            self.sync_csr(hart, shmem, csr);
        }
    }

    /// Writes the current value of every CSR whose dirty bit is clear into the CSR
    /// space (words the guest hypervisor has written but not synced are left alone).
    pub fn refresh(&mut self, hart: &mut dyn NestedHart) {
        let Some(shmem) = self.shmem else {
            return;
        };
        for &csr in hart.h_csrs() {
            if !Self::is_dirty(hart, shmem, csr)
                && let Some(value) = hart.read_h_csr(csr)
            {
                Self::write(hart, shmem, shmem::csr_word(csr), value);
            }
        }
    }

    /// The guest hypervisor wrote H/VS CSR `csr` directly (an instruction, not the
    /// CSR space): its word takes the new value even if it is marked dirty (a later
    /// sync then applies that same value, not an older one), and the other clean
    /// words are refreshed.
    pub fn csr_written(&mut self, hart: &mut dyn NestedHart, csr: u16) {
        let Some(shmem) = self.shmem else {
            return;
        };
        if let Some(value) = hart.read_h_csr(csr) {
            Self::write(hart, shmem, shmem::csr_word(csr), value);
        }
        self.refresh(hart);
    }

    fn sync_all_hfences(&mut self, hart: &mut dyn NestedHart, shmem: u64) -> Outcome {
        let mut outcome = Outcome::ok(0);
        for index in 0..shmem::HFENCE_COUNT {
            if let Outcome::Return { error, .. } = self.sync_hfence(hart, shmem, index)
                && error != error::SUCCESS
            {
                outcome = Outcome::err(error);
            }
        }
        outcome
    }

    /// Processes HFENCE entry `index` if pending (15.3). A corrupt entry (reserved
    /// type or bits, an order or range that overflows) is answered with the widest
    /// fence of its kind, cleared, and reported as INVALID_PARAM.
    fn sync_hfence(&mut self, hart: &mut dyn NestedHart, shmem: u64, index: u64) -> Outcome {
        let entry = shmem::hfence_entry(index);
        let cfg = Self::read(hart, shmem, entry);
        if cfg & config::PENDING == 0 {
            return Outcome::ok(0);
        }
        let page_number = Self::read(hart, shmem, entry + 8);
        let page_count = Self::read(hart, shmem, entry + 24);
        let (fence, valid) = decode_hfence(cfg, page_number, page_count);
        hart.hfence(fence);
        Self::write(hart, shmem, entry, cfg & !config::PENDING);
        self.stats.hfences += 1;
        if valid {
            Outcome::ok(0)
        } else {
            Outcome::err(error::INVALID_PARAM)
        }
    }

    /// sync_sret (15.4), in the spec's order: CSRs, HFENCEs, GPRs, autoswap, SRET.
    fn sync_sret(&mut self, hart: &mut dyn NestedHart, shmem: u64) -> Outcome {
        if self.features.has(Feature::SyncCsr) {
            self.sync_all_csrs(hart, shmem);
        }
        if self.features.has(Feature::SyncHfence) {
            self.sync_all_hfences(hart, shmem);
        }
        for index in 1..32 {
            let value = Self::read(hart, shmem, shmem::SRET_CONTEXT + 8 * index as u64);
            hart.set_gpr(index, value);
        }
        self.autoswap(hart, shmem);
        hart.sret();
        Outcome::Resumed
    }

    /// Swaps hstatus with the autoswap area if the guest hypervisor asked for it.
    fn autoswap(&mut self, hart: &mut dyn NestedHart, shmem: u64) {
        if !self.features.has(Feature::AutoswapCsr)
            || Self::read(hart, shmem, shmem::AUTOSWAP_FLAGS) & shmem::AUTOSWAP_FLAG_HSTATUS == 0
        {
            return;
        }
        let stored = Self::read(hart, shmem, shmem::AUTOSWAP_HSTATUS);
        let current = hart.read_h_csr(HSTATUS).unwrap_or(0);
        hart.write_h_csr(HSTATUS, stored);
        Self::write(hart, shmem, shmem::AUTOSWAP_HSTATUS, current);
    }

    /// The guest hypervisor is about to enter its guest with a plain SRET (not
    /// sync_sret). Linux then has CSR writes queued in the CSR space (with
    /// SYNC_CSR) and HFENCE entries pending (whenever NACL is present) and relies on
    /// the L0, which must intercept that SRET anyway, to apply them first. Applying
    /// them here is what a trap-and-emulate L0 does at the trapped SRET.
    pub fn before_guest_entry(&mut self, hart: &mut dyn NestedHart) {
        let Some(shmem) = self.shmem else {
            return;
        };
        if self.features.has(Feature::SyncCsr) {
            self.sync_all_csrs(hart, shmem);
        }
        self.sync_all_hfences(hart, shmem);
    }

    /// The hart left the nested guest for HS-mode (a trap from V=1): swap hstatus
    /// back if autoswap is on, then bring the CSR space up to date.
    pub fn on_guest_exit(&mut self, hart: &mut dyn NestedHart) {
        let Some(shmem) = self.shmem else {
            return;
        };
        self.autoswap(hart, shmem);
        self.refresh(hart);
    }
}

/// Decodes an HFENCE entry into the fence to apply and whether the entry was valid.
fn decode_hfence(cfg: u64, page_number: u64, page_count: u64) -> (Hfence, bool) {
    let kind = (cfg >> config::TYPE_SHIFT) & 0xF;
    let order = (cfg >> config::ORDER_SHIFT) & 0x7F;
    let vmid = (cfg >> config::VMID_SHIFT) & config::VMID_MASK;
    let asid = cfg & config::ASID_MASK;
    let shift = order + 12;
    let range = (shift < 64)
        .then(|| {
            let start = page_number.checked_mul(1 << shift)?;
            let size = page_count.checked_mul(1 << shift)?;
            start.checked_add(size).map(|_| (start, size))
        })
        .flatten();
    let reserved_bits = cfg & !config::DEFINED != 0;
    let ranged = matches!(kind, 0 | 2 | 4 | 6);
    let valid = kind <= 7 && !reserved_bits && (!ranged || range.is_some());
    let fence = match kind {
        0 => Hfence::Gvma { vmid: None, range },
        1 => Hfence::Gvma {
            vmid: None,
            range: None,
        },
        2 => Hfence::Gvma {
            vmid: Some(vmid),
            range,
        },
        3 => Hfence::Gvma {
            vmid: Some(vmid),
            range: None,
        },
        4 => Hfence::Vvma {
            vmid,
            asid: None,
            range,
        },
        5 => Hfence::Vvma {
            vmid,
            asid: None,
            range: None,
        },
        6 => Hfence::Vvma {
            vmid,
            asid: Some(asid),
            range,
        },
        7 => Hfence::Vvma {
            vmid,
            asid: Some(asid),
            range: None,
        },
        // Reserved: invalidate everything, which is always safe.
        _ => Hfence::Gvma {
            vmid: None,
            range: None,
        },
    };
    (fence, valid)
}
