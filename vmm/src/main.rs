//! `rvnest`: runs a RISC-V Linux guest from a Firecracker-style JSON config, or
//! serves Firecracker's REST API on a Unix socket, or both.
//!
//! Exit codes: 0 the guest powered off, or the VM was shut down through the API;
//! 1 the VM could not be built or started (bad config, unreadable files, backend
//! unavailable, API socket unusable); 2 a fatal host-side error while the guest ran;
//! 3 the guest asked for a reboot (rvnest stops the VM, as Firecracker does; a kernel
//! booted with `panic=-1` reboots on panic, so a guest panic ends here); 4 the guest
//! shut down reporting a system failure; 159 a thread made a system call outside
//! its seccomp filter.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use api::http::DEFAULT_MAX_BODY_LEN;
use api::server::ServerOptions;
use clap::Parser;
use vmm::logger::Logger;
use vmm::machine::ExitStatus;
use vmm::runner::{self, RunOptions};
use vmm::seccomp::{self, SeccompFilters, ThreadKind, sigsys};
use vmm::termination::TerminationSignals;

/// Command-line arguments.
#[derive(Debug, Parser)]
#[command(name = "rvnest", version, about = "A RISC-V virtual machine monitor")]
#[command(group(
    clap::ArgGroup::new("what")
        .required(true)
        .multiple(true)
        .args(["config_file", "api_sock"])
))]
struct Args {
    /// The VM's configuration (Firecracker's JSON format): boot it at once.
    #[arg(long, value_name = "FILE")]
    config_file: Option<PathBuf>,
    /// Serve the REST API on this Unix socket (removed when rvnest exits).
    #[arg(long, value_name = "PATH")]
    api_sock: Option<PathBuf>,
    /// The instance id reported by `GET /`.
    #[arg(long, default_value = "anonymous-instance", value_name = "ID")]
    id: String,
    /// Largest API request body accepted, in bytes.
    #[arg(long, default_value_t = DEFAULT_MAX_BODY_LEN, value_name = "BYTES")]
    http_api_max_payload_size: usize,
    /// Log filter for rvnest's own messages on stderr (error, warn, info, debug, trace).
    #[arg(long, default_value = "warn", value_name = "LEVEL")]
    log_level: String,
    /// Run every thread without a seccomp filter (for debugging only).
    #[arg(long, conflicts_with = "seccomp_filter")]
    no_seccomp: bool,
    /// Seccomp filters from this JSON file (Firecracker's format, keyed by thread
    /// kind: vmm, api, devices, vcpu) instead of the built-in ones.
    #[arg(long, value_name = "FILE")]
    seccomp_filter: Option<PathBuf>,
    /// Tests only: the first thread of this kind makes a system call outside its
    /// filter right after loading it.
    #[arg(long, hide = true, value_name = "KIND", value_parser = ["vmm", "api", "devices", "vcpu"])]
    seccomp_test_denied_call: Option<String>,
}

/// The filters the options ask for, with the SIGSYS handler in place.
fn seccomp_filters(args: &Args) -> Result<SeccompFilters, String> {
    let filters = if args.no_seccomp {
        return Ok(SeccompFilters::disabled());
    } else if let Some(path) = &args.seccomp_filter {
        SeccompFilters::from_json_file(path)
    } else {
        SeccompFilters::builtin()
    }
    .map_err(|e| e.to_string())?;
    sigsys::install_handler().map_err(|e| format!("Cannot install the SIGSYS handler: {e}"))?;
    if let Some(kind) = args
        .seccomp_test_denied_call
        .as_deref()
        .and_then(ThreadKind::from_key)
    {
        seccomp::test_denied_call_on(kind);
    }
    Ok(filters)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let seccomp = match seccomp_filters(&args) {
        Ok(filters) => filters,
        Err(e) => {
            eprintln!("rvnest: {e}");
            return ExitCode::from(1);
        }
    };
    // Before any thread exists, so that every thread inherits the blocked mask.
    let signals = match TerminationSignals::block() {
        Ok(signals) => Some(signals),
        Err(e) => {
            eprintln!("rvnest: cannot block SIGTERM and SIGINT ({e}); they end rvnest at once");
            None
        }
    };
    let logger = Logger::init(&args.log_level);
    let options = RunOptions {
        config_file: args.config_file,
        api_sock: args.api_sock,
        id: args.id,
        server: ServerOptions {
            max_body: args.http_api_max_payload_size,
            idle_timeout: Duration::from_secs(30),
            ..ServerOptions::default()
        },
        seccomp,
    };
    match runner::run(options, logger, signals) {
        Ok(status) => {
            if let ExitStatus::Error(message) = &status {
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
