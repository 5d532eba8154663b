//! `rvnest`: boots a RISC-V Linux guest from a Firecracker-style JSON config.
//!
//! Exit codes: 0 the guest powered off; 1 the VM could not be built or started
//! (bad config, unreadable files, backend unavailable); 2 a fatal host-side error
//! while the guest ran; 3 the guest asked for a reboot (rvnest stops the VM, as
//! Firecracker does; a kernel booted with `panic=-1` reboots on panic, so a guest
//! panic ends here); 4 the guest shut down reporting a system failure.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use vmm::{config, machine, vm};

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(name = "rvnest", version, about = "A RISC-V virtual machine monitor")]
struct Args {
    /// The VM's configuration (Firecracker's JSON format).
    #[arg(long, value_name = "FILE")]
    config_file: PathBuf,
    /// Log filter for rvnest's own messages on stderr (error, warn, info, debug, trace).
    #[arg(long, default_value = "warn", value_name = "LEVEL")]
    log_level: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();

    let config = match config::VmConfig::from_file(&args.config_file) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("rvnest: {e}");
            return ExitCode::from(1);
        }
    };
    match vm::run(&config) {
        Ok(status) => {
            if let machine::ExitStatus::Error(message) = &status {
                eprintln!("rvnest: {message}");
            }
            ExitCode::from(status.code() as u8)
        }
        Err(e) => {
            eprintln!("rvnest: {e}");
            ExitCode::from(1)
        }
    }
}
