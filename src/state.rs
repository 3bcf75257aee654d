//! The checkpoint: file offsets and counter totals, written together and atomically, so a
//! restart (even after `kill -9`) resumes exactly where the last checkpoint stopped.
//!
//! The file is JSON, `<state-dir>/checkpoint.json`, written to a temporary file created
//! exclusively (mode 0600, no symlink followed) and renamed over the old one, in a directory
//! checked first: kpid's own, mode 0700 ([`crate::trust`]).

use crate::kpi::{Kind, SeriesSpec, Store};
use crate::sources::tail::FileCheckpoint;
use crate::trust::{self, Sharing, TrustError};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One counter's running total.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CounterTotal {
    /// KPI name.
    pub name: String,
    /// Sorted labels.
    pub labels: Vec<(String, String)>,
    /// Unit.
    pub unit: String,
    /// Help.
    pub help: String,
    /// Total.
    pub total: f64,
}

/// What the checkpoint file holds.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Format version.
    pub version: u32,
    /// Offsets of every file, up to the last applied line.
    pub files: Vec<FileCheckpoint>,
    /// Counter totals at that same moment.
    pub counters: Vec<CounterTotal>,
}

/// Errors reading or writing the checkpoint.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// I/O on the state directory or file.
    #[error("state {path}: {source}")]
    Io {
        /// File or directory.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The file is not a checkpoint.
    #[error("state {path}: not a valid checkpoint: {source}")]
    Corrupt {
        /// File.
        path: PathBuf,
        /// Cause.
        source: serde_json::Error,
    },
    /// The directory is not one kpid may trust.
    #[error(transparent)]
    Untrusted(#[from] TrustError),
}

/// The state directory.
#[derive(Debug, Clone)]
pub struct StateDir {
    dir: PathBuf,
}

impl StateDir {
    /// Opens the state directory: creates it (mode 0700) or checks that kpid owns it and
    /// that no one else can write it (fixing the mode of its own, with a warning).
    pub fn open(dir: &Path) -> Result<StateDir, StateError> {
        if let Some(warning) = trust::dir(dir, "state directory", Sharing::Private)? {
            tracing::warn!("{warning}");
        }
        Ok(StateDir {
            dir: dir.to_owned(),
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn file(&self) -> PathBuf {
        self.dir.join("checkpoint.json")
    }

    /// The checkpoint file's path.
    pub fn path(&self) -> PathBuf {
        self.file()
    }

    /// Reads the last checkpoint (empty when there is none). A symlink is not followed.
    pub fn load(&self) -> Result<Checkpoint, StateError> {
        let path = self.file();
        match trust::read(&path, false) {
            Ok(Some(bytes)) => serde_json::from_slice(&bytes)
                .map_err(|source| StateError::Corrupt { path, source }),
            Ok(None) => Ok(Checkpoint::default()),
            Err(source) => Err(StateError::Io { path, source }),
        }
    }

    /// Writes a checkpoint atomically.
    pub fn save(&self, cp: &Checkpoint) -> Result<(), StateError> {
        let bytes = serde_json::to_vec(cp).expect("checkpoint serializes");
        trust::write_atomic(&self.dir, "checkpoint.json", &bytes).map_err(|source| StateError::Io {
            path: self.file(),
            source,
        })
    }
}

/// The counter totals of a store.
pub fn counter_totals(store: &Store) -> Vec<CounterTotal> {
    store
        .iter()
        .filter(|(d, _)| d.kind == Kind::Counter)
        .map(|(d, s)| CounterTotal {
            name: d.name.clone(),
            labels: d.labels.clone(),
            unit: d.unit.clone(),
            help: d.help.clone(),
            total: s.total,
        })
        .collect()
}

/// Puts checkpointed counter totals back into a store.
pub fn restore_counters(store: &mut Store, counters: &[CounterTotal]) {
    for c in counters {
        let labels: Vec<(&str, &str)> = c
            .labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        if let Some(r) = store.resolve(&SeriesSpec {
            name: &c.name,
            labels: &labels,
            kind: Kind::Counter,
            unit: &c.unit,
            help: &c.help,
            buckets: None,
        }) {
            store.restore_total(r, c.total);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn save_load_round_trip_owner_only() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("state");
        let sd = StateDir::open(&dir).unwrap();
        assert_eq!(sd.load().unwrap().files.len(), 0);
        let cp = Checkpoint {
            version: 1,
            files: vec![],
            counters: vec![CounterTotal {
                name: "a_total".into(),
                labels: vec![("x".into(), "1".into())],
                unit: String::new(),
                help: "h".into(),
                total: 42.0,
            }],
        };
        sd.save(&cp).unwrap();
        assert_eq!(sd.load().unwrap().counters, cp.counters);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("checkpoint.json")), 0o600);
    }

    #[test]
    fn corrupt_checkpoint_is_reported_with_its_path() {
        let tmp = tempfile::tempdir().unwrap();
        let sd = StateDir::open(tmp.path()).unwrap();
        std::fs::write(tmp.path().join("checkpoint.json"), b"{nope").unwrap();
        let e = sd.load().unwrap_err().to_string();
        assert!(
            e.contains("checkpoint.json") && e.contains("not a valid checkpoint"),
            "{e}"
        );
    }
}
