//! HSM hart_suspend against the spec's tables ("HSM Hart Suspend Types",
//! "HSM Hart Suspend Errors") and hart_get_status from other harts.

use super::*;
use crate::sbi::hsm::Resume;

fn suspend(host: &MockHost, suspend_type: u64, resume_addr: u64, opaque: u64) -> SbiOutcome {
    call(host, ext::HSM, 3, &[suspend_type, resume_addr, opaque])
}

#[test]
fn the_default_suspend_types_suspend() {
    let host = MockHost::new(1);
    assert_eq!(
        suspend(&host, 0, 0, 0),
        SbiOutcome::HartSuspended(Resume::Retentive),
        "retentive: resume_addr unused"
    );
    assert_eq!(
        suspend(&host, 0x8000_0000, RAM.0 + 0x100, 7),
        SbiOutcome::HartSuspended(Resume::At {
            addr: RAM.0 + 0x100,
            opaque: 7
        })
    );
}

#[test]
fn suspend_type_is_32_bits_wide_on_rv64() {
    let host = MockHost::new(1);
    assert_eq!(
        suspend(&host, 0xFFFF_FFFF_0000_0000, 0, 0),
        SbiOutcome::HartSuspended(Resume::Retentive)
    );
    assert_eq!(
        suspend(&host, (1 << 32) | 0x8000_0000, RAM.0, 1),
        SbiOutcome::HartSuspended(Resume::At {
            addr: RAM.0,
            opaque: 1
        })
    );
}

#[test]
fn reserved_and_platform_specific_types_are_invalid_param() {
    let host = MockHost::new(1);
    for reserved in [
        0x0000_0001,
        0x0FFF_FFFF,
        0x8000_0001,
        0x8FFF_FFFF,
        // Platform-specific types, none implemented.
        0x1000_0000,
        0x7FFF_FFFF,
        0x9000_0000,
        0xFFFF_FFFF,
    ] {
        assert_eq!(
            suspend(&host, reserved, RAM.0, 0),
            ret(error::INVALID_PARAM, 0),
            "{reserved:#x}"
        );
    }
}

#[test]
fn a_bad_resume_address_is_invalid_address() {
    let host = MockHost::new(1);
    for bad in [0, 0x1000, RAM.0 + 1, RAM.0 + RAM.1, u64::MAX - 1] {
        assert_eq!(
            suspend(&host, 0x8000_0000, bad, 0),
            ret(error::INVALID_ADDRESS, 0),
            "{bad:#x}"
        );
    }
    assert_eq!(
        suspend(&host, 0, 0x1000, 0),
        SbiOutcome::HartSuspended(Resume::Retentive),
        "retentive suspend ignores resume_addr"
    );
}

#[test]
fn other_harts_see_a_suspended_hart_and_cannot_start_it() {
    let host = MockHost::new(2);
    host.states.start(1, RAM.0, 0).expect("start");
    assert_eq!(host.states.wait_for_start(1), Some((RAM.0, 0)));
    host.states.set_suspended(1, true);
    assert_eq!(call(&host, ext::HSM, 2, &[1]), ret(0, 4), "SUSPENDED");
    assert_eq!(
        call(&host, ext::HSM, 0, &[1, RAM.0, 0]),
        ret(error::ALREADY_AVAILABLE, 0)
    );
    host.states.set_suspended(1, false);
    assert_eq!(call(&host, ext::HSM, 2, &[1]), ret(0, 0), "STARTED again");
}

#[test]
fn hart_start_checks_the_start_address() {
    let host = MockHost::new(2);
    assert_eq!(
        call(&host, ext::HSM, 0, &[1, RAM.0 + 1, 0]),
        ret(error::INVALID_ADDRESS, 0),
        "not instruction aligned"
    );
    assert_eq!(
        call(&host, ext::HSM, 0, &[1, RAM.0 + RAM.1 - 2, 0]),
        ret(0, 0),
        "the last halfword of RAM"
    );
}

#[test]
fn unknown_hsm_functions_are_not_supported() {
    let host = MockHost::new(1);
    assert_eq!(call(&host, ext::HSM, 4, &[]), ret(error::NOT_SUPPORTED, 0));
}
