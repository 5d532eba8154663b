//! The REST API end to end: a real `rvnest --api-sock` process booting Debian's
//! kernel through its socket, pausing (the vCPU threads stop using the host CPU),
//! resuming, counting, flushing metrics and shutting down; the config file beside
//! the API; and `rvnest-ctl` for every endpoint.

use std::process::Command;
use std::time::Duration;

use api::client::Client;
use api::config::{Backend, IrqChip, MachineConfig, MachineConfigUpdate, MetricsConfig};
use api::types::{
    ActionType, InstanceState, MetricsRecord, RequestedVmState, VcpuActivity, VmCounters,
};
use e2e::{ApiProcess, boot_source_json, ctl_binary, guest_dir, temp_path};

/// Generous: a boot takes seconds; a loaded machine takes longer.
const BOOT_LIMIT: Duration = Duration::from_secs(300);

/// Boot arguments of a guest that ends in a shell, quickly (no kvm.ko, no cpuinfo).
const SHELL: &str = "rvnest.init=shell rvnest.kvm=0 rvnest.cpuinfo=0";

/// Serialises the tests of this file: one measures the process's CPU time, which
/// another VM booting beside it would blur.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn put(client: &mut Client, path: &str, body: &str) -> (u16, String) {
    let r = client
        .request("PUT", path, Some(body.as_bytes()))
        .expect("request");
    (r.status, r.fault_message().unwrap_or_default())
}

fn instructions(counters: &VmCounters) -> u64 {
    counters.vcpus.iter().map(|v| v.instructions).sum()
}

#[test]
fn boot_pause_resume_count_and_shut_down_through_the_api() {
    let _serial = serial();
    let mut vm = ApiProcess::start("lifecycle", &["--id", "lifecycle-test"]);
    let mut client = vm.client();
    let info = client.instance_info().expect("GET /");
    assert_eq!(info.state, InstanceState::NotStarted);
    assert_eq!(info.id, "lifecycle-test");
    assert_eq!(info.app_name, "rvnest");
    assert_eq!(client.counters().expect("counters").vcpus, vec![]);

    // Assemble the VM with PUT requests, as with Firecracker.
    let metrics = temp_path("lifecycle.metrics");
    let _ = std::fs::remove_file(&metrics);
    client
        .put_metrics(&MetricsConfig {
            metrics_path: metrics.clone(),
        })
        .expect("PUT /metrics");
    assert_eq!(
        put(&mut client, "/boot-source", &boot_source_json(SHELL)),
        (204, String::new())
    );
    client
        .put_machine_config(&MachineConfig {
            vcpu_count: 2,
            mem_size_mib: 256,
            backend: Backend::Soft,
            irqchip: IrqChip::Plic,
            nested: false,
            nacl: None,
            ..MachineConfig::default()
        })
        .expect("PUT /machine-config");
    client
        .patch_machine_config(&MachineConfigUpdate {
            mem_size_mib: Some(320),
            ..MachineConfigUpdate::default()
        })
        .expect("PATCH /machine-config");
    let config = client.vm_config().expect("GET /vm/config");
    assert_eq!(config.machine_config.vcpu_count, 2);
    assert_eq!(config.machine_config.mem_size_mib, 320);
    assert!(config.boot_source.is_some());
    assert_eq!(config.metrics.expect("metrics").metrics_path, metrics);

    client
        .action(ActionType::InstanceStart)
        .expect("InstanceStart");
    assert_eq!(
        client.instance_info().expect("GET /").state,
        InstanceState::Running
    );
    vm.wait_for_output("RVNEST-SHELL", BOOT_LIMIT);

    // A CPU-bound guest: a busy loop in the background of the shell.
    std::thread::sleep(Duration::from_millis(500));
    vm.send_console("while :; do :; done &\n");
    std::thread::sleep(Duration::from_millis(500));
    let busy = vm.cpu_over(Duration::from_secs(1));
    assert!(
        busy > 0.5,
        "a busy guest should use a host CPU: {busy:.2} s in 1 s"
    );
    let before = client.counters().expect("counters");
    assert_eq!(before.vcpus.len(), 2);
    assert_eq!(before.vcpus[0].state, VcpuActivity::Running);
    assert!(
        before.vcpus[0].sbi.hsm >= 1,
        "hart 0 started hart 1 through HSM"
    );
    assert!(before.vcpus.iter().all(|v| v.translation.decodes > 0));
    if arch_riscv::hart::COMPILED_TIER {
        // The compiled tier is on by default and the guest's hot code is compiled.
        let compiled = &before.vcpus[0].compiled;
        assert!(compiled.enabled && compiled.blocks > 0, "{compiled:?}");
        assert!(
            compiled.code_bytes > 0 && compiled.entries > 0,
            "{compiled:?}"
        );
    }
    std::thread::sleep(Duration::from_millis(200));
    let later = client.counters().expect("counters");
    assert!(
        instructions(&later) > instructions(&before),
        "the guest runs"
    );

    // Pause: the vCPU threads sleep, the process uses (almost) no CPU.
    client
        .set_vm_state(RequestedVmState::Paused)
        .expect("pause");
    assert_eq!(
        client.instance_info().expect("GET /").state,
        InstanceState::Paused
    );
    let paused = client.counters().expect("counters");
    assert!(paused.vcpus.iter().all(|v| v.state == VcpuActivity::Paused));
    let idle = vm.cpu_over(Duration::from_secs(2));
    assert!(
        idle < 0.1,
        "a paused VM should not use the CPU: {idle:.2} s in 2 s"
    );
    let still = client.counters().expect("counters");
    assert_eq!(
        instructions(&still),
        instructions(&paused),
        "no instruction while paused"
    );
    // Pausing again is harmless; pre-boot resources and a second start are refused.
    client
        .set_vm_state(RequestedVmState::Paused)
        .expect("pause twice");
    for (path, body) in [
        ("/boot-source", boot_source_json("")),
        (
            "/machine-config",
            r#"{"vcpu_count": 1, "mem_size_mib": 128}"#.to_string(),
        ),
        ("/logger", r#"{"level": "Debug"}"#.to_string()),
        ("/metrics", r#"{"metrics_path": "/tmp/x"}"#.to_string()),
        (
            "/actions",
            r#"{"action_type": "InstanceStart"}"#.to_string(),
        ),
    ] {
        let (status, message) = put(&mut client, path, &body);
        assert_eq!(status, 409, "PUT {path}: {message}");
    }
    let r = client
        .request("PATCH", "/machine-config", Some(br#"{"vcpu_count": 1}"#))
        .expect("PATCH");
    assert_eq!(r.status, 409);
    assert_eq!(
        r.fault_message().as_deref(),
        Some("PATCH /machine-config is only allowed before InstanceStart")
    );

    // Console input typed while paused waits (more than the UART's FIFO holds)
    // without stalling the API, and reaches the guest after the resume.
    let marker = format!("RVNEST-API-{}", "x".repeat(200));
    vm.send_console(&format!("echo {marker}-$((6 * 7))\n"));
    std::thread::sleep(Duration::from_millis(100));
    let start = std::time::Instant::now();
    assert_eq!(
        client.instance_info().expect("GET /").state,
        InstanceState::Paused
    );
    assert!(
        start.elapsed() < Duration::from_millis(500),
        "API stalled by console input"
    );

    // Resume: the guest's loop runs again.
    client
        .set_vm_state(RequestedVmState::Resumed)
        .expect("resume");
    vm.wait_for_output(&format!("{marker}-42"), Duration::from_secs(30));
    assert_eq!(
        client.instance_info().expect("GET /").state,
        InstanceState::Running
    );
    let busy = vm.cpu_over(Duration::from_secs(1));
    assert!(busy > 0.5, "resumed guest should run: {busy:.2} s in 1 s");
    let resumed = client.counters().expect("counters");
    assert!(instructions(&resumed) > instructions(&still));
    assert!(resumed.vcpus.iter().any(|v| v.exits.interrupted > 0));

    // FlushMetrics writes one JSON line of counters.
    client
        .action(ActionType::FlushMetrics)
        .expect("FlushMetrics");
    let text = std::fs::read_to_string(&metrics).expect("metrics file");
    let record: MetricsRecord =
        serde_json::from_str(text.lines().last().expect("a line")).expect("JSON line");
    assert_eq!(record.id, "lifecycle-test");
    assert_eq!(record.state, InstanceState::Running);
    assert_eq!(record.vcpus.len(), 2);
    assert!(record.vcpus[0].instructions > 0);

    // Shutdown: answered, then the process ends with 0 and removes its socket.
    client.action(ActionType::Shutdown).expect("Shutdown");
    assert_eq!(
        vm.wait_exit(Duration::from_secs(30)),
        Some(0),
        "{}",
        vm.stderr()
    );
    assert!(!vm.socket.exists(), "socket file left behind");
    let lines = std::fs::read_to_string(&metrics)
        .expect("metrics")
        .lines()
        .count();
    assert_eq!(lines, 2, "a last metrics line at exit");
    let _ = std::fs::remove_file(&metrics);
}

#[test]
fn config_file_and_api_socket_boot_at_once_and_exit_with_the_guest() {
    let _serial = serial();
    let dir = guest_dir();
    let log = temp_path("configured.log");
    let metrics = temp_path("configured.metrics");
    let _ = std::fs::remove_file(&log);
    let _ = std::fs::remove_file(&metrics);
    let config = temp_path("configured.json");
    std::fs::write(
        &config,
        format!(
            r#"{{
  "boot-source": {{
    "kernel_image_path": "{}",
    "initrd_path": "{}",
    "boot_args": "console=ttyS0 panic=-1 rvnest.kvm=0 rvnest.cpuinfo=0"
  }},
  "machine-config": {{ "vcpu_count": 1, "mem_size_mib": 256, "backend": "soft" }},
  "logger": {{ "log_path": "{}", "level": "Info", "show_level": true }},
  "metrics": {{ "metrics_path": "{}" }}
}}"#,
            dir.join("Image").display(),
            dir.join("initramfs.cpio.gz").display(),
            log.display(),
            metrics.display()
        ),
    )
    .expect("write config");
    let config_arg = config.display().to_string();
    let mut vm = ApiProcess::start("configured", &["--config-file", &config_arg]);
    let mut client = vm.client();
    // Booted at once (Firecracker semantics), so pre-boot resources are closed.
    let state = client.instance_info().map(|i| i.state);
    assert!(
        matches!(state, Ok(InstanceState::Running)) || !vm.is_running(),
        "state {state:?}"
    );
    let full = client.vm_config();
    if let Ok(full) = full {
        assert_eq!(full.logger.expect("logger").log_path, Some(log.clone()));
        assert_eq!(put(&mut client, "/logger", "{}").0, 409);
    }
    // The default guest powers off: rvnest exits 0 and cleans up.
    assert_eq!(vm.wait_exit(BOOT_LIMIT), Some(0), "{}", vm.stderr());
    assert!(vm.stdout().contains("RVNEST-POWEROFF"));
    assert!(!vm.socket.exists(), "socket file left behind");
    let log_text = std::fs::read_to_string(&log).expect("log file");
    assert!(
        log_text.contains("INFO") && log_text.contains("VM started"),
        "{log_text}"
    );
    let metrics_text = std::fs::read_to_string(&metrics).expect("metrics file");
    let last: MetricsRecord =
        serde_json::from_str(metrics_text.lines().last().expect("line")).expect("JSON");
    assert_eq!(last.vcpus.len(), 1);
    assert_eq!(last.vcpus[0].state, VcpuActivity::Exited);
    assert_eq!(
        last.vcpus[0].sbi.srst, 1,
        "the guest powered off through SRST"
    );
    for path in [&log, &metrics, &config] {
        let _ = std::fs::remove_file(path);
    }
}

/// Runs `rvnest-ctl -s socket args...`; (exit code, stdout, stderr).
fn ctl(socket: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(ctl_binary())
        .arg("--api-sock")
        .arg(socket)
        .args(args)
        .output()
        .expect("run rvnest-ctl");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ctl_ok(socket: &std::path::Path, args: &[&str]) -> String {
    let (code, out, err) = ctl(socket, args);
    assert_eq!(code, 0, "rvnest-ctl {args:?}: {err}");
    out
}

#[test]
fn rvnest_ctl_drives_every_endpoint() {
    let _serial = serial();
    let mut vm = ApiProcess::start("ctl", &[]);
    let s = vm.socket.clone();
    let dir = guest_dir();
    let kernel = dir.join("Image").display().to_string();
    let initrd = dir.join("initramfs.cpio.gz").display().to_string();
    let log = temp_path("ctl.log").display().to_string();
    let metrics = temp_path("ctl.metrics").display().to_string();

    let info = ctl_ok(&s, &["info"]);
    assert!(info.contains("state:   Not started"), "{info}");
    let json: serde_json::Value =
        serde_json::from_str(&ctl_ok(&s, &["--json", "info"])).expect("--json info");
    assert_eq!(json["state"], "Not started");
    assert!(ctl_ok(&s, &["version"]).starts_with("rvnest "));
    let json: serde_json::Value =
        serde_json::from_str(&ctl_ok(&s, &["--json", "version"])).expect("--json version");
    assert!(json["rvnest_version"].is_string());

    assert_eq!(
        ctl_ok(
            &s,
            &[
                "set-logger",
                "--log-path",
                &log,
                "--level",
                "Debug",
                "--show-level"
            ]
        ),
        "Logger configured\n"
    );
    assert_eq!(
        ctl_ok(&s, &["set-metrics", "--metrics-path", &metrics]),
        "Metrics file set\n"
    );
    assert_eq!(
        ctl_ok(
            &s,
            &[
                "set-boot-source",
                "--kernel",
                &kernel,
                "--initrd",
                &initrd,
                "--boot-args",
                &format!("console=ttyS0 panic=-1 {SHELL}"),
            ]
        ),
        "Boot source set\n"
    );
    ctl_ok(
        &s,
        &[
            "set-machine-config",
            "--vcpus",
            "1",
            "--mem-mib",
            "256",
            "--backend",
            "soft",
        ],
    );
    ctl_ok(&s, &["update-machine-config", "--mem-mib", "288"]);
    let machine = ctl_ok(&s, &["machine-config"]);
    assert!(
        machine.contains("memory:  288 MiB") && machine.contains("backend: soft"),
        "{machine}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&ctl_ok(&s, &["--json", "machine-config"])).expect("json");
    assert_eq!(json["mem_size_mib"], 288);
    let config: serde_json::Value =
        serde_json::from_str(&ctl_ok(&s, &["--json", "config"])).expect("json config");
    assert_eq!(config["boot-source"]["kernel_image_path"], kernel.as_str());
    assert_eq!(config["logger"]["level"], "Debug");
    assert!(ctl_ok(&s, &["config"]).contains("\"machine-config\": {"));
    assert_eq!(
        ctl_ok(&s, &["counters"]),
        "No vCPUs: the VM has not started\n"
    );

    // Errors: exit code 1, the fault message on stderr (and the body with --json).
    let (code, out, err) = ctl(&s, &["pause"]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(
        err.contains("The VM has not started") && err.contains("HTTP 409"),
        "{err}"
    );
    let (code, out, _) = ctl(
        &s,
        &[
            "--json",
            "set-machine-config",
            "--vcpus",
            "99",
            "--mem-mib",
            "64",
        ],
    );
    assert_eq!(code, 1);
    assert!(
        out.contains("\"fault_message\":\"Invalid request body: machine-config.vcpu_count"),
        "{out}"
    );
    let (code, _, err) = ctl(&s, &["request", "DELETE", "/vm"]);
    assert_eq!(code, 1);
    assert!(err.contains("HTTP 405"), "{err}");
    let (code, _, err) = ctl(std::path::Path::new("/nonexistent.sock"), &["info"]);
    assert_eq!(code, 2);
    assert!(err.contains("Cannot connect to /nonexistent.sock"), "{err}");

    assert_eq!(ctl_ok(&s, &["start"]), "VM started\n");
    vm.wait_for_output("RVNEST-SHELL", BOOT_LIMIT);
    let counters = ctl_ok(&s, &["counters"]);
    assert!(
        counters.contains("vcpu0") && counters.contains("instructions"),
        "{counters}"
    );
    assert!(
        counters.contains("exits.sbi") && counters.contains("sbi.hsm"),
        "{counters}"
    );
    assert!(
        !counters.contains("nacl."),
        "NACL rows hidden when off: {counters}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&ctl_ok(&s, &["--json", "counters"])).expect("json counters");
    assert!(json["vcpus"][0]["instructions"].as_u64().unwrap_or(0) > 0);
    assert_eq!(ctl_ok(&s, &["pause"]), "VM paused\n");
    assert!(ctl_ok(&s, &["info"]).contains("state:   Paused"));
    assert_eq!(ctl_ok(&s, &["--json", "resume"]), "");
    assert_eq!(ctl_ok(&s, &["flush-metrics"]), "Metrics flushed\n");
    let raw = ctl_ok(&s, &["request", "GET", "/vm/config"]);
    assert!(raw.contains("\"boot-source\""), "{raw}");
    let raw = ctl_ok(&s, &["request", "PATCH", "/vm", r#"{"state": "Resumed"}"#]);
    assert_eq!(raw, "204 No Content\n");
    assert_eq!(ctl_ok(&s, &["shutdown"]), "VM shut down\n");
    assert_eq!(vm.wait_exit(Duration::from_secs(30)), Some(0));
    let log_text = std::fs::read_to_string(&log).expect("log");
    assert!(
        log_text.contains("DEBUG"),
        "Debug level with levels shown: {log_text}"
    );
    assert!(
        std::fs::read_to_string(&metrics)
            .expect("metrics")
            .lines()
            .count()
            >= 2
    );
    let _ = std::fs::remove_file(&log);
    let _ = std::fs::remove_file(&metrics);
}

#[test]
fn shutdown_before_boot_and_a_socket_in_use() {
    let _serial = serial();
    let mut vm = ApiProcess::start("preboot", &[]);
    // A second rvnest cannot take a live socket: exit code 1, one line.
    let out = Command::new(e2e::rvnest_binary())
        .arg("--api-sock")
        .arg(&vm.socket)
        .output()
        .expect("second rvnest");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("another process serves this socket"), "{err}");
    assert!(vm.socket.exists());

    let mut client = vm.client();
    client.action(ActionType::Shutdown).expect("Shutdown");
    assert_eq!(vm.wait_exit(Duration::from_secs(10)), Some(0));
    assert!(!vm.socket.exists());
}

#[test]
fn payload_limit_and_usage_errors() {
    let _serial = serial();
    let mut vm = ApiProcess::start("limit", &["--http-api-max-payload-size", "100"]);
    let mut client = vm.client();
    let body = format!(r#"{{"metrics_path": "/tmp/{}"}}"#, "m".repeat(100));
    let r = client
        .request("PUT", "/metrics", Some(body.as_bytes()))
        .expect("PUT");
    assert_eq!(r.status, 413);
    assert_eq!(
        r.fault_message().as_deref(),
        Some("Request body of 125 bytes is larger than the limit of 100 bytes")
    );
    let mut client = vm.client();
    client.action(ActionType::Shutdown).expect("Shutdown");
    assert_eq!(vm.wait_exit(Duration::from_secs(10)), Some(0));

    // Neither a config file nor a socket: a usage error.
    let out = Command::new(e2e::rvnest_binary()).output().expect("rvnest");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--config-file") && err.contains("--api-sock"),
        "{err}"
    );
}

/// SIGTERM stops a running guest the way the `Shutdown` action does: rvnest exits
/// with 128 + 15 and removes its socket. SIGINT does the same before boot (130).
#[test]
fn termination_signals_stop_the_vm_and_remove_the_socket() {
    let _serial = serial();
    let config = temp_path("sigterm.json");
    std::fs::write(
        &config,
        format!(
            r#"{{ "boot-source": {},
  "machine-config": {{ "vcpu_count": 2, "mem_size_mib": 256, "backend": "soft" }} }}"#,
            boot_source_json("")
        ),
    )
    .expect("write config");
    let config_arg = config.display().to_string();
    let mut vm = ApiProcess::start("sigterm", &["--config-file", &config_arg]);
    vm.wait_for_output("Linux version", BOOT_LIMIT);
    let kill = |signal: &str, pid: u32| {
        let status = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    };
    kill("-TERM", vm.pid());
    assert_eq!(
        vm.wait_exit(Duration::from_secs(30)),
        Some(143),
        "{}",
        vm.stderr()
    );
    assert!(!vm.socket.exists(), "socket file left behind");
    let _ = std::fs::remove_file(&config);

    let mut idle = ApiProcess::start("sigint", &[]);
    kill("-INT", idle.pid());
    assert_eq!(idle.wait_exit(Duration::from_secs(30)), Some(130));
    assert!(!idle.socket.exists(), "socket file left behind");
}
