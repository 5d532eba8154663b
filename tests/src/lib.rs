//! Helpers for rvnest's end-to-end tests: locating the built binary and the guest
//! assets, writing configs, and running a VM with a time limit.
#![deny(missing_docs)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The `rvnest` binary under test: `$RVNEST_BIN`, else the release build.
pub fn rvnest_binary() -> PathBuf {
    let path = std::env::var_os("RVNEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target/release/rvnest"));
    assert!(
        path.exists(),
        "{} does not exist: build it with `cargo build --release -p vmm`",
        path.display()
    );
    path
}

/// The directory holding the guest assets made by `resources/fetch-guest.sh`:
/// `$RVNEST_GUEST_DIR`, else `resources/out`.
pub fn guest_dir() -> PathBuf {
    let dir = std::env::var_os("RVNEST_GUEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("resources/out"));
    for file in ["Image", "initramfs.cpio.gz"] {
        assert!(
            dir.join(file).exists(),
            "{} is missing: run resources/fetch-guest.sh first",
            dir.join(file).display()
        );
    }
    dir
}

/// What a finished VM left behind.
#[derive(Debug)]
pub struct RunResult {
    /// Exit code (`None` if killed at the time limit).
    pub code: Option<i32>,
    /// Everything the guest and rvnest printed on stdout.
    pub stdout: String,
    /// rvnest's stderr.
    pub stderr: String,
    /// Wall time.
    pub elapsed: Duration,
}

/// Writes a config for Debian's kernel with the test initramfs, `vcpus` harts and
/// `mem_mib` MiB, with `extra_args` appended to the kernel command line.
pub fn write_config(name: &str, vcpus: u32, mem_mib: u32, extra_args: &str) -> PathBuf {
    let dir = guest_dir();
    let config = serde_like_json(&dir, vcpus, mem_mib, extra_args);
    let path = std::env::temp_dir().join(format!("rvnest-test-{}-{name}.json", std::process::id()));
    std::fs::write(&path, config).expect("write config");
    path
}

fn serde_like_json(dir: &Path, vcpus: u32, mem_mib: u32, extra_args: &str) -> String {
    format!(
        r#"{{
  "boot-source": {{
    "kernel_image_path": "{kernel}",
    "initrd_path": "{initrd}",
    "boot_args": "console=ttyS0 earlycon=sbi panic=-1 {extra_args}"
  }},
  "machine-config": {{ "vcpu_count": {vcpus}, "mem_size_mib": {mem_mib}, "backend": "soft" }}
}}"#,
        kernel = dir.join("Image").display(),
        initrd = dir.join("initramfs.cpio.gz").display(),
    )
}

/// Runs `rvnest --config-file config`, killing it after `limit`.
pub fn run_vm(config: &Path, limit: Duration) -> RunResult {
    run_vm_with_args(config, &[], limit)
}

/// The assets of the KVM-in-QEMU test made by `resources/kvm-host/build-l1.sh`:
/// `$RVNEST_KVM_HOST_DIR`, else `<guest_dir()>/kvm-host`. Panics with the command to
/// run when they are missing.
pub fn kvm_host_dir() -> PathBuf {
    let dir = std::env::var_os("RVNEST_KVM_HOST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| guest_dir().join("kvm-host"));
    for file in ["Image", "l1-initramfs.cpio"] {
        assert!(
            dir.join(file).exists(),
            "{} is missing: build the riscv64 rvnest \
             (cargo build --release -p vmm --target riscv64gc-unknown-linux-gnu) and run \
             resources/kvm-host/build-l1.sh",
            dir.join(file).display()
        );
    }
    dir
}

/// Runs `command` with stdin closed, capturing its output, killing it after `limit`.
pub fn run_command(command: &mut Command, limit: Duration) -> RunResult {
    let start = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stdout.read_to_end(&mut s);
        String::from_utf8_lossy(&s).into_owned()
    });
    let err = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stderr.read_to_end(&mut s);
        String::from_utf8_lossy(&s).into_owned()
    });
    let code = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status.code();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    RunResult {
        code,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        elapsed: start.elapsed(),
    }
}

/// Boots the L1 KVM host of `kvm_host_dir()` under QEMU TCG (`-M virt -cpu
/// rv64,h=true`, 2 harts, 2 GiB) with `append` added to its kernel command line
/// (`rvnest.l2vcpus=N`, ...): its /init loads kvm.ko and runs the riscv64 rvnest
/// with the kvm backend (see resources/kvm-host/init).
pub fn run_kvm_host(append: &str, limit: Duration) -> RunResult {
    run_kvm_host_on("virt", "rv64,h=true", append, limit)
}

/// [`run_kvm_host`] on QEMU machine `machine` (`-M`) with CPU `cpu` (`-cpu`), e.g.
/// `virt,aia=aplic` and `rv64,h=true,x-ssaia=true` for a KVM host with AIA.
pub fn run_kvm_host_on(machine: &str, cpu: &str, append: &str, limit: Duration) -> RunResult {
    let dir = kvm_host_dir();
    let mut qemu = Command::new("qemu-system-riscv64");
    qemu.args(["-M", machine, "-cpu", cpu, "-smp", "2"])
        .args(["-m", "2048", "-nographic", "-no-reboot", "-bios", "default"])
        .arg("-kernel")
        .arg(dir.join("Image"))
        .arg("-initrd")
        .arg(dir.join("l1-initramfs.cpio"))
        .arg("-append")
        .arg(format!("console=ttyS0 panic=-1 {append}"));
    run_command(&mut qemu, limit)
}

/// Runs `rvnest --config-file config ARGS...`, killing it after `limit`.
pub fn run_vm_with_args(config: &Path, args: &[&str], limit: Duration) -> RunResult {
    run_command(
        Command::new(rvnest_binary())
            .arg("--config-file")
            .arg(config)
            .args(args),
        limit,
    )
}

/// The outer vCPUs' nesting counters, summed, from rvnest's info-level
/// "vCPU finished" log lines.
#[derive(Clone, Copy, Debug, Default)]
pub struct NestedCounters {
    /// Entries into the nested guest (V=1).
    pub world_switches: u64,
    /// Exits of the L1 to the outer VMM (all kinds).
    pub exits: u64,
    /// SBI calls among them (NACL included).
    pub sbi_calls: u64,
    /// H/VS CSR accesses, HFENCEs, HLV/HSV and SRETs into V=1 executed by the L1:
    /// each a trap to the L0 on hardware that runs the L1 in VS-mode.
    pub would_trap: u64,
}

impl std::fmt::Display for NestedCounters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let per = |n: u64| n as f64 / self.world_switches.max(1) as f64;
        write!(
            f,
            "{} world switches; per switch: {:.1} exits to the outer VMM ({:.1} SBI), {:.1} L1 instructions that trap on VS-mode hardware",
            self.world_switches,
            per(self.exits),
            per(self.sbi_calls),
            per(self.would_trap)
        )
    }
}

/// Sums the counters of every "vCPU finished" line in `log`.
pub fn nested_counters(log: &str) -> NestedCounters {
    let field = |line: &str, name: &str| -> u64 {
        line.split(&format!(" {name}: "))
            .nth(1)
            .and_then(|rest| rest.split([',', ' ', '}']).next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let mut total = NestedCounters::default();
    for line in log.lines().filter(|l| l.contains("vCPU finished")) {
        total.world_switches += field(line, "guest_entries");
        total.exits += field(line, "exits");
        total.sbi_calls += field(line, "sbi_calls");
        total.would_trap += [
            "h_csr_accesses",
            "hfences",
            "hypervisor_loads_stores",
            "sret_to_guest",
        ]
        .iter()
        .map(|name| field(line, name))
        .sum::<u64>();
    }
    total
}

// ---- API tests: an rvnest process serving its API socket ----

/// The `rvnest-ctl` binary under test: `$RVNEST_CTL_BIN`, else the release build
/// next to `rvnest`.
pub fn ctl_binary() -> PathBuf {
    let path = std::env::var_os("RVNEST_CTL_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| rvnest_binary().with_file_name("rvnest-ctl"));
    assert!(
        path.exists(),
        "{} does not exist: build it with `cargo build --release -p vmm`",
        path.display()
    );
    path
}

/// Runs `script` with `sh -c` on the host and returns its stdout; panics with its
/// stderr when it fails (test set-up: images, namespaces, TAP devices).
pub fn sh(script: &str) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .output()
        .expect("sh");
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A path in the temp directory unique to this test process and `name`.
pub fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("rvnest-{}-{name}", std::process::id()))
}

/// The boot-source section for Debian's kernel and the test initramfs, with
/// `extra_args` appended to the kernel command line.
pub fn boot_source_json(extra_args: &str) -> String {
    let dir = guest_dir();
    format!(
        r#"{{"kernel_image_path": "{}", "initrd_path": "{}", "boot_args": "console=ttyS0 earlycon=sbi panic=-1 {extra_args}"}}"#,
        dir.join("Image").display(),
        dir.join("initramfs.cpio.gz").display(),
    )
}

/// An `rvnest --api-sock` process, with its console on pipes. Killed on drop (the
/// socket file is then removed too).
pub struct ApiProcess {
    child: std::process::Child,
    /// The API socket.
    pub socket: PathBuf,
    stdin: Option<std::process::ChildStdin>,
    stdout: std::sync::Arc<std::sync::Mutex<String>>,
    stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

impl ApiProcess {
    /// Starts `rvnest --api-sock <temp>/<name>.sock` with `extra` arguments and waits
    /// until the socket accepts connections.
    pub fn start(name: &str, extra: &[&str]) -> ApiProcess {
        let socket = temp_path(&format!("{name}.sock"));
        let _ = std::fs::remove_file(&socket);
        let mut child = Command::new(rvnest_binary())
            .arg("--api-sock")
            .arg(&socket)
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn rvnest");
        let collect = |mut pipe: Box<dyn Read + Send>| {
            let text = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
            let sink = text.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    let chunk = String::from_utf8_lossy(&buf[..n]).into_owned();
                    sink.lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push_str(&chunk);
                }
            });
            text
        };
        let stdout = collect(Box::new(child.stdout.take().expect("stdout")));
        let stderr = collect(Box::new(child.stderr.take().expect("stderr")));
        let stdin = child.stdin.take();
        let process = ApiProcess {
            child,
            socket,
            stdin,
            stdout,
            stderr,
        };
        let start = Instant::now();
        while std::os::unix::net::UnixStream::connect(&process.socket).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the API socket never came up; stderr: {}",
                process.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        process
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A client of the socket.
    pub fn client(&self) -> api::client::Client {
        api::client::Client::new(&self.socket).with_timeout(Duration::from_secs(30))
    }

    /// Everything the guest printed so far.
    pub fn stdout(&self) -> String {
        self.stdout
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Everything rvnest logged so far.
    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Waits until the guest prints `marker`; panics with the output after `limit`
    /// or if rvnest ends first.
    pub fn wait_for_output(&mut self, marker: &str, limit: Duration) {
        let start = Instant::now();
        while !self.stdout().contains(marker) {
            assert!(
                start.elapsed() < limit && self.is_running(),
                "no {marker:?} after {limit:?}\nstdout:\n{}\nstderr:\n{}",
                self.stdout(),
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Types `text` on the guest's console.
    pub fn send_console(&mut self, text: &str) {
        use std::io::Write;
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(text.as_bytes()).expect("write console");
        stdin.flush().expect("flush console");
    }

    /// Waits for the process to end; its exit code (`None`: still running at `limit`
    /// or killed by a signal).
    pub fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status.code();
            }
            if start.elapsed() > limit {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the process still runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// User + system CPU time of the whole process (all threads), in seconds.
    pub fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()))
            .expect("read /proc/pid/stat");
        // Fields after the command name (which may contain spaces) in parentheses.
        let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of the line: 12 and 13 after ')'.
        let ticks: u64 =
            fields[11].parse::<u64>().unwrap_or(0) + fields[12].parse::<u64>().unwrap_or(0);
        ticks as f64 / clock_ticks_per_second()
    }

    /// CPU seconds the process uses over `interval`.
    pub fn cpu_over(&self, interval: Duration) -> f64 {
        let before = self.cpu_seconds();
        std::thread::sleep(interval);
        self.cpu_seconds() - before
    }

    /// Open file descriptors of the process.
    pub fn fd_count(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .map(|dir| dir.count())
            .unwrap_or(0)
    }

    /// Resident memory in KiB, leaving out the mapping of exactly `guest_mib` MiB
    /// (the guest's RAM, which the guest fills at will).
    pub fn rss_kib_without_guest(&self, guest_mib: u64) -> u64 {
        let smaps = std::fs::read_to_string(format!("/proc/{}/smaps", self.pid()))
            .expect("read /proc/pid/smaps");
        let guest_kib = guest_mib * 1024;
        let mut total = 0;
        let mut skip = false;
        for line in smaps.lines() {
            let mut words = line.split_whitespace();
            match (words.next(), words.next()) {
                (Some("Size:"), Some(kib)) => skip = kib.parse::<u64>().ok() == Some(guest_kib),
                (Some("Rss:"), Some(kib)) if !skip => total += kib.parse::<u64>().unwrap_or(0),
                _ => {}
            }
        }
        total
    }
}

impl Drop for ApiProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// The kernel's USER_HZ (`getconf CLK_TCK`; 100 where that fails).
fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8_lossy(&out.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}
