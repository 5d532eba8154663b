//! The life of the `rvnest` process: read the config file, serve the API (if a
//! socket is given), boot, run the event-manager loop until the VM ends or the API
//! shuts it down, tear everything down, and say how it ended.
//!
//! Threads: this one (the event-manager loop: API requests, console input, the VM's
//! exit event, periodic metrics), the API server thread (`api`: the socket and its
//! connections), the virtio device thread (`devices`) and one thread per vCPU
//! (`vcpuN`), each under its seccomp filter ([`crate::seccomp`]). An API request travels from the
//! API thread over a channel; an `EventFd` wakes this loop, which answers on a
//! second channel (Firecracker's design).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use api::config::{ConfigError, VmConfig};
use api::server::{self, ApiServer, ServerError, ServerOptions, VmmEndpoint};
use event_manager::{EventManager, EventOps, Events, MutEventSubscriber, SubscriberOps};
use thiserror::Error;
use vmm_sys_util::epoll::EventSet;

use crate::api_handler::{SetupError, Vmm};
use crate::console::{ExitWatcher, StdinToUart};
use crate::logger::Logger;
use crate::machine::ExitStatus;
use crate::seccomp::{SeccompFilters, ThreadKind};
use crate::termination::TerminationSignals;

/// How the process runs.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// `--config-file`: boot this configuration at once.
    pub config_file: Option<PathBuf>,
    /// `--api-sock`: serve the API on this Unix socket.
    pub api_sock: Option<PathBuf>,
    /// `--id`: the instance id `GET /` reports.
    pub id: String,
    /// The API server's limits (`--http-api-max-payload-size`).
    pub server: ServerOptions,
    /// The threads' seccomp filters (`--no-seccomp`, `--seccomp-filter`).
    pub seccomp: SeccompFilters,
}

/// Failures before the VM could run: the process exits with code 1.
#[derive(Debug, Error)]
pub enum RunError {
    /// The config file is unreadable or invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The API socket could not be served.
    #[error(transparent)]
    Server(#[from] ServerError),
    /// The configuration could not be applied or the VM not started.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// The event loop could not be set up.
    #[error("Cannot create the event loop: {0}")]
    EventLoop(String),
    /// Neither a config file nor an API socket: nothing to do.
    #[error("Nothing to run: give --config-file, --api-sock, or both")]
    NothingToRun,
}

/// Runs the process's VM as `options` say and returns how it ended.
///
/// `signals`, when given, ends the VM on SIGTERM or SIGINT (see [`crate::termination`]).
pub fn run(
    options: RunOptions,
    logger: Logger,
    signals: Option<TerminationSignals>,
) -> Result<ExitStatus, RunError> {
    if options.config_file.is_none() && options.api_sock.is_none() {
        return Err(RunError::NothingToRun);
    }
    let config = options
        .config_file
        .as_ref()
        .map(VmConfig::from_file)
        .transpose()?;
    let mut vmm = Vmm::new(options.id.clone(), logger).with_seccomp(options.seccomp.clone());
    if let Some(config) = &config {
        vmm.configure(config)?;
    }

    let (server, endpoint) = match &options.api_sock {
        Some(path) => {
            let listener = server::bind(path)?;
            let (link, endpoint) = server::vmm_channel().map_err(ServerError::from)?;
            let seccomp = options.seccomp.clone();
            let server = ApiServer::start_with(listener, path, options.server, link, move || {
                seccomp
                    .install(ThreadKind::Api, "api")
                    .map_err(|e| e.to_string())
            })?;
            tracing::info!(socket = %path.display(), "API server listening");
            (Some(server), Some(endpoint))
        }
        None => (None, None),
    };

    if config.is_some() {
        vmm.start_vm()?;
    }

    let status = event_loop(vmm, endpoint, signals);
    // The VM is stopped; the API thread answers 503 to whatever still comes, until
    // it stops here and removes the socket.
    if let Some(server) = server {
        server.shutdown();
    }
    status
}

/// The VMM's end of the API channel, as an event subscriber of the loop.
struct ApiSubscriber {
    vmm: Vmm,
    endpoint: Option<VmmEndpoint>,
}

impl MutEventSubscriber for ApiSubscriber {
    fn process(&mut self, _events: Events, _ops: &mut EventOps) {
        let Some(endpoint) = &self.endpoint else {
            return;
        };
        let _ = endpoint.event.read();
        while let Ok(request) = endpoint.requests.try_recv() {
            let answer = self.vmm.handle(request);
            if endpoint.responses.send(answer).is_err() {
                break;
            }
        }
    }

    fn init(&mut self, ops: &mut EventOps) {
        if let Some(endpoint) = &self.endpoint
            && let Err(e) = ops.add(Events::new(&endpoint.event, EventSet::IN))
        {
            tracing::error!("Cannot watch the API channel: {e}");
        }
    }
}

/// Serves the API, the console and the exit event until the VM ends (or, before
/// boot, until a `Shutdown` action).
fn event_loop(
    vmm: Vmm,
    endpoint: Option<VmmEndpoint>,
    signals: Option<TerminationSignals>,
) -> Result<ExitStatus, RunError> {
    let mut events = EventManager::<Arc<Mutex<dyn MutEventSubscriber + Send>>>::new()
        .map_err(|e| RunError::EventLoop(e.to_string()))?;
    let api = Arc::new(Mutex::new(ApiSubscriber { vmm, endpoint }));
    events.add_subscriber(api.clone());
    let signals = signals.map(|s| Arc::new(Mutex::new(s)));
    if let Some(signals) = &signals {
        events.add_subscriber(signals.clone());
    }
    let terminated = || {
        signals
            .as_ref()
            .and_then(|s| s.lock().unwrap_or_else(|e| e.into_inner()).received())
    };
    let mut exit_watcher: Option<Arc<Mutex<ExitWatcher>>> = None;
    let mut ended_by = None;
    loop {
        if let Err(e) = events.run_with_timeout(100) {
            ended_by = Some(ExitStatus::Error(format!("Event loop failed: {e}")));
            break;
        }
        let mut guard = api.lock().unwrap_or_else(|e| e.into_inner());
        if exit_watcher.is_none()
            && let Some(vm) = guard.vmm.vm()
        {
            // The VM has started: watch its exit event and feed it the console.
            let watcher = Arc::new(Mutex::new(ExitWatcher::new(vm.machine().clone())));
            events.add_subscriber(watcher.clone());
            events.add_subscriber(Arc::new(Mutex::new(StdinToUart::new(
                vm.uart().clone(),
                vm.machine().clone(),
            ))));
            exit_watcher = Some(watcher);
        }
        let vm_ended = exit_watcher
            .as_ref()
            .is_some_and(|w| w.lock().unwrap_or_else(|e| e.into_inner()).fired);
        if vm_ended || guard.vmm.shutdown_requested() {
            break;
        }
        if let Some(signal) = terminated() {
            ended_by = Some(ExitStatus::Terminated(signal));
            break;
        }
        guard.vmm.tick();
    }
    drop(events);
    let subscriber = match Arc::try_unwrap(api) {
        Ok(mutex) => mutex.into_inner().unwrap_or_else(|e| e.into_inner()),
        Err(_) => {
            return Err(RunError::EventLoop(
                "the API subscriber is still shared".into(),
            ));
        }
    };
    // Close the channel before joining the vCPUs: the API thread stops waiting.
    drop(subscriber.endpoint);
    let status = subscriber.vmm.finish();
    Ok(ended_by.unwrap_or(status))
}
