//! The SBI Nested Acceleration extension (NACL), served by the VMM to guest hypervisors.
