//! RISC-V for rvnest: the ISA (decoder, encoder, CSR numbers), IEEE arithmetic for
//! F and D, the bit-manipulation operations, the software hart with its MMU, the
//! machine's memory map, FDT generation and kernel-image loading.
#![deny(missing_docs)]

pub mod bitmanip;
pub mod csr;
pub mod fdt;
pub mod fpu;
pub mod hart;
pub mod image;
pub mod isa;
pub mod layout;
