//! SUSP system_suspend against the spec's tables ("SUSP System Sleep Types",
//! "SUSP System Suspend Errors").

use super::*;
use crate::sbi::hsm::Resume;

#[test]
fn suspend_to_ram_with_every_other_hart_stopped_suspends() {
    let host = MockHost::new(3);
    assert_eq!(
        call(&host, ext::SUSP, 0, &[0, RAM.0 + 0x40, 9]),
        SbiOutcome::SystemSuspended(Resume::At {
            addr: RAM.0 + 0x40,
            opaque: 9
        })
    );
    assert_eq!(
        call(&host, ext::SUSP, 0, &[0xFFFF_FFFF_0000_0000, RAM.0, 0]),
        SbiOutcome::SystemSuspended(Resume::At {
            addr: RAM.0,
            opaque: 0
        }),
        "sleep_type is 32 bits wide"
    );
}

#[test]
fn a_running_or_suspended_hart_is_denied() {
    let host = MockHost::new(2);
    host.states.start(1, RAM.0, 0).expect("start");
    assert_eq!(
        call(&host, ext::SUSP, 0, &[0, RAM.0, 0]),
        ret(error::DENIED, 0),
        "START_PENDING"
    );
    host.states.wait_for_start(1);
    host.states.set_suspended(1, true);
    assert_eq!(
        call(&host, ext::SUSP, 0, &[0, RAM.0, 0]),
        ret(error::DENIED, 0),
        "SUSPENDED is not STOPPED"
    );
    host.states.stop(1);
    assert!(matches!(
        call(&host, ext::SUSP, 0, &[0, RAM.0, 0]),
        SbiOutcome::SystemSuspended(_)
    ));
}

#[test]
fn reserved_and_platform_types_and_bad_addresses() {
    let host = MockHost::new(1);
    for sleep_type in [1, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF] {
        assert_eq!(
            call(&host, ext::SUSP, 0, &[sleep_type, RAM.0, 0]),
            ret(error::INVALID_PARAM, 0),
            "{sleep_type:#x}"
        );
    }
    for bad in [0, RAM.0 - 2, RAM.0 + 3, RAM.0 + RAM.1] {
        assert_eq!(
            call(&host, ext::SUSP, 0, &[0, bad, 0]),
            ret(error::INVALID_ADDRESS, 0),
            "{bad:#x}"
        );
    }
    assert_eq!(call(&host, ext::SUSP, 1, &[]), ret(error::NOT_SUPPORTED, 0));
}

#[test]
fn under_kvm_the_kernel_has_checked_and_queued_the_resume() {
    let host = MockHost::new(2);
    host.states.start(1, RAM.0, 0).expect("start");
    let mut caller = Caller::new(&host);
    caller.vcpu.kernel_checked = true;
    assert_eq!(caller.call(ext::SUSP, 0, &[0, RAM.0, 0]), ret(0, 0));
    assert_eq!(
        caller.call(ext::SUSP, 0, &[0x8000_0000, RAM.0, 0]),
        ret(error::INVALID_PARAM, 0)
    );
}
