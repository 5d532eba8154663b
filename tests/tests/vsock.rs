//! virtio-vsock end to end with Firecracker's host side: Debian's kernel with its
//! vsock transport module, on an ext4 root drive holding a small vsock program built
//! with the riscv64 cross compiler (tests/guest/vsock-test.c).
//!
//! - host to guest: the test connects to the device's Unix socket, sends
//!   `CONNECT 5000`, gets `OK <port>`, and exchanges 1 MiB with the guest's echo
//!   listener (both directions at once, compared byte for byte);
//! - guest to host: the guest connects to host port 6000, which is the Unix socket
//!   `<uds_path>_6000` the test listens on, sends 1 MiB of a known stream and reads
//!   the test's answer.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use e2e::{guest_dir, rvnest_binary, sh, temp_path, workspace_root};

const GUEST_PORT: u32 = 5000;
const HOST_PORT: u32 = 6000;
const LEN: usize = 1 << 20;
const LIMIT: Duration = Duration::from_secs(600);

const ROOT_INIT: &str = r#"#!/bin/sh
export PATH=/bin
busybox mount -t proc proc /proc
/bin/vsock-test listen GUEST_PORT
/bin/vsock-test connect HOST_PORT LEN
busybox poweroff -f
"#;

/// An ext4 root image with busybox, the vsock program and the init above.
fn root_image(name: &str) -> (PathBuf, PathBuf) {
    let tree = temp_path(&format!("{name}-tree"));
    for dir in ["bin", "sbin", "dev", "proc", "sys", "tmp"] {
        std::fs::create_dir_all(tree.join(dir)).unwrap();
    }
    std::fs::copy(guest_dir().join("busybox"), tree.join("bin/busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", tree.join("bin/sh")).unwrap();
    let source = workspace_root().join("tests/guest/vsock-test.c");
    sh(&format!(
        "riscv64-linux-gnu-gcc -static -O2 -Wall -o {}/bin/vsock-test {}",
        tree.display(),
        source.display()
    ));
    let init = ROOT_INIT
        .replace("GUEST_PORT", &GUEST_PORT.to_string())
        .replace("HOST_PORT", &HOST_PORT.to_string())
        .replace("LEN", &LEN.to_string());
    std::fs::write(tree.join("sbin/init"), init).unwrap();
    sh(&format!("chmod 0755 {}/sbin/init", tree.display()));
    let image = temp_path(&format!("{name}-root.ext4"));
    let file = std::fs::File::create(&image).unwrap();
    file.set_len(32 << 20).unwrap();
    sh(&format!(
        "mkfs.ext4 -q -F -d {} {}",
        tree.display(),
        image.display()
    ));
    (image, tree)
}

/// The guest program's byte stream (xorshift32, low byte of each step).
fn guest_stream(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// The guest's echo checksum of `data` (`sum = sum * 31 + byte`, 64-bit).
fn checksum(data: &[u8]) -> u64 {
    data.iter().fold(0u64, |sum, b| {
        sum.wrapping_mul(31).wrapping_add(u64::from(*b))
    })
}

/// Host to guest: CONNECT, OK, then `LEN` bytes out and back at once.
fn exchange_with_guest(uds: &Path) -> Result<Vec<u8>, String> {
    let mut stream = UnixStream::connect(uds).map_err(|e| format!("connect: {e}"))?;
    stream.set_read_timeout(Some(LIMIT)).ok();
    stream
        .write_all(format!("CONNECT {GUEST_PORT}\n").as_bytes())
        .map_err(|e| format!("CONNECT: {e}"))?;
    let mut line = Vec::new();
    let mut byte = [0u8];
    while byte[0] != b'\n' {
        stream
            .read_exact(&mut byte)
            .map_err(|e| format!("no OK line (got {line:?}): {e}"))?;
        line.push(byte[0]);
    }
    let line = String::from_utf8_lossy(&line).into_owned();
    let port: u32 = line
        .strip_prefix("OK ")
        .and_then(|p| p.trim().parse().ok())
        .ok_or_else(|| format!("bad answer {line:?}"))?;
    if port == 0 {
        return Err(format!("bad host port in {line:?}"));
    }
    let data: Vec<u8> = (0..LEN).map(|i| (i * 7 + i / 4093) as u8).collect();
    let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
    let sent = data.clone();
    let sender = std::thread::spawn(move || {
        for chunk in sent.chunks(50_000) {
            writer.write_all(chunk)?;
        }
        writer.shutdown(std::net::Shutdown::Write)
    });
    let mut echoed = Vec::new();
    stream
        .read_to_end(&mut echoed)
        .map_err(|e| format!("reading the echo: {e}"))?;
    sender
        .join()
        .map_err(|_| "sender panicked".to_string())?
        .map_err(|e| format!("sending: {e}"))?;
    if echoed != data {
        return Err(format!(
            "echo differs: {} bytes back of {}, first difference at {:?}",
            echoed.len(),
            data.len(),
            echoed.iter().zip(&data).position(|(a, b)| a != b)
        ));
    }
    Ok(data)
}

/// Guest to host: one connection on `<uds>_6000`; answers with what arrived.
fn serve_guest(listener: UnixListener) -> Result<String, String> {
    let (mut stream, _) = listener.accept().map_err(|e| format!("accept: {e}"))?;
    stream.set_read_timeout(Some(LIMIT)).ok();
    let mut got = Vec::new();
    stream
        .read_to_end(&mut got)
        .map_err(|e| format!("reading the guest's bytes: {e}"))?;
    let intact = got == guest_stream(LEN);
    let answer = format!("HOST-GOT {} intact={intact}\n", got.len());
    stream
        .write_all(answer.as_bytes())
        .map_err(|e| format!("answering: {e}"))?;
    Ok(answer)
}

#[test]
fn host_and_guest_connect_both_ways_through_the_unix_socket() {
    let (image, tree) = root_image("vsock");
    let uds = temp_path("vsock.sock");
    let guest_side = PathBuf::from(format!("{}_{HOST_PORT}", uds.display()));
    let _ = std::fs::remove_file(&uds);
    let _ = std::fs::remove_file(&guest_side);
    let listener = UnixListener::bind(&guest_side).expect("host listener");
    let server = std::thread::spawn(move || serve_guest(listener));

    let dir = guest_dir();
    let config = format!(
        r#"{{
  "boot-source": {{
    "kernel_image_path": "{kernel}",
    "initrd_path": "{initrd}",
    "boot_args": "console=ttyS0 earlycon=sbi panic=-1 rvnest.kvm=0 rvnest.cpuinfo=0 rvnest.init=switch_root rvnest.modules=virtio_mmio,virtio_blk,ext4,vmw_vsock_virtio_transport"
  }},
  "machine-config": {{ "vcpu_count": 1, "mem_size_mib": 256, "backend": "soft" }},
  "drives": [{{ "drive_id": "rootfs", "path_on_host": "{root}", "is_root_device": true }}],
  "vsock": {{ "guest_cid": 3, "uds_path": "{uds}" }}
}}"#,
        kernel = dir.join("Image").display(),
        initrd = dir.join("initramfs.cpio.gz").display(),
        root = image.display(),
        uds = uds.display(),
    );
    let config_path = temp_path("vsock.json");
    std::fs::write(&config_path, config).unwrap();
    let mut vm = Command::new("timeout")
        .arg(LIMIT.as_secs().to_string())
        .arg(rvnest_binary())
        .arg("--config-file")
        .arg(&config_path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rvnest");
    let (lines_tx, lines_rx) = mpsc::channel::<String>();
    let stdout = vm.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            all.push_str(&line);
            all.push('\n');
            let _ = lines_tx.send(line);
        }
        all
    });
    let listening = lines_rx
        .iter()
        .any(|line| line.contains(&format!("VSOCK-LISTENING {GUEST_PORT}")));
    let host_to_guest = if listening {
        exchange_with_guest(&uds)
    } else {
        Err("the guest never listened".into())
    };
    let status = vm.wait().expect("rvnest exit");
    let stdout = reader.join().unwrap_or_default();
    let mut stderr = String::new();
    if let Some(mut err) = vm.stderr.take() {
        let _ = err.read_to_string(&mut stderr);
    }
    let context = format!("stdout:\n{stdout}\nstderr:\n{stderr}");
    let _ = std::fs::remove_file(&config_path);
    let _ = std::fs::remove_file(&image);
    let _ = std::fs::remove_dir_all(&tree);
    let _ = std::fs::remove_file(&guest_side);

    let data = host_to_guest.unwrap_or_else(|e| panic!("host to guest: {e}\n{context}"));
    assert!(
        stdout.contains(&format!("VSOCK-ECHOED {LEN} {}", checksum(&data))),
        "the guest's count and checksum\n{context}"
    );
    let expected = format!("HOST-GOT {LEN} intact=true");
    assert!(
        stdout.contains(&format!("VSOCK-REPLY {expected}")),
        "guest to host\n{context}"
    );
    if server.is_finished() {
        let answer = server.join().expect("server thread");
        assert_eq!(answer.as_deref().map(str::trim), Ok(expected.as_str()));
    }
    assert_eq!(status.code(), Some(0), "{context}");
    assert!(!uds.exists(), "rvnest removes its socket at exit");
}

#[test]
fn a_vsock_socket_path_that_is_taken_is_refused_before_the_vm_exists() {
    let uds = temp_path("vsock-taken.sock");
    let _ = std::fs::remove_file(&uds);
    let _holder = UnixListener::bind(&uds).expect("someone else's socket");
    let dir = guest_dir();
    let config = format!(
        r#"{{"boot-source": {{"kernel_image_path": "{}"}}, "machine-config": {{"vcpu_count": 1, "mem_size_mib": 64}},
  "vsock": {{"guest_cid": 3, "uds_path": "{}"}}}}"#,
        dir.join("Image").display(),
        uds.display()
    );
    let path = temp_path("vsock-taken.json");
    std::fs::write(&path, config).unwrap();
    let out = Command::new(rvnest_binary())
        .arg("--config-file")
        .arg(&path)
        .stdin(Stdio::null())
        .output()
        .expect("rvnest");
    let _ = std::fs::remove_file(&path);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("vsock: uds_path {} is taken", uds.display())),
        "{stderr}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("Linux version"));
    assert!(uds.exists(), "someone else's socket stays");
    let _ = std::fs::remove_file(&uds);
}
