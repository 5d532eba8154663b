//! The API server: one thread that owns the Unix socket and every client connection
//! (epoll, non-blocking), frames requests ([`crate::http`]), routes them
//! ([`crate::routes`]) and hands each typed request to a [`RequestHandler`].
//!
//! In rvnest the handler is a [`VmmLink`], as in Firecracker: the request goes down a
//! channel, an `EventFd` wakes the VMM's event-manager loop, and the API thread waits
//! for the answer on a second channel. Requests that cannot be routed (bad framing,
//! unknown paths and methods, malformed bodies) are answered here without waking the
//! VMM. An idle or silent client holds no more than its connection: others are served
//! meanwhile, and it is closed after [`ServerOptions::idle_timeout`].

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use vmm_sys_util::epoll::{ControlOperation, Epoll, EpollEvent, EventSet};
use vmm_sys_util::eventfd::EventFd;

use crate::http::{self, HttpError, Parsed};
use crate::routes::{ApiRequest, ApiResponse, route};

/// Limits of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerOptions {
    /// Largest request body accepted, in bytes (larger ones get 413).
    pub max_body: usize,
    /// A connection with no traffic for this long is closed.
    pub idle_timeout: Duration,
    /// Most connections open at once; more are answered 503 and closed.
    pub max_connections: usize,
}

impl Default for ServerOptions {
    fn default() -> ServerOptions {
        ServerOptions {
            max_body: http::DEFAULT_MAX_BODY_LEN,
            idle_timeout: Duration::from_secs(30),
            max_connections: 256,
        }
    }
}

/// Failures to set up the API server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The socket path cannot be bound.
    #[error("Cannot bind the API socket {}: {reason}", .path.display())]
    Bind {
        /// The socket path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// epoll, an eventfd or the thread could not be created.
    #[error("Cannot start the API server: {0}")]
    Setup(#[from] io::Error),
}

/// Serves typed requests. Runs on the API thread; a slow handler delays every client.
pub trait RequestHandler: Send + 'static {
    /// Answers one request.
    fn handle(&mut self, request: ApiRequest) -> ApiResponse;
}

impl<F: FnMut(ApiRequest) -> ApiResponse + Send + 'static> RequestHandler for F {
    fn handle(&mut self, request: ApiRequest) -> ApiResponse {
        self(request)
    }
}

/// The API thread's end of the link to the VMM.
pub struct VmmLink {
    to_vmm: Sender<ApiRequest>,
    from_vmm: Receiver<ApiResponse>,
    wake_vmm: EventFd,
}

/// The VMM's end: requests arrive on `requests` after `event` becomes readable; each
/// is answered, in order, on `responses`.
pub struct VmmEndpoint {
    /// Requests from the API thread.
    pub requests: Receiver<ApiRequest>,
    /// Answers, one per request, in order.
    pub responses: Sender<ApiResponse>,
    /// Readable when requests wait; the VMM's event loop watches it.
    pub event: EventFd,
}

/// A connected [`VmmLink`] and [`VmmEndpoint`].
pub fn vmm_channel() -> io::Result<(VmmLink, VmmEndpoint)> {
    let (to_vmm, requests) = mpsc::channel();
    let (responses, from_vmm) = mpsc::channel();
    let event = EventFd::new(libc::EFD_NONBLOCK)?;
    let wake_vmm = event.try_clone()?;
    Ok((
        VmmLink {
            to_vmm,
            from_vmm,
            wake_vmm,
        },
        VmmEndpoint {
            requests,
            responses,
            event,
        },
    ))
}

impl RequestHandler for VmmLink {
    fn handle(&mut self, request: ApiRequest) -> ApiResponse {
        let gone = || ApiResponse::error(503, "The VMM is shutting down");
        if self.to_vmm.send(request).is_err() || self.wake_vmm.write(1).is_err() {
            return gone();
        }
        self.from_vmm.recv().unwrap_or_else(|_| gone())
    }
}

/// Binds `path`. A stale socket left by a process that died is replaced; a socket
/// someone listens on, or any other file, is an error.
pub fn bind(path: &Path) -> Result<UnixListener, ServerError> {
    let fail = |reason: String| ServerError::Bind {
        path: path.to_path_buf(),
        reason,
    };
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        use std::os::unix::fs::FileTypeExt;
        if !meta.file_type().is_socket() {
            return Err(fail("the path exists and is not a socket".into()));
        }
        if UnixStream::connect(path).is_ok() {
            return Err(fail("another process serves this socket".into()));
        }
        std::fs::remove_file(path)
            .map_err(|e| fail(format!("cannot remove the stale socket: {e}")))?;
    }
    UnixListener::bind(path).map_err(|e| fail(e.to_string()))
}

/// The running API thread. Dropping it stops the thread and removes the socket file.
pub struct ApiServer {
    stop: EventFd,
    thread: Option<JoinHandle<()>>,
    socket: SocketFile,
}

/// The socket file this server bound: its path and identity, so that it removes
/// only its own socket, never one a newer process bound at the same path.
#[derive(Clone, Debug)]
struct SocketFile {
    path: PathBuf,
    id: Option<(u64, u64)>,
}

impl SocketFile {
    fn of(path: &Path) -> SocketFile {
        use std::os::unix::fs::MetadataExt;
        SocketFile {
            path: path.to_path_buf(),
            id: std::fs::symlink_metadata(path)
                .ok()
                .map(|m| (m.dev(), m.ino())),
        }
    }

    /// Removes the socket file if it is still the one bound.
    fn remove(&self) {
        if self.id.is_some() && SocketFile::of(&self.path).id == self.id {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl ApiServer {
    /// Starts serving `listener` (bound at `path`) on a new thread named `api`.
    pub fn start<H: RequestHandler>(
        listener: UnixListener,
        path: &Path,
        options: ServerOptions,
        handler: H,
    ) -> Result<ApiServer, ServerError> {
        ApiServer::start_with(listener, path, options, handler, || Ok(()))
    }

    /// As [`ApiServer::start`], with `setup` run first on the new thread (rvnest
    /// loads the thread's seccomp filter there); its error is this call's, and then
    /// no request is served.
    pub fn start_with<H: RequestHandler>(
        listener: UnixListener,
        path: &Path,
        options: ServerOptions,
        handler: H,
        setup: impl FnOnce() -> Result<(), String> + Send + 'static,
    ) -> Result<ApiServer, ServerError> {
        listener.set_nonblocking(true)?;
        let socket = SocketFile::of(path);
        let stop = EventFd::new(libc::EFD_NONBLOCK)?;
        let epoll = Epoll::new()?;
        epoll.ctl(
            ControlOperation::Add,
            listener.as_raw_fd(),
            EpollEvent::new(EventSet::IN, LISTENER),
        )?;
        epoll.ctl(
            ControlOperation::Add,
            stop.as_raw_fd(),
            EpollEvent::new(EventSet::IN, STOP),
        )?;
        let mut worker = Worker {
            epoll,
            listener: Some(listener),
            socket: socket.clone(),
            options,
            handler,
            connections: HashMap::new(),
            next_token: FIRST_CONNECTION,
        };
        let (ready, started) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("api".into())
            .spawn(move || {
                let result = setup();
                let ok = result.is_ok();
                let _ = ready.send(result);
                if ok {
                    worker.run();
                }
            })?;
        match started.recv() {
            Ok(Ok(())) => {}
            Ok(Err(reason)) => {
                let _ = thread.join();
                return Err(ServerError::Setup(io::Error::other(reason)));
            }
            Err(_) => {
                let _ = thread.join();
                return Err(ServerError::Setup(io::Error::other("the API thread ended")));
            }
        }
        Ok(ApiServer {
            stop,
            thread: Some(thread),
            socket,
        })
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.socket.path
    }

    /// Stops the thread (after a last attempt to deliver pending answers) and removes
    /// the socket file.
    pub fn shutdown(mut self) {
        self.stop_thread();
    }

    fn stop_thread(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = self.stop.write(1);
            let _ = thread.join();
            self.socket.remove();
        }
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.stop_thread();
    }
}

const LISTENER: u64 = 0;
const STOP: u64 = 1;
const FIRST_CONNECTION: u64 = 2;

/// After an error answer, input is read and dropped for this long before the
/// connection closes, so the client reads the answer rather than a reset.
const LINGER: Duration = Duration::from_secs(1);

/// Bytes read from a connection per readiness event, at most.
const READ_CHUNK: usize = 16 * 1024;

struct Worker<H> {
    epoll: Epoll,
    /// None once the VMM's last answer went out.
    listener: Option<UnixListener>,
    socket: SocketFile,
    options: ServerOptions,
    handler: H,
    connections: HashMap<u64, Connection>,
    next_token: u64,
}

struct Connection {
    stream: UnixStream,
    input: Vec<u8>,
    output: Vec<u8>,
    /// Bytes of `output` already written.
    written: usize,
    /// `100 Continue` was sent for the request being received.
    continue_sent: bool,
    /// Close once `output` is written (an error answer, or the client asked).
    close_after_output: bool,
    /// Discarding input until EOF or this deadline, then closing.
    lingering: Option<Instant>,
    /// The client sent EOF.
    peer_closed: bool,
    last_active: Instant,
    interest: EventSet,
}

/// What to do with a connection after servicing it.
#[derive(PartialEq, Eq)]
enum Next {
    Keep,
    Close,
}

impl<H: RequestHandler> Worker<H> {
    fn run(&mut self) {
        let mut events = vec![EpollEvent::default(); 64];
        loop {
            let timeout = self.next_timeout_ms();
            let count = match self.epoll.wait(timeout, &mut events) {
                Ok(count) => count,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::error!("API server stopped: epoll_wait failed: {e}");
                    return;
                }
            };
            for event in &events[..count] {
                match event.data() {
                    LISTENER => self.accept(),
                    STOP => {
                        self.flush_all();
                        return;
                    }
                    token => self.service(token, event.event_set()),
                }
            }
            self.expire(Instant::now());
        }
    }

    /// Milliseconds until the next idle or linger deadline (-1: none).
    fn next_timeout_ms(&self) -> i32 {
        let now = Instant::now();
        self.connections
            .values()
            .map(|c| c.deadline(self.options.idle_timeout))
            .min()
            .map(|deadline| {
                let ms = deadline.saturating_duration_since(now).as_millis() + 1;
                ms.min(i32::MAX as u128) as i32
            })
            .unwrap_or(-1)
    }

    fn accept(&mut self) {
        loop {
            let Some(listener) = &self.listener else {
                return;
            };
            let stream = match listener.accept() {
                Ok((stream, _)) => stream,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // EMFILE and friends: leave the client in the backlog for now.
                    tracing::warn!("API server cannot accept a connection: {e}");
                    return;
                }
            };
            if self.connections.len() >= self.options.max_connections {
                let answer = ApiResponse::error(503, "Too many API connections; retry later");
                let mut stream = stream;
                let _ = stream.set_nonblocking(true);
                let _ = stream.write_all(&http::write_response(
                    answer.status,
                    answer.body.as_deref(),
                    None,
                    true,
                ));
                continue;
            }
            if stream.set_nonblocking(true).is_err() {
                continue;
            }
            let token = self.next_token;
            self.next_token += 1;
            let interest = EventSet::IN | EventSet::READ_HANG_UP;
            if self
                .epoll
                .ctl(
                    ControlOperation::Add,
                    stream.as_raw_fd(),
                    EpollEvent::new(interest, token),
                )
                .is_err()
            {
                continue;
            }
            self.connections.insert(
                token,
                Connection {
                    stream,
                    input: Vec::new(),
                    output: Vec::new(),
                    written: 0,
                    continue_sent: false,
                    close_after_output: false,
                    lingering: None,
                    peer_closed: false,
                    last_active: Instant::now(),
                    interest,
                },
            );
        }
    }

    fn service(&mut self, token: u64, events: EventSet) {
        let Some(mut conn) = self.connections.remove(&token) else {
            return;
        };
        let next = self.drive(&mut conn, events);
        if next == Next::Keep && self.update_interest(token, &mut conn) {
            self.connections.insert(token, conn);
        } else {
            let _ = self.epoll.ctl(
                ControlOperation::Delete,
                conn.stream.as_raw_fd(),
                EpollEvent::default(),
            );
        }
    }

    /// Reads, answers and writes what the connection allows now.
    fn drive(&mut self, conn: &mut Connection, events: EventSet) -> Next {
        if events.intersects(EventSet::ERROR) {
            return Next::Close;
        }
        if conn.pending_output() && conn.flush().is_err() {
            return Next::Close;
        }
        if conn.lingering.is_some() {
            return match conn.discard_input() {
                Ok(true) => Next::Keep,
                _ => Next::Close,
            };
        }
        // Read only while no answer is waiting to go out: a client that does not
        // read its answers stops being read (no unbounded buffering).
        if !conn.pending_output() && !conn.peer_closed && conn.fill_input().is_err() {
            return Next::Close;
        }
        self.answer_requests(conn);
        if conn.flush().is_err() {
            return Next::Close;
        }
        if !conn.pending_output() {
            if conn.close_after_output {
                return conn.start_lingering();
            }
            if conn.peer_closed {
                return Next::Close;
            }
        }
        Next::Keep
    }

    /// Answers every complete request in the input, stopping at the first answer
    /// that cannot be written at once.
    fn answer_requests(&mut self, conn: &mut Connection) {
        while !conn.pending_output() && !conn.close_after_output {
            match http::parse_request(&conn.input, self.options.max_body) {
                Ok(Parsed::Incomplete { expects_continue }) => {
                    if expects_continue && !conn.continue_sent {
                        conn.output.extend_from_slice(http::CONTINUE);
                        conn.continue_sent = true;
                    }
                    if conn.peer_closed && !conn.input.is_empty() {
                        // EOF in the middle of a request: nothing to answer.
                        conn.input.clear();
                    }
                    return;
                }
                Ok(Parsed::Complete(request, used)) => {
                    conn.input.drain(..used);
                    conn.continue_sent = false;
                    conn.close_after_output = request.close;
                    let close = request.close;
                    let (answer, allow) = match route(&request.method, &request.path, &request.body)
                    {
                        Ok(typed) => (self.handler.handle(typed), None),
                        Err(e) => (ApiResponse::error(e.status, e.message), e.allow),
                    };
                    let close = close || answer.last;
                    if answer.last {
                        conn.close_after_output = true;
                        self.stop_listening();
                    }
                    tracing::debug!(
                        method = request.method,
                        path = request.path,
                        status = answer.status,
                        "API request"
                    );
                    conn.output.extend_from_slice(&http::write_response(
                        answer.status,
                        answer.body.as_deref(),
                        allow.as_deref(),
                        close,
                    ));
                    let _ = conn.flush();
                }
                Err(e) => {
                    Self::refuse(conn, &e);
                    return;
                }
            }
        }
    }

    fn refuse(conn: &mut Connection, error: &HttpError) {
        tracing::debug!("API request refused: {error}");
        let answer = ApiResponse::error(error.status(), error.to_string());
        conn.output.extend_from_slice(&http::write_response(
            answer.status,
            answer.body.as_deref(),
            None,
            true,
        ));
        conn.input.clear();
        conn.close_after_output = true;
    }

    /// Sets the epoll interest for the connection's state; false if that failed.
    fn update_interest(&self, token: u64, conn: &mut Connection) -> bool {
        let wanted = if conn.pending_output() {
            EventSet::OUT
        } else {
            EventSet::IN | EventSet::READ_HANG_UP
        };
        if wanted == conn.interest {
            return true;
        }
        conn.interest = wanted;
        self.epoll
            .ctl(
                ControlOperation::Modify,
                conn.stream.as_raw_fd(),
                EpollEvent::new(wanted, token),
            )
            .is_ok()
    }

    /// Closes connections idle past the timeout and those done lingering.
    fn expire(&mut self, now: Instant) {
        let idle = self.options.idle_timeout;
        let expired: Vec<u64> = self
            .connections
            .iter()
            .filter(|(_, c)| c.deadline(idle) <= now)
            .map(|(token, _)| *token)
            .collect();
        for token in expired {
            if let Some(conn) = self.connections.remove(&token) {
                let _ = self.epoll.ctl(
                    ControlOperation::Delete,
                    conn.stream.as_raw_fd(),
                    EpollEvent::default(),
                );
            }
        }
    }

    /// The VMM is ending: accept no more connections and remove the socket, so
    /// clients find no server rather than one that is going away.
    fn stop_listening(&mut self) {
        if let Some(listener) = self.listener.take() {
            let _ = self.epoll.ctl(
                ControlOperation::Delete,
                listener.as_raw_fd(),
                EpollEvent::default(),
            );
            self.socket.remove();
        }
    }

    /// Last chance for answers not yet written (the process is ending).
    fn flush_all(&mut self) {
        for conn in self.connections.values_mut() {
            if conn.pending_output() {
                let _ = conn.stream.set_nonblocking(false);
                let _ = conn
                    .stream
                    .set_write_timeout(Some(Duration::from_millis(100)));
                let _ = conn.flush();
            }
        }
        self.connections.clear();
    }
}

impl Connection {
    fn pending_output(&self) -> bool {
        self.written < self.output.len()
    }

    fn deadline(&self, idle: Duration) -> Instant {
        self.lingering.unwrap_or(self.last_active + idle)
    }

    /// Reads what is available (at most [`READ_CHUNK`] bytes). Err: the connection
    /// broke.
    fn fill_input(&mut self) -> io::Result<()> {
        let mut buf = [0u8; 4096];
        let mut total = 0;
        while total < READ_CHUNK {
            match self.stream.read(&mut buf) {
                Ok(0) => {
                    self.peer_closed = true;
                    break;
                }
                Ok(n) => {
                    self.input.extend_from_slice(&buf[..n]);
                    total += n;
                    self.last_active = Instant::now();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Writes pending output until done or the socket is full.
    fn flush(&mut self) -> io::Result<()> {
        while self.pending_output() {
            match self.stream.write(&self.output[self.written..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.written += n;
                    self.last_active = Instant::now();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.output.clear();
        self.written = 0;
        Ok(())
    }

    /// After the final answer: stop writing, keep reading (and dropping) for a
    /// moment so the client sees the answer, not a reset.
    fn start_lingering(&mut self) -> Next {
        if self.peer_closed {
            return Next::Close;
        }
        let _ = self.stream.shutdown(std::net::Shutdown::Write);
        self.lingering = Some(Instant::now() + LINGER);
        match self.discard_input() {
            Ok(true) => Next::Keep,
            _ => Next::Close,
        }
    }

    /// Drops available input. Ok(false) at EOF.
    fn discard_input(&mut self) -> io::Result<bool> {
        let mut buf = [0u8; 4096];
        let mut total = 0;
        while total < READ_CHUNK {
            match self.stream.read(&mut buf) {
                Ok(0) => return Ok(false),
                Ok(n) => total += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests;
