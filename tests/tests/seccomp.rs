//! Seccomp end to end: every thread of a running rvnest (main, api, devices, each
//! vCPU) is under a filter, the VM still boots, serves the API and shuts down
//! cleanly, and a system call outside a thread's filter (made through the hidden
//! `--seccomp-test-denied-call` hook) ends the process with exit code 159 and one
//! line naming the thread and the call.

use std::path::PathBuf;
use std::time::Duration;

use api::types::ActionType;
use e2e::{ApiProcess, guest_dir, temp_path};

const BOOT_LIMIT: Duration = Duration::from_secs(300);

/// A config with two harts and an entropy device (so that the device thread runs),
/// booting to a shell.
fn config(name: &str) -> PathBuf {
    let dir = guest_dir();
    let path = temp_path(&format!("{name}.json"));
    let text = format!(
        r#"{{
  "boot-source": {{
    "kernel_image_path": "{kernel}",
    "initrd_path": "{initrd}",
    "boot_args": "console=ttyS0 earlycon=sbi panic=-1 rvnest.init=shell rvnest.kvm=0 rvnest.cpuinfo=0 rvnest.modules=virtio_mmio,virtio_rng"
  }},
  "machine-config": {{ "vcpu_count": 2, "mem_size_mib": 256, "backend": "soft" }},
  "entropy": {{}}
}}"#,
        kernel = dir.join("Image").display(),
        initrd = dir.join("initramfs.cpio.gz").display(),
    );
    std::fs::write(&path, text).expect("write config");
    path
}

/// Each thread's name and its `Seccomp:` mode.
fn thread_modes(pid: u32) -> Vec<(String, String)> {
    let mut modes = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).expect("tasks") {
        let task = task.expect("task").path();
        let name = std::fs::read_to_string(task.join("comm")).unwrap_or_default();
        let status = std::fs::read_to_string(task.join("status")).unwrap_or_default();
        let mode = status
            .lines()
            .find_map(|l| l.strip_prefix("Seccomp:"))
            .unwrap_or("?")
            .trim()
            .to_string();
        modes.push((name.trim().to_string(), mode));
    }
    modes.sort();
    modes
}

#[test]
fn every_thread_of_a_running_vm_is_filtered_and_the_vm_still_works() {
    let config = config("filtered");
    let config_arg = config.display().to_string();
    let mut vm = ApiProcess::start("seccomp-filtered", &["--config-file", &config_arg]);
    vm.wait_for_output("RVNEST-SHELL", BOOT_LIMIT);
    // The guest reads the entropy device: the device thread serves it filtered.
    vm.send_console("head -c 64 /dev/hwrng | wc -c; echo RNG-$((6*7))\n");
    vm.wait_for_output("RNG-42", Duration::from_secs(60));
    let modes = thread_modes(vm.pid());
    let names: Vec<&str> = modes.iter().map(|(n, _)| n.as_str()).collect();
    for expected in ["api", "devices", "rvnest", "vcpu0", "vcpu1"] {
        assert!(names.contains(&expected), "no {expected} thread: {modes:?}");
    }
    assert!(
        modes.iter().all(|(_, mode)| mode == "2"),
        "a thread without a filter: {modes:?}"
    );
    let mut client = vm.client();
    client.counters().expect("counters under the filters");
    client.action(ActionType::Shutdown).expect("Shutdown");
    assert_eq!(
        vm.wait_exit(Duration::from_secs(30)),
        Some(0),
        "{}",
        vm.stderr()
    );
    assert!(!vm.stderr().contains("seccomp"), "{}", vm.stderr());
}

#[test]
fn no_seccomp_leaves_the_threads_unfiltered() {
    let config = config("unfiltered");
    let config_arg = config.display().to_string();
    let mut vm = ApiProcess::start(
        "seccomp-off",
        &["--config-file", &config_arg, "--no-seccomp"],
    );
    vm.wait_for_output("RVNEST-SHELL", BOOT_LIMIT);
    let modes = thread_modes(vm.pid());
    assert!(modes.iter().all(|(_, mode)| mode == "0"), "{modes:?}");
}

/// Runs rvnest with the denied-call hook on `kind` (plus `extra` arguments) and
/// returns its exit code and stderr.
fn denied_call(kind: &str, extra: &[&str]) -> (Option<i32>, String) {
    let config = config(&format!("denied-{kind}"));
    let config_arg = config.display().to_string();
    let socket = temp_path(&format!("seccomp-denied-{kind}.sock"));
    let out = std::process::Command::new(e2e::rvnest_binary())
        .args(["--config-file", &config_arg, "--api-sock"])
        .arg(&socket)
        .args(["--seccomp-test-denied-call", kind])
        .args(extra)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run rvnest");
    let _ = std::fs::remove_file(&socket);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_call_outside_the_filter_ends_the_process_naming_the_thread_and_the_call() {
    for (kind, thread) in [
        ("vmm", "main"),
        ("api", "api"),
        ("devices", "devices"),
        ("vcpu", "vcpu"),
    ] {
        let (code, stderr) = denied_call(kind, &[]);
        assert_eq!(code, Some(159), "{kind}: {stderr}");
        // "rvnest: thread '<name>' made a system call outside its seccomp filter:
        // <number> (getppid); exiting": any vCPU may be the first to call, or the
        // compiled tier's worker, which runs under the vCPU filter.
        let line = stderr.strip_prefix("rvnest: thread '").unwrap_or_default();
        let (name, rest) = line.split_once('\'').unwrap_or_default();
        let named = if thread == "vcpu" {
            name == "rvnest-jit"
                || name
                    .strip_prefix("vcpu")
                    .is_some_and(|n| n.parse::<u32>().is_ok())
        } else {
            name == thread
        };
        let number = rest
            .strip_prefix(" made a system call outside its seccomp filter: ")
            .and_then(|rest| rest.strip_suffix(" (getppid); exiting\n"));
        assert!(
            named && number.is_some_and(|n| n.parse::<u32>().is_ok()),
            "{kind}: {stderr:?}"
        );
    }
}

#[test]
fn a_filter_file_replaces_the_builtin_filters() {
    // A deny list: everything allowed but getppid, which traps.
    let entry = r#"{"default_action": "allow", "filter_action": "trap", "filter": [{"syscall": "getppid"}]}"#;
    let file = temp_path("seccomp-deny-list.json");
    std::fs::write(
        &file,
        format!(r#"{{"vmm": {entry}, "api": {entry}, "devices": {entry}, "vcpu": {entry}}}"#),
    )
    .expect("write filter");
    let file_arg = file.display().to_string();
    let (code, stderr) = denied_call("vcpu", &["--seccomp-filter", &file_arg]);
    assert_eq!(code, Some(159), "{stderr}");
    assert!(
        stderr.contains("thread 'vcpu") || stderr.contains("thread 'rvnest-jit'"),
        "{stderr}"
    );

    // A file without every thread kind is refused before anything starts.
    std::fs::write(&file, format!(r#"{{"vmm": {entry}}}"#)).expect("write filter");
    let (code, stderr) = denied_call("vcpu", &["--seccomp-filter", &file_arg]);
    assert_eq!(code, Some(1));
    assert_eq!(
        stderr,
        format!(
            "rvnest: Invalid seccomp filter file {file_arg}: no filter for the \"api\" threads\n"
        )
    );
}
