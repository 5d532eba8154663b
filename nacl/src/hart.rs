//! What NACL needs from a vCPU whose guest is a hypervisor.

/// An HFENCE to apply, decoded from an HFENCE entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hfence {
    /// HFENCE.GVMA: guest-physical translations, of one VMID or all; over
    /// `[start, start + size)` or everything.
    Gvma {
        /// Only this VMID, or all.
        vmid: Option<u64>,
        /// Guest-physical range, or all.
        range: Option<(u64, u64)>,
    },
    /// HFENCE.VVMA: guest-virtual translations of one VMID, of one ASID or all;
    /// over `[start, start + size)` or everything.
    Vvma {
        /// The VMID.
        vmid: u64,
        /// Only this ASID, or all.
        asid: Option<u64>,
        /// Guest-virtual range, or all.
        range: Option<(u64, u64)>,
    },
}

/// A vCPU running a guest hypervisor, as NACL drives it. All CSR numbers are H or
/// VS CSRs (address bits 9:8 = 0b10).
pub trait NestedHart {
    /// The H and VS CSRs implemented, in the order a bulk write must apply them.
    fn h_csrs(&self) -> &'static [u16];
    /// Current value of H/VS CSR `csr`; `None` if not implemented.
    fn read_h_csr(&self, csr: u16) -> Option<u64>;
    /// Emulates an HS-mode write of `value` to H/VS CSR `csr` (WARL rules apply).
    fn write_h_csr(&mut self, csr: u16, value: u64);
    /// Sets integer register `index` (1..=31).
    fn set_gpr(&mut self, index: usize, value: u64);
    /// Applies an HFENCE as HS-mode would.
    fn hfence(&mut self, fence: Hfence);
    /// Emulates SRET executed in HS-mode (entering V=1 when hstatus.SPV is set).
    fn sret(&mut self);
    /// Reads the 64-bit word at guest physical address `gpa` (8-byte aligned).
    fn read_phys(&self, gpa: u64) -> Option<u64>;
    /// Writes the 64-bit word at guest physical address `gpa` (8-byte aligned).
    fn write_phys(&mut self, gpa: u64, value: u64) -> bool;
    /// Whether `[gpa, gpa + len)` is ordinary RAM the guest's S-mode may read and write.
    fn is_ram(&self, gpa: u64, len: u64) -> bool;
}
