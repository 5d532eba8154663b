//! The rvnest virtual machine monitor: configuration, the kernel-backend
//! abstraction and its backends, the machine (memory, devices, SBI), vCPU threads,
//! the VM lifecycle and the API's handling. The `rvnest` binary is a thin command
//! line over it.
#![deny(missing_docs)]

pub mod api_handler;
pub mod boot;
pub mod config;
pub mod console;
pub mod device_thread;
pub mod hypervisor;
pub mod logger;
pub mod machine;
pub mod memory;
pub mod metrics;
pub mod runner;
pub mod sbi;
pub mod seccomp;
pub mod termination;
pub mod vcpu;
pub mod vcpu_control;
pub mod vm;
