//! virtio-blk end to end: Debian's kernel finds its root file system on a drive (an
//! ext4 image made here with mkfs.ext4 -d around the guest's busybox), writes to it
//! and to a raw data drive, powers off; the host reads the results with debugfs and
//! from the data image. The same root read-only: the guest's writes fail and the
//! image stays as it was.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use e2e::{ApiProcess, RunResult, boot_source_json, guest_dir, run_vm, temp_path};

const LIMIT: Duration = Duration::from_secs(600);

/// The root file system's /sbin/init: reports what it sees, writes, powers off.
const ROOT_INIT: &str = r#"#!/bin/sh
export PATH=/bin
busybox mount -t proc proc /proc
busybox mount -t sysfs sysfs /sys
echo "ROOT-MOUNT $(busybox grep ' / ' /proc/mounts)"
if busybox grep -q rvnest.test=durable /proc/cmdline; then
    echo "made durable by fsync" | busybox dd of=/durable.txt conv=fsync 2>/dev/null
    busybox yes durable | busybox head -c 4096 | busybox dd of=/dev/vdb bs=4096 conv=fsync 2>/dev/null
    echo DURABLE-WRITTEN
    busybox sleep 1000
fi
echo "HOST-FILE $(busybox cat /from-host.txt)"
echo "SERIAL $(busybox cat /sys/block/vda/serial)"
if echo "written by the guest" > /from-guest.txt && busybox sync; then
    echo ROOT-WRITTEN
else
    echo ROOT-WRITE-REFUSED
fi
if [ -e /sys/class/misc/hw_random/rng_current ]; then
    echo "RNG-CURRENT $(busybox cat /sys/class/misc/hw_random/rng_current)"
    echo "HWRNG-BYTES $(busybox dd if=/dev/hwrng bs=32 count=1 2>/dev/null | busybox wc -c)"
fi
if [ -b /dev/vdb ]; then
    echo "DATA-MD5 $(busybox dd if=/dev/vdb bs=4096 count=256 2>/dev/null | busybox md5sum)"
    busybox yes rvnest | busybox head -c 8192 | busybox dd of=/dev/vdb bs=4096 seek=16 conv=fsync 2>/dev/null && echo DATA-WRITTEN
fi
busybox poweroff -f
"#;

struct Images {
    root: PathBuf,
    data: PathBuf,
    tree: PathBuf,
}

impl Drop for Images {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.root);
        let _ = std::fs::remove_file(&self.data);
        let _ = std::fs::remove_dir_all(&self.tree);
    }
}

fn run(command: &mut Command) -> String {
    let out = command.output().expect("run a host tool");
    assert!(
        out.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A 64 MiB ext4 root file system with busybox and [`ROOT_INIT`], and a 1 MiB data
/// image of a known pattern.
fn make_images(name: &str) -> Images {
    let tree = temp_path(&format!("{name}-tree"));
    let images = Images {
        root: temp_path(&format!("{name}-root.ext4")),
        data: temp_path(&format!("{name}-data.img")),
        tree: tree.clone(),
    };
    for dir in ["bin", "sbin", "dev", "proc", "sys", "tmp"] {
        std::fs::create_dir_all(tree.join(dir)).unwrap();
    }
    std::fs::copy(guest_dir().join("busybox"), tree.join("bin/busybox"))
        .expect("resources/out/busybox (resources/fetch-guest.sh makes it)");
    std::os::unix::fs::symlink("busybox", tree.join("bin/sh")).unwrap();
    std::fs::write(tree.join("sbin/init"), ROOT_INIT).unwrap();
    run(Command::new("chmod")
        .args(["0755", "sbin/init"])
        .current_dir(&tree));
    std::fs::write(tree.join("from-host.txt"), "made on the host").unwrap();
    let file = std::fs::File::create(&images.root).unwrap();
    file.set_len(64 << 20).unwrap();
    run(Command::new("mkfs.ext4")
        .args(["-q", "-F", "-d"])
        .arg(&tree)
        .arg(&images.root));
    let data: Vec<u8> = (0..1u32 << 20).map(|i| (i % 251) as u8).collect();
    std::fs::write(&images.data, data).unwrap();
    images
}

fn config(name: &str, images: &Images, root_read_only: bool) -> PathBuf {
    let dir = guest_dir();
    let json = format!(
        r#"{{
  "boot-source": {{
    "kernel_image_path": "{kernel}",
    "initrd_path": "{initrd}",
    "boot_args": "console=ttyS0 earlycon=sbi panic=-1 rvnest.kvm=0 rvnest.cpuinfo=0 rvnest.init=switch_root rvnest.modules=virtio_mmio,virtio_blk,ext4,virtio_rng"
  }},
  "machine-config": {{ "vcpu_count": 1, "mem_size_mib": 256, "backend": "soft" }},
  "drives": [
    {{ "drive_id": "data", "path_on_host": "{data}", "is_root_device": false, "cache_type": "Writeback" }},
    {{ "drive_id": "rootfs", "path_on_host": "{root}", "is_root_device": true, "is_read_only": {root_read_only} }}
  ],
  "entropy": {{}}
}}"#,
        kernel = dir.join("Image").display(),
        initrd = dir.join("initramfs.cpio.gz").display(),
        data = images.data.display(),
        root = images.root.display(),
    );
    let path = temp_path(&format!("{name}.json"));
    std::fs::write(&path, json).unwrap();
    path
}

fn boot(name: &str, images: &Images, read_only: bool) -> (RunResult, String) {
    let config = config(name, images, read_only);
    let r = run_vm(&config, LIMIT);
    let _ = std::fs::remove_file(config);
    let context = format!("stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
    assert_eq!(
        r.code,
        Some(0),
        "rvnest must exit 0 after poweroff\n{context}"
    );
    (r, context)
}

fn debugfs_cat(image: &Path, file: &str) -> String {
    run(Command::new("debugfs")
        .arg("-R")
        .arg(format!("cat {file}"))
        .arg(image))
}

fn md5(bytes: &[u8]) -> String {
    let path = temp_path("md5-input");
    std::fs::write(&path, bytes).unwrap();
    let out = run(Command::new("md5sum").arg(&path));
    let _ = std::fs::remove_file(path);
    out.split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn debian_boots_from_an_ext4_root_drive_and_its_writes_reach_the_images() {
    let images = make_images("blk-rw");
    let data_before = std::fs::read(&images.data).unwrap();
    let (r, context) = boot("blk-rw", &images, false);
    for line in [
        "RVNEST-SWITCH-ROOT /dev/vda",
        "ROOT-MOUNT /dev/vda / ext4 rw",
        "HOST-FILE made on the host",
        "SERIAL rootfs",
        "ROOT-WRITTEN",
        "DATA-WRITTEN",
        "RNG-CURRENT virtio_rng.0",
        "HWRNG-BYTES 32",
    ] {
        assert!(r.stdout.contains(line), "missing {line:?}\n{context}");
    }
    assert!(
        r.stdout.contains("root=/dev/vda rw"),
        "the root drive's arguments are on the command line\n{context}"
    );
    // The guest read the data drive's first MiB as the host wrote it.
    let expected = format!("DATA-MD5 {}", md5(&data_before));
    assert!(
        r.stdout.contains(&expected),
        "missing {expected:?}\n{context}"
    );

    assert_eq!(
        debugfs_cat(&images.root, "/from-guest.txt"),
        "written by the guest\n"
    );
    let data_after = std::fs::read(&images.data).unwrap();
    let written: Vec<u8> = b"rvnest\n".iter().copied().cycle().take(8192).collect();
    assert_eq!(data_after[65536..65536 + 8192], written[..]);
    assert_eq!(data_after[..65536], data_before[..65536]);
    assert_eq!(data_after[65536 + 8192..], data_before[65536 + 8192..]);
    eprintln!(
        "booted from the ext4 drive in {:.1} s",
        r.elapsed.as_secs_f64()
    );
}

#[test]
fn a_read_only_root_drive_refuses_the_guests_writes() {
    let images = make_images("blk-ro");
    let before = std::fs::read(&images.root).unwrap();
    let (r, context) = boot("blk-ro", &images, true);
    for line in [
        "RVNEST-SWITCH-ROOT /dev/vda",
        "ROOT-MOUNT /dev/vda / ext4 ro",
        "HOST-FILE made on the host",
        "ROOT-WRITE-REFUSED",
    ] {
        assert!(r.stdout.contains(line), "missing {line:?}\n{context}");
    }
    assert!(r.stdout.contains("root=/dev/vda ro"), "{context}");
    assert!(
        std::fs::read(&images.root).unwrap() == before,
        "the read-only image changed\n{context}"
    );
}

#[test]
fn unusable_drives_stop_rvnest_before_the_vm_exists() {
    let images = make_images("blk-bad");
    let missing = temp_path("blk-missing.img");
    for (drives, expected) in [
        (
            format!(
                r#"[{{"drive_id": "a", "path_on_host": "{}", "is_root_device": true}}]"#,
                missing.display()
            ),
            "(drives[0].path_on_host): No such file or directory",
        ),
        (
            format!(
                r#"[{{"drive_id": "a", "path_on_host": "{}", "is_root_device": true}}]"#,
                images.tree.display()
            ),
            "(drives[0].path_on_host): is a directory",
        ),
        (
            format!(
                r#"[{{"drive_id": "a", "path_on_host": "{0}", "is_root_device": true}}, {{"drive_id": "a", "path_on_host": "{0}", "is_root_device": false}}]"#,
                images.data.display()
            ),
            "drives[1].drive_id: duplicate drive_id \"a\"",
        ),
        (
            format!(
                r#"[{{"drive_id": "a", "path_on_host": "{0}", "is_root_device": true}}, {{"drive_id": "b", "path_on_host": "{0}", "is_root_device": true}}]"#,
                images.data.display()
            ),
            "drives[1].is_root_device: only one drive can be the root device",
        ),
    ] {
        let dir = guest_dir();
        let json = format!(
            r#"{{"boot-source": {{"kernel_image_path": "{}"}}, "machine-config": {{"vcpu_count": 1, "mem_size_mib": 64}}, "drives": {drives}}}"#,
            dir.join("Image").display()
        );
        let path = temp_path("blk-bad.json");
        std::fs::write(&path, json).unwrap();
        let r = run_vm(&path, Duration::from_secs(60));
        let _ = std::fs::remove_file(&path);
        assert_eq!(r.code, Some(1), "{expected}: {}", r.stderr);
        assert!(
            r.stderr.contains(expected),
            "want {expected:?} in: {}",
            r.stderr
        );
        assert!(!r.stdout.contains("Linux version"), "no VM may start");
    }
}

/// The guest writes and fsyncs, says so, and rvnest is killed with SIGKILL at once:
/// the data is in the images (configured through the API: PUT /drives, /entropy).
#[test]
fn fsynced_writes_survive_sigkill_of_rvnest() {
    let images = make_images("blk-kill");
    let mut vm = ApiProcess::start("blk-kill", &[]);
    let mut client = vm.client();
    let boot = boot_source_json(
        "rvnest.kvm=0 rvnest.cpuinfo=0 rvnest.init=switch_root \
         rvnest.modules=virtio_mmio,virtio_blk,ext4 rvnest.test=durable",
    );
    let requests = [
        ("/boot-source".to_string(), boot),
        (
            "/machine-config".to_string(),
            r#"{"vcpu_count": 1, "mem_size_mib": 256, "backend": "soft"}"#.to_string(),
        ),
        (
            "/drives/rootfs".to_string(),
            format!(
                r#"{{"drive_id": "rootfs", "path_on_host": "{}", "is_root_device": true, "is_read_only": false, "cache_type": "Writeback"}}"#,
                images.root.display()
            ),
        ),
        (
            "/drives/data".to_string(),
            format!(
                r#"{{"drive_id": "data", "path_on_host": "{}", "is_root_device": false}}"#,
                images.data.display()
            ),
        ),
        ("/entropy".to_string(), "{}".to_string()),
        (
            "/actions".to_string(),
            r#"{"action_type": "InstanceStart"}"#.to_string(),
        ),
    ];
    for (path, body) in &requests {
        let r = client
            .request("PUT", path, Some(body.as_bytes()))
            .expect("PUT");
        assert_eq!(r.status, 204, "PUT {path}: {}", r.text());
    }
    vm.wait_for_output("DURABLE-WRITTEN", LIMIT);
    let killed = Command::new("kill")
        .args(["-KILL", &vm.pid().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    assert_eq!(
        vm.wait_exit(Duration::from_secs(10)),
        None,
        "killed by a signal"
    );

    let data = std::fs::read(&images.data).unwrap();
    let expected: Vec<u8> = b"durable\n".iter().copied().cycle().take(4096).collect();
    assert_eq!(data[..4096], expected[..], "the data drive's first block");
    // Replay the journal the guest left (the file system was not unmounted).
    let fsck = Command::new("e2fsck")
        .args(["-fy"])
        .arg(&images.root)
        .output()
        .expect("e2fsck");
    assert!(
        fsck.status.code().is_some_and(|c| c <= 1),
        "e2fsck: {}",
        String::from_utf8_lossy(&fsck.stdout)
    );
    assert_eq!(
        debugfs_cat(&images.root, "/durable.txt"),
        "made durable by fsync\n"
    );
}
