//! The shared-memory layout on RV64 (SBI spec 15, tables 58-63).

/// Size of the region: 4096 + 1024 * XLEN / 8.
pub const SIZE: u64 = 0x3000;
/// The SRET context: word i holds x_i (i = 1..31).
pub const SRET_CONTEXT: u64 = 0x0000;
/// Autoswap flags word.
pub const AUTOSWAP_FLAGS: u64 = 0x0200;
/// Autoswap hstatus value.
pub const AUTOSWAP_HSTATUS: u64 = 0x0208;
/// Autoswap flag bit: swap hstatus.
pub const AUTOSWAP_FLAG_HSTATUS: u64 = 1;
/// First HFENCE entry.
pub const HFENCE_ENTRIES: u64 = 0x0800;
/// Number of HFENCE entries (3840 / XLEN).
pub const HFENCE_COUNT: u64 = 60;
/// Bytes per HFENCE entry (four words).
pub const HFENCE_ENTRY_SIZE: u64 = 32;
/// The CSR dirty bitmap (1024 bits).
pub const DIRTY_BITMAP: u64 = 0x0F80;
/// The CSR space: 1024 words.
pub const CSR_SPACE: u64 = 0x1000;

/// The CSR-space index of H/VS CSR `csr`: `((csr & 0xc00) >> 2) | (csr & 0xff)`.
pub const fn csr_index(csr: u16) -> u64 {
    (((csr & 0xC00) >> 2) | (csr & 0xFF)) as u64
}

/// Whether `csr` is an H/VS CSR number the CSR space covers.
pub const fn is_h_csr(csr: u64) -> bool {
    csr & 0x300 == 0x200 && csr < 0x1000
}

/// Offset of the CSR-space word of `csr`.
pub const fn csr_word(csr: u16) -> u64 {
    CSR_SPACE + 8 * csr_index(csr)
}

/// Offset of the dirty-bitmap byte holding `csr`'s bit, and the bit within it.
pub const fn dirty_bit(csr: u16) -> (u64, u8) {
    let index = csr_index(csr);
    (DIRTY_BITMAP + index / 8, 1 << (index % 8))
}

/// Offset of HFENCE entry `index`.
pub const fn hfence_entry(index: u64) -> u64 {
    HFENCE_ENTRIES + HFENCE_ENTRY_SIZE * index
}

/// HFENCE config word fields (RV64).
pub mod config {
    /// Pending bit.
    pub const PENDING: u64 = 1 << 63;
    /// Bits 62:60: reserved, must be zero.
    pub const RESERVED_HIGH: u64 = 0x7 << 60;
    /// Type, bits 59:56.
    pub const TYPE_SHIFT: u32 = 56;
    /// Bit 55: reserved, must be zero.
    pub const RESERVED_55: u64 = 1 << 55;
    /// Order, bits 54:48: page size is 1 << (order + 12).
    pub const ORDER_SHIFT: u32 = 48;
    /// VMID, bits 29:16.
    pub const VMID_SHIFT: u32 = 16;
    /// VMID mask (after shifting).
    pub const VMID_MASK: u64 = 0x3FFF;
    /// ASID mask, bits 15:0.
    pub const ASID_MASK: u64 = 0xFFFF;
    /// Every defined bit; the rest (62:60, 55, 47:30) is reserved and must be zero.
    pub const DEFINED: u64 =
        PENDING | 0xF << TYPE_SHIFT | 0x7F << ORDER_SHIFT | VMID_MASK << VMID_SHIFT | ASID_MASK;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csr_indices_match_the_spec_examples() {
        assert_eq!(csr_index(0x200), 0x000); // vsstatus
        assert_eq!(csr_index(0x600), 0x100); // hstatus
        assert_eq!(csr_index(0x680), 0x180); // hgatp
        assert_eq!(csr_index(0xE12), 0x312); // hgeip
        assert_eq!(csr_word(0x600), 0x1000 + 8 * 0x100);
        assert_eq!(dirty_bit(0x645), (0x0F80 + 0x145 / 8, 1 << (0x145 % 8)));
    }

    #[test]
    fn the_layout_fits_the_region() {
        assert_eq!(hfence_entry(HFENCE_COUNT), DIRTY_BITMAP);
        assert_eq!(CSR_SPACE + 8 * 1024, SIZE);
        assert!(is_h_csr(0x2FF) && is_h_csr(0xEFF) && !is_h_csr(0x100) && !is_h_csr(0x1200));
    }
}
