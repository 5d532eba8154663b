//! virtio-vsock (virtio 1.2, section 5.10) with Firecracker's host side: stream
//! sockets between the guest and Unix sockets on the host.
//!
//! - Host-initiated: a host program connects to the Unix socket at `uds_path` and
//!   writes `CONNECT <port>\n`; the device asks the guest for a connection to that
//!   port and, once the guest accepts, answers `OK <host port>\n`. From then on the
//!   Unix stream carries the connection's bytes. A refused connection closes it.
//! - Guest-initiated: a guest connection to the host (CID 2) port `P` is a connection
//!   to the Unix socket `<uds_path>_P`, which a host program listens on.
//!
//! Flow control is virtio-vsock's credit: the device takes at most [`BUF_ALLOC`]
//! unwritten bytes per connection and reads a host stream only while the guest has
//! room for its bytes. A packet that breaks the protocol resets its connection; a
//! chain that is not a packet (writable buffers in a transmit chain, readable ones
//! in a receive chain, memory out of reach, a loop) is returned unused and counted.

use std::collections::{HashMap, VecDeque};
use std::io::{ErrorKind, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use event_manager::{EventOps, Events, MutEventSubscriber};
use virtio_queue::desc::split::Descriptor;
use virtio_queue::{QueueOwnedT, QueueT};
use vm_memory::{Bytes, GuestAddress};
use vmm_sys_util::epoll::EventSet;
use vmm_sys_util::eventfd::{EFD_NONBLOCK, EventFd};

use crate::virtio::{
    ActivateError, GuestMemory, Interrupt, Queue, VIRTIO_F_VERSION_1, VIRTIO_RING_F_EVENT_IDX,
    VirtioDevice,
};

/// virtio device type of a socket device.
pub const TYPE_VSOCK: u32 = 19;
/// Size of each queue.
pub const QUEUE_SIZE: u16 = 256;
/// The host's context id.
pub const HOST_CID: u64 = 2;
/// Bytes of guest data the device holds per connection (the credit it gives).
pub const BUF_ALLOC: u32 = 256 * 1024;
/// The most connections at once; more are refused.
pub const MAX_CONNECTIONS: usize = 1024;

const RX: usize = 0;
const TX: usize = 1;
const EVENT: usize = 2;

/// Length of `struct virtio_vsock_hdr`.
const HEADER_LEN: usize = 44;
/// The largest payload of one packet (Linux's `VIRTIO_VSOCK_MAX_PKT_BUF_SIZE`).
const MAX_PAYLOAD: usize = 64 * 1024;
/// Unadvertised progress after which the device tells the guest its new credit.
const CREDIT_UPDATE_AFTER: u32 = BUF_ALLOC / 4;
/// Host ports of host-initiated connections start here.
const FIRST_LOCAL_PORT: u32 = 1 << 30;
/// Longest `CONNECT <port>\n` line.
const MAX_CONNECT_LINE: usize = 32;

const TYPE_STREAM: u16 = 1;
const OP_REQUEST: u16 = 1;
const OP_RESPONSE: u16 = 2;
const OP_RST: u16 = 3;
const OP_SHUTDOWN: u16 = 4;
const OP_RW: u16 = 5;
const OP_CREDIT_UPDATE: u16 = 6;
const OP_CREDIT_REQUEST: u16 = 7;
const SHUTDOWN_RCV: u32 = 1;
const SHUTDOWN_SEND: u32 = 2;

/// Why a vsock device cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum VsockError {
    /// Something else has the socket path.
    #[error("uds_path {} is taken (remove it or pick another path)", .0.display())]
    PathTaken(PathBuf),
    /// The socket cannot be made there.
    #[error("cannot listen on uds_path {}: {source}", .path.display())]
    Listen {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Host resources.
    #[error("{0}")]
    Host(#[from] std::io::Error),
}

/// What the device counts.
#[derive(Debug, Default)]
pub struct VsockCounters {
    /// Packets the guest sent.
    pub tx_packets: AtomicU64,
    /// Payload bytes the guest sent.
    pub tx_bytes: AtomicU64,
    /// Packets delivered to the guest.
    pub rx_packets: AtomicU64,
    /// Payload bytes delivered to the guest.
    pub rx_bytes: AtomicU64,
    /// Connections established (either way).
    pub connections: AtomicU64,
    /// Malformed chains, protocol errors, refused connections.
    pub errors: AtomicU64,
}

/// `struct virtio_vsock_hdr`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Header {
    src_cid: u64,
    dst_cid: u64,
    src_port: u32,
    dst_port: u32,
    len: u32,
    kind: u16,
    op: u16,
    flags: u32,
    buf_alloc: u32,
    fwd_cnt: u32,
}

impl Header {
    fn parse(b: &[u8]) -> Option<Header> {
        let b: &[u8; HEADER_LEN] = b.get(..HEADER_LEN)?.try_into().ok()?;
        let u64_at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or_default());
        let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap_or_default());
        let u16_at = |i: usize| u16::from_le_bytes(b[i..i + 2].try_into().unwrap_or_default());
        Some(Header {
            src_cid: u64_at(0),
            dst_cid: u64_at(8),
            src_port: u32_at(16),
            dst_port: u32_at(20),
            len: u32_at(24),
            kind: u16_at(28),
            op: u16_at(30),
            flags: u32_at(32),
            buf_alloc: u32_at(36),
            fwd_cnt: u32_at(40),
        })
    }

    fn bytes(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..8].copy_from_slice(&self.src_cid.to_le_bytes());
        b[8..16].copy_from_slice(&self.dst_cid.to_le_bytes());
        b[16..20].copy_from_slice(&self.src_port.to_le_bytes());
        b[20..24].copy_from_slice(&self.dst_port.to_le_bytes());
        b[24..28].copy_from_slice(&self.len.to_le_bytes());
        b[28..30].copy_from_slice(&self.kind.to_le_bytes());
        b[30..32].copy_from_slice(&self.op.to_le_bytes());
        b[32..36].copy_from_slice(&self.flags.to_le_bytes());
        b[36..40].copy_from_slice(&self.buf_alloc.to_le_bytes());
        b[40..44].copy_from_slice(&self.fwd_cnt.to_le_bytes());
        b
    }
}

struct Running {
    memory: GuestMemory,
    queues: Vec<Queue>,
    interrupt: Arc<Interrupt>,
}

#[derive(Default)]
struct VsockState {
    running: Option<Running>,
    /// Bumped by every reset: the worker drops its connections when it changes.
    generation: u64,
}

/// The transport-facing half of a virtio-vsock device.
pub struct Vsock {
    guest_cid: u64,
    uds_path: PathBuf,
    listener: UnixListener,
    events: [EventFd; 3],
    state: Arc<Mutex<VsockState>>,
    counters: Arc<VsockCounters>,
}

impl Vsock {
    /// A device for the guest `guest_cid`, listening on `uds_path` (which must not
    /// exist).
    pub fn new(guest_cid: u64, uds_path: &Path) -> Result<Vsock, VsockError> {
        let listener = match UnixListener::bind(uds_path) {
            Ok(listener) => listener,
            Err(e) if e.kind() == ErrorKind::AddrInUse => {
                return Err(VsockError::PathTaken(uds_path.to_path_buf()));
            }
            Err(source) => {
                return Err(VsockError::Listen {
                    path: uds_path.to_path_buf(),
                    source,
                });
            }
        };
        let made = || -> std::io::Result<Vsock> {
            listener.set_nonblocking(true)?;
            Ok(Vsock {
                guest_cid,
                uds_path: uds_path.to_path_buf(),
                listener: listener.try_clone()?,
                events: [
                    EventFd::new(EFD_NONBLOCK)?,
                    EventFd::new(EFD_NONBLOCK)?,
                    EventFd::new(EFD_NONBLOCK)?,
                ],
                state: Arc::default(),
                counters: Arc::default(),
            })
        };
        made().map_err(|e| {
            let _ = std::fs::remove_file(uds_path);
            VsockError::Host(e)
        })
    }

    /// The half that moves the bytes, for a device thread's event manager.
    pub fn worker(&self) -> std::io::Result<VsockWorker> {
        Ok(VsockWorker {
            guest_cid: self.guest_cid,
            uds_path: self.uds_path.clone(),
            listener: self.listener.try_clone()?,
            listener_watched: false,
            rx_event: self.events[RX].try_clone()?,
            tx_event: self.events[TX].try_clone()?,
            event_event: self.events[EVENT].try_clone()?,
            state: self.state.clone(),
            generation: 0,
            connections: HashMap::new(),
            ports: HashMap::new(),
            control: VecDeque::new(),
            rx_starved: false,
            next_port: FIRST_LOCAL_PORT,
            counters: self.counters.clone(),
        })
    }

    /// The device's counters.
    pub fn counters(&self) -> Arc<VsockCounters> {
        self.counters.clone()
    }
}

impl Drop for Vsock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.uds_path);
    }
}

impl VirtioDevice for Vsock {
    fn device_type(&self) -> u32 {
        TYPE_VSOCK
    }

    fn queue_max_sizes(&self) -> &[u16] {
        &[QUEUE_SIZE, QUEUE_SIZE, QUEUE_SIZE]
    }

    fn device_features(&self) -> u64 {
        1 << VIRTIO_F_VERSION_1 | 1 << VIRTIO_RING_F_EVENT_IDX
    }

    fn read_config(&self, offset: u64, data: &mut [u8]) {
        data.fill(0);
        let config = self.guest_cid.to_le_bytes();
        let Ok(start) = usize::try_from(offset) else {
            return;
        };
        if let Some(bytes) = config.get(start..) {
            let n = bytes.len().min(data.len());
            data[..n].copy_from_slice(&bytes[..n]);
        }
    }

    fn queue_event(&self, index: usize) -> Option<&EventFd> {
        self.events.get(index)
    }

    fn activate(
        &mut self,
        memory: GuestMemory,
        _features: u64,
        queues: Vec<Queue>,
        interrupt: Arc<Interrupt>,
    ) -> Result<(), ActivateError> {
        if queues.len() != 3 {
            return Err(ActivateError::QueueNotReady(queues.len()));
        }
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .running = Some(Running {
            memory,
            queues,
            interrupt,
        });
        let _ = self.events[TX].write(1);
        Ok(())
    }

    fn reset(&mut self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.running = None;
        state.generation += 1;
        // Wake the worker so that it drops the connections.
        let _ = self.events[TX].write(1);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Host-initiated, waiting for the `CONNECT <port>` line.
    AwaitConnect,
    /// Host-initiated, the request sent to the guest.
    Connecting,
    /// Bytes flow.
    Established,
}

struct Connection {
    stream: UnixStream,
    phase: Phase,
    /// The host side's port.
    local_port: u32,
    /// The guest side's port.
    peer_port: u32,
    /// The `CONNECT` line so far.
    line: Vec<u8>,
    /// Payload bytes sent to the guest.
    tx_cnt: u32,
    peer_buf_alloc: u32,
    peer_fwd_cnt: u32,
    /// The stream said it has data and was not read dry since.
    readable: bool,
    /// The host side will send no more.
    host_eof: bool,
    /// Guest bytes not yet written to the stream.
    pending: VecDeque<u8>,
    /// Guest payload bytes written to the stream.
    fwd_cnt: u32,
    /// `fwd_cnt` as last told to the guest.
    fwd_cnt_sent: u32,
    peer_shut_send: bool,
    peer_shut_rcv: bool,
    write_shut: bool,
    /// What the event loop watches on the stream (empty: not registered).
    interest: EventSet,
    /// To be reset and dropped.
    dead: bool,
}

impl Connection {
    fn new(stream: UnixStream, phase: Phase, local_port: u32, peer_port: u32) -> Connection {
        Connection {
            stream,
            phase,
            local_port,
            peer_port,
            line: Vec::new(),
            tx_cnt: 0,
            peer_buf_alloc: 0,
            peer_fwd_cnt: 0,
            readable: false,
            host_eof: false,
            pending: VecDeque::new(),
            fwd_cnt: 0,
            fwd_cnt_sent: 0,
            peer_shut_send: false,
            peer_shut_rcv: false,
            write_shut: false,
            interest: EventSet::empty(),
            dead: false,
        }
    }

    /// How many bytes the guest can take now.
    fn peer_credit(&self) -> u32 {
        let in_flight = self.tx_cnt.wrapping_sub(self.peer_fwd_cnt);
        self.peer_buf_alloc.saturating_sub(in_flight)
    }

    /// Whether host bytes could go to the guest.
    fn wants_to_send(&self) -> bool {
        self.phase == Phase::Established
            && !self.dead
            && !self.host_eof
            && !self.peer_shut_rcv
            && self.peer_credit() > 0
    }
}

/// A packet without payload for the guest.
#[derive(Debug, Clone, Copy)]
struct Control {
    local_port: u32,
    peer_port: u32,
    op: u16,
    flags: u32,
}

/// Moves bytes between a [`Vsock`] device's queues and the host's Unix sockets.
pub struct VsockWorker {
    guest_cid: u64,
    uds_path: PathBuf,
    listener: UnixListener,
    listener_watched: bool,
    rx_event: EventFd,
    tx_event: EventFd,
    event_event: EventFd,
    state: Arc<Mutex<VsockState>>,
    generation: u64,
    /// The connections, by the fd of their stream.
    connections: HashMap<RawFd, Connection>,
    /// (local port, peer port) -> stream fd, for connections past `AwaitConnect`.
    ports: HashMap<(u32, u32), RawFd>,
    control: VecDeque<Control>,
    /// The guest gave no receive buffer for something that waits.
    rx_starved: bool,
    next_port: u32,
    counters: Arc<VsockCounters>,
}

/// The readable bytes of a chain, or `None` if it is not a transmit packet.
fn read_chain(memory: &GuestMemory, descriptors: &[Descriptor]) -> Option<Vec<u8>> {
    if descriptors.last().is_none_or(|d| d.has_next())
        || descriptors.iter().any(|d| d.is_write_only())
    {
        return None;
    }
    let total: u64 = descriptors.iter().map(|d| u64::from(d.len())).sum();
    if total < HEADER_LEN as u64 || total > (HEADER_LEN + MAX_PAYLOAD) as u64 {
        return None;
    }
    let mut bytes = vec![0u8; total as usize];
    let mut at = 0;
    for d in descriptors {
        let len = d.len() as usize;
        memory
            .read_slice(&mut bytes[at..at + len], GuestAddress(d.addr().0))
            .ok()?;
        at += len;
    }
    Some(bytes)
}

/// Room for a packet's payload in a receive chain, or `None` if it is not one.
fn rx_capacity(descriptors: &[Descriptor]) -> Option<usize> {
    if descriptors.last().is_none_or(|d| d.has_next())
        || descriptors.iter().any(|d| !d.is_write_only())
    {
        return None;
    }
    let total: u64 = descriptors.iter().map(|d| u64::from(d.len())).sum();
    let total = usize::try_from(total).ok()?;
    total.checked_sub(HEADER_LEN)
}

/// Writes `header` and `payload` into a receive chain; the bytes written, or `None`
/// if they do not fit or memory is out of reach.
fn write_packet(
    memory: &GuestMemory,
    descriptors: &[Descriptor],
    header: &Header,
    payload: &[u8],
) -> Option<u32> {
    let mut packet = Vec::with_capacity(HEADER_LEN + payload.len());
    packet.extend_from_slice(&header.bytes());
    packet.extend_from_slice(payload);
    let mut at = 0usize;
    for d in descriptors {
        if at == packet.len() {
            break;
        }
        let n = (d.len() as usize).min(packet.len() - at);
        memory
            .write_slice(&packet[at..at + n], GuestAddress(d.addr().0))
            .ok()?;
        at += n;
    }
    if at < packet.len() {
        return None;
    }
    u32::try_from(at).ok()
}

/// A header from the host's `local_port` to the guest's `peer_port`.
fn host_header(guest_cid: u64, local_port: u32, peer_port: u32, op: u16) -> Header {
    Header {
        src_cid: HOST_CID,
        dst_cid: guest_cid,
        src_port: local_port,
        dst_port: peer_port,
        kind: TYPE_STREAM,
        op,
        ..Header::default()
    }
}

impl VsockWorker {
    fn error(&self) {
        self.counters.errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Queues a reset for `fd`'s connection and marks it for dropping.
    fn reset_connection(&mut self, fd: RawFd) {
        if let Some(conn) = self.connections.get_mut(&fd)
            && !conn.dead
        {
            conn.dead = true;
            if conn.phase != Phase::AwaitConnect {
                self.control.push_back(Control {
                    local_port: conn.local_port,
                    peer_port: conn.peer_port,
                    op: OP_RST,
                    flags: 0,
                });
            }
        }
    }

    fn allocate_port(&mut self) -> u32 {
        loop {
            let port = self.next_port;
            self.next_port = self.next_port.checked_add(1).unwrap_or(FIRST_LOCAL_PORT);
            if !self.ports.keys().any(|(local, _)| *local == port) {
                return port;
            }
        }
    }

    fn accept(&mut self) {
        loop {
            match self.listener.accept() {
                Ok((stream, _)) => {
                    if self.connections.len() >= MAX_CONNECTIONS
                        || stream.set_nonblocking(true).is_err()
                    {
                        self.error();
                        continue;
                    }
                    let fd = stream.as_raw_fd();
                    self.connections
                        .insert(fd, Connection::new(stream, Phase::AwaitConnect, 0, 0));
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
    }

    /// Reads the `CONNECT <port>` line of a new host connection, byte by byte so
    /// that nothing after it is consumed.
    fn read_connect_line(&mut self, fd: RawFd) {
        let Some(conn) = self.connections.get_mut(&fd) else {
            return;
        };
        let mut byte = [0u8];
        loop {
            match (&conn.stream).read(&mut byte) {
                Ok(1) if byte[0] == b'\n' => break,
                Ok(1) if conn.line.len() < MAX_CONNECT_LINE => conn.line.push(byte[0]),
                Ok(_) => {
                    // End of stream or a line too long.
                    conn.dead = true;
                    return;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(_) => {
                    conn.dead = true;
                    return;
                }
            }
        }
        let port = std::str::from_utf8(&conn.line)
            .ok()
            .and_then(|l| l.trim_end_matches('\r').strip_prefix("CONNECT "))
            .and_then(|p| p.trim().parse::<u32>().ok());
        let Some(peer_port) = port else {
            conn.dead = true;
            self.error();
            return;
        };
        let local_port = self.allocate_port();
        let Some(conn) = self.connections.get_mut(&fd) else {
            return;
        };
        conn.phase = Phase::Connecting;
        conn.local_port = local_port;
        conn.peer_port = peer_port;
        conn.line = Vec::new();
        self.ports.insert((local_port, peer_port), fd);
        self.control.push_back(Control {
            local_port,
            peer_port,
            op: OP_REQUEST,
            flags: 0,
        });
    }

    /// Writes what the guest sent to the stream, as far as it takes it.
    fn flush(&mut self, fd: RawFd) {
        let Some(conn) = self.connections.get_mut(&fd) else {
            return;
        };
        let mut broken = false;
        while !conn.pending.is_empty() {
            let (front, _) = conn.pending.as_slices();
            match (&conn.stream).write(front) {
                Ok(0) => {
                    broken = true;
                    break;
                }
                Ok(n) => {
                    conn.pending.drain(..n);
                    conn.fwd_cnt = conn.fwd_cnt.wrapping_add(n as u32);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(_) => {
                    broken = true;
                    break;
                }
            }
        }
        if broken {
            self.reset_connection(fd);
            return;
        }
        let mut update = false;
        let mut done = false;
        if conn.fwd_cnt.wrapping_sub(conn.fwd_cnt_sent) >= CREDIT_UPDATE_AFTER
            && !conn.peer_shut_rcv
        {
            update = true;
        }
        if conn.pending.is_empty() && conn.peer_shut_send {
            if !conn.write_shut {
                let _ = conn.stream.shutdown(std::net::Shutdown::Write);
                conn.write_shut = true;
            }
            done = conn.peer_shut_rcv || conn.host_eof;
        }
        let (local_port, peer_port) = (conn.local_port, conn.peer_port);
        if update {
            self.control.push_back(Control {
                local_port,
                peer_port,
                op: OP_CREDIT_UPDATE,
                flags: 0,
            });
        }
        if done {
            self.reset_connection(fd);
        }
    }

    /// A guest-initiated connection to host port `port`: `<uds_path>_<port>`.
    fn connect_to_host(&mut self, header: &Header) {
        let mut path = self.uds_path.clone().into_os_string();
        path.push(format!("_{}", header.dst_port));
        let refuse = |worker: &mut VsockWorker| {
            worker.error();
            worker.control.push_back(Control {
                local_port: header.dst_port,
                peer_port: header.src_port,
                op: OP_RST,
                flags: 0,
            });
        };
        if self.connections.len() >= MAX_CONNECTIONS {
            return refuse(self);
        }
        let stream = match UnixStream::connect(&path) {
            Ok(stream) if stream.set_nonblocking(true).is_ok() => stream,
            _ => return refuse(self),
        };
        let fd = stream.as_raw_fd();
        let mut conn =
            Connection::new(stream, Phase::Established, header.dst_port, header.src_port);
        conn.peer_buf_alloc = header.buf_alloc;
        conn.peer_fwd_cnt = header.fwd_cnt;
        self.connections.insert(fd, conn);
        self.ports.insert((header.dst_port, header.src_port), fd);
        self.counters.connections.fetch_add(1, Ordering::Relaxed);
        self.control.push_back(Control {
            local_port: header.dst_port,
            peer_port: header.src_port,
            op: OP_RESPONSE,
            flags: 0,
        });
    }

    /// Acts on one packet from the guest.
    fn handle_packet(&mut self, header: &Header, payload: &[u8]) {
        if header.src_cid != self.guest_cid || header.dst_cid != HOST_CID {
            // Not for us: nobody to reset.
            self.error();
            return;
        }
        let key = (header.dst_port, header.src_port);
        let rst = Control {
            local_port: header.dst_port,
            peer_port: header.src_port,
            op: OP_RST,
            flags: 0,
        };
        let fd = self
            .ports
            .get(&key)
            .copied()
            .filter(|fd| self.connections.get(fd).is_some_and(|c| !c.dead));
        if header.kind != TYPE_STREAM {
            self.error();
            if header.op != OP_RST {
                self.control.push_back(rst);
            }
            return;
        }
        let Some(fd) = fd else {
            match header.op {
                OP_REQUEST => self.connect_to_host(header),
                OP_RST => {}
                _ => {
                    self.error();
                    self.control.push_back(rst);
                }
            }
            return;
        };
        let Some(conn) = self.connections.get_mut(&fd) else {
            return;
        };
        conn.peer_buf_alloc = header.buf_alloc;
        conn.peer_fwd_cnt = header.fwd_cnt;
        match (header.op, conn.phase) {
            (OP_RESPONSE, Phase::Connecting) => {
                conn.phase = Phase::Established;
                let reply = format!("OK {}\n", conn.local_port);
                // A fresh stream has room for a line; one that has not is reset.
                match (&conn.stream).write(reply.as_bytes()) {
                    Ok(n) if n == reply.len() => {
                        self.counters.connections.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => self.reset_connection(fd),
                }
            }
            (OP_RW, Phase::Established) if !conn.peer_shut_send => {
                if conn.pending.len() + payload.len() > BUF_ALLOC as usize {
                    // The guest ignored its credit.
                    self.error();
                    self.reset_connection(fd);
                    return;
                }
                conn.pending.extend(payload);
                self.flush(fd);
            }
            (OP_CREDIT_UPDATE, _) => {}
            (OP_CREDIT_REQUEST, Phase::Established) => {
                self.control.push_back(Control {
                    op: OP_CREDIT_UPDATE,
                    ..rst
                });
            }
            (OP_SHUTDOWN, Phase::Established) => {
                conn.peer_shut_rcv |= header.flags & SHUTDOWN_RCV != 0;
                conn.peer_shut_send |= header.flags & SHUTDOWN_SEND != 0;
                self.flush(fd);
            }
            (OP_RST, phase) => {
                // The guest is done with it (or refused it); nothing to answer.
                conn.dead = true;
                if phase == Phase::Connecting {
                    self.counters.errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            _ => {
                self.error();
                self.reset_connection(fd);
            }
        }
    }

    /// Takes every packet the guest queued; true if any chain was used.
    fn transmit(&mut self, running: &mut Running) -> bool {
        let Running { memory, queues, .. } = running;
        let queue = &mut queues[TX];
        let mut used = false;
        let mut empty_turns = 0;
        loop {
            if queue.disable_notification(memory).is_err() {
                break;
            }
            let mut popped = false;
            while let Some(chain) = queue.pop_descriptor_chain(&*memory) {
                popped = true;
                let head = chain.head_index();
                let descriptors: Vec<Descriptor> = chain.collect();
                let packet = read_chain(memory, &descriptors).and_then(|bytes| {
                    let header = Header::parse(&bytes)?;
                    let end = HEADER_LEN.checked_add(header.len as usize)?;
                    (end <= bytes.len()).then(|| (header, bytes[HEADER_LEN..end].to_vec()))
                });
                if queue.add_used(memory, head, 0).is_err() {
                    self.error();
                }
                used = true;
                match packet {
                    Some((header, payload)) => {
                        self.counters.tx_packets.fetch_add(1, Ordering::Relaxed);
                        if header.op == OP_RW {
                            self.counters
                                .tx_bytes
                                .fetch_add(payload.len() as u64, Ordering::Relaxed);
                        }
                        self.handle_packet(&header, &payload);
                    }
                    None => self.error(),
                }
            }
            empty_turns = if popped { 0 } else { empty_turns + 1 };
            // An available index out of range pops nothing yet always reports more:
            // give up after two empty turns rather than spin (found by fuzzing).
            match queue.enable_notification(memory) {
                Ok(true) if empty_turns < 2 => continue,
                _ => break,
            }
        }
        used
    }

    /// The next thing for the guest: a control packet, or data of a connection with
    /// something to read and credit.
    fn next_data_connection(&self) -> Option<RawFd> {
        self.connections
            .iter()
            .find(|(_, c)| c.readable && c.wants_to_send())
            .map(|(fd, _)| *fd)
    }

    /// Delivers control packets and host bytes while the guest has buffers; true if
    /// any chain was used.
    fn receive(&mut self, running: &mut Running) -> bool {
        let Running { memory, queues, .. } = running;
        let mut used = false;
        let mut buf = vec![0u8; MAX_PAYLOAD];
        loop {
            let control = self.control.front().copied();
            let data_fd = if control.is_none() {
                match self.next_data_connection() {
                    Some(fd) => Some(fd),
                    None => break,
                }
            } else {
                None
            };
            let queue = &mut queues[RX];
            let Some(chain) = queue.pop_descriptor_chain(&*memory) else {
                if queue.enable_notification(memory).unwrap_or(false) {
                    continue;
                }
                self.rx_starved = true;
                break;
            };
            let head = chain.head_index();
            let descriptors: Vec<Descriptor> = chain.collect();
            let Some(capacity) = rx_capacity(&descriptors) else {
                self.error();
                if queue.add_used(memory, head, 0).is_err() {
                    self.error();
                }
                used = true;
                continue;
            };
            let (header, len) = if let Some(control) = control {
                self.control.pop_front();
                let mut header = host_header(
                    self.guest_cid,
                    control.local_port,
                    control.peer_port,
                    control.op,
                );
                header.flags = control.flags;
                if let Some(conn) = self
                    .ports
                    .get(&(control.local_port, control.peer_port))
                    .and_then(|fd| self.connections.get_mut(fd))
                    && control.op != OP_RST
                {
                    header.buf_alloc = BUF_ALLOC;
                    header.fwd_cnt = conn.fwd_cnt;
                    conn.fwd_cnt_sent = conn.fwd_cnt;
                }
                (header, 0)
            } else {
                let Some((fd, conn)) =
                    data_fd.and_then(|fd| Some((fd, self.connections.get_mut(&fd)?)))
                else {
                    queue.go_to_previous_position();
                    break;
                };
                let max = (conn.peer_credit() as usize).min(capacity).min(MAX_PAYLOAD);
                let n = match (&conn.stream).read(&mut buf[..max]) {
                    Ok(0) => {
                        conn.host_eof = true;
                        self.control.push_back(Control {
                            local_port: conn.local_port,
                            peer_port: conn.peer_port,
                            op: OP_SHUTDOWN,
                            flags: SHUTDOWN_SEND,
                        });
                        queue.go_to_previous_position();
                        continue;
                    }
                    Ok(n) => n,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {
                        queue.go_to_previous_position();
                        continue;
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        conn.readable = false;
                        queue.go_to_previous_position();
                        continue;
                    }
                    Err(_) => {
                        queue.go_to_previous_position();
                        self.reset_connection(fd);
                        continue;
                    }
                };
                let mut header =
                    host_header(self.guest_cid, conn.local_port, conn.peer_port, OP_RW);
                header.len = n as u32;
                header.buf_alloc = BUF_ALLOC;
                header.fwd_cnt = conn.fwd_cnt;
                conn.fwd_cnt_sent = conn.fwd_cnt;
                conn.tx_cnt = conn.tx_cnt.wrapping_add(n as u32);
                self.counters
                    .rx_bytes
                    .fetch_add(n as u64, Ordering::Relaxed);
                (header, n)
            };
            let written = write_packet(memory, &descriptors, &header, &buf[..len]);
            match written {
                Some(n) => {
                    self.counters.rx_packets.fetch_add(1, Ordering::Relaxed);
                    if queue.add_used(memory, head, n).is_err() {
                        self.error();
                    }
                }
                None => {
                    self.error();
                    if queue.add_used(memory, head, 0).is_err() {
                        self.error();
                    }
                }
            }
            used = true;
        }
        used
    }

    /// Drops every connection (the device was reset).
    fn drop_connections(&mut self, ops: &mut EventOps) {
        for (_, conn) in self.connections.drain() {
            if !conn.interest.is_empty() {
                let _ = ops.remove(Events::new(&conn.stream, conn.interest));
            }
        }
        self.ports.clear();
        self.control.clear();
        self.rx_starved = false;
    }

    /// Watches what each stream and the listener should be watched for; drops the
    /// dead connections.
    fn update_interest(&mut self, ops: &mut EventOps, running: bool) {
        let dead: Vec<RawFd> = self
            .connections
            .iter()
            .filter(|(_, c)| c.dead)
            .map(|(fd, _)| *fd)
            .collect();
        for fd in dead {
            if let Some(conn) = self.connections.remove(&fd) {
                if !conn.interest.is_empty() {
                    let _ = ops.remove(Events::new(&conn.stream, conn.interest));
                }
                if self.ports.get(&(conn.local_port, conn.peer_port)) == Some(&fd) {
                    self.ports.remove(&(conn.local_port, conn.peer_port));
                }
            }
        }
        for conn in self.connections.values_mut() {
            let mut want = EventSet::empty();
            match conn.phase {
                Phase::AwaitConnect => want |= EventSet::IN,
                Phase::Connecting => {}
                Phase::Established => {
                    if !conn.readable && conn.wants_to_send() && !self.rx_starved {
                        want |= EventSet::IN;
                    }
                    if !conn.pending.is_empty() {
                        want |= EventSet::OUT;
                    }
                }
            }
            if want == conn.interest {
                continue;
            }
            let result = if conn.interest.is_empty() {
                ops.add(Events::new(&conn.stream, want))
            } else if want.is_empty() {
                ops.remove(Events::new(&conn.stream, conn.interest))
            } else {
                ops.modify(Events::new(&conn.stream, want))
            };
            match result {
                Ok(()) => conn.interest = want,
                Err(e) => tracing::error!("virtio-vsock cannot watch a stream: {e}"),
            }
        }
        if running != self.listener_watched {
            let events = Events::new(&self.listener, EventSet::IN);
            let result = if running {
                ops.add(events)
            } else {
                ops.remove(events)
            };
            match result {
                Ok(()) => self.listener_watched = running,
                Err(e) => {
                    tracing::error!("virtio-vsock cannot watch {}: {e}", self.uds_path.display())
                }
            }
        }
    }

    fn run(&mut self, ops: &mut EventOps) {
        let state = self.state.clone();
        let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.generation != self.generation {
            self.generation = state.generation;
            self.drop_connections(ops);
        }
        let Some(running) = &mut state.running else {
            self.update_interest(ops, false);
            return;
        };
        // Until nothing moves: a packet from the guest may queue answers, a delivered
        // packet may free credit.
        let mut sent = false;
        let mut received = false;
        for _ in 0..4 {
            let tx = self.transmit(running);
            let rx = self.receive(running);
            sent |= tx;
            received |= rx;
            if !tx && !rx {
                break;
            }
        }
        self.update_interest(ops, true);
        let mut notify = false;
        for (index, active) in [(TX, sent), (RX, received)] {
            if active
                && running.queues[index]
                    .needs_notification(&running.memory)
                    .unwrap_or(true)
            {
                notify = true;
            }
        }
        if notify {
            running.interrupt.signal_used_buffer();
        }
    }
}

impl MutEventSubscriber for VsockWorker {
    fn process(&mut self, events: Events, ops: &mut EventOps) {
        let fd = events.fd();
        if fd == self.rx_event.as_raw_fd() {
            let _ = self.rx_event.read();
            self.rx_starved = false;
        } else if fd == self.tx_event.as_raw_fd() {
            let _ = self.tx_event.read();
        } else if fd == self.event_event.as_raw_fd() {
            // Event buffers are kept; the device has no events to report.
            let _ = self.event_event.read();
        } else if fd == self.listener.as_raw_fd() {
            self.accept();
        } else if let Some(conn) = self.connections.get_mut(&fd) {
            let set = events.event_set();
            match conn.phase {
                Phase::AwaitConnect => self.read_connect_line(fd),
                Phase::Connecting => {}
                Phase::Established => {
                    if set.intersects(EventSet::IN | EventSet::HANG_UP | EventSet::ERROR) {
                        conn.readable = true;
                    }
                    if set.intersects(EventSet::OUT | EventSet::ERROR) {
                        self.flush(fd);
                    }
                }
            }
        }
        self.run(ops);
    }

    fn init(&mut self, ops: &mut EventOps) {
        for event in [&self.rx_event, &self.tx_event, &self.event_event] {
            if let Err(e) = ops.add(Events::new(event, EventSet::IN)) {
                tracing::error!("cannot watch a virtio-vsock queue: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip_in_the_virtio_layout() {
        let header = Header {
            src_cid: 3,
            dst_cid: 2,
            src_port: 1025,
            dst_port: 52,
            len: 7,
            kind: TYPE_STREAM,
            op: OP_RW,
            flags: 0,
            buf_alloc: BUF_ALLOC,
            fwd_cnt: 99,
        };
        let bytes = header.bytes();
        assert_eq!(&bytes[0..8], &3u64.to_le_bytes());
        assert_eq!(&bytes[24..28], &7u32.to_le_bytes());
        assert_eq!(&bytes[30..32], &OP_RW.to_le_bytes());
        assert_eq!(Header::parse(&bytes), Some(header));
        assert_eq!(Header::parse(&bytes[..43]), None);
    }

    #[test]
    fn a_taken_socket_path_is_refused_by_name() {
        let path = std::env::temp_dir().join(format!("rvnest-vsock-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let first = Vsock::new(3, &path).expect("first device");
        let err = Vsock::new(3, &path).err().expect("the path is taken");
        assert!(matches!(err, VsockError::PathTaken(_)), "{err}");
        assert!(err.to_string().contains(&path.display().to_string()));
        drop(first);
        assert!(!path.exists(), "the device removes its socket");
    }
}
