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
    let start = Instant::now();
    let mut child = Command::new(rvnest_binary())
        .arg("--config-file")
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rvnest");
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
