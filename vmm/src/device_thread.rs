//! The thread that serves the virtio devices' queues: an event manager over their
//! workers, so that device I/O never runs on a vCPU thread.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use event_manager::{EventManager, EventOps, Events, MutEventSubscriber, SubscriberOps};
use vmm_sys_util::epoll::EventSet;
use vmm_sys_util::eventfd::{EFD_NONBLOCK, EventFd};

use crate::seccomp::{SeccompFilters, ThreadKind};

/// A device worker as the event manager holds it.
pub type Worker = Arc<Mutex<dyn MutEventSubscriber + Send>>;

/// Wakes the loop when the thread should end.
struct StopWatcher {
    event: EventFd,
    stop: Arc<AtomicBool>,
}

impl MutEventSubscriber for StopWatcher {
    fn process(&mut self, _events: Events, _ops: &mut EventOps) {
        let _ = self.event.read();
        self.stop.store(true, Ordering::SeqCst);
    }

    fn init(&mut self, ops: &mut EventOps) {
        if let Err(e) = ops.add(Events::new(&self.event, EventSet::IN)) {
            tracing::error!("device thread cannot watch its stop event: {e}");
        }
    }
}

/// The running device thread; dropping it stops and joins it.
pub struct DeviceThread {
    stop_event: EventFd,
    thread: Option<JoinHandle<()>>,
}

impl DeviceThread {
    /// Starts a thread serving `workers`, under the `devices` seccomp filter.
    pub fn spawn(workers: Vec<Worker>, seccomp: SeccompFilters) -> std::io::Result<DeviceThread> {
        let stop_event = EventFd::new(EFD_NONBLOCK)?;
        let watcher = StopWatcher {
            event: stop_event.try_clone()?,
            stop: Arc::new(AtomicBool::new(false)),
        };
        let stop = watcher.stop.clone();
        let mut events = EventManager::<Worker>::new()
            .map_err(|e| std::io::Error::other(format!("cannot create an event manager: {e}")))?;
        events.add_subscriber(Arc::new(Mutex::new(watcher)));
        for worker in workers {
            events.add_subscriber(worker);
        }
        let thread = std::thread::Builder::new()
            .name("devices".into())
            .spawn(move || {
                if let Err(e) = seccomp.install(ThreadKind::Devices, "devices") {
                    // Nothing is served: the guest's requests stay pending, and the
                    // process is better stopped than left unfiltered.
                    tracing::error!("{e}");
                    return;
                }
                while !stop.load(Ordering::SeqCst) {
                    if let Err(e) = events.run() {
                        tracing::error!("device thread: {e}");
                        break;
                    }
                }
            })?;
        Ok(DeviceThread {
            stop_event,
            thread: Some(thread),
        })
    }
}

impl Drop for DeviceThread {
    fn drop(&mut self) {
        let _ = self.stop_event.write(1);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
