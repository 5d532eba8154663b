//! rvnest's own log: `tracing` events formatted by `tracing-subscriber`, on stderr
//! until `PUT /logger` (or a config file's `logger` section) moves them to a file and
//! changes the level and the line format. The filter and the formatting layer are
//! reloadable; the writer is a shared, swappable target.

use std::fs::{File, OpenOptions};
use std::io::{self, IsTerminal, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use api::config::{LoggerConfig, io_message};
use thiserror::Error;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Layered, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry, reload};

/// Failures to configure the log.
#[derive(Debug, Error)]
pub enum LoggerError {
    /// The log file cannot be opened.
    #[error("Cannot open log file {}: {}", .path.display(), io_message(.source))]
    Open {
        /// The path.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The filter could not be built or installed.
    #[error("Cannot configure the logger: {0}")]
    Filter(String),
}

/// Where log lines go.
enum Target {
    Stderr,
    File(File),
}

/// The shared, swappable log destination.
#[derive(Clone)]
struct SharedTarget(Arc<Mutex<Target>>);

/// Writes one event to the current target, holding it for the event's duration.
struct TargetGuard<'a>(MutexGuard<'a, Target>);

impl Write for TargetGuard<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut *self.0 {
            Target::Stderr => io::stderr().write(buf),
            Target::File(file) => file.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut *self.0 {
            Target::Stderr => io::stderr().flush(),
            Target::File(file) => file.flush(),
        }
    }
}

impl<'a> MakeWriter<'a> for SharedTarget {
    type Writer = TargetGuard<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        TargetGuard(self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

type FilterLayer = reload::Layer<EnvFilter, Registry>;
type Filtered = Layered<FilterLayer, Registry>;
type FormatLayer = Box<dyn Layer<Filtered> + Send + Sync>;

/// A handle on the process's log configuration.
#[derive(Clone)]
pub struct Logger {
    filter: reload::Handle<EnvFilter, Registry>,
    format: reload::Handle<FormatLayer, Filtered>,
    target: SharedTarget,
}

impl Logger {
    /// Installs the process-wide subscriber: stderr, filtered by `filter` (an
    /// `EnvFilter` directive such as `warn` or `vmm=debug`; `warn` if invalid).
    /// Call once.
    pub fn init(filter: &str) -> Logger {
        let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("warn"));
        let target = SharedTarget(Arc::new(Mutex::new(Target::Stderr)));
        let (filter_layer, filter) = reload::Layer::new(filter);
        let ansi = std::io::stderr().is_terminal();
        let (format_layer, format) = reload::Layer::new(format_layer(&target, true, false, ansi));
        let _ = tracing_subscriber::registry()
            .with(filter_layer)
            .with(format_layer)
            .try_init();
        Logger {
            filter,
            format,
            target,
        }
    }

    /// Applies a `logger` configuration: opens the file (creating it, appending),
    /// then switches the level, the format and the destination.
    pub fn configure(&self, config: &LoggerConfig) -> Result<(), LoggerError> {
        let target = match &config.log_path {
            Some(path) => Target::File(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    // A named pipe without a reader fails at once instead of
                    // blocking the VMM (Firecracker opens its log the same way).
                    .custom_flags(libc::O_NONBLOCK)
                    .open(path)
                    .map_err(|source| LoggerError::Open {
                        path: path.clone(),
                        source,
                    })?,
            ),
            None => Target::Stderr,
        };
        let level = config.level.directive();
        let directive = match &config.module {
            Some(module) => format!("off,{module}={level}"),
            None => level.to_string(),
        };
        let filter =
            EnvFilter::try_new(&directive).map_err(|e| LoggerError::Filter(e.to_string()))?;
        let ansi = matches!(target, Target::Stderr) && io::stderr().is_terminal();
        *self.target.0.lock().unwrap_or_else(|e| e.into_inner()) = target;
        self.format
            .reload(format_layer(
                &self.target,
                config.show_level,
                config.show_log_origin,
                ansi,
            ))
            .map_err(|e| LoggerError::Filter(e.to_string()))?;
        self.filter
            .reload(filter)
            .map_err(|e| LoggerError::Filter(e.to_string()))?;
        tracing::info!(?config, "logger configured");
        Ok(())
    }
}

fn format_layer(
    target: &SharedTarget,
    show_level: bool,
    show_origin: bool,
    ansi: bool,
) -> FormatLayer {
    tracing_subscriber::fmt::layer()
        .with_writer(target.clone())
        .with_level(show_level)
        .with_file(show_origin)
        .with_line_number(show_origin)
        .with_ansi(ansi)
        .boxed()
}
