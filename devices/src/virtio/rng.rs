//! virtio-rng, the entropy device (virtio 1.2, section 5.4): fills each buffer the
//! driver posts with bytes from the host's `getrandom`.
//!
//! Every descriptor of a request must be device-writable; a chain with a readable
//! one, buffers outside guest memory, or a loop is returned with nothing written.

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

/// virtio device type of an entropy source.
pub const TYPE_RNG: u32 = 4;
/// Size of the one request queue.
pub const QUEUE_SIZE: u16 = 256;
/// The most bytes served per request (a larger buffer gets this many).
const MAX_REQUEST: usize = 64 * 1024;

/// What the device counts.
#[derive(Debug, Default)]
pub struct RngCounters {
    /// Requests served.
    pub requests: AtomicU64,
    /// Bytes given to the guest.
    pub bytes: AtomicU64,
    /// Requests returned with nothing written.
    pub errors: AtomicU64,
}

struct Running {
    memory: GuestMemory,
    queue: Queue,
    interrupt: Arc<Interrupt>,
}

#[derive(Default)]
struct RngState {
    running: Option<Running>,
}

/// The transport-facing half of a virtio-rng device.
pub struct Rng {
    queue_event: EventFd,
    state: Arc<Mutex<RngState>>,
    counters: Arc<RngCounters>,
}

impl Rng {
    /// A new entropy device.
    pub fn new() -> std::io::Result<Rng> {
        Ok(Rng {
            queue_event: EventFd::new(EFD_NONBLOCK)?,
            state: Arc::default(),
            counters: Arc::default(),
        })
    }

    /// The half that serves the requests, for a device thread's event manager.
    pub fn worker(&self) -> std::io::Result<RngWorker> {
        Ok(RngWorker {
            state: self.state.clone(),
            queue_event: self.queue_event.try_clone()?,
            counters: self.counters.clone(),
        })
    }

    /// The device's counters.
    pub fn counters(&self) -> Arc<RngCounters> {
        self.counters.clone()
    }
}

impl VirtioDevice for Rng {
    fn device_type(&self) -> u32 {
        TYPE_RNG
    }

    fn queue_max_sizes(&self) -> &[u16] {
        &[QUEUE_SIZE]
    }

    fn device_features(&self) -> u64 {
        1 << VIRTIO_F_VERSION_1 | 1 << VIRTIO_RING_F_EVENT_IDX
    }

    fn read_config(&self, _offset: u64, data: &mut [u8]) {
        // No configuration space.
        data.fill(0);
    }

    fn queue_event(&self, index: usize) -> Option<&EventFd> {
        (index == 0).then_some(&self.queue_event)
    }

    fn activate(
        &mut self,
        memory: GuestMemory,
        _features: u64,
        queues: Vec<Queue>,
        interrupt: Arc<Interrupt>,
    ) -> Result<(), ActivateError> {
        let queue = queues
            .into_iter()
            .next()
            .ok_or(ActivateError::QueueNotReady(0))?;
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .running = Some(Running {
            memory,
            queue,
            interrupt,
        });
        let _ = self.queue_event.write(1);
        Ok(())
    }

    fn reset(&mut self) {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .running = None;
    }
}

/// Serves an [`Rng`] device's queue when the guest notifies it.
pub struct RngWorker {
    state: Arc<Mutex<RngState>>,
    queue_event: EventFd,
    counters: Arc<RngCounters>,
}

impl RngWorker {
    /// Serves every available request; signals the driver if it wants to know.
    pub fn process_queue(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(Running {
            memory,
            queue,
            interrupt,
        }) = &mut state.running
        else {
            return;
        };
        let mut used_any = false;
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
                let written = fill(memory, &descriptors);
                match written {
                    Some(n) => {
                        self.counters.requests.fetch_add(1, Ordering::Relaxed);
                        self.counters
                            .bytes
                            .fetch_add(u64::from(n), Ordering::Relaxed);
                    }
                    None => {
                        self.counters.errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                if queue.add_used(memory, head, written.unwrap_or(0)).is_err() {
                    self.counters.errors.fetch_add(1, Ordering::Relaxed);
                }
                used_any = true;
            }
            empty_turns = if popped { 0 } else { empty_turns + 1 };
            // An available index out of range pops nothing yet always reports more:
            // give up after two empty turns rather than spin (found by fuzzing).
            match queue.enable_notification(memory) {
                Ok(true) if empty_turns < 2 => continue,
                _ => break,
            }
        }
        if used_any && queue.needs_notification(memory).unwrap_or(true) {
            interrupt.signal_used_buffer();
        }
    }
}

/// Fills the chain's buffers with random bytes; `None` if the chain is malformed.
fn fill(memory: &GuestMemory, descriptors: &[Descriptor]) -> Option<u32> {
    let last = descriptors.last()?;
    if last.has_next() || descriptors.iter().any(|d| !d.is_write_only()) {
        return None;
    }
    let mut budget = MAX_REQUEST;
    let mut written = 0u32;
    let mut buf = vec![0u8; MAX_REQUEST];
    for d in descriptors {
        let n = (d.len() as usize).min(budget);
        if n == 0 {
            continue;
        }
        getrandom(&mut buf[..n]).ok()?;
        memory
            .write_slice(&buf[..n], GuestAddress(d.addr().0))
            .ok()?;
        budget -= n;
        written += n as u32;
    }
    Some(written)
}

/// Fills `buf` from the kernel's random pool.
fn getrandom(buf: &mut [u8]) -> std::io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        let rest = &mut buf[done..];
        // SAFETY: the kernel writes at most `rest.len()` bytes into `rest`, which is
        // valid for writes of that length.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if n < 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                return Err(err);
            }
        } else {
            done += n as usize;
        }
    }
    Ok(())
}

impl MutEventSubscriber for RngWorker {
    fn process(&mut self, _events: Events, _ops: &mut EventOps) {
        let _ = self.queue_event.read();
        self.process_queue();
    }

    fn init(&mut self, ops: &mut EventOps) {
        if let Err(e) = ops.add(Events::new(&self.queue_event, EventSet::IN)) {
            tracing::error!("cannot watch the virtio-rng queue: {e}");
        }
    }
}
