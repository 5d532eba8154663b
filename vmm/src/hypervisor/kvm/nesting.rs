//! Whether a guest of the KVM backend can be a hypervisor itself, decided from what
//! the host kernel was *probed* to do, never from its version:
//!
//! - **H for the guest**: the ISA_EXT register of the H extension accepts 1 (mainline
//!   KVM refuses it) and ONE_REG answers for the H CSRs (subtype
//!   `KVM_REG_RISCV_CSR_HEXT`, only in the proposed nested-virtualization series).
//! - **NACL reaching userspace**: a throw-away vCPU makes an SBI NACL call
//!   (`probe_feature`) and the probe watches whether it arrives as
//!   `KVM_EXIT_RISCV_SBI`; mainline KVM answers it itself with NOT_SUPPORTED.
//!
//! With H and NACL forwarding, the `nacl` crate runs over ONE_REG
//! ([`NestingPlan::NaclOverOneReg`], [`super::nacl_server`]); without them a config
//! asking for nesting fails with a message saying which part is missing and pointing
//! at the soft backend.

use std::fmt;

use thiserror::Error;

/// SBI extension id of NACL ("NACL").
pub const SBI_EXT_NACL: u64 = 0x4E41_434C;

/// What one probe found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Probed {
    /// The kernel does it.
    Yes,
    /// The kernel does not; the text says what it answered.
    No(String),
}

impl Probed {
    /// Whether the kernel does it.
    pub fn yes(&self) -> bool {
        matches!(self, Probed::Yes)
    }
}

impl fmt::Display for Probed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Probed::Yes => f.write_str("yes"),
            Probed::No(why) => write!(f, "no ({why})"),
        }
    }
}

/// The host kernel's answers to the nesting probes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NestingSupport {
    /// ISA_EXT_H can be enabled for a vCPU.
    pub h_extension: Probed,
    /// ONE_REG reaches the H CSRs (CSR subtype HEXT).
    pub hext_csrs: Probed,
    /// An SBI NACL call from the guest exits to userspace.
    pub nacl_forwarding: Probed,
}

/// What the configuration asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NestingRequest {
    /// `machine-config.nested`: the guest gets the H extension.
    pub nested: bool,
    /// `machine-config.nacl.enabled`: the guest hypervisor gets SBI NACL from rvnest.
    pub nacl: bool,
}

/// How the VM will be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NestingPlan {
    /// No nesting asked for.
    Off,
    /// H for the guest, handled by the host kernel (no NACL from rvnest).
    KernelH,
    /// H for the guest, handled by the host kernel, and SBI NACL served by rvnest:
    /// the kernel forwards the guest hypervisor's NACL calls as `KVM_EXIT_RISCV_SBI`
    /// and the `nacl` crate answers them over ONE_REG ([`super::nacl_server`]).
    NaclOverOneReg,
}

/// Why nesting cannot be offered on this host. The messages are one line each and
/// suggest the soft backend, which implements H and NACL itself.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
pub enum NestingError {
    /// The kernel cannot give a vCPU the H extension.
    #[error(
        "nested virtualization needs a KVM that gives guests the H extension, and this \
         one does not (ISA_EXT_H: {h}; H CSRs over ONE_REG: {csrs}); use \"backend\": \"soft\""
    )]
    NoGuestH {
        /// The ISA_EXT_H probe.
        h: Probed,
        /// The HEXT CSR probe.
        csrs: Probed,
    },
    /// H works, but NACL calls do not reach userspace.
    #[error(
        "NACL needs a KVM that passes SBI NACL calls to rvnest, and this one answers them \
         itself ({0}); use \"backend\": \"soft\", or set machine-config.nacl.enabled to false"
    )]
    NoNaclForwarding(Probed),
}

/// Decides how to build the VM for `request` on a host that answered `support`.
/// `support` is only consulted when nesting is requested (`None` = not probed).
pub fn plan(
    request: NestingRequest,
    support: Option<&NestingSupport>,
) -> Result<NestingPlan, NestingError> {
    if !request.nested && !request.nacl {
        return Ok(NestingPlan::Off);
    }
    let unknown = || Probed::No("not probed".into());
    let Some(support) = support else {
        return Err(NestingError::NoGuestH {
            h: unknown(),
            csrs: unknown(),
        });
    };
    if !support.h_extension.yes() || !support.hext_csrs.yes() {
        return Err(NestingError::NoGuestH {
            h: support.h_extension.clone(),
            csrs: support.hext_csrs.clone(),
        });
    }
    if !request.nacl {
        return Ok(NestingPlan::KernelH);
    }
    if !support.nacl_forwarding.yes() {
        return Err(NestingError::NoNaclForwarding(
            support.nacl_forwarding.clone(),
        ));
    }
    Ok(NestingPlan::NaclOverOneReg)
}

/// The probe guest: calls SBI NACL `probe_feature(0)` and then stores to
/// `mmio_addr`, which is outside every memslot. If the call exits to userspace the
/// probe sees `KVM_EXIT_RISCV_SBI` with extension NACL first; if KVM answered it
/// itself, the store's `KVM_EXIT_MMIO` comes first.
pub fn nacl_probe_program(mmio_addr: u32) -> Vec<u8> {
    use arch_riscv::isa::encode::{addi, addiw, ecall, jal, lui, sw};
    const A0: u8 = 10;
    const A6: u8 = 16;
    const A7: u8 = 17;
    const T0: u8 = 5;
    let hi = |v: u32| (v.wrapping_add(0x800) >> 12) as i32;
    let lo = |v: u32| ((v & 0xFFF) as i32) << 20 >> 20;
    let ext = SBI_EXT_NACL as u32;
    let words = [
        lui(A7, hi(ext)),
        addiw(A7, A7, lo(ext)),
        addi(A6, 0, 0), // function 0: probe_feature
        addi(A0, 0, 0), // feature 0
        ecall(),
        lui(T0, hi(mmio_addr)),
        addiw(T0, T0, lo(mmio_addr)),
        sw(0, T0, 0),
        jal(0, 0), // stay here
    ];
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn support(h: bool, csrs: bool, nacl: bool) -> NestingSupport {
        let p = |b: bool| {
            if b {
                Probed::Yes
            } else {
                Probed::No("EINVAL".into())
            }
        };
        NestingSupport {
            h_extension: p(h),
            hext_csrs: p(csrs),
            nacl_forwarding: p(nacl),
        }
    }

    const NESTED: NestingRequest = NestingRequest {
        nested: true,
        nacl: false,
    };
    const NACL: NestingRequest = NestingRequest {
        nested: true,
        nacl: true,
    };

    #[test]
    fn no_request_needs_no_probe() {
        assert_eq!(plan(NestingRequest::default(), None), Ok(NestingPlan::Off));
    }

    #[test]
    fn mainline_kvm_refuses_nesting_and_says_why() {
        let e = plan(NESTED, Some(&support(false, false, false))).expect_err("mainline");
        let msg = e.to_string();
        assert!(msg.contains("ISA_EXT_H: no (EINVAL)"), "{msg}");
        assert!(msg.contains("\"backend\": \"soft\""), "{msg}");
        assert!(!msg.contains('\n'));
        // H alone is not enough: without the CSRs the VMM cannot set the guest up.
        assert!(matches!(
            plan(NESTED, Some(&support(true, false, true))),
            Err(NestingError::NoGuestH { .. })
        ));
        assert!(matches!(
            plan(NESTED, None),
            Err(NestingError::NoGuestH { .. })
        ));
    }

    #[test]
    fn nested_kernel_without_forwarding() {
        assert_eq!(
            plan(NESTED, Some(&support(true, true, false))),
            Ok(NestingPlan::KernelH)
        );
        let e = plan(NACL, Some(&support(true, true, false))).expect_err("no forwarding");
        assert!(e.to_string().contains("answers them itself"));
    }

    #[test]
    fn full_support_reaches_the_nacl_path() {
        assert_eq!(
            plan(NACL, Some(&support(true, true, true))),
            Ok(NestingPlan::NaclOverOneReg)
        );
        // Without NACL the kernel's H is all the guest needs, forwarding or not.
        assert_eq!(
            plan(NESTED, Some(&support(true, true, true))),
            Ok(NestingPlan::KernelH)
        );
    }

    #[test]
    fn probe_program_encodes_the_nacl_call() {
        let code = nacl_probe_program(0x1000_0000);
        let word = |i: usize| u32::from_le_bytes(code[4 * i..4 * i + 4].try_into().expect("4"));
        // lui a7, 0x4e414 ; addiw a7, a7, 0x34c  => a7 = 0x4E41434C
        assert_eq!(word(0), 0x4E41_48B7);
        assert_eq!(word(1), 0x34C8_889B);
        assert_eq!(word(4), 0x0000_0073); // ecall
        assert_eq!(word(5), 0x1000_02B7); // lui t0, 0x10000
        assert_eq!(word(7), 0x0002_A023); // sw zero, 0(t0)
        assert_eq!(word(8), 0x0000_006F); // j .
        // An address whose low part is negative as a 12-bit immediate.
        let code = nacl_probe_program(0x0C00_0FFC);
        let w5 = u32::from_le_bytes(code[20..24].try_into().expect("4"));
        let w6 = u32::from_le_bytes(code[24..28].try_into().expect("4"));
        let upper = (w5 & 0xFFFF_F000) as i32 as i64;
        let lower = (w6 as i32 >> 20) as i64;
        assert_eq!(upper + lower, 0x0C00_0FFC);
    }
}
