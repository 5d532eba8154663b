//! virtio-net end to end, inside a network namespace this test makes: a TAP device
//! with the host's address, rvnest started in the namespace, Debian's kernel on an
//! ext4 root drive whose init brings up eth0, pings the host side, sends it 100 MiB
//! over TCP and receives 100 MiB from it; each side's checksum is compared with the
//! other's. The offloads the TAP takes (checksums, TSO) are negotiated. Nothing
//! outside the namespace is touched.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use e2e::{guest_dir, rvnest_binary, sh, temp_path};

const HOST_IP: &str = "10.213.0.1";
const GUEST_IP: &str = "10.213.0.2";
const PORT: u16 = 5000;
/// The guest's listening port for the host-to-guest transfer.
const GUEST_PORT: u16 = 5001;
/// Each transfer: [`CHUNKS`] times the same 1 MiB of random bytes.
const CHUNKS: usize = 100;
const BLOB: usize = CHUNKS << 20;
/// virtio-net feature bits the guest must have accepted (in the virtio bus's
/// `features` string, bit 0 first): CSUM, GUEST_CSUM, GUEST_TSO4, GUEST_TSO6,
/// HOST_TSO4, HOST_TSO6.
const OFFLOAD_BITS: [usize; 6] = [0, 1, 7, 8, 11, 12];

const ROOT_INIT: &str = r#"#!/bin/sh
export PATH=/bin
busybox mount -t proc proc /proc
busybox mount -t sysfs sysfs /sys
busybox ip link set lo up
busybox ip link set eth0 up
busybox ip addr add GUEST_IP/24 dev eth0
echo "GUEST-MAC $(busybox cat /sys/class/net/eth0/address)"
echo "GUEST-FEATURES $(busybox cat /sys/class/net/eth0/device/features)"
busybox ping -c 3 -W 5 HOST_IP && echo PING-OK
busybox dd if=/dev/urandom of=/chunk bs=65536 count=16 2>/dev/null
stream() { i=0; while [ $i -lt CHUNKS ]; do busybox cat /chunk; i=$((i + 1)); done; }
echo "GUEST-MD5 $(stream | busybox md5sum | busybox cut -d' ' -f1)"
stream | busybox nc HOST_IP PORT && echo TCP-SENT
echo "GUEST-RECEIVED-MD5 $(busybox nc -l -p GUEST_PORT | busybox md5sum | busybox cut -d' ' -f1)"
busybox poweroff -f
"#;

/// A network namespace with a TAP device, deleted on drop.
struct Namespace(String);

impl Namespace {
    fn new(test: &str) -> Namespace {
        let name = format!("rvnest-{test}-{}", std::process::id());
        let ns = Namespace(name.clone());
        sh(&format!(
            "ip netns add {name} && ip -n {name} link set lo up && \
             ip -n {name} tuntap add dev tap0 mode tap && \
             ip -n {name} addr add {HOST_IP}/24 dev tap0 && ip -n {name} link set tap0 up"
        ));
        ns
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn root_image(name: &str) -> (PathBuf, PathBuf) {
    let tree = temp_path(&format!("{name}-tree"));
    for dir in ["bin", "sbin", "dev", "proc", "sys", "tmp"] {
        std::fs::create_dir_all(tree.join(dir)).unwrap();
    }
    std::fs::copy(guest_dir().join("busybox"), tree.join("bin/busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", tree.join("bin/sh")).unwrap();
    let init = ROOT_INIT
        .replace("GUEST_IP", GUEST_IP)
        .replace("HOST_IP", HOST_IP)
        .replace("GUEST_PORT", &GUEST_PORT.to_string())
        .replace("PORT", &PORT.to_string())
        .replace("CHUNKS", &CHUNKS.to_string());
    std::fs::write(tree.join("sbin/init"), init).unwrap();
    sh(&format!("chmod 0755 {}/sbin/init", tree.display()));
    let image = temp_path(&format!("{name}-root.ext4"));
    let file = std::fs::File::create(&image).unwrap();
    file.set_len(64 << 20).unwrap();
    sh(&format!(
        "mkfs.ext4 -q -F -d {} {}",
        tree.display(),
        image.display()
    ));
    (image, tree)
}

/// The host side of the namespace: receives exactly [`BLOB`] bytes and prints their
/// MD5, then connects to the guest's listener and sends it [`CHUNKS`] times 1 MiB of
/// seeded random bytes, printing their MD5. Each with its rate in MB/s.
/// Arguments: host address, port, bytes, guest address, guest port, chunks.
const HOST_SIDE: &str = r#"
import hashlib, random, socket, sys, time
host, port, size, guest, guest_port, chunks = sys.argv[1:7]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((host, int(port)))
s.listen(1)
print("LISTENING", flush=True)
c, _ = s.accept()
h = hashlib.md5()
n = 0
start = time.monotonic()
while n < int(size):
    d = c.recv(1 << 20)
    if not d:
        break
    h.update(d)
    n += len(d)
rate = n / (time.monotonic() - start) / 1e6
c.close()
print("HOST-MD5", h.hexdigest(), n, flush=True)
print("GUEST-TO-HOST-MBPS %.1f" % rate, flush=True)
chunk = random.Random(7).randbytes(1 << 20)
deadline = time.monotonic() + 120
while True:
    try:
        c = socket.create_connection((guest, int(guest_port)), timeout=5)
        break
    except OSError:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.2)
c.settimeout(300)
h = hashlib.md5()
start = time.monotonic()
for _ in range(int(chunks)):
    c.sendall(chunk)
    h.update(chunk)
c.shutdown(socket.SHUT_WR)
c.recv(1)
rate = int(chunks) * len(chunk) / (time.monotonic() - start) / 1e6
c.close()
print("HOST-SENT-MD5", h.hexdigest(), flush=True)
print("HOST-TO-GUEST-MBPS %.1f" % rate, flush=True)
"#;

#[test]
fn the_guest_pings_and_sends_tcp_through_a_tap_in_a_namespace() {
    let ns = Namespace::new("net");
    let (image, tree) = root_image("net");
    let mut receiver = Command::new("ip")
        .args(["netns", "exec", &ns.0, "python3", "-c", HOST_SIDE, HOST_IP])
        .arg(PORT.to_string())
        .arg(BLOB.to_string())
        .args([GUEST_IP, &GUEST_PORT.to_string(), &CHUNKS.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 receiver");
    let mut receiver_out = receiver.stdout.take().expect("stdout");
    let mut first = [0u8; 10];
    receiver_out
        .read_exact(&mut first)
        .expect("receiver listening");
    assert_eq!(&first, b"LISTENING\n");

    let dir = guest_dir();
    let config = format!(
        r#"{{
  "boot-source": {{
    "kernel_image_path": "{kernel}",
    "initrd_path": "{initrd}",
    "boot_args": "console=ttyS0 earlycon=sbi panic=-1 rvnest.kvm=0 rvnest.cpuinfo=0 rvnest.init=switch_root rvnest.modules=virtio_mmio,virtio_blk,ext4,virtio_net"
  }},
  "machine-config": {{ "vcpu_count": 1, "mem_size_mib": 256, "backend": "soft" }},
  "drives": [{{ "drive_id": "rootfs", "path_on_host": "{root}", "is_root_device": true }}],
  "network-interfaces": [{{ "iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "06:00:0a:d5:00:02" }}]
}}"#,
        kernel = dir.join("Image").display(),
        initrd = dir.join("initramfs.cpio.gz").display(),
        root = image.display(),
    );
    let config_path = temp_path("net.json");
    std::fs::write(&config_path, config).unwrap();
    let vm = Command::new("timeout")
        .args(["600", "ip", "netns", "exec", &ns.0])
        .arg(rvnest_binary())
        .arg("--config-file")
        .arg(&config_path)
        .stdin(Stdio::null())
        .output()
        .expect("rvnest");
    let stdout = String::from_utf8_lossy(&vm.stdout).into_owned();
    let context = format!(
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&vm.stderr)
    );
    let mut host = String::new();
    if vm.status.success() {
        let _ = receiver_out.read_to_string(&mut host);
    }
    let _ = receiver.kill();
    let _ = receiver.wait();
    let _ = std::fs::remove_file(&config_path);
    let _ = std::fs::remove_file(&image);
    let _ = std::fs::remove_dir_all(&tree);

    assert_eq!(vm.status.code(), Some(0), "{context}");
    for line in ["GUEST-MAC 06:00:0a:d5:00:02", "PING-OK", "TCP-SENT"] {
        assert!(stdout.contains(line), "missing {line:?}\n{context}");
    }
    let guest_md5 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("GUEST-MD5 "))
        .map(str::trim)
        .unwrap_or_default()
        .to_string();
    assert_eq!(guest_md5.len(), 32, "{context}");
    assert!(
        host.contains(&format!("HOST-MD5 {guest_md5} {BLOB}\n")),
        "host side: {host}\n{context}"
    );
    let field = |text: &str, key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    };
    let sent = field(&host, "HOST-SENT-MD5 ");
    assert_eq!(sent.len(), 32, "host side: {host}\n{context}");
    assert_eq!(
        field(&stdout, "GUEST-RECEIVED-MD5 "),
        sent,
        "host to guest\n{context}"
    );
    let features = field(&stdout, "GUEST-FEATURES ");
    for bit in OFFLOAD_BITS {
        assert_eq!(
            features.as_bytes().get(bit),
            Some(&b'1'),
            "feature bit {bit} not negotiated: {features}"
        );
    }
    eprintln!(
        "net: 100 MiB guest->host {} MB/s, host->guest {} MB/s",
        field(&host, "GUEST-TO-HOST-MBPS "),
        field(&host, "HOST-TO-GUEST-MBPS ")
    );
}

#[test]
fn a_missing_tap_is_refused_before_the_vm_exists() {
    let ns = Namespace::new("notap");
    let dir = guest_dir();
    let config = format!(
        r#"{{"boot-source": {{"kernel_image_path": "{}"}}, "machine-config": {{"vcpu_count": 1, "mem_size_mib": 64}},
  "network-interfaces": [{{"iface_id": "eth0", "host_dev_name": "tap9"}}]}}"#,
        dir.join("Image").display()
    );
    let path = temp_path("net-missing.json");
    std::fs::write(&path, config).unwrap();
    let out = Command::new("ip")
        .args(["netns", "exec", &ns.0])
        .arg(rvnest_binary())
        .arg("--config-file")
        .arg(&path)
        .stdin(Stdio::null())
        .output()
        .expect("rvnest");
    let _ = std::fs::remove_file(&path);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("network interface eth0: there is no TAP device \"tap9\""),
        "{stderr}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("Linux version"));
}
