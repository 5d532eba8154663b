//! The SBI Nested Acceleration extension (NACL, SBI v2.0 chapter 15), served by the
//! VMM to guest hypervisors: per-hart shared memory holding a CSR space with dirty
//! bits, HFENCE entries, an SRET context and an autoswap area.
//!
//! The protocol is independent of the backend: it reaches the vCPU through the
//! [`NestedHart`] trait (read and write H/VS CSRs, set GPRs, HFENCE, SRET, guest
//! physical memory). The software hart implements it directly; the KVM backend
//! implements it over ONE_REG (`vmm`'s `hypervisor::kvm::onereg_hart`).
#![deny(missing_docs)]

mod calls;
pub mod hart;
pub mod shmem;

pub use calls::{NaclState, Outcome};
pub use hart::{Hfence, NestedHart};

/// The extension id: "NACL".
pub const EXTENSION_ID: u64 = 0x4E41_434C;

/// Function ids.
pub mod function {
    /// probe_feature(feature_id)
    pub const PROBE_FEATURE: u64 = 0;
    /// set_shmem(lo, hi, flags)
    pub const SET_SHMEM: u64 = 1;
    /// sync_csr(csr_num)
    pub const SYNC_CSR: u64 = 2;
    /// sync_hfence(entry_index)
    pub const SYNC_HFENCE: u64 = 3;
    /// sync_sret()
    pub const SYNC_SRET: u64 = 4;
}

/// SBI error codes NACL returns.
pub mod error {
    /// Success.
    pub const SUCCESS: i64 = 0;
    /// Unspecified failure.
    pub const FAILED: i64 = -1;
    /// The feature behind the function is not available.
    pub const NOT_SUPPORTED: i64 = -2;
    /// A parameter is invalid.
    pub const INVALID_PARAM: i64 = -3;
    /// The shared memory address is not acceptable.
    pub const INVALID_ADDRESS: i64 = -5;
    /// No shared memory is set.
    pub const NO_SHMEM: i64 = -9;
}

/// A NACL feature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Feature {
    /// Write H/VS CSRs through the CSR space (id 0).
    SyncCsr = 0,
    /// Issue HFENCEs through HFENCE entries (id 1).
    SyncHfence = 1,
    /// Synchronize and emulate SRET in one call (id 2).
    SyncSret = 2,
    /// Swap hstatus around sync_sret and the return to HS (id 3).
    AutoswapCsr = 3,
}

impl Feature {
    /// All features, by id.
    pub const ALL: [Feature; 4] = [
        Feature::SyncCsr,
        Feature::SyncHfence,
        Feature::SyncSret,
        Feature::AutoswapCsr,
    ];

    /// The spec's name of the feature, as Linux prints it.
    pub fn name(self) -> &'static str {
        match self {
            Feature::SyncCsr => "sync_csr",
            Feature::SyncHfence => "sync_hfence",
            Feature::SyncSret => "sync_sret",
            Feature::AutoswapCsr => "autoswap_csr",
        }
    }
}

/// A set of features.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Features(u8);

impl Features {
    /// Every feature.
    pub fn all() -> Features {
        Features::from_iter(Feature::ALL)
    }

    /// Whether `feature` is in the set.
    pub fn has(self, feature: Feature) -> bool {
        self.0 & (1 << feature as u8) != 0
    }

    /// Whether the feature with spec id `id` is in the set (unknown ids: no).
    pub fn has_id(self, id: u64) -> bool {
        id < 4 && self.0 & (1 << id) != 0
    }
}

impl FromIterator<Feature> for Features {
    fn from_iter<I: IntoIterator<Item = Feature>>(iter: I) -> Features {
        Features(iter.into_iter().fold(0, |bits, f| bits | 1 << f as u8))
    }
}

/// Counters one hart keeps about NACL.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NaclStats {
    /// Calls per function id (0..=4); other ids land in the last slot.
    pub calls: [u64; 6],
    /// CSR writes applied from the CSR space.
    pub csrs_written: u64,
    /// HFENCE entries processed.
    pub hfences: u64,
    /// Calls answered with an error.
    pub errors: u64,
}

#[cfg(test)]
mod tests;
