//! The Firmware Features extension (SBI spec chapter 18): per-hart feature values
//! with lock semantics.
//!
//! What the soft hart offers:
//! - MISALIGNED_EXC_DELEG: both values are accepted and kept. The hart performs
//!   misaligned loads and stores itself, so they never trap under either value;
//!   misaligned AMOs and LR/SC cannot be emulated atomically by firmware and reach
//!   S-mode under either value, as they do under OpenSBI on such hardware.
//! - PTE_AD_HW_UPDATING: NOT_SUPPORTED. The hart always updates A/D in hardware
//!   and has no switch to fault instead (the spec's reset value 0 means "off").
//! - LANDING_PAD, SHADOW_STACK, DOUBLE_TRAP, POINTER_MASKING_PMLEN: NOT_SUPPORTED
//!   (the hart has no Zicfilp, Zicfiss, Ssdbltrp or Ssnpm).

use super::{SbiOutcome, error};

/// Feature ids (table "FWFT Feature Types").
pub mod feature {
    /// Misaligned access exception delegation to S-mode.
    pub const MISALIGNED_EXC_DELEG: u32 = 0;
    /// Landing pads (Zicfilp) for S-mode.
    pub const LANDING_PAD: u32 = 1;
    /// Shadow stacks (Zicfiss) for S-mode.
    pub const SHADOW_STACK: u32 = 2;
    /// Double trap (Ssdbltrp).
    pub const DOUBLE_TRAP: u32 = 3;
    /// Hardware updating of PTE A/D bits (Svadu).
    pub const PTE_AD_HW_UPDATING: u32 = 4;
    /// Pointer masking length for S-mode (Ssnpm).
    pub const POINTER_MASKING_PMLEN: u32 = 5;
}

/// The LOCK flag of fwft_set; every other flag bit is reserved.
pub const FLAG_LOCK: u64 = 1;

/// One hart's feature values. Local features reset with the hart (hart_start);
/// non-retentive suspend keeps them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HartFeatures {
    misaligned_deleg: bool,
    misaligned_locked: bool,
}

impl HartFeatures {
    /// fwft_set(feature, value, flags).
    pub fn set(&mut self, feature: u32, value: u64, flags: u64) -> SbiOutcome {
        if let Err(e) = classify(feature) {
            return SbiOutcome::err(e);
        }
        if flags & !FLAG_LOCK != 0 {
            return SbiOutcome::err(error::INVALID_PARAM);
        }
        if self.misaligned_locked {
            return SbiOutcome::err(error::DENIED_LOCKED);
        }
        let enable = match value {
            0 => false,
            1 => true,
            _ => return SbiOutcome::err(error::INVALID_PARAM),
        };
        self.misaligned_deleg = enable;
        self.misaligned_locked = flags & FLAG_LOCK != 0;
        SbiOutcome::ok(0)
    }

    /// fwft_get(feature).
    pub fn get(&self, feature: u32) -> SbiOutcome {
        match classify(feature) {
            Ok(()) => SbiOutcome::ok(u64::from(self.misaligned_deleg)),
            Err(e) => SbiOutcome::err(e),
        }
    }
}

/// Ok for a feature this hart implements (MISALIGNED_EXC_DELEG), else the error
/// both functions give: NOT_SUPPORTED for a defined feature the hart lacks, DENIED
/// for reserved and (unimplemented) platform-specific ids.
fn classify(feature: u32) -> Result<(), i64> {
    match feature {
        feature::MISALIGNED_EXC_DELEG => Ok(()),
        feature::LANDING_PAD..=feature::POINTER_MASKING_PMLEN => Err(error::NOT_SUPPORTED),
        _ => Err(error::DENIED),
    }
}

/// Serves FWFT function `function` with arguments `a` for the calling hart.
pub fn handle(function: u64, a: [u64; 6], features: &mut HartFeatures) -> SbiOutcome {
    // feature is 32 bits wide: the upper half of a0 is not part of it.
    match function {
        0 => features.set(a[0] as u32, a[1], a[2]),
        1 => features.get(a[0] as u32),
        _ => SbiOutcome::err(error::NOT_SUPPORTED),
    }
}
