//! virtio-net (virtio 1.2, section 5.1) on a host TAP device.
//!
//! Frames carry the 12-byte `virtio_net_hdr_v1` on both sides: the TAP is opened
//! with `IFF_VNET_HDR` and that header size, so a frame moves between a descriptor
//! chain and the TAP in one copy, header included: checksum and segmentation offloads
//! need no work here, the header says what the other side has to finish. The device
//! offers them where the TAP takes them (`TUNSETOFFLOAD` probed at open):
//! `CSUM`/`HOST_TSO4`/`HOST_TSO6` (the guest sends partial checksums and 64 KiB
//! segments, the host kernel finishes them) and `GUEST_CSUM`/`GUEST_TSO4`/`GUEST_TSO6`
//! (the TAP hands over such frames, enabled with `TUNSETOFFLOAD` for exactly what the
//! driver accepted). UFO is not offered: Linux guests no longer use it. A received
//! frame waits in the device while the guest has no receive buffer, and the TAP is
//! not read until it posts one.
//!
//! Malformed chains (a writable descriptor in a transmit chain, a readable one in a
//! receive chain, buffers outside guest memory, loops) are returned unused and
//! counted; the frame at hand is dropped.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use event_manager::{EventOps, Events, MutEventSubscriber};
use virtio_queue::QueueT;
use virtio_queue::desc::split::Descriptor;
use vm_memory::{Bytes, GuestAddress};
use vmm_sys_util::epoll::EventSet;
use vmm_sys_util::eventfd::{EFD_NONBLOCK, EventFd};

use crate::virtio::{
    ActivateError, GuestMemory, Interrupt, Queue, VIRTIO_F_VERSION_1, VIRTIO_RING_F_EVENT_IDX,
    VirtioDevice,
};

/// virtio device type of a network card.
pub const TYPE_NET: u32 = 1;
/// Size of each queue.
pub const QUEUE_SIZE: u16 = 256;
/// Feature: the device finishes partial checksums of transmitted frames.
const VIRTIO_NET_F_CSUM: u32 = 0;
/// Feature: the driver takes received frames with partial checksums.
const VIRTIO_NET_F_GUEST_CSUM: u32 = 1;
/// Feature: the configuration space holds the MAC address.
const VIRTIO_NET_F_MAC: u32 = 5;
/// Feature: the driver takes TCPv4 segments larger than the MTU.
const VIRTIO_NET_F_GUEST_TSO4: u32 = 7;
/// Feature: the driver takes TCPv6 segments larger than the MTU.
const VIRTIO_NET_F_GUEST_TSO6: u32 = 8;
/// Feature: the device segments TCPv4 frames the driver sends.
const VIRTIO_NET_F_HOST_TSO4: u32 = 11;
/// Feature: the device segments TCPv6 frames the driver sends.
const VIRTIO_NET_F_HOST_TSO6: u32 = 12;
/// Length of `virtio_net_hdr_v1`.
const HEADER_LEN: usize = 12;
/// Offset of `num_buffers` in the header.
const NUM_BUFFERS_OFFSET: usize = 10;
/// The largest frame with its header either way: a 64 KiB IP packet (the largest
/// MTU a TAP can have, and the largest TSO segment) behind an Ethernet header with a
/// VLAN tag.
const MAX_FRAME: usize = HEADER_LEN + 18 + 65_535;

const RX: usize = 0;
const TX: usize = 1;

const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
const TUNSETVNETHDRSZ: libc::c_ulong = 0x4004_54d8;
/// The TAP ioctl that sets its offloads (made again when the guest activates or resets
/// the device, from whichever thread wrote the status).
pub const TUNSETOFFLOAD: libc::c_ulong = 0x4004_54d0;
const TUN_F_CSUM: libc::c_uint = 0x01;
const TUN_F_TSO4: libc::c_uint = 0x02;
const TUN_F_TSO6: libc::c_uint = 0x04;
const IFF_TAP: libc::c_short = 0x0002;
const IFF_NO_PI: libc::c_short = 0x1000;
const IFF_VNET_HDR: libc::c_short = 0x4000;

/// Why a TAP cannot back the device.
#[derive(Debug, thiserror::Error)]
pub enum TapError {
    /// The name cannot be an interface name.
    #[error("{0:?} is not an interface name (1 to 15 bytes, no '/', ':' or whitespace)")]
    BadName(String),
    /// No interface of that name exists (in rvnest's network namespace).
    #[error("there is no TAP device {0:?}")]
    Missing(String),
    /// The kernel refused it (not a TAP, busy, no permission).
    #[error("cannot open TAP device {name:?}: {source}")]
    Open {
        /// The device name.
        name: String,
        /// Why.
        source: std::io::Error,
    },
}

/// An open TAP device, non-blocking, with virtio-net headers on every frame.
#[derive(Debug)]
pub struct Tap {
    file: File,
    /// Whether the TAP takes checksum and TSO offloads (`TUNSETOFFLOAD` worked).
    offloads: bool,
}

#[repr(C)]
struct IfReq {
    name: [u8; 16],
    flags: libc::c_short,
    _pad: [u8; 22],
}

impl Tap {
    /// Attaches to the existing TAP device `name`.
    pub fn open(name: &str) -> Result<Tap, TapError> {
        let bytes = name.as_bytes();
        if bytes.is_empty()
            || bytes.len() > 15
            || bytes
                .iter()
                .any(|b| *b == b'/' || *b == b':' || b.is_ascii_whitespace() || *b == 0)
        {
            return Err(TapError::BadName(name.to_string()));
        }
        let c_name = std::ffi::CString::new(name).map_err(|_| TapError::BadName(name.into()))?;
        // SAFETY: `c_name` is a NUL-terminated string that outlives the call.
        if unsafe { libc::if_nametoindex(c_name.as_ptr()) } == 0 {
            return Err(TapError::Missing(name.to_string()));
        }
        let fail = |source| TapError::Open {
            name: name.to_string(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open("/dev/net/tun")
            .map_err(fail)?;
        let mut request = IfReq {
            name: [0; 16],
            flags: IFF_TAP | IFF_NO_PI | IFF_VNET_HDR,
            _pad: [0; 22],
        };
        request.name[..bytes.len()].copy_from_slice(bytes);
        // SAFETY: TUNSETIFF reads and writes a `struct ifreq`, which `IfReq` lays out
        // (40 bytes); the pointer is valid for the call.
        if unsafe { libc::ioctl(file.as_raw_fd(), TUNSETIFF as _, &mut request) } < 0 {
            return Err(fail(std::io::Error::last_os_error()));
        }
        let size: libc::c_int = HEADER_LEN as libc::c_int;
        // SAFETY: TUNSETVNETHDRSZ reads one int through the pointer, valid for the call.
        if unsafe { libc::ioctl(file.as_raw_fd(), TUNSETVNETHDRSZ as _, &size) } < 0 {
            return Err(fail(std::io::Error::last_os_error()));
        }
        let mut tap = Tap {
            file,
            offloads: false,
        };
        tap.offloads = tap
            .set_offload(TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6)
            .is_ok()
            && tap.set_offload(0).is_ok();
        Ok(tap)
    }

    /// Which offloaded frames (`TUN_F_*`) the TAP may hand to the guest.
    fn set_offload(&self, flags: libc::c_uint) -> std::io::Result<()> {
        // SAFETY: TUNSETOFFLOAD takes its unsigned int argument by value; no memory
        // is passed.
        if unsafe { libc::ioctl(self.file.as_raw_fd(), TUNSETOFFLOAD as _, flags) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    /// Whether checksum and TSO offloads can be offered on this TAP.
    pub fn has_offloads(&self) -> bool {
        self.offloads
    }
}

/// The offloads of `features` (negotiated) that the TAP must hand to the guest.
fn tap_offload_flags(features: u64) -> libc::c_uint {
    let has = |bit: u32| features & (1u64 << bit) != 0;
    let mut flags = 0;
    if has(VIRTIO_NET_F_GUEST_CSUM) {
        flags |= TUN_F_CSUM;
        // Segments only come with their checksum left to the receiver.
        if has(VIRTIO_NET_F_GUEST_TSO4) {
            flags |= TUN_F_TSO4;
        }
        if has(VIRTIO_NET_F_GUEST_TSO6) {
            flags |= TUN_F_TSO6;
        }
    }
    flags
}

/// What the device counts.
#[derive(Debug, Default)]
pub struct NetCounters {
    /// Frames sent by the guest.
    pub tx_frames: AtomicU64,
    /// Bytes sent by the guest (headers excluded).
    pub tx_bytes: AtomicU64,
    /// Frames delivered to the guest.
    pub rx_frames: AtomicU64,
    /// Bytes delivered to the guest (headers excluded).
    pub rx_bytes: AtomicU64,
    /// Malformed chains, dropped frames, TAP errors.
    pub errors: AtomicU64,
}

struct Running {
    memory: GuestMemory,
    queues: Vec<Queue>,
    interrupt: Arc<Interrupt>,
}

struct NetState {
    tap: Tap,
    running: Option<Running>,
    /// A frame read from the TAP that no receive buffer took yet.
    pending: Option<Vec<u8>>,
}

/// The transport-facing half of a virtio-net device.
pub struct Net {
    features: u64,
    config: [u8; 6],
    events: [EventFd; 2],
    state: Arc<Mutex<NetState>>,
    counters: Arc<NetCounters>,
}

impl Net {
    /// A device on `tap`, with `mac` as its address if given (else the guest picks one).
    pub fn new(tap: Tap, mac: Option<[u8; 6]>) -> std::io::Result<Net> {
        let mut features = 1u64 << VIRTIO_F_VERSION_1 | 1 << VIRTIO_RING_F_EVENT_IDX;
        if mac.is_some() {
            features |= 1 << VIRTIO_NET_F_MAC;
        }
        if tap.has_offloads() {
            for bit in [
                VIRTIO_NET_F_CSUM,
                VIRTIO_NET_F_GUEST_CSUM,
                VIRTIO_NET_F_GUEST_TSO4,
                VIRTIO_NET_F_GUEST_TSO6,
                VIRTIO_NET_F_HOST_TSO4,
                VIRTIO_NET_F_HOST_TSO6,
            ] {
                features |= 1 << bit;
            }
        }
        Ok(Net {
            features,
            config: mac.unwrap_or_default(),
            events: [EventFd::new(EFD_NONBLOCK)?, EventFd::new(EFD_NONBLOCK)?],
            state: Arc::new(Mutex::new(NetState {
                tap,
                running: None,
                pending: None,
            })),
            counters: Arc::default(),
        })
    }

    /// The half that moves the frames, for a device thread's event manager.
    pub fn worker(&self) -> std::io::Result<NetWorker> {
        let tap = self
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .tap
            .file
            .try_clone()?;
        Ok(NetWorker {
            state: self.state.clone(),
            rx_event: self.events[RX].try_clone()?,
            tx_event: self.events[TX].try_clone()?,
            tap,
            tap_watched: false,
            counters: self.counters.clone(),
        })
    }

    /// The device's counters.
    pub fn counters(&self) -> Arc<NetCounters> {
        self.counters.clone()
    }
}

impl VirtioDevice for Net {
    fn device_type(&self) -> u32 {
        TYPE_NET
    }

    fn queue_max_sizes(&self) -> &[u16] {
        &[QUEUE_SIZE, QUEUE_SIZE]
    }

    fn device_features(&self) -> u64 {
        self.features
    }

    fn read_config(&self, offset: u64, data: &mut [u8]) {
        data.fill(0);
        let Ok(start) = usize::try_from(offset) else {
            return;
        };
        if let Some(bytes) = self.config.get(start..) {
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
        features: u64,
        queues: Vec<Queue>,
        interrupt: Arc<Interrupt>,
    ) -> Result<(), ActivateError> {
        if queues.len() != 2 {
            return Err(ActivateError::QueueNotReady(queues.len()));
        }
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.tap.has_offloads() {
            let flags = tap_offload_flags(features);
            if let Err(e) = state.tap.set_offload(flags) {
                return Err(ActivateError::Offload(e.to_string()));
            }
        }
        state.running = Some(Running {
            memory,
            queues,
            interrupt,
        });
        drop(state);
        // Start reading the TAP and sending what is queued.
        let _ = self.events[RX].write(1);
        let _ = self.events[TX].write(1);
        Ok(())
    }

    fn reset(&mut self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.running = None;
        state.pending = None;
        if state.tap.has_offloads() {
            // The next driver may take no offloaded frame at all.
            let _ = state.tap.set_offload(0);
        }
    }
}

/// Moves frames between an [`Net`] device's queues and its TAP.
pub struct NetWorker {
    state: Arc<Mutex<NetState>>,
    rx_event: EventFd,
    tx_event: EventFd,
    tap: File,
    tap_watched: bool,
    counters: Arc<NetCounters>,
}

/// The chain's descriptors if they all go one way (`writable`) and the chain ends.
fn one_way(descriptors: &[Descriptor], writable: bool) -> bool {
    descriptors.last().is_some_and(|d| !d.has_next())
        && descriptors.iter().all(|d| d.is_write_only() == writable)
}

impl NetWorker {
    /// Sends every frame the guest queued; true if any chain was used.
    fn transmit(&self, state: &mut NetState) -> bool {
        let Some(running) = &mut state.running else {
            return false;
        };
        let Running { memory, queues, .. } = running;
        let queue = &mut queues[TX];
        let mut used = false;
        let mut frame = Vec::with_capacity(MAX_FRAME);
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
                frame.clear();
                let mut ok = one_way(&descriptors, false);
                for d in &descriptors {
                    if !ok {
                        break;
                    }
                    let start = frame.len();
                    let len = d.len() as usize;
                    if start + len > MAX_FRAME {
                        ok = false;
                        break;
                    }
                    frame.resize(start + len, 0);
                    ok = memory
                        .read_slice(&mut frame[start..], GuestAddress(d.addr().0))
                        .is_ok();
                }
                if ok && frame.len() > HEADER_LEN {
                    // A TAP takes a frame whole or not at all.
                    match (&state.tap.file).write(&frame) {
                        Ok(n) if n == frame.len() => {
                            self.counters.tx_frames.fetch_add(1, Ordering::Relaxed);
                            self.counters
                                .tx_bytes
                                .fetch_add((frame.len() - HEADER_LEN) as u64, Ordering::Relaxed);
                        }
                        // A full or down TAP drops the frame, as a wire would.
                        _ => {
                            self.counters.errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                } else {
                    self.counters.errors.fetch_add(1, Ordering::Relaxed);
                }
                if queue.add_used(memory, head, 0).is_err() {
                    self.counters.errors.fetch_add(1, Ordering::Relaxed);
                }
                used = true;
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

    /// Delivers frames from the TAP while the guest has buffers; true if any chain
    /// was used. Returns with `state.pending` set when the guest ran out of buffers.
    fn receive(&self, state: &mut NetState) -> bool {
        let NetState {
            tap,
            running,
            pending,
        } = state;
        let Some(Running { memory, queues, .. }) = running else {
            return false;
        };
        let queue = &mut queues[RX];
        let mut used = false;
        let mut buf = vec![0u8; MAX_FRAME];
        loop {
            let frame = match pending.take() {
                Some(frame) => frame,
                None => match (&tap.file).read(&mut buf) {
                    Ok(n) if n > HEADER_LEN => buf[..n].to_vec(),
                    Ok(_) => continue,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    // WouldBlock: nothing more to read; other errors: try again later.
                    Err(_) => break,
                },
            };
            let Some(chain) = queue.pop_descriptor_chain(&*memory) else {
                // No buffer: keep the frame; the guest's notification brings us back.
                *pending = Some(frame);
                if queue.enable_notification(memory).unwrap_or(false) {
                    continue;
                }
                break;
            };
            let head = chain.head_index();
            let descriptors: Vec<Descriptor> = chain.collect();
            let written = if one_way(&descriptors, true) {
                write_frame(memory, &descriptors, &frame)
            } else {
                None
            };
            match written {
                Some(n) => {
                    self.counters.rx_frames.fetch_add(1, Ordering::Relaxed);
                    self.counters
                        .rx_bytes
                        .fetch_add((frame.len() - HEADER_LEN) as u64, Ordering::Relaxed);
                    if queue.add_used(memory, head, n).is_err() {
                        self.counters.errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                None => {
                    self.counters.errors.fetch_add(1, Ordering::Relaxed);
                    if queue.add_used(memory, head, 0).is_err() {
                        self.counters.errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            used = true;
        }
        used
    }

    fn run(&mut self, ops: &mut EventOps) {
        let state = self.state.clone();
        let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
        let sent = self.transmit(&mut state);
        let received = self.receive(&mut state);
        // Read the TAP only while a frame can go somewhere.
        let want_tap = state.running.is_some() && state.pending.is_none();
        if want_tap != self.tap_watched {
            let events = Events::new(&self.tap, EventSet::IN);
            let result = if want_tap {
                ops.add(events)
            } else {
                ops.remove(events)
            };
            match result {
                Ok(()) => self.tap_watched = want_tap,
                Err(e) => tracing::error!("virtio-net cannot watch its TAP: {e}"),
            }
        }
        if let Some(running) = &mut state.running {
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
}

/// Copies `frame` (header first) into the writable chain and sets `num_buffers`;
/// the bytes written, or `None` if it does not fit or memory is out of reach.
fn write_frame(memory: &GuestMemory, descriptors: &[Descriptor], frame: &[u8]) -> Option<u32> {
    let capacity: u64 = descriptors.iter().map(|d| u64::from(d.len())).sum();
    if (capacity as usize) < frame.len() {
        return None;
    }
    let mut frame = frame.to_vec();
    frame[NUM_BUFFERS_OFFSET..HEADER_LEN].copy_from_slice(&1u16.to_le_bytes());
    let mut at = 0usize;
    for d in descriptors {
        if at == frame.len() {
            break;
        }
        let n = (d.len() as usize).min(frame.len() - at);
        memory
            .write_slice(&frame[at..at + n], GuestAddress(d.addr().0))
            .ok()?;
        at += n;
    }
    u32::try_from(at).ok()
}

impl MutEventSubscriber for NetWorker {
    fn process(&mut self, events: Events, ops: &mut EventOps) {
        if events.fd() == self.rx_event.as_raw_fd() {
            let _ = self.rx_event.read();
        } else if events.fd() == self.tx_event.as_raw_fd() {
            let _ = self.tx_event.read();
        }
        self.run(ops);
    }

    fn init(&mut self, ops: &mut EventOps) {
        for event in [&self.rx_event, &self.tx_event] {
            if let Err(e) = ops.add(Events::new(event, EventSet::IN)) {
                tracing::error!("cannot watch a virtio-net queue: {e}");
            }
        }
    }
}
