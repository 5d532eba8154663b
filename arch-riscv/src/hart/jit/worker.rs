//! The VM's compile worker: a thread that compiles the blocks every hart of the VM
//! asks for, so that a hart goes on interpreting instead of waiting for cranelift.
//!
//! A hart sends a [`Job`] (the trace and a [`Ticket`] naming the decoded slot it is
//! for) and picks the [`Done`] answer up between slices; the ticket tells it whether
//! the slot still holds the code the trace came from. Compiled code depends on the
//! trace alone (see [`super::compiler`]), so when several harts run the same kernel
//! the worker keeps what it compiled in a library keyed by the trace, and a second
//! hart asking for the same block gets the first one's bytes without a compilation.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, OnceLock};

use super::compiler::Compiler;
use super::trace::{Trace, TraceKey};

/// Which decoded slot a compilation is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticket {
    /// Guest-physical page number of the decoded page.
    pub page_number: u64,
    /// The page's incarnation when the job was sent (a reset page gets a new one).
    pub incarnation: u64,
    /// Byte offset of the block's entry in the page.
    pub offset: usize,
}

/// A block to compile.
pub struct Job {
    pub ticket: Ticket,
    pub trace: Trace,
    /// Where the answer goes: the asking hart's channel.
    pub reply: Sender<Done>,
}

/// A compiled block, or the news that it could not be compiled.
pub struct Done {
    pub ticket: Ticket,
    pub code: Option<Arc<[u8]>>,
    /// Compile time spent on it.
    pub nanos: u64,
    /// Whether another hart's compilation of the same trace was reused.
    pub reused: bool,
}

/// What the worker thread runs first (the VMM's seccomp filter): `false` stops it
/// before it compiles anything, and the harts then interpret.
pub type ThreadSetup = Box<dyn FnOnce() -> bool + Send>;

/// The handle the harts of one VM share (`CompileConfig::compiler`): the worker
/// starts when the first hart connects.
#[derive(Default)]
pub struct Shared {
    jobs: Mutex<Option<Sender<Job>>>,
    setup: Mutex<Option<ThreadSetup>>,
    /// Harts that compile through this worker; the library is kept only for more
    /// than one.
    harts: Arc<AtomicUsize>,
    trampoline: OnceLock<Option<Arc<[u8]>>>,
}

impl Shared {
    /// A handle whose worker runs `setup` before its first compilation.
    pub fn with_setup(setup: ThreadSetup) -> Shared {
        Shared {
            setup: Mutex::new(Some(setup)),
            ..Shared::default()
        }
    }

    /// A hart's connection to the worker, starting it if needed; `None` when the
    /// thread cannot be started or cranelift has no backend for the host.
    pub fn connect(&self) -> Option<Connection> {
        let mut jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        let sender = match jobs.as_ref() {
            Some(sender) => sender.clone(),
            None => {
                let compiler = Compiler::new()?;
                let (sender, receiver) = channel();
                let harts = self.harts.clone();
                let setup = self.setup.lock().unwrap_or_else(|e| e.into_inner()).take();
                std::thread::Builder::new()
                    .name("rvnest-jit".into())
                    .spawn(move || {
                        if setup.is_none_or(|setup| setup()) {
                            serve(compiler, receiver, &harts);
                        }
                    })
                    .ok()?;
                *jobs = Some(sender.clone());
                sender
            }
        };
        self.harts.fetch_add(1, Ordering::Relaxed);
        Some(Connection {
            jobs: sender,
            harts: self.harts.clone(),
        })
    }

    /// The trampoline's code, compiled once for all harts.
    pub fn trampoline(&self) -> Option<Arc<[u8]>> {
        self.trampoline
            .get_or_init(|| Some(Compiler::new()?.trampoline()?.into()))
            .clone()
    }
}

/// One hart's end of the worker.
pub struct Connection {
    pub jobs: Sender<Job>,
    harts: Arc<AtomicUsize>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.harts.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Compiles jobs until every sender is gone.
fn serve(mut compiler: Compiler, jobs: Receiver<Job>, harts: &AtomicUsize) {
    let mut library = Library::default();
    while let Ok(job) = jobs.recv() {
        let shared = harts.load(Ordering::Relaxed) > 1;
        let key = shared.then(|| job.trace.key());
        let known = key.as_ref().and_then(|key| library.get(key));
        let done = match known {
            Some(code) => Done {
                ticket: job.ticket,
                code: Some(code),
                nanos: 0,
                reused: true,
            },
            None => {
                let compiled = compiler.block(&job.trace);
                let code: Option<Arc<[u8]>> = compiled.code.map(Into::into);
                if let (Some(key), Some(code)) = (key, &code) {
                    library.insert(key, code.clone());
                }
                Done {
                    ticket: job.ticket,
                    code,
                    nanos: compiled.nanos,
                    reused: false,
                }
            }
        };
        // A hart that went away (its VM stopped) no longer wants the answer.
        let _ = job.reply.send(done);
    }
}

/// Code by trace, bounded: when it holds more than [`Library::LIMIT`] bytes it
/// starts over (the harts keep their own copies in their code caches).
#[derive(Default)]
struct Library {
    blocks: HashMap<TraceKey, Arc<[u8]>>,
    bytes: usize,
}

impl Library {
    const LIMIT: usize = 32 << 20;

    fn get(&self, key: &TraceKey) -> Option<Arc<[u8]>> {
        self.blocks.get(key).cloned()
    }

    fn insert(&mut self, key: TraceKey, code: Arc<[u8]>) {
        if self.bytes + code.len() > Self::LIMIT {
            self.blocks.clear();
            self.bytes = 0;
        }
        self.bytes += code.len();
        self.blocks.insert(key, code);
    }
}
