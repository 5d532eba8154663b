//! SIGTERM and SIGINT stop the VM the way the API's `Shutdown` action does: the
//! vCPUs are stopped and joined, the metrics flushed, the API socket removed, and the
//! process exits with 128 + the signal number, as a shell reports a killed process.
//!
//! The signals are blocked in every thread ([`TerminationSignals::block`] runs before
//! any thread is spawned, and threads inherit the mask) and read from a signalfd by
//! the event loop, so no handler runs in an arbitrary thread.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use event_manager::{EventOps, Events, MutEventSubscriber};
use vmm_sys_util::epoll::EventSet;

/// The signals that end the VM.
const SIGNALS: [libc::c_int; 2] = [libc::SIGTERM, libc::SIGINT];

/// A signalfd for SIGTERM and SIGINT, as an event subscriber.
pub struct TerminationSignals {
    fd: OwnedFd,
    received: Option<i32>,
}

impl TerminationSignals {
    /// Blocks SIGTERM and SIGINT in the calling thread (and so in every thread it
    /// spawns later) and opens a signalfd that receives them.
    pub fn block() -> io::Result<TerminationSignals> {
        // SAFETY: sigset_t is plain data; sigemptyset initializes it before use.
        let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: `set` is a valid sigset_t owned by this frame; the signal numbers
        // are valid.
        unsafe {
            libc::sigemptyset(&mut set);
            for signal in SIGNALS {
                libc::sigaddset(&mut set, signal);
            }
        }
        // SAFETY: `set` is initialized; a null old-set pointer is allowed.
        let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        // SAFETY: `set` is initialized; -1 asks for a new descriptor.
        let fd = unsafe { libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: signalfd returned a new descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(TerminationSignals { fd, received: None })
    }

    /// The first signal received, if any.
    pub fn received(&self) -> Option<i32> {
        self.received
    }

    /// Reads the pending signals; remembers the first.
    fn drain(&mut self) {
        loop {
            // SAFETY: signalfd_siginfo is plain data.
            let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
            let size = std::mem::size_of::<libc::signalfd_siginfo>();
            // SAFETY: `info` is a writable buffer of `size` bytes owned by this frame.
            let n = unsafe {
                libc::read(
                    self.fd.as_raw_fd(),
                    (&mut info as *mut libc::signalfd_siginfo).cast(),
                    size,
                )
            };
            if n != size as isize {
                return;
            }
            let signal = info.ssi_signo as i32;
            tracing::info!(signal, "Received a termination signal: stopping the VM");
            self.received.get_or_insert(signal);
        }
    }
}

impl MutEventSubscriber for TerminationSignals {
    fn process(&mut self, _events: Events, _ops: &mut EventOps) {
        self.drain();
    }

    fn init(&mut self, ops: &mut EventOps) {
        if let Err(e) = ops.add(Events::new(&self.fd, EventSet::IN)) {
            tracing::error!("Cannot watch for SIGTERM and SIGINT: {e}");
        }
    }
}
