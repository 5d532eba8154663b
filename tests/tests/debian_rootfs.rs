//! The Debian root file system of `resources/rootfs/build-rootfs.sh` on the soft
//! backend: systemd boots it to multi-user.target with no failed unit, root logs in on
//! the serial console, and `systemctl poweroff` ends rvnest with exit code 0.
//!
//! The image is copied (sparse) for the test, so the cached one stays pristine.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use e2e::{ApiProcess, guest_dir, temp_path};

/// From power-on to the login prompt (about 2-3 minutes on an idle host's soft hart).
const BOOT_LIMIT: Duration = Duration::from_secs(900);
const COMMAND_LIMIT: Duration = Duration::from_secs(300);

/// The built image; a clear message when the build script has not run.
fn rootfs_image() -> PathBuf {
    let image = guest_dir().join("rootfs.ext4");
    assert!(
        image.exists(),
        "{} is missing: run resources/rootfs/build-rootfs.sh first",
        image.display()
    );
    image
}

struct TempFiles(Vec<PathBuf>);

impl Drop for TempFiles {
    fn drop(&mut self) {
        for path in &self.0 {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Runs `command` typed on the console and waits for `marker` followed by a value on
/// the same line; returns that value. The marker is split in the typed text so that
/// the terminal's echo of the command never matches.
fn query(vm: &mut ApiProcess, marker: &str, command: &str) -> String {
    let (head, tail) = marker.split_at(marker.len() / 2);
    let before = vm.stdout().len();
    vm.send_console(&format!("echo \"{head}\"\"{tail}=$({command})\"\n"));
    let wanted = format!("{marker}=");
    let start = Instant::now();
    loop {
        let out = vm.stdout();
        if let Some(at) = out[before..].find(&wanted) {
            let rest = &out[before + at + wanted.len()..];
            if let Some(end) = rest.find('\n') {
                return rest[..end].trim().to_string();
            }
        }
        assert!(
            start.elapsed() < COMMAND_LIMIT && vm.is_running(),
            "no {marker} after {COMMAND_LIMIT:?}\nstdout:\n{out}\nstderr:\n{}",
            vm.stderr()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn debian_systemd_boots_to_multi_user_and_powers_off() {
    let dir = guest_dir();
    let image = temp_path("debian-root.ext4");
    let config = temp_path("debian.json");
    let _cleanup = TempFiles(vec![image.clone(), config.clone()]);
    let copied = Command::new("cp")
        .arg("--sparse=always")
        .arg(rootfs_image())
        .arg(&image)
        .status()
        .expect("run cp");
    assert!(copied.success(), "copying the root image failed");
    let json = format!(
        r#"{{
  "boot-source": {{
    "kernel_image_path": "{kernel}",
    "initrd_path": "{initrd}",
    "boot_args": "console=ttyS0 earlycon=sbi panic=-1 rvnest.init=switch_root rvnest.kvm=0 rvnest.cpuinfo=0 rvnest.modules=virtio_mmio,virtio_blk,ext4"
  }},
  "machine-config": {{ "vcpu_count": 1, "mem_size_mib": 1024, "backend": "soft" }},
  "drives": [{{ "drive_id": "rootfs", "path_on_host": "{image}", "is_root_device": true,
               "is_read_only": false, "cache_type": "Writeback" }}]
}}"#,
        kernel = dir.join("Image").display(),
        initrd = dir.join("initramfs.cpio.gz").display(),
        image = image.display(),
    );
    std::fs::write(&config, json).expect("write the config");

    let start = Instant::now();
    let mut vm = ApiProcess::start("debian", &["--config-file", config.to_str().unwrap_or("")]);
    vm.wait_for_output("RVNEST-SWITCH-ROOT /dev/vda", BOOT_LIMIT);
    vm.wait_for_output("rvnest login:", BOOT_LIMIT);
    let to_login = start.elapsed();
    vm.send_console("root\n");
    vm.wait_for_output("root@rvnest:", COMMAND_LIMIT);

    let state = query(
        &mut vm,
        "SYSTEM-STATE",
        "systemctl is-system-running --wait",
    );
    let failed = query(
        &mut vm,
        "FAILED-UNITS",
        "systemctl list-units --failed --no-legend --plain | tr '\\n' ' '",
    );
    let target = query(
        &mut vm,
        "MULTI-USER",
        "systemctl is-active multi-user.target",
    );
    let pid1 = query(&mut vm, "PID-ONE", "cat /proc/1/comm");
    let modules = query(&mut vm, "MODULES", "lsmod | grep -c virtio");
    eprintln!(
        "debian rootfs: login prompt after {:.1} s; state {state}; multi-user.target {target}",
        to_login.as_secs_f64()
    );
    assert_eq!(
        failed,
        "",
        "failed units:\n{}",
        query(
            &mut vm,
            "FAILED-DETAIL",
            "systemctl --failed --full --no-pager 2>&1 | tr '\\n' '|'"
        )
    );
    assert_eq!(state, "running", "systemctl is-system-running");
    assert_eq!(target, "active");
    assert_eq!(pid1, "systemd");
    assert!(
        modules.parse::<u32>().unwrap_or(0) >= 2,
        "virtio modules loaded: {modules}"
    );

    let shutdown = Instant::now();
    vm.send_console("systemctl poweroff\n");
    let code = vm.wait_exit(COMMAND_LIMIT);
    eprintln!(
        "debian rootfs: poweroff took {:.1} s, whole run {:.1} s",
        shutdown.elapsed().as_secs_f64(),
        start.elapsed().as_secs_f64()
    );
    assert_eq!(
        code,
        Some(0),
        "rvnest's exit code after systemctl poweroff\nstdout tail:\n{}",
        tail(&vm.stdout(), 3000)
    );
    let out = vm.stdout();
    assert!(
        out.contains("reboot: Power down"),
        "the kernel did not power down:\n{}",
        tail(&out, 3000)
    );
}

fn tail(text: &str, bytes: usize) -> &str {
    let mut at = text.len().saturating_sub(bytes);
    while !text.is_char_boundary(at) {
        at += 1;
    }
    &text[at..]
}
