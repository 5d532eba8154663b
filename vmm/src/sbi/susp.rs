//! The System Suspend extension (SBI spec chapter 13): suspend to RAM.
//!
//! On the soft backend the VMM is the firmware: it checks the entry criteria and
//! the calling hart then sleeps like a non-retentive suspended hart until an
//! interrupt it enabled in sie is pending, and resumes at `resume_addr`. Under KVM
//! the kernel checks the criteria, queues the resume at `resume_addr` itself and
//! forwards the call only to let the VMM know; the VMM answers SUCCESS.

use super::hsm::{Resume, is_entry_point};
use super::{SbiHost, SbiOutcome, error};

/// SUSPEND_TO_RAM, the one sleep type the extension implies.
pub const SUSPEND_TO_RAM: u32 = 0;

/// Serves SUSP function `function` for `caller`; `kernel_checked` when the
/// backend's kernel has already validated the call (KVM).
pub fn handle(
    function: u64,
    a: [u64; 6],
    caller: usize,
    host: &dyn SbiHost,
    kernel_checked: bool,
) -> SbiOutcome {
    if function != 0 {
        return SbiOutcome::err(error::NOT_SUPPORTED);
    }
    // sleep_type is 32 bits wide: the upper half of a0 is not part of it.
    let (sleep_type, resume_addr, opaque) = (a[0] as u32, a[1], a[2]);
    if sleep_type != SUSPEND_TO_RAM {
        // 0x00000001-0x7FFFFFFF reserved, 0x80000000-0xFFFFFFFF platform specific
        // and unimplemented.
        return SbiOutcome::err(error::INVALID_PARAM);
    }
    if kernel_checked {
        return SbiOutcome::ok(0);
    }
    if !is_entry_point(host, resume_addr) {
        return SbiOutcome::err(error::INVALID_ADDRESS);
    }
    if !host.hart_states().all_stopped_but(caller) {
        return SbiOutcome::err(error::DENIED);
    }
    SbiOutcome::SystemSuspended(Resume::At {
        addr: resume_addr,
        opaque,
    })
}
