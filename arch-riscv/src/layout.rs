//! The guest-physical memory map of the rvnest machine, compatible with QEMU's `virt`.
//!
//! ```text
//!   0x0000_0000 ┌──────────────────────────┐
//!               │ (unmapped)               │
//!   0x0C00_0000 ├──────────────────────────┤
//!               │ PLIC (0x60_0000)         │  one S-mode context per hart
//!   0x0C60_0000 ├──────────────────────────┤
//!               │ (unmapped)               │
//!   0x0D00_0000 ├──────────────────────────┤
//!               │ APLIC, S domain (0x4000) │  instead of the PLIC with an AIA (KVM)
//!   0x0D00_4000 ├──────────────────────────┤
//!               │ (unmapped)               │
//!   0x1000_0000 ├──────────────────────────┤
//!               │ UART 16550A (0x100)      │  IRQ 10
//!   0x1000_1000 ├──────────────────────────┤
//!               │ virtio-mmio slot n       │  0x1000 each, IRQ 1 + n
//!   0x1000_9000 ├──────────────────────────┤
//!               │ (unmapped)               │
//!   0x2800_0000 ├──────────────────────────┤
//!               │ IMSIC S-level files      │  0x1000 per hart, with an AIA (KVM)
//!               ├──────────────────────────┤
//!               │ (unmapped)               │
//!   0x8000_0000 ├──────────────────────────┤
//!               │ RAM                      │  kernel at +2 MiB, initrd and FDT above it
//!               └──────────────────────────┘
//! ```

/// Base of the platform-level interrupt controller.
pub const PLIC_BASE: u64 = 0x0C00_0000;
/// Size of the PLIC's register window.
pub const PLIC_SIZE: u64 = 0x60_0000;
/// Base of the APLIC's supervisor-level domain when the machine has an AIA instead of
/// the PLIC (QEMU `virt,aia=aplic-imsic` puts it here too).
pub const APLIC_BASE: u64 = 0x0D00_0000;
/// Size of the APLIC domain's register window (no IDCs: it forwards as MSIs).
pub const APLIC_SIZE: u64 = 0x4000;
/// Base of hart 0's supervisor-level IMSIC interrupt file; hart n's file is
/// `n * IMSIC_FILE_SIZE` above it.
pub const IMSIC_BASE: u64 = 0x2800_0000;
/// Size of one IMSIC interrupt file.
pub const IMSIC_FILE_SIZE: u64 = 0x1000;
/// Base of the 16550A UART.
pub const UART_BASE: u64 = 0x1000_0000;
/// Size of the UART's register window.
pub const UART_SIZE: u64 = 0x100;
/// Interrupt source number of the UART (at the PLIC, or at the APLIC with an AIA).
pub const UART_IRQ: u32 = 10;
/// Base of the first virtio-mmio slot.
pub const VIRTIO_MMIO_BASE: u64 = 0x1000_1000;
/// Size of one virtio-mmio slot.
pub const VIRTIO_MMIO_SIZE: u64 = 0x1000;
/// Number of virtio-mmio slots.
pub const VIRTIO_MMIO_SLOTS: u32 = 8;
/// PLIC source number of virtio-mmio slot 0 (slot n uses `VIRTIO_MMIO_IRQ_BASE + n`).
pub const VIRTIO_MMIO_IRQ_BASE: u32 = 1;
/// Number of PLIC interrupt sources (source 0 is reserved).
pub const PLIC_NUM_SOURCES: u32 = 96;
/// Guest-physical base of RAM.
pub const RAM_BASE: u64 = 0x8000_0000;
/// Offset of the kernel image from the RAM base when its header gives none.
pub const KERNEL_DEFAULT_TEXT_OFFSET: u64 = 0x20_0000;
/// Frequency of the `time` CSR in Hz, as the FDT's `timebase-frequency` states it.
pub const TIMEBASE_FREQUENCY: u64 = 10_000_000;
/// Largest FDT the VMM reserves room for.
pub const FDT_MAX_SIZE: u64 = 0x1_0000;
