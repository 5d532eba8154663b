//! Bad input to a live API socket while a guest runs: each client gets its own
//! error, the VM keeps running, and nothing leaks over 10,000 requests.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use api::types::{ApiError, InstanceState};
use e2e::{ApiProcess, boot_source_json};

const BOOT_LIMIT: Duration = Duration::from_secs(300);
/// Debian's kernel reserves 128 MiB for CMA: give it room.
const GUEST_MIB: u64 = 288;

/// An idle guest at a shell prompt, started through the API.
fn running_vm(name: &str) -> ApiProcess {
    let mut vm = ApiProcess::start(name, &[]);
    let mut client = vm.client();
    let boot = boot_source_json("rvnest.init=shell rvnest.kvm=0 rvnest.cpuinfo=0");
    let r = client
        .request("PUT", "/boot-source", Some(boot.as_bytes()))
        .expect("PUT /boot-source");
    assert_eq!(r.status, 204, "{}", r.text());
    let machine = format!(r#"{{"vcpu_count": 1, "mem_size_mib": {GUEST_MIB}, "backend": "soft"}}"#);
    let r = client
        .request("PUT", "/machine-config", Some(machine.as_bytes()))
        .expect("PUT /machine-config");
    assert_eq!(r.status, 204, "{}", r.text());
    let r = client
        .request(
            "PUT",
            "/actions",
            Some(br#"{"action_type": "InstanceStart"}"#),
        )
        .expect("InstanceStart");
    assert_eq!(r.status, 204, "{}", r.text());
    vm.wait_for_output("RVNEST-SHELL", BOOT_LIMIT);
    vm
}

/// Sends raw bytes on a fresh connection, closes its sending side, and returns
/// everything the server sends until it closes the connection.
fn raw_exchange(socket: &Path, bytes: &[u8]) -> String {
    let mut stream = UnixStream::connect(socket).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream.write_all(bytes).expect("write");
    // A one-shot client: nothing more to send.
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// (status, fault_message) of a one-shot request.
fn exchange(socket: &Path, method: &str, path: &str, body: &[u8]) -> (u16, String) {
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    let text = raw_exchange(socket, &request);
    parse_answer(&text)
}

fn parse_answer(text: &str) -> (u16, String) {
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {text:?}"));
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    let fault = serde_json::from_str::<ApiError>(body)
        .map(|e| e.fault_message)
        .unwrap_or_default();
    (status, fault)
}

/// The requests every bad-input check sends, with the status and the start of the
/// fault message each must get.
fn bad_requests() -> Vec<(&'static str, &'static str, Vec<u8>, u16, &'static str)> {
    vec![
        (
            "PUT",
            "/machine-config",
            b"{\"vcpu_count\": 1,".to_vec(),
            400,
            "Invalid request body: JSON syntax error",
        ),
        (
            "PUT",
            "/machine-config",
            br#"{"vcpu_count": 1, "mem_size_mib": 64, "smt_enabled": true}"#.to_vec(),
            400,
            "Invalid request body: unknown field \"smt_enabled\" in machine-config",
        ),
        (
            "PUT",
            "/machine-config",
            br#"{"vcpu_count": "two", "mem_size_mib": 64}"#.to_vec(),
            400,
            "Invalid request body: machine-config.vcpu_count: invalid type: string",
        ),
        (
            "PATCH",
            "/vm",
            br#"{"state": "Frozen"}"#.to_vec(),
            400,
            "Invalid request body: state: unknown variant `Frozen`",
        ),
        (
            "PUT",
            "/actions",
            br#"["InstanceStart"]"#.to_vec(),
            400,
            "Invalid request body: top level: invalid type: array",
        ),
        ("PUT", "/actions", Vec::new(), 400, "Missing request body"),
        (
            "GET",
            "/balloon/statistics",
            Vec::new(),
            404,
            "Unknown path /balloon/statistics",
        ),
        (
            "POST",
            "/actions",
            br#"{"action_type": "InstanceStart"}"#.to_vec(),
            405,
            "Method POST is not allowed on /actions",
        ),
        (
            "DELETE",
            "/",
            Vec::new(),
            405,
            "Method DELETE is not allowed on /",
        ),
        (
            "PUT",
            "/boot-source",
            vec![b' '; 60_000],
            413,
            "Request body of 60000 bytes is larger than the limit of 51200 bytes",
        ),
        (
            "PUT",
            "/actions",
            br#"{"action_type": "InstanceStart"}"#.to_vec(),
            409,
            "The VM has already started",
        ),
        (
            "PUT",
            "/machine-config",
            br#"{"vcpu_count": 1, "mem_size_mib": 64}"#.to_vec(),
            409,
            "PUT /machine-config is only allowed before InstanceStart",
        ),
    ]
}

fn assert_still_running(vm: &mut ApiProcess) {
    assert!(vm.is_running(), "rvnest died: {}", vm.stderr());
    let mut client = vm.client();
    assert_eq!(
        client.instance_info().expect("GET /").state,
        InstanceState::Running
    );
    let before = client.counters().expect("counters").vcpus[0].instructions;
    std::thread::sleep(Duration::from_millis(100));
    let after = client.counters().expect("counters").vcpus[0].instructions;
    assert!(
        after > before,
        "the guest should keep executing ({before} -> {after})"
    );
}

#[test]
fn bad_input_gets_its_error_and_the_vm_keeps_running() {
    let mut vm = running_vm("bad-input");
    let socket = vm.socket.clone();

    for (method, path, body, status, fault) in bad_requests() {
        let (got, message) = exchange(&socket, method, path, &body);
        assert_eq!(got, status, "{method} {path}: {message}");
        assert!(
            message.starts_with(fault),
            "{method} {path}: {message:?}, want {fault:?}"
        );
    }
    let answer = raw_exchange(&socket, b"DELETE /vm HTTP/1.1\r\nConnection: close\r\n\r\n");
    assert!(answer.contains("\r\nAllow: PATCH\r\n"), "{answer}");

    // Not HTTP at all, and framing the server refuses.
    let (status, _) = parse_answer(&raw_exchange(
        &socket,
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
    ));
    assert_eq!(status, 400);
    let (status, fault) = parse_answer(&raw_exchange(
        &socket,
        b"PUT /actions HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ));
    assert_eq!(status, 501, "{fault}");
    let huge_header = format!("GET / HTTP/1.1\r\nX-Junk: {}\r\n\r\n", "j".repeat(10_000));
    assert_eq!(
        parse_answer(&raw_exchange(&socket, huge_header.as_bytes())).0,
        431
    );

    // A client that connects and sends nothing, and one that stops mid-request, hold
    // nobody up.
    let silent = UnixStream::connect(&socket).expect("silent client");
    let mut half = UnixStream::connect(&socket).expect("half client");
    half.write_all(b"PUT /actions HTTP/1.1\r\nContent-Length: 40\r\n\r\n{\"act")
        .expect("write half");
    let start = Instant::now();
    assert_eq!(
        vm.client().instance_info().expect("GET /").state,
        InstanceState::Running
    );
    assert!(start.elapsed() < Duration::from_secs(1));
    drop(half);
    drop(silent);

    // 50 concurrent clients, each with its own bad (or good) request.
    let cases = bad_requests();
    let threads: Vec<_> = (0..50)
        .map(|i| {
            let socket = socket.clone();
            let (method, path, body, status, fault) = cases[i % cases.len()].clone();
            std::thread::spawn(move || {
                for _ in 0..5 {
                    let (got, message) = exchange(&socket, method, path, &body);
                    assert_eq!(got, status, "client {i}: {method} {path}: {message}");
                    assert!(message.starts_with(fault), "client {i}: {message}");
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("client thread");
    }

    assert_still_running(&mut vm);
}

#[test]
fn ten_thousand_requests_leak_no_descriptor_or_memory() {
    let mut vm = running_vm("leaks");
    let socket = vm.socket.clone();
    let cases = bad_requests();
    let run = |count: usize| {
        let mut client = vm.client();
        for i in 0..count {
            match i % 10 {
                // Kept-alive requests on one connection.
                0..=3 => {
                    let r = client.request("GET", "/", None).expect("GET /");
                    assert_eq!(r.status, 200);
                }
                4 => {
                    let r = client
                        .request("GET", "/vm/counters", None)
                        .expect("counters");
                    assert_eq!(r.status, 200);
                }
                5 => {
                    let r = client.request("GET", "/nope", None).expect("404");
                    assert_eq!(r.status, 404);
                }
                6 => {
                    let r = client.request("PUT", "/vm", Some(b"{")).expect("405");
                    assert_eq!(r.status, 405);
                }
                // One-shot connections with bad requests, some refused at the
                // framing level (413 closes the connection).
                _ => {
                    let (method, path, body, status, _) = &cases[i % cases.len()];
                    assert_eq!(exchange(&socket, method, path, body).0, *status);
                }
            }
        }
    };
    // Warm up: allocator pools, the kernel's socket buffers, lazily built tables.
    run(1_000);
    std::thread::sleep(Duration::from_millis(200));
    let fds = vm.fd_count();
    let rss = vm.rss_kib_without_guest(GUEST_MIB);
    run(10_000);
    std::thread::sleep(Duration::from_millis(200));
    let fds_after = vm.fd_count();
    let rss_after = vm.rss_kib_without_guest(GUEST_MIB);
    eprintln!("fds {fds} -> {fds_after}, RSS without guest RAM {rss} -> {rss_after} KiB");
    assert_eq!(fds_after, fds, "file descriptors leaked");
    assert!(
        rss_after <= rss + 2048,
        "RSS grew from {rss} to {rss_after} KiB over 10,000 requests"
    );
    assert_still_running(&mut vm);
}
