//! Loading a RISC-V Linux `Image` (the 64-byte header format) into guest memory.
