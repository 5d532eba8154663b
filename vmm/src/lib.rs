//! The rvnest virtual machine monitor: configuration, the kernel-backend
//! abstraction and its backends, the machine (memory, devices, SBI), vCPU threads
//! and the VM lifecycle. The `rvnest` binary is a thin command line over it.
#![deny(missing_docs)]

pub mod boot;
pub mod config;
pub mod console;
pub mod hypervisor;
pub mod machine;
pub mod memory;
pub mod sbi;
pub mod vcpu;
pub mod vm;
