//! FWFT set/get against the spec's tables ("FWFT Feature Types", the set and get
//! error tables) and the LOCK flag.

use super::*;
use crate::sbi::fwft::{FLAG_LOCK, feature};

const SET: u64 = 0;
const GET: u64 = 1;

#[test]
fn misaligned_delegation_is_set_and_read_back_per_hart() {
    let host = MockHost::new(2);
    let mut hart0 = Caller::on(&host, 0);
    let mut hart1 = Caller::on(&host, 1);
    let id = u64::from(feature::MISALIGNED_EXC_DELEG);
    assert_eq!(hart0.call(ext::FWFT, GET, &[id]), ret(0, 0), "reset value");
    assert_eq!(hart0.call(ext::FWFT, SET, &[id, 1, 0]), ret(0, 0));
    assert_eq!(hart0.call(ext::FWFT, GET, &[id]), ret(0, 1));
    assert_eq!(hart1.call(ext::FWFT, GET, &[id]), ret(0, 0), "local scope");
    assert_eq!(
        hart0.call(ext::FWFT, GET, &[id | 0xFFFF_FFFF_0000_0000]),
        ret(0, 1),
        "feature is 32 bits wide"
    );
    assert_eq!(
        hart0.call(ext::FWFT, SET, &[id, 1, 0]),
        ret(0, 0),
        "same value"
    );
    assert_eq!(hart0.call(ext::FWFT, SET, &[id, 0, 0]), ret(0, 0));
    assert_eq!(hart0.call(ext::FWFT, GET, &[id]), ret(0, 0));
}

#[test]
fn a_locked_feature_stays_until_hart_reset() {
    let host = MockHost::new(1);
    let mut hart = Caller::new(&host);
    let id = u64::from(feature::MISALIGNED_EXC_DELEG);
    assert_eq!(hart.call(ext::FWFT, SET, &[id, 1, FLAG_LOCK]), ret(0, 0));
    assert_eq!(
        hart.call(ext::FWFT, SET, &[id, 0, 0]),
        ret(error::DENIED_LOCKED, 0)
    );
    assert_eq!(
        hart.call(ext::FWFT, SET, &[id, 1, FLAG_LOCK]),
        ret(error::DENIED_LOCKED, 0)
    );
    assert_eq!(hart.call(ext::FWFT, GET, &[id]), ret(0, 1));
    hart.firmware.reset();
    assert_eq!(hart.call(ext::FWFT, GET, &[id]), ret(0, 0));
    assert_eq!(hart.call(ext::FWFT, SET, &[id, 1, 0]), ret(0, 0));
}

#[test]
fn bad_values_and_flags_are_invalid_param_and_change_nothing() {
    let host = MockHost::new(1);
    let mut hart = Caller::new(&host);
    let id = u64::from(feature::MISALIGNED_EXC_DELEG);
    assert_eq!(
        hart.call(ext::FWFT, SET, &[id, 2, 0]),
        ret(error::INVALID_PARAM, 0)
    );
    assert_eq!(
        hart.call(ext::FWFT, SET, &[id, 1, 2]),
        ret(error::INVALID_PARAM, 0),
        "reserved flag bit"
    );
    assert_eq!(
        hart.call(ext::FWFT, SET, &[id, 2, FLAG_LOCK]),
        ret(error::INVALID_PARAM, 0)
    );
    assert_eq!(hart.call(ext::FWFT, GET, &[id]), ret(0, 0));
    assert_eq!(
        hart.call(ext::FWFT, SET, &[id, 0, 0]),
        ret(0, 0),
        "a refused LOCK did not lock"
    );
}

#[test]
fn features_the_hart_lacks_are_not_supported() {
    let host = MockHost::new(1);
    let mut hart = Caller::new(&host);
    for id in [
        feature::LANDING_PAD,
        feature::SHADOW_STACK,
        feature::DOUBLE_TRAP,
        feature::PTE_AD_HW_UPDATING,
        feature::POINTER_MASKING_PMLEN,
    ] {
        let id = u64::from(id);
        assert_eq!(
            hart.call(ext::FWFT, GET, &[id]),
            ret(error::NOT_SUPPORTED, 0),
            "{id}"
        );
        assert_eq!(
            hart.call(ext::FWFT, SET, &[id, 0, 0]),
            ret(error::NOT_SUPPORTED, 0),
            "{id}"
        );
    }
}

#[test]
fn reserved_and_platform_features_are_denied() {
    let host = MockHost::new(1);
    let mut hart = Caller::new(&host);
    for id in [
        6,
        0x3FFF_FFFF,
        0x4000_0000,
        0x7FFF_FFFF,
        0x8000_0000,
        0xBFFF_FFFF,
        0xC000_0000,
        0xFFFF_FFFF,
    ] {
        assert_eq!(
            hart.call(ext::FWFT, GET, &[id]),
            ret(error::DENIED, 0),
            "{id:#x}"
        );
        assert_eq!(
            hart.call(ext::FWFT, SET, &[id, 0, 0]),
            ret(error::DENIED, 0),
            "{id:#x}"
        );
    }
    assert_eq!(hart.call(ext::FWFT, 2, &[]), ret(error::NOT_SUPPORTED, 0));
}
