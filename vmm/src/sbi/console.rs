//! The Debug Console extension (SBI spec chapter 12): byte streams through guest
//! physical memory.

use super::{SbiHost, SbiOutcome, error};

/// Largest transfer served in one call; the guest loops for more, as the spec allows.
const MAX_TRANSFER: u64 = 4096;

/// Serves DBCN function `function` with arguments `a`.
pub fn debug_console(function: u64, a: [u64; 6], host: &dyn SbiHost) -> SbiOutcome {
    match function {
        0 | 1 => {
            // num_bytes, base_addr_lo, base_addr_hi (RV64: hi must be 0 for a 64-bit
            // address held in lo).
            let (len, gpa) = (a[0].min(MAX_TRANSFER), a[1]);
            if a[2] != 0 || !host.is_ram(gpa, len) {
                return SbiOutcome::Return {
                    error: error::INVALID_PARAM,
                    value: 0,
                };
            }
            let mut buf = vec![0u8; len as usize];
            if function == 0 {
                if !host.read_guest(gpa, &mut buf) {
                    return SbiOutcome::Return {
                        error: error::INVALID_PARAM,
                        value: 0,
                    };
                }
                host.console_write(&buf);
                SbiOutcome::Return {
                    error: error::SUCCESS,
                    value: len,
                }
            } else {
                let got = host.console_read(&mut buf);
                if !host.write_guest(gpa, &buf[..got]) {
                    return SbiOutcome::Return {
                        error: error::INVALID_PARAM,
                        value: 0,
                    };
                }
                SbiOutcome::Return {
                    error: error::SUCCESS,
                    value: got as u64,
                }
            }
        }
        2 => {
            host.console_write(&[a[0] as u8]);
            SbiOutcome::Return {
                error: error::SUCCESS,
                value: 0,
            }
        }
        _ => SbiOutcome::Return {
            error: error::NOT_SUPPORTED,
            value: 0,
        },
    }
}
