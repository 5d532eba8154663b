//! Decoding the exit payload KVM leaves in a vCPU's `kvm_run` page, and writing the
//! answers back, on plain byte slices at the uapi offsets. kvm-ioctls has no RISC-V
//! exit variants (SBI and CSR exits arrive as `Unsupported(35/36)`) and kvm-bindings
//! only has the RISC-V layout on a riscv64 host, so the layout lives here, where it
//! compiles and is tested on every host; on riscv64 a compile-time check compares
//! the offsets with kvm-bindings'.
//!
//! `struct kvm_run` (include/uapi/linux/kvm.h), the part used here:
//!
//! ```text
//! offset  field
//!      0  u8  request_interrupt_window
//!      1  u8  immediate_exit            (written by other threads: see `RunArea`)
//!      8  u32 exit_reason
//!     32  union (256 bytes):
//!           mmio         { u64 phys_addr; u8 data[8]; u32 len; u8 is_write; }
//!           system_event { u32 type; u32 ndata; u64 data[16]; }
//!           riscv_sbi    { ulong extension_id, function_id, args[6], ret[2]; }
//!           riscv_csr    { ulong csr_num, new_value, write_mask, ret_value; }
//!           fail_entry   { u64 hardware_entry_failure_reason; u32 cpu; }
//!           internal     { u32 suberror; u32 ndata; u64 data[16]; }
//! ```

use thiserror::Error;

use crate::hypervisor::SbiCall;

/// Offset of `immediate_exit`.
pub const IMMEDIATE_EXIT_OFFSET: usize = 1;
/// Offset of `exit_reason`.
pub const EXIT_REASON_OFFSET: usize = 8;
/// Offset of the exit union.
pub const UNION_OFFSET: usize = 32;
/// Size of the exit union (`char padding[256]` fixes it).
pub const UNION_SIZE: usize = 256;
/// The bytes of `kvm_run` this module reads or writes: everything up to the end of
/// the exit union.
pub const RUN_PREFIX: usize = UNION_OFFSET + UNION_SIZE;

/// Offsets inside the union, relative to the start of `kvm_run`.
pub mod offsets {
    use super::UNION_OFFSET;
    /// `mmio.phys_addr`.
    pub const MMIO_PHYS_ADDR: usize = UNION_OFFSET;
    /// `mmio.data[8]`.
    pub const MMIO_DATA: usize = UNION_OFFSET + 8;
    /// `mmio.len`.
    pub const MMIO_LEN: usize = UNION_OFFSET + 16;
    /// `mmio.is_write`.
    pub const MMIO_IS_WRITE: usize = UNION_OFFSET + 20;
    /// `system_event.type`.
    pub const SYSTEM_EVENT_TYPE: usize = UNION_OFFSET;
    /// `system_event.ndata`.
    pub const SYSTEM_EVENT_NDATA: usize = UNION_OFFSET + 4;
    /// `system_event.data[0]`.
    pub const SYSTEM_EVENT_DATA: usize = UNION_OFFSET + 8;
    /// `riscv_sbi.extension_id`.
    pub const SBI_EXTENSION: usize = UNION_OFFSET;
    /// `riscv_sbi.function_id`.
    pub const SBI_FUNCTION: usize = UNION_OFFSET + 8;
    /// `riscv_sbi.args[0]`.
    pub const SBI_ARGS: usize = UNION_OFFSET + 16;
    /// `riscv_sbi.ret[0]`.
    pub const SBI_RET: usize = UNION_OFFSET + 64;
    /// `riscv_csr.csr_num`.
    pub const CSR_NUM: usize = UNION_OFFSET;
    /// `riscv_csr.new_value`.
    pub const CSR_NEW_VALUE: usize = UNION_OFFSET + 8;
    /// `riscv_csr.write_mask`.
    pub const CSR_WRITE_MASK: usize = UNION_OFFSET + 16;
    /// `riscv_csr.ret_value`.
    pub const CSR_RET_VALUE: usize = UNION_OFFSET + 24;
    /// `fail_entry.hardware_entry_failure_reason`.
    pub const FAIL_ENTRY_REASON: usize = UNION_OFFSET;
    /// `internal.suberror`.
    pub const INTERNAL_SUBERROR: usize = UNION_OFFSET;
}

/// `KVM_EXIT_*` values this backend distinguishes.
pub mod reason {
    /// `KVM_EXIT_UNKNOWN`.
    pub const UNKNOWN: u32 = 0;
    /// `KVM_EXIT_MMIO`.
    pub const MMIO: u32 = 6;
    /// `KVM_EXIT_FAIL_ENTRY`.
    pub const FAIL_ENTRY: u32 = 9;
    /// `KVM_EXIT_INTR`.
    pub const INTR: u32 = 10;
    /// `KVM_EXIT_INTERNAL_ERROR`.
    pub const INTERNAL_ERROR: u32 = 17;
    /// `KVM_EXIT_SYSTEM_EVENT`.
    pub const SYSTEM_EVENT: u32 = 24;
    /// `KVM_EXIT_RISCV_SBI`.
    pub const RISCV_SBI: u32 = 35;
    /// `KVM_EXIT_RISCV_CSR`.
    pub const RISCV_CSR: u32 = 36;
}

/// `KVM_SYSTEM_EVENT_*` types.
pub mod system_event {
    /// `KVM_SYSTEM_EVENT_SHUTDOWN`.
    pub const SHUTDOWN: u32 = 1;
    /// `KVM_SYSTEM_EVENT_RESET`.
    pub const RESET: u32 = 2;
    /// `KVM_SYSTEM_EVENT_CRASH`.
    pub const CRASH: u32 = 3;
}

/// SBI SRST extension id, for [`KvmExit::SystemEvent`]'s reason.
const SBI_EXT_SRST: u64 = 0x5352_5354;
/// SRST reset_reason "system failure".
pub const SRST_REASON_SYSTEM_FAILURE: u64 = 1;

/// What a return from `KVM_RUN` asks of userspace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KvmExit {
    /// A load from an address outside every memslot.
    MmioRead {
        /// Guest-physical address.
        addr: u64,
        /// Width in bytes (1, 2, 4, 8).
        len: u8,
    },
    /// A store to an address outside every memslot.
    MmioWrite {
        /// Guest-physical address.
        addr: u64,
        /// Width in bytes (1, 2, 4, 8).
        len: u8,
        /// The stored value, zero-extended.
        data: u64,
    },
    /// An SBI call KVM forwards (DBCN, legacy console, SUSP, experimental, vendor).
    Sbi(SbiCall),
    /// A CSR access KVM wants userspace to emulate (`ret_value` is the answer).
    Csr {
        /// CSR number.
        csr_num: u64,
        /// Value written (under `write_mask`).
        new_value: u64,
        /// Bits written; 0 for a read.
        write_mask: u64,
    },
    /// SRST handled by KVM: shutdown (with the SRST reason if KVM passed it on).
    Shutdown {
        /// `data[0]`: the SRST reset_reason, when `ndata` >= 1.
        reason: Option<u64>,
    },
    /// SRST cold or warm reboot handled by KVM.
    Reset,
    /// The guest crashed (`KVM_SYSTEM_EVENT_CRASH`).
    Crash,
    /// `KVM_EXIT_INTR`: a signal interrupted the run.
    Interrupted,
    /// The hardware refused to enter the guest.
    FailEntry {
        /// `hardware_entry_failure_reason`.
        reason: u64,
    },
    /// KVM could not handle an exit itself.
    InternalError {
        /// `suberror`.
        suberror: u32,
    },
    /// Any other exit reason, or a system event of another type.
    Other {
        /// `exit_reason`.
        exit_reason: u32,
        /// For system events, their type.
        detail: u32,
    },
}

impl KvmExit {
    /// The SRST call a KVM-handled shutdown stands for, when it reported a system
    /// failure: the VMM's SBI code then ends the VM with the same status as on the
    /// soft backend (which sees the SRST call itself).
    pub fn as_srst_failure(&self) -> Option<SbiCall> {
        match *self {
            KvmExit::Shutdown {
                reason: Some(SRST_REASON_SYSTEM_FAILURE),
            }
            | KvmExit::Crash => Some(SbiCall {
                extension: SBI_EXT_SRST,
                function: 0,
                args: [0, SRST_REASON_SYSTEM_FAILURE, 0, 0, 0, 0],
            }),
            _ => None,
        }
    }
}

/// Payloads that KVM should never produce.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ExitDecodeError {
    /// The slice is shorter than [`RUN_PREFIX`].
    #[error("kvm_run area too small: {0} bytes")]
    Truncated(usize),
    /// An MMIO exit with a width other than 1, 2, 4 or 8.
    #[error("MMIO exit with invalid length {0}")]
    MmioLength(u32),
}

fn u32_at(run: &[u8], offset: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&run[offset..offset + 4]);
    u32::from_ne_bytes(b)
}

fn u64_at(run: &[u8], offset: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&run[offset..offset + 8]);
    u64::from_ne_bytes(b)
}

fn put_u64(run: &mut [u8], offset: usize, value: u64) {
    run[offset..offset + 8].copy_from_slice(&value.to_ne_bytes());
}

fn check(run: &[u8]) -> Result<(), ExitDecodeError> {
    if run.len() < RUN_PREFIX {
        Err(ExitDecodeError::Truncated(run.len()))
    } else {
        Ok(())
    }
}

/// The exit reason field.
pub fn exit_reason(run: &[u8]) -> Result<u32, ExitDecodeError> {
    check(run)?;
    Ok(u32_at(run, EXIT_REASON_OFFSET))
}

/// Decodes the exit `run` (the first [`RUN_PREFIX`] bytes of `kvm_run`) describes.
/// Values are in host byte order, as the kernel writes them; RISC-V is little-endian.
pub fn decode(run: &[u8]) -> Result<KvmExit, ExitDecodeError> {
    use offsets::*;
    let exit_reason = exit_reason(run)?;
    Ok(match exit_reason {
        reason::MMIO => {
            let addr = u64_at(run, MMIO_PHYS_ADDR);
            let len = u32_at(run, MMIO_LEN);
            if !matches!(len, 1 | 2 | 4 | 8) {
                return Err(ExitDecodeError::MmioLength(len));
            }
            if run[MMIO_IS_WRITE] != 0 {
                let mut bytes = [0u8; 8];
                bytes[..len as usize].copy_from_slice(&run[MMIO_DATA..MMIO_DATA + len as usize]);
                KvmExit::MmioWrite {
                    addr,
                    len: len as u8,
                    data: u64::from_le_bytes(bytes),
                }
            } else {
                KvmExit::MmioRead {
                    addr,
                    len: len as u8,
                }
            }
        }
        reason::RISCV_SBI => {
            let mut args = [0u64; 6];
            for (i, arg) in args.iter_mut().enumerate() {
                *arg = u64_at(run, SBI_ARGS + 8 * i);
            }
            KvmExit::Sbi(SbiCall {
                extension: u64_at(run, SBI_EXTENSION),
                function: u64_at(run, SBI_FUNCTION),
                args,
            })
        }
        reason::RISCV_CSR => KvmExit::Csr {
            csr_num: u64_at(run, CSR_NUM),
            new_value: u64_at(run, CSR_NEW_VALUE),
            write_mask: u64_at(run, CSR_WRITE_MASK),
        },
        reason::SYSTEM_EVENT => {
            let kind = u32_at(run, SYSTEM_EVENT_TYPE);
            let ndata = u32_at(run, SYSTEM_EVENT_NDATA);
            match kind {
                system_event::SHUTDOWN => KvmExit::Shutdown {
                    reason: (ndata >= 1).then(|| u64_at(run, SYSTEM_EVENT_DATA)),
                },
                system_event::RESET => KvmExit::Reset,
                system_event::CRASH => KvmExit::Crash,
                detail => KvmExit::Other {
                    exit_reason,
                    detail,
                },
            }
        }
        reason::INTR => KvmExit::Interrupted,
        reason::FAIL_ENTRY => KvmExit::FailEntry {
            reason: u64_at(run, FAIL_ENTRY_REASON),
        },
        reason::INTERNAL_ERROR => KvmExit::InternalError {
            suberror: u32_at(run, INTERNAL_SUBERROR),
        },
        other => KvmExit::Other {
            exit_reason: other,
            detail: 0,
        },
    })
}

/// Answers an MMIO load: KVM copies `mmio.data` (host byte order, `len` bytes) into
/// the destination register on the next `KVM_RUN`.
pub fn complete_mmio_read(run: &mut [u8], data: u64) -> Result<(), ExitDecodeError> {
    check(run)?;
    run[offsets::MMIO_DATA..offsets::MMIO_DATA + 8].copy_from_slice(&data.to_le_bytes());
    Ok(())
}

/// Answers a forwarded SBI call: KVM writes `ret[0]` to a0 and `ret[1]` to a1 and
/// steps sepc past the ECALL on the next `KVM_RUN`.
pub fn set_sbi_return(run: &mut [u8], error: i64, value: u64) -> Result<(), ExitDecodeError> {
    check(run)?;
    put_u64(run, offsets::SBI_RET, error as u64);
    put_u64(run, offsets::SBI_RET + 8, value);
    Ok(())
}

/// Answers an emulated CSR access: KVM writes `ret_value` to the instruction's rd.
pub fn set_csr_return(run: &mut [u8], value: u64) -> Result<(), ExitDecodeError> {
    check(run)?;
    put_u64(run, offsets::CSR_RET_VALUE, value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_with(reason: u32) -> Vec<u8> {
        let mut run = vec![0u8; RUN_PREFIX];
        run[EXIT_REASON_OFFSET..EXIT_REASON_OFFSET + 4].copy_from_slice(&reason.to_ne_bytes());
        run
    }

    #[test]
    fn mmio_read_and_answer() {
        let mut run = run_with(reason::MMIO);
        put_u64(&mut run, offsets::MMIO_PHYS_ADDR, 0x1000_0005);
        run[offsets::MMIO_LEN..offsets::MMIO_LEN + 4].copy_from_slice(&1u32.to_ne_bytes());
        assert_eq!(
            decode(&run),
            Ok(KvmExit::MmioRead {
                addr: 0x1000_0005,
                len: 1
            })
        );
        complete_mmio_read(&mut run, 0x60).expect("answer");
        assert_eq!(run[offsets::MMIO_DATA], 0x60);
        assert_eq!(run[offsets::MMIO_DATA + 1], 0);
    }

    #[test]
    fn mmio_write_zero_extends_len_bytes() {
        let mut run = run_with(reason::MMIO);
        put_u64(&mut run, offsets::MMIO_PHYS_ADDR, 0x0C00_2080);
        run[offsets::MMIO_LEN..offsets::MMIO_LEN + 4].copy_from_slice(&4u32.to_ne_bytes());
        run[offsets::MMIO_IS_WRITE] = 1;
        // Stale bytes past len must not leak into the value.
        run[offsets::MMIO_DATA..offsets::MMIO_DATA + 8]
            .copy_from_slice(&[0x78, 0x56, 0x34, 0x12, 0xAA, 0xBB, 0xCC, 0xDD]);
        assert_eq!(
            decode(&run),
            Ok(KvmExit::MmioWrite {
                addr: 0x0C00_2080,
                len: 4,
                data: 0x1234_5678
            })
        );
    }

    #[test]
    fn mmio_bad_length_is_an_error() {
        let mut run = run_with(reason::MMIO);
        run[offsets::MMIO_LEN..offsets::MMIO_LEN + 4].copy_from_slice(&3u32.to_ne_bytes());
        assert_eq!(decode(&run), Err(ExitDecodeError::MmioLength(3)));
    }

    #[test]
    fn sbi_call_and_return() {
        let mut run = run_with(reason::RISCV_SBI);
        put_u64(&mut run, offsets::SBI_EXTENSION, 0x4442_434E); // DBCN
        put_u64(&mut run, offsets::SBI_FUNCTION, 0); // write
        for i in 0..6 {
            put_u64(&mut run, offsets::SBI_ARGS + 8 * i, 100 + i as u64);
        }
        // KVM presets ret[0] = SBI_ERR_NOT_SUPPORTED.
        put_u64(&mut run, offsets::SBI_RET, (-2i64) as u64);
        assert_eq!(
            decode(&run),
            Ok(KvmExit::Sbi(SbiCall {
                extension: 0x4442_434E,
                function: 0,
                args: [100, 101, 102, 103, 104, 105],
            }))
        );
        set_sbi_return(&mut run, -3, 7).expect("answer");
        assert_eq!(u64_at(&run, offsets::SBI_RET) as i64, -3);
        assert_eq!(u64_at(&run, offsets::SBI_RET + 8), 7);
        // The call itself is untouched by the answer.
        assert_eq!(u64_at(&run, offsets::SBI_ARGS + 40), 105);
    }

    #[test]
    fn csr_exit_and_return() {
        let mut run = run_with(reason::RISCV_CSR);
        put_u64(&mut run, offsets::CSR_NUM, 0x15C); // stopei
        put_u64(&mut run, offsets::CSR_NEW_VALUE, 0);
        put_u64(&mut run, offsets::CSR_WRITE_MASK, 0);
        assert_eq!(
            decode(&run),
            Ok(KvmExit::Csr {
                csr_num: 0x15C,
                new_value: 0,
                write_mask: 0
            })
        );
        set_csr_return(&mut run, 0xABCD).expect("answer");
        assert_eq!(u64_at(&run, offsets::CSR_RET_VALUE), 0xABCD);
    }

    #[test]
    fn system_events() {
        let mut run = run_with(reason::SYSTEM_EVENT);
        run[offsets::SYSTEM_EVENT_TYPE..offsets::SYSTEM_EVENT_TYPE + 4]
            .copy_from_slice(&system_event::SHUTDOWN.to_ne_bytes());
        assert_eq!(decode(&run), Ok(KvmExit::Shutdown { reason: None }));
        assert_eq!(decode(&run).expect("decode").as_srst_failure(), None);

        run[offsets::SYSTEM_EVENT_NDATA..offsets::SYSTEM_EVENT_NDATA + 4]
            .copy_from_slice(&1u32.to_ne_bytes());
        put_u64(
            &mut run,
            offsets::SYSTEM_EVENT_DATA,
            SRST_REASON_SYSTEM_FAILURE,
        );
        let exit = decode(&run).expect("decode");
        assert_eq!(exit, KvmExit::Shutdown { reason: Some(1) });
        let srst = exit.as_srst_failure().expect("failure maps to SRST");
        assert_eq!((srst.extension, srst.function), (SBI_EXT_SRST, 0));
        assert_eq!(srst.args[..2], [0, 1]);

        run[offsets::SYSTEM_EVENT_TYPE..offsets::SYSTEM_EVENT_TYPE + 4]
            .copy_from_slice(&system_event::RESET.to_ne_bytes());
        assert_eq!(decode(&run), Ok(KvmExit::Reset));
        run[offsets::SYSTEM_EVENT_TYPE..offsets::SYSTEM_EVENT_TYPE + 4]
            .copy_from_slice(&9u32.to_ne_bytes());
        assert_eq!(
            decode(&run),
            Ok(KvmExit::Other {
                exit_reason: reason::SYSTEM_EVENT,
                detail: 9
            })
        );
    }

    #[test]
    fn other_reasons() {
        assert_eq!(decode(&run_with(reason::INTR)), Ok(KvmExit::Interrupted));
        let mut run = run_with(reason::INTERNAL_ERROR);
        run[offsets::INTERNAL_SUBERROR..offsets::INTERNAL_SUBERROR + 4]
            .copy_from_slice(&1u32.to_ne_bytes());
        assert_eq!(decode(&run), Ok(KvmExit::InternalError { suberror: 1 }));
        let mut run = run_with(reason::FAIL_ENTRY);
        put_u64(&mut run, offsets::FAIL_ENTRY_REASON, 0x33);
        assert_eq!(decode(&run), Ok(KvmExit::FailEntry { reason: 0x33 }));
        assert_eq!(
            decode(&run_with(99)),
            Ok(KvmExit::Other {
                exit_reason: 99,
                detail: 0
            })
        );
    }

    #[test]
    fn short_area_is_rejected() {
        assert_eq!(decode(&[0u8; 40]), Err(ExitDecodeError::Truncated(40)));
        assert!(set_sbi_return(&mut [0u8; 8], 0, 0).is_err());
    }
}
