//! The flattened device tree the VMM hands the guest.
