//! The metrics file of `PUT /metrics`: one JSON line ([`MetricsRecord`]) per flush,
//! as Firecracker writes its metrics.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use api::config::io_message;
use api::types::MetricsRecord;
use thiserror::Error;

/// Failures of the metrics file.
#[derive(Debug, Error)]
pub enum MetricsError {
    /// The file cannot be opened.
    #[error("Cannot open metrics file {}: {}", .path.display(), io_message(.source))]
    Open {
        /// The path.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// A line could not be written.
    #[error("Cannot write metrics to {}: {}", .path.display(), io_message(.source))]
    Write {
        /// The path.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
}

/// An open metrics file.
pub struct MetricsFile {
    path: PathBuf,
    file: File,
}

impl MetricsFile {
    /// Opens `path` for appending, creating it if missing.
    pub fn open(path: &Path) -> Result<MetricsFile, MetricsError> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            // A named pipe without a reader fails at once instead of blocking.
            .custom_flags(libc::O_NONBLOCK)
            .open(path)
            .map_err(|source| MetricsError::Open {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(MetricsFile {
            path: path.to_path_buf(),
            file,
        })
    }

    /// Appends `record` as one line.
    pub fn write(&mut self, record: &MetricsRecord) -> Result<(), MetricsError> {
        let mut line = serde_json::to_vec(record).map_err(|e| MetricsError::Write {
            path: self.path.clone(),
            source: e.into(),
        })?;
        line.push(b'\n');
        self.file
            .write_all(&line)
            .map_err(|source| MetricsError::Write {
                path: self.path.clone(),
                source,
            })
    }
}

/// Milliseconds since the Unix epoch.
pub fn utc_timestamp_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use api::types::InstanceState;

    use super::*;

    #[test]
    fn records_are_appended_as_json_lines() {
        let path = std::env::temp_dir().join(format!("rvnest-metrics-{}", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let mut file = MetricsFile::open(&path).expect("open");
        for state in [InstanceState::NotStarted, InstanceState::Running] {
            file.write(&MetricsRecord {
                utc_timestamp_ms: utc_timestamp_ms(),
                id: "t".into(),
                state,
                vcpus: Vec::new(),
                devices: Vec::new(),
            })
            .expect("write");
        }
        let text = std::fs::read_to_string(&path).expect("read");
        let lines: Vec<MetricsRecord> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1].state, InstanceState::Running);
        let _ = std::fs::remove_file(&path);
        let e = MetricsFile::open(Path::new("/nonexistent/dir/m"))
            .err()
            .expect("error");
        assert_eq!(
            e.to_string(),
            "Cannot open metrics file /nonexistent/dir/m: No such file or directory"
        );
    }
}
