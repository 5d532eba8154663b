//! Seccomp filters, one per kind of thread, as Firecracker installs them: every
//! thread rvnest runs loads its kind's filter before the guest runs its first
//! instruction, and a call outside it ends the process through [`sigsys`].
//!
//! | kind | threads | installed |
//! |---|---|---|
//! | `vmm` | the main thread (event loop: API requests, console, exit) | at the end of `Vm::start`, before the vCPUs are let go |
//! | `api` | `api` | when the thread starts, before it serves a request |
//! | `devices` | `devices` (virtio queues) | when the thread starts |
//! | `vcpu` | `vcpuN` | when the thread starts, before its hart runs |
//!
//! The default filters are built in ([`rules`]); `--seccomp-filter FILE` replaces
//! them with Firecracker's JSON format (seccompiler's), which must define all four
//! kinds; `--no-seccomp` installs none.

pub mod rules;
pub mod sigsys;

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use seccompiler::{BpfProgram, SeccompAction, SeccompFilter, TargetArch};
use thiserror::Error;

/// The kinds of thread, each with its own filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ThreadKind {
    /// The main thread, running the event loop.
    Vmm,
    /// The API server thread.
    Api,
    /// The virtio device thread.
    Devices,
    /// A vCPU thread.
    Vcpu,
}

impl ThreadKind {
    /// Every kind, in the order the filter file lists them.
    pub const ALL: [ThreadKind; 4] = [
        ThreadKind::Vmm,
        ThreadKind::Api,
        ThreadKind::Devices,
        ThreadKind::Vcpu,
    ];

    /// The kind's key in a filter file.
    pub fn key(self) -> &'static str {
        match self {
            ThreadKind::Vmm => "vmm",
            ThreadKind::Api => "api",
            ThreadKind::Devices => "devices",
            ThreadKind::Vcpu => "vcpu",
        }
    }

    /// The kind whose key is `key`.
    pub fn from_key(key: &str) -> Option<ThreadKind> {
        ThreadKind::ALL.into_iter().find(|kind| kind.key() == key)
    }
}

impl fmt::Display for ThreadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// Why the filters could not be built or installed.
#[derive(Debug, Error)]
pub enum SeccompError {
    /// The filter file cannot be read.
    #[error("Cannot read the seccomp filter file {path}: {reason}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The filter file is not a valid filter set for this architecture.
    #[error("Invalid seccomp filter file {path}: {reason}")]
    Invalid {
        /// The file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The built-in filters do not compile (a bug).
    #[error("Cannot build the seccomp filter of the {kind} threads: {reason}")]
    Build {
        /// The thread kind.
        kind: ThreadKind,
        /// Why.
        reason: String,
    },
    /// The kernel refused the filter.
    #[error("Cannot install the seccomp filter of thread {thread}: {reason}")]
    Install {
        /// The thread's name.
        thread: String,
        /// Why.
        reason: String,
    },
}

/// The BPF program of each thread kind, or none at all (`--no-seccomp`).
#[derive(Clone, Debug, Default)]
pub struct SeccompFilters {
    programs: Option<Arc<HashMap<ThreadKind, BpfProgram>>>,
}

impl SeccompFilters {
    /// No filters: every thread may make any call.
    pub fn disabled() -> SeccompFilters {
        SeccompFilters { programs: None }
    }

    /// The built-in filters of this architecture.
    pub fn builtin() -> Result<SeccompFilters, SeccompError> {
        let mut programs = HashMap::new();
        for kind in ThreadKind::ALL {
            let build = |reason: String| SeccompError::Build { kind, reason };
            let rules = rules::rules(kind).map_err(|e| build(e.to_string()))?;
            let filter =
                SeccompFilter::new(rules, SeccompAction::Trap, SeccompAction::Allow, arch())
                    .map_err(|e| build(e.to_string()))?;
            let program = BpfProgram::try_from(filter).map_err(|e| build(e.to_string()))?;
            programs.insert(kind, program);
        }
        Ok(SeccompFilters {
            programs: Some(Arc::new(programs)),
        })
    }

    /// Filters from a JSON file in Firecracker's format: an object keyed by `vmm`,
    /// `api`, `devices` and `vcpu`, each `{"default_action", "filter_action",
    /// "filter": [{"syscall", "args"?}]}`.
    pub fn from_json_file(path: &Path) -> Result<SeccompFilters, SeccompError> {
        let shown = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|e| SeccompError::Read {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
        SeccompFilters::from_json(file, &shown)
    }

    /// Filters from JSON read from `reader` (named `source` in errors).
    pub fn from_json(
        reader: impl std::io::Read,
        source: &str,
    ) -> Result<SeccompFilters, SeccompError> {
        let invalid = |reason: String| SeccompError::Invalid {
            path: source.to_string(),
            reason,
        };
        let compiled =
            seccompiler::compile_from_json(reader, arch()).map_err(|e| invalid(e.to_string()))?;
        let mut programs = HashMap::new();
        for (key, program) in compiled {
            let Some(kind) = ThreadKind::from_key(&key) else {
                return Err(invalid(format!(
                    "unknown thread kind \"{key}\" (expected vmm, api, devices, vcpu)"
                )));
            };
            programs.insert(kind, program);
        }
        if let Some(kind) = ThreadKind::ALL
            .into_iter()
            .find(|k| !programs.contains_key(k))
        {
            return Err(invalid(format!("no filter for the \"{kind}\" threads")));
        }
        Ok(SeccompFilters {
            programs: Some(Arc::new(programs)),
        })
    }

    /// Whether filters are installed at all.
    pub fn enabled(&self) -> bool {
        self.programs.is_some()
    }

    /// Loads `kind`'s filter on the calling thread, named `thread` in the SIGSYS
    /// message. An empty program (a kind whose file entry allows everything) installs
    /// nothing.
    pub fn install(&self, kind: ThreadKind, thread: &str) -> Result<(), SeccompError> {
        sigsys::set_thread_name(thread);
        let Some(programs) = &self.programs else {
            return Ok(());
        };
        let Some(program) = programs.get(&kind).filter(|p| !p.is_empty()) else {
            return Ok(());
        };
        seccompiler::apply_filter(program).map_err(|e| SeccompError::Install {
            thread: thread.to_string(),
            reason: e.to_string(),
        })?;
        if DENIED_CALL_TEST.get() == Some(&kind) && !DENIED_CALL_MADE.swap(true, Ordering::SeqCst) {
            denied_call();
        }
        Ok(())
    }
}

/// The architecture rvnest runs on, for seccompiler.
fn arch() -> TargetArch {
    #[cfg(target_arch = "x86_64")]
    return TargetArch::x86_64;
    #[cfg(target_arch = "aarch64")]
    return TargetArch::aarch64;
    #[cfg(target_arch = "riscv64")]
    return TargetArch::riscv64;
}

/// The thread kind that makes a denied call right after loading its filter
/// (`--seccomp-test-denied-call`, a hidden flag for the tests).
static DENIED_CALL_TEST: OnceLock<ThreadKind> = OnceLock::new();

/// Set by the thread that made the test's denied call, so that only one does.
static DENIED_CALL_MADE: AtomicBool = AtomicBool::new(false);

/// Makes the first thread of `kind` call `getppid`, which no built-in filter allows,
/// right after installing its filter: the process must end with the SIGSYS message.
pub fn test_denied_call_on(kind: ThreadKind) {
    let _ = DENIED_CALL_TEST.set(kind);
}

fn denied_call() {
    // SAFETY: getppid has no arguments and no side effects.
    unsafe { libc::syscall(libc::SYS_getppid) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_filters_compile_for_every_kind() {
        let filters = SeccompFilters::builtin().unwrap();
        let programs = filters.programs.unwrap();
        for kind in ThreadKind::ALL {
            assert!(programs[&kind].len() > 10, "{kind}");
        }
    }

    #[test]
    fn a_filter_file_needs_every_kind() {
        let one = r#"{"vmm": {"default_action": "trap", "filter_action": "allow",
            "filter": [{"syscall": "read"}]}}"#;
        let e = SeccompFilters::from_json(one.as_bytes(), "f.json").unwrap_err();
        assert_eq!(
            e.to_string(),
            "Invalid seccomp filter file f.json: no filter for the \"api\" threads"
        );
    }

    #[test]
    fn a_filter_file_with_an_unknown_kind_or_call_is_refused() {
        let entry = r#"{"default_action": "trap", "filter_action": "allow", "filter": [{"syscall": "read"}]}"#;
        let text = format!(
            r#"{{"vmm": {entry}, "api": {entry}, "devices": {entry}, "vcpu": {entry}, "gpu": {entry}}}"#
        );
        let e = SeccompFilters::from_json(text.as_bytes(), "f.json").unwrap_err();
        assert!(e.to_string().contains("unknown thread kind \"gpu\""), "{e}");
        let bad = text
            .replace("\"gpu\"", "\"x\"")
            .replace("read", "no_such_call");
        let e = SeccompFilters::from_json(bad.as_bytes(), "f.json").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("Invalid seccomp filter file f.json: "),
            "{e}"
        );
    }

    #[test]
    fn a_complete_filter_file_is_accepted() {
        let entry = r#"{"default_action": "trap", "filter_action": "allow", "filter": [{"syscall": "read"},
            {"syscall": "ioctl", "args": [{"index": 1, "type": "dword", "op": "eq", "val": 21505}]}]}"#;
        let text =
            format!(r#"{{"vmm": {entry}, "api": {entry}, "devices": {entry}, "vcpu": {entry}}}"#);
        let filters = SeccompFilters::from_json(text.as_bytes(), "f.json").unwrap();
        assert!(filters.enabled());
    }
}
