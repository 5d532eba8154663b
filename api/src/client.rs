//! A blocking client of the API over its Unix socket: raw requests, and typed calls
//! for every endpoint. `rvnest-ctl`, the end-to-end tests and the latency benchmark
//! use it. One connection is kept open and reused while the server keeps it.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::{BootSource, LoggerConfig, MachineConfig, MachineConfigUpdate, MetricsConfig};
use crate::http::MAX_HEAD_LEN;
use crate::types::{
    ActionType, ApiError, FullVmConfig, InstanceActionInfo, InstanceInfo, RequestedVmState,
    VersionInfo, VmCounters, VmStateUpdate,
};

/// Largest response body the client accepts.
const MAX_RESPONSE_BODY: usize = 16 << 20;

/// Failures of a client call.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The socket cannot be reached.
    #[error("Cannot connect to {}: {source}", .path.display())]
    Connect {
        /// The socket path.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The connection failed mid-request.
    #[error("API connection failed: {0}")]
    Io(#[from] io::Error),
    /// The answer is not HTTP the client understands.
    #[error("Malformed API response: {0}")]
    Malformed(String),
    /// The server answered with an error status.
    #[error("{message} (HTTP {status})")]
    Api {
        /// The status.
        status: u16,
        /// The `fault_message` (or the raw body if it has none).
        message: String,
    },
    /// A body could not be encoded or decoded.
    #[error("Bad JSON in the API exchange: {0}")]
    Json(#[from] serde_json::Error),
}

/// A raw response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// The body (empty for 204).
    pub body: Vec<u8>,
}

impl Response {
    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The `fault_message` of an error body, if it is one.
    pub fn fault_message(&self) -> Option<String> {
        serde_json::from_slice::<ApiError>(&self.body)
            .ok()
            .map(|e| e.fault_message)
    }

    /// Ok for 2xx, else the API error.
    pub fn into_result(self) -> Result<Response, ClientError> {
        if (200..300).contains(&self.status) {
            Ok(self)
        } else {
            Err(ClientError::Api {
                status: self.status,
                message: self.fault_message().unwrap_or_else(|| self.text()),
            })
        }
    }
}

/// A client of one API socket.
pub struct Client {
    path: PathBuf,
    timeout: Duration,
    stream: Option<UnixStream>,
    buffer: Vec<u8>,
}

impl Client {
    /// A client of the socket at `path` (connects on first use), with a 30 s timeout
    /// per request.
    pub fn new(path: impl AsRef<Path>) -> Client {
        Client {
            path: path.as_ref().to_path_buf(),
            timeout: Duration::from_secs(30),
            stream: None,
            buffer: Vec::new(),
        }
    }

    /// Sets the read/write timeout of each request.
    pub fn with_timeout(mut self, timeout: Duration) -> Client {
        self.timeout = timeout;
        self
    }

    /// Sends one request and reads its response. A kept-alive connection the server
    /// has closed meanwhile (the request could not be written) is replaced once.
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<Response, ClientError> {
        let reused = self.stream.is_some();
        match self.exchange(method, path, body) {
            Err((false, _)) if reused => self.exchange(method, path, body).map_err(|(_, e)| e),
            other => other.map_err(|(_, e)| e),
        }
    }

    fn connect(&mut self) -> Result<&mut UnixStream, ClientError> {
        if self.stream.is_none() {
            let stream =
                UnixStream::connect(&self.path).map_err(|source| ClientError::Connect {
                    path: self.path.clone(),
                    source,
                })?;
            stream.set_read_timeout(Some(self.timeout))?;
            stream.set_write_timeout(Some(self.timeout))?;
            self.buffer.clear();
            self.stream = Some(stream);
        }
        self.stream
            .as_mut()
            .ok_or_else(|| ClientError::Malformed("no connection".into()))
    }

    /// One request; on failure, whether the request was written.
    fn exchange(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
    ) -> Result<Response, (bool, ClientError)> {
        let mut message = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\n").into_bytes();
        if let Some(body) = body {
            message.extend_from_slice(
                format!(
                    "Content-Type: application/json\r\nContent-Length: {}\r\n",
                    body.len()
                )
                .as_bytes(),
            );
        }
        message.extend_from_slice(b"\r\n");
        message.extend_from_slice(body.unwrap_or_default());
        let stream = self.connect().map_err(|e| (false, e))?;
        if let Err(e) = stream.write_all(&message) {
            self.stream = None;
            return Err((false, e.into()));
        }
        self.read_response().map_err(|e| {
            self.stream = None;
            (true, e)
        })
    }

    /// Reads one response (skipping `100 Continue`).
    fn read_response(&mut self) -> Result<Response, ClientError> {
        loop {
            let (status, head_len, body_len, close) = loop {
                if let Some(head) = parse_head(&self.buffer)? {
                    break head;
                }
                if self.buffer.len() > MAX_HEAD_LEN {
                    return Err(ClientError::Malformed("response head too large".into()));
                }
                self.fill()?;
            };
            if status == 100 {
                self.buffer.drain(..head_len);
                continue;
            }
            if body_len > MAX_RESPONSE_BODY {
                return Err(ClientError::Malformed(format!(
                    "response body of {body_len} bytes"
                )));
            }
            while self.buffer.len() < head_len + body_len {
                self.fill()?;
            }
            let body = self.buffer[head_len..head_len + body_len].to_vec();
            self.buffer.drain(..head_len + body_len);
            if close {
                self.stream = None;
            }
            return Ok(Response { status, body });
        }
    }

    fn fill(&mut self) -> Result<(), ClientError> {
        let stream = self
            .stream
            .as_mut()
            .ok_or_else(|| ClientError::Malformed("no connection".into()))?;
        let mut chunk = [0u8; 8192];
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(ClientError::Io(io::ErrorKind::UnexpectedEof.into()));
        }
        self.buffer.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    /// GET `path`, decoded.
    pub fn get<T: DeserializeOwned>(&mut self, path: &str) -> Result<T, ClientError> {
        let response = self.request("GET", path, None)?.into_result()?;
        Ok(serde_json::from_slice(&response.body)?)
    }

    /// `method` `path` with `body` as JSON; Ok on 2xx.
    pub fn send<B: Serialize>(
        &mut self,
        method: &str,
        path: &str,
        body: &B,
    ) -> Result<(), ClientError> {
        let body = serde_json::to_vec(body)?;
        self.request(method, path, Some(&body))?.into_result()?;
        Ok(())
    }

    /// `GET /`.
    pub fn instance_info(&mut self) -> Result<InstanceInfo, ClientError> {
        self.get("/")
    }

    /// `GET /version`.
    pub fn version(&mut self) -> Result<VersionInfo, ClientError> {
        self.get("/version")
    }

    /// `GET /vm/config`.
    pub fn vm_config(&mut self) -> Result<FullVmConfig, ClientError> {
        self.get("/vm/config")
    }

    /// `GET /machine-config`.
    pub fn machine_config(&mut self) -> Result<MachineConfig, ClientError> {
        self.get("/machine-config")
    }

    /// `GET /vm/counters`.
    pub fn counters(&mut self) -> Result<VmCounters, ClientError> {
        self.get("/vm/counters")
    }

    /// `PUT /boot-source`.
    pub fn put_boot_source(&mut self, boot: &BootSource) -> Result<(), ClientError> {
        self.send("PUT", "/boot-source", boot)
    }

    /// `PUT /machine-config`.
    pub fn put_machine_config(&mut self, config: &MachineConfig) -> Result<(), ClientError> {
        self.send("PUT", "/machine-config", config)
    }

    /// `PATCH /machine-config`.
    pub fn patch_machine_config(
        &mut self,
        update: &MachineConfigUpdate,
    ) -> Result<(), ClientError> {
        self.send("PATCH", "/machine-config", update)
    }

    /// `PUT /logger`.
    pub fn put_logger(&mut self, logger: &LoggerConfig) -> Result<(), ClientError> {
        self.send("PUT", "/logger", logger)
    }

    /// `PUT /metrics`.
    pub fn put_metrics(&mut self, metrics: &MetricsConfig) -> Result<(), ClientError> {
        self.send("PUT", "/metrics", metrics)
    }

    /// `PUT /actions`.
    pub fn action(&mut self, action_type: ActionType) -> Result<(), ClientError> {
        self.send("PUT", "/actions", &InstanceActionInfo { action_type })
    }

    /// `PATCH /vm`.
    pub fn set_vm_state(&mut self, state: RequestedVmState) -> Result<(), ClientError> {
        self.send("PATCH", "/vm", &VmStateUpdate { state })
    }
}

/// (status, head length, body length, connection closes) once the head is complete.
fn parse_head(buf: &[u8]) -> Result<Option<(u16, usize, usize, bool)>, ClientError> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    let head_len = match response.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(ClientError::Malformed(e.to_string())),
    };
    let status = response
        .code
        .ok_or_else(|| ClientError::Malformed("no status code".into()))?;
    let mut body_len = 0usize;
    let mut close = false;
    for header in response.headers.iter() {
        let value = String::from_utf8_lossy(header.value);
        if header.name.eq_ignore_ascii_case("content-length") {
            body_len = value
                .trim()
                .parse()
                .map_err(|_| ClientError::Malformed(format!("Content-Length {value:?}")))?;
        } else if header.name.eq_ignore_ascii_case("connection") {
            close = value.to_ascii_lowercase().contains("close");
        }
    }
    Ok(Some((status, head_len, body_len, close)))
}
