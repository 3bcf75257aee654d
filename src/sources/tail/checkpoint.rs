//! The tailer's checkpoints: file offsets the engine acknowledged, with the counter totals
//! that include exactly those lines, written together.

use super::FileCheckpoint;
use crate::state::{Checkpoint, CounterTotal, StateDir};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Debug)]
struct Inner {
    files: HashMap<(u64, u64), FileCheckpoint>,
    counters: Vec<CounterTotal>,
}

/// Offsets the tailer knows and counter totals the engine acknowledged, written together.
#[derive(Debug)]
pub struct Checkpoints {
    state: Option<StateDir>,
    inner: Mutex<Inner>,
}

impl Checkpoints {
    /// `state`: where to write (None: keep nothing). `loaded`: the checkpoint read at start.
    pub fn new(state: Option<StateDir>, loaded: Checkpoint) -> Arc<Self> {
        let files = loaded
            .files
            .into_iter()
            .map(|c| ((c.identity.dev, c.identity.ino), c))
            .collect();
        Arc::new(Checkpoints {
            state,
            inner: Mutex::new(Inner {
                files,
                counters: loaded.counters,
            }),
        })
    }

    /// The engine's acknowledgement: every file offset it has applied so far and the store's
    /// counter totals that include exactly those lines. Writes the checkpoint.
    pub fn applied(&self, files: &[FileCheckpoint], counters: Vec<CounterTotal>) {
        {
            let mut i = self.inner.lock();
            for f in files {
                i.files.insert((f.identity.dev, f.identity.ino), f.clone());
            }
            i.counters = counters;
        }
        self.save();
    }

    /// Writes the checkpoint now.
    pub fn save(&self) {
        let Some(state) = &self.state else { return };
        let i = self.inner.lock();
        let cp = Checkpoint {
            version: 1,
            files: i.files.values().cloned().collect(),
            counters: i.counters.clone(),
        };
        if let Err(e) = state.save(&cp) {
            tracing::warn!("{e}");
        }
    }
}
