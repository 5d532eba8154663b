//! virtio devices (virtio 1.2, modern only) behind the virtio-mmio transport.
//!
//! A device is split in two halves that run on different threads:
//!
//! - the [`VirtioDevice`] the transport owns ([`mmio::VirtioMmio`], on the bus, driven
//!   by the vCPU threads): features, configuration space, activation and reset;
//! - the device's worker, an event-manager subscriber on a device thread of the VMM,
//!   which waits on the queues' [`EventFd`]s, serves the descriptor chains and
//!   signals the used buffers through the [`Interrupt`].
//!
//! A queue notification from the guest only writes an `EventFd` (what an ioeventfd
//! does on KVM), so a vCPU never waits for device I/O.
//!
//! Locks (see the crate's rules): the transport's lock, then the device's worker
//! state, then the [`Interrupt`]'s, then the PLIC's. A worker takes its own state
//! and the interrupt's, never the transport's.

pub mod block;
pub mod mmio;
pub mod net;
pub mod rng;
pub mod vsock;

use std::sync::{Arc, Mutex, PoisonError};

use vmm_sys_util::eventfd::EventFd;

use crate::irq::IrqLine;

/// Guest memory as the devices access it.
pub type GuestMemory = vm_memory::GuestMemoryMmap<()>;

/// A virtqueue as the devices use it.
pub type Queue = virtio_queue::Queue;

/// Device feature bit: the device complies with virtio 1.x (`VIRTIO_F_VERSION_1`).
pub const VIRTIO_F_VERSION_1: u32 = 32;
/// Device feature bit: the `used_event`/`avail_event` notification suppression.
pub const VIRTIO_RING_F_EVENT_IDX: u32 = 29;

/// virtio device type of a block device.
pub const TYPE_BLOCK: u32 = 2;

/// Interrupt status bit: a queue has new used buffers.
pub const INTERRUPT_USED_BUFFER: u32 = 1;
/// Interrupt status bit: the configuration (or the device status) changed.
pub const INTERRUPT_CONFIG_CHANGE: u32 = 2;

/// A device's counters at one moment, in the shape all devices share.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CounterSnapshot {
    /// Requests served (block requests, frames, entropy requests, vsock packets).
    pub requests: u64,
    /// Payload bytes given to the guest.
    pub bytes_to_guest: u64,
    /// Payload bytes taken from the guest.
    pub bytes_from_guest: u64,
    /// Malformed chains, error statuses, host-side failures.
    pub errors: u64,
}

/// A device's counters, readable from any thread.
pub trait Counted: Send + Sync {
    /// The counts now.
    fn snapshot(&self) -> CounterSnapshot;
}

/// Why a device could not start with the queues the driver set up.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ActivateError {
    /// A queue the device needs is not ready or not valid in guest memory.
    #[error("queue {0} is not set up")]
    QueueNotReady(usize),
    /// The host refused the offloads the driver accepted (virtio-net's TAP).
    #[error("the TAP refused the negotiated offloads: {0}")]
    Offload(String),
}

/// The device half the transport drives.
pub trait VirtioDevice: Send {
    /// The virtio device type (`TYPE_*`).
    fn device_type(&self) -> u32;
    /// The largest size of each of the device's queues; its length is the number of
    /// queues.
    fn queue_max_sizes(&self) -> &[u16];
    /// The features the device offers, [`VIRTIO_F_VERSION_1`] included.
    fn device_features(&self) -> u64;
    /// Reads `data.len()` bytes of the configuration space at `offset`; bytes past
    /// its end read as zero.
    fn read_config(&self, offset: u64, data: &mut [u8]);
    /// A driver's write to the configuration space (most devices ignore them).
    fn write_config(&mut self, _offset: u64, _data: &[u8]) {}
    /// The event the transport writes when the driver notifies queue `index`.
    fn queue_event(&self, index: usize) -> Option<&EventFd>;
    /// Starts the device with the negotiated `features` and its set-up queues.
    fn activate(
        &mut self,
        memory: GuestMemory,
        features: u64,
        queues: Vec<Queue>,
        interrupt: Arc<Interrupt>,
    ) -> Result<(), ActivateError>;
    /// Stops the device: its worker drops the queues and serves nothing until the next
    /// activation.
    fn reset(&mut self);
}

/// A device's interrupt: the `InterruptStatus` bits of the transport and the level
/// of the line they drive (high while any bit is set).
pub struct Interrupt {
    status: Mutex<u32>,
    line: Arc<dyn IrqLine>,
}

impl Interrupt {
    /// An interrupt with no bit set, on `line`.
    pub fn new(line: Arc<dyn IrqLine>) -> Interrupt {
        Interrupt {
            status: Mutex::new(0),
            line,
        }
    }

    fn update(&self, change: impl FnOnce(u32) -> u32) {
        let mut status = self.status.lock().unwrap_or_else(PoisonError::into_inner);
        *status = change(*status);
        self.line.set_level(*status != 0);
    }

    /// Tells the driver that a queue has new used buffers.
    pub fn signal_used_buffer(&self) {
        self.update(|s| s | INTERRUPT_USED_BUFFER);
    }

    /// Tells the driver that the configuration or the device status changed.
    pub fn signal_config_change(&self) {
        self.update(|s| s | INTERRUPT_CONFIG_CHANGE);
    }

    /// The pending bits (`InterruptStatus`).
    pub fn status(&self) -> u32 {
        *self.status.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Clears the bits the driver acknowledged (`InterruptACK`).
    pub fn acknowledge(&self, bits: u32) {
        self.update(|s| s & !bits);
    }

    /// Clears every bit (device reset).
    pub fn clear(&self) {
        self.update(|_| 0);
    }
}

fn load(counter: &std::sync::atomic::AtomicU64) -> u64 {
    counter.load(std::sync::atomic::Ordering::Relaxed)
}

impl Counted for block::BlockCounters {
    fn snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            requests: load(&self.reads) + load(&self.writes) + load(&self.flushes),
            bytes_to_guest: load(&self.read_bytes),
            bytes_from_guest: load(&self.write_bytes),
            errors: load(&self.errors),
        }
    }
}

impl Counted for net::NetCounters {
    fn snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            requests: load(&self.tx_frames) + load(&self.rx_frames),
            bytes_to_guest: load(&self.rx_bytes),
            bytes_from_guest: load(&self.tx_bytes),
            errors: load(&self.errors),
        }
    }
}

impl Counted for rng::RngCounters {
    fn snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            requests: load(&self.requests),
            bytes_to_guest: load(&self.bytes),
            bytes_from_guest: 0,
            errors: load(&self.errors),
        }
    }
}

impl Counted for vsock::VsockCounters {
    fn snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            requests: load(&self.tx_packets) + load(&self.rx_packets),
            bytes_to_guest: load(&self.rx_bytes),
            bytes_from_guest: load(&self.tx_bytes),
            errors: load(&self.errors),
        }
    }
}

#[cfg(test)]
mod tests;
