//! The server over a real socket, with a handler that answers without a VMM.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::*;
use crate::client::Client;
use crate::types::{InstanceInfo, InstanceState};

/// A server on a fresh socket; removed on drop.
struct TestServer {
    server: Option<ApiServer>,
    path: PathBuf,
}

impl TestServer {
    fn new(options: ServerOptions) -> TestServer {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "rvnest-api-test-{}-{}.sock",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let listener = bind(&path).expect("bind");
        let handler = |request: ApiRequest| match request {
            ApiRequest::GetInstanceInfo => ApiResponse::ok(&InstanceInfo {
                id: "test".into(),
                state: InstanceState::NotStarted,
                vmm_version: "0".into(),
                app_name: "rvnest".into(),
            }),
            ApiRequest::SetVmState(_) => ApiResponse::error(409, "The VM is not started"),
            ApiRequest::Action(crate::types::ActionType::Shutdown) => {
                ApiResponse::no_content().and_stop_serving()
            }
            _ => ApiResponse::no_content(),
        };
        let server = ApiServer::start(listener, &path, options, handler).expect("start");
        TestServer {
            server: Some(server),
            path,
        }
    }

    fn client(&self) -> Client {
        Client::new(&self.path).with_timeout(Duration::from_secs(5))
    }

    fn raw(&self) -> UnixStream {
        let stream = UnixStream::connect(&self.path).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        stream
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown();
        }
        assert!(!self.path.exists(), "socket file left behind");
    }
}

/// Everything the server sends until it closes the connection.
fn read_to_close(stream: &mut UnixStream) -> String {
    let mut out = Vec::new();
    let _ = stream.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn answers_and_keeps_the_connection() {
    let server = TestServer::new(ServerOptions::default());
    let mut client = server.client();
    for _ in 0..3 {
        let info = client.instance_info().expect("GET /");
        assert_eq!(info.id, "test");
    }
    let r = client
        .request(
            "PUT",
            "/actions",
            Some(br#"{"action_type": "FlushMetrics"}"#),
        )
        .expect("PUT");
    assert_eq!((r.status, r.body.len()), (204, 0));
    let r = client
        .request("PATCH", "/vm", Some(br#"{"state": "Paused"}"#))
        .expect("PATCH");
    assert_eq!(r.status, 409);
    assert_eq!(r.fault_message().as_deref(), Some("The VM is not started"));
}

#[test]
fn routing_errors_are_answered_by_the_api_thread() {
    let server = TestServer::new(ServerOptions::default());
    let mut client = server.client();
    let r = client
        .request("GET", "/balloon/statistics", None)
        .expect("404");
    assert_eq!(r.status, 404);
    assert_eq!(
        r.fault_message().as_deref(),
        Some("Unknown path /balloon/statistics")
    );
    let r = client
        .request("PUT", "/machine-config", Some(b"{\"vcpu_count\": 1,"))
        .expect("400");
    assert_eq!(r.status, 400);
    // The connection survives application-level errors.
    let mut raw = server.raw();
    raw.write_all(b"DELETE /vm HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nConnection: close\r\n\r\n")
        .expect("write");
    let text = read_to_close(&mut raw);
    assert!(
        text.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"),
        "{text}"
    );
    assert!(text.contains("\r\nAllow: PATCH\r\n"), "{text}");
    assert!(
        text.contains("HTTP/1.1 200 OK"),
        "pipelined request after 405: {text}"
    );
}

#[test]
fn oversized_bodies_get_413_and_the_connection_closes() {
    let server = TestServer::new(ServerOptions {
        max_body: 100,
        ..ServerOptions::default()
    });
    let mut raw = server.raw();
    let body = vec![b' '; 5000];
    let mut request = b"PUT /boot-source HTTP/1.1\r\nContent-Length: 5000\r\n\r\n".to_vec();
    request.extend_from_slice(&body);
    raw.write_all(&request).expect("write");
    let text = read_to_close(&mut raw);
    assert!(
        text.starts_with("HTTP/1.1 413 Payload Too Large\r\n"),
        "{text}"
    );
    assert!(
        text.ends_with(
            r#"{"fault_message":"Request body of 5000 bytes is larger than the limit of 100 bytes"}"#
        ),
        "{text}"
    );
    // The server still serves others.
    assert!(server.client().instance_info().is_ok());
}

#[test]
fn expect_continue_is_honoured() {
    let server = TestServer::new(ServerOptions::default());
    let mut raw = server.raw();
    raw.write_all(b"PUT /metrics HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 27\r\n\r\n")
        .expect("write head");
    let mut interim = [0u8; 25];
    raw.read_exact(&mut interim).expect("100 Continue");
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    raw.write_all(br#"{"metrics_path": "/tmp/m"} "#)
        .expect("write body");
    let mut answer = [0u8; 23];
    raw.read_exact(&mut answer).expect("answer");
    assert_eq!(&answer, b"HTTP/1.1 204 No Content");
}

#[test]
fn garbage_and_half_requests_do_not_disturb_others() {
    let server = TestServer::new(ServerOptions::default());
    let mut garbage = server.raw();
    garbage
        .write_all(b"\x00\x01\x02 hello\r\n\r\n")
        .expect("write");
    assert!(read_to_close(&mut garbage).starts_with("HTTP/1.1 400 Bad Request"));

    let mut half = server.raw();
    half.write_all(b"PUT /logger HTTP/1.1\r\nContent-Le")
        .expect("write");
    let silent = server.raw();
    let mut client = server.client();
    assert!(client.instance_info().is_ok());
    drop(half);
    drop(silent);
    assert!(client.instance_info().is_ok());
}

#[test]
fn idle_connections_are_closed() {
    let server = TestServer::new(ServerOptions {
        idle_timeout: Duration::from_millis(200),
        ..ServerOptions::default()
    });
    let mut silent = server.raw();
    let start = Instant::now();
    assert_eq!(read_to_close(&mut silent), "");
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(150) && waited < Duration::from_secs(3),
        "closed after {waited:?}"
    );
    // A kept-alive client reconnects transparently.
    let mut client = server.client();
    assert!(client.instance_info().is_ok());
    std::thread::sleep(Duration::from_millis(400));
    assert!(client.instance_info().is_ok());
}

#[test]
fn connections_beyond_the_limit_get_503() {
    let server = TestServer::new(ServerOptions {
        max_connections: 4,
        ..ServerOptions::default()
    });
    let held: Vec<UnixStream> = (0..4).map(|_| server.raw()).collect();
    // Let the server accept those four.
    std::thread::sleep(Duration::from_millis(100));
    let mut extra = server.raw();
    let text = read_to_close(&mut extra);
    assert!(
        text.starts_with("HTTP/1.1 503 Service Unavailable"),
        "{text}"
    );
    drop(held);
    std::thread::sleep(Duration::from_millis(100));
    assert!(server.client().instance_info().is_ok());
}

#[test]
fn concurrent_clients_each_get_their_answer() {
    let server = TestServer::new(ServerOptions::default());
    let threads: Vec<_> = (0..50)
        .map(|i| {
            let mut client = server.client();
            std::thread::spawn(move || {
                for _ in 0..20 {
                    if i % 2 == 0 {
                        assert_eq!(client.instance_info().expect("GET /").id, "test");
                    } else {
                        let r = client.request("GET", "/nope", None).expect("404");
                        assert_eq!(r.status, 404);
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("client thread");
    }
}

#[test]
fn a_live_socket_is_not_stolen_and_a_stale_one_is_replaced() {
    let server = TestServer::new(ServerOptions::default());
    match bind(&server.path) {
        Err(ServerError::Bind { reason, .. }) => {
            assert_eq!(reason, "another process serves this socket")
        }
        other => panic!("bound a live socket: {:?}", other.map(|_| ())),
    }
    let stale = server.path.with_extension("stale");
    drop(UnixListener::bind(&stale).expect("bind stale"));
    let listener = bind(&stale).expect("replace stale socket");
    drop(listener);
    let _ = std::fs::remove_file(&stale);

    let file = server.path.with_extension("file");
    std::fs::write(&file, b"x").expect("write");
    assert!(matches!(bind(&file), Err(ServerError::Bind { .. })));
    let _ = std::fs::remove_file(&file);
}

#[test]
fn vmm_link_carries_requests_and_answers() {
    let (mut link, endpoint) = vmm_channel().expect("channel");
    let vmm = std::thread::spawn(move || {
        let request = endpoint.requests.recv().expect("request");
        // The event follows the request.
        let start = Instant::now();
        while endpoint.event.read().is_err() {
            assert!(start.elapsed() < Duration::from_secs(5), "no event");
            std::thread::yield_now();
        }
        assert_eq!(request, ApiRequest::GetVersion);
        endpoint
            .responses
            .send(ApiResponse::error(409, "No"))
            .expect("answer");
    });
    assert_eq!(link.handle(ApiRequest::GetVersion).status, 409);
    vmm.join().expect("vmm thread");
    // The VMM is gone: 503.
    assert_eq!(link.handle(ApiRequest::GetVersion).status, 503);
}

#[test]
fn the_last_answer_closes_the_socket() {
    let server = TestServer::new(ServerOptions::default());
    let mut kept = server.client();
    assert!(kept.instance_info().is_ok());
    let mut raw = server.raw();
    raw.write_all(
        b"PUT /actions HTTP/1.1\r\nContent-Length: 26\r\n\r\n{\"action_type\":\"Shutdown\"}",
    )
    .expect("write");
    let text = read_to_close(&mut raw);
    assert!(text.starts_with("HTTP/1.1 204 No Content\r\n"), "{text}");
    assert!(text.contains("\r\nConnection: close\r\n"), "{text}");
    assert!(!server.path.exists(), "socket file still there");
    assert!(UnixStream::connect(&server.path).is_err());
    // A connection accepted earlier is still answered.
    assert!(kept.instance_info().is_ok());
}

#[test]
fn only_its_own_socket_file_is_removed() {
    let server = TestServer::new(ServerOptions::default());
    let mut raw = server.raw();
    raw.write_all(
        b"PUT /actions HTTP/1.1\r\nContent-Length: 26\r\n\r\n{\"action_type\":\"Shutdown\"}",
    )
    .expect("write");
    let _ = read_to_close(&mut raw);
    // A newer server binds the same path before the old one is dropped.
    let newer = bind(&server.path).expect("bind again");
    let mut server = server;
    if let Some(old) = server.server.take() {
        old.shutdown();
    }
    assert!(
        server.path.exists(),
        "the old server removed the newer socket"
    );
    drop(newer);
    let _ = std::fs::remove_file(&server.path);
}
