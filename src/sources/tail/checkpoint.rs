//! The checkpoint the tailer owns: where reading each file stands, written together with the
//! counter totals the engine acknowledged for exactly the lines before those offsets.
//!
//! Two kinds of offsets meet here. The tailer registers every file it opens with the offset it
//! starts (or resumes) reading at ([`Checkpoints::started`]); the engine acknowledges, after
//! applying lines, the offset it applied up to in each file and the counter totals that
//! include exactly those lines ([`Checkpoints::applied`]). The file written holds, per file, the
//! acknowledged offset when the engine acknowledged that very file, else the tailer's start
//! offset (nothing from it was applied, so the acknowledged counters agree with it). A restart
//! from any checkpoint written (even after `kill -9`) therefore counts every line once.

use super::FileCheckpoint;
use crate::sources::FileIdentity;
use crate::state::{Checkpoint, CounterTotal, StateDir};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

/// Most file entries kept (the least recently touched go first).
pub(crate) const MAX_FILES: usize = 4096;

type Key = (u64, u64);

/// A file the tailer reads: where it started, and every fingerprint it has had (so an
/// acknowledgement for this file, taken when fewer leading bytes existed, is recognised, and
/// one for an older file that had the same inode is not).
#[derive(Debug)]
struct Started {
    cp: FileCheckpoint,
    fps: Vec<(u32, u64)>,
    touched: u64,
}

#[derive(Debug, Default)]
struct Inner {
    tailer: HashMap<Key, Started>,
    acked: HashMap<Key, (FileCheckpoint, u64)>,
    counters: Vec<CounterTotal>,
    clock: u64,
    dirty: bool,
}

/// Offsets the tailer knows and counter totals the engine acknowledged, written together.
pub struct Checkpoints {
    state: Option<StateDir>,
    loaded: Vec<FileCheckpoint>,
    loaded_at: Option<SystemTime>,
    inner: Mutex<Inner>,
    /// Held while writing, so a newer snapshot is never overwritten by an older one.
    write: Mutex<()>,
}

impl std::fmt::Debug for Checkpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = self.inner.lock();
        f.debug_struct("Checkpoints")
            .field("state", &self.state)
            .field("files", &inner.tailer.len())
            .field("acked", &inner.acked.len())
            .finish_non_exhaustive()
    }
}

fn key(id: &FileIdentity) -> Key {
    (id.dev, id.ino)
}

impl Checkpoints {
    /// `state`: where to write (None: keep nothing). `loaded`: the checkpoint read at start.
    pub fn new(state: Option<StateDir>, loaded: Checkpoint) -> Arc<Self> {
        let loaded_at = state
            .as_ref()
            .and_then(|s| std::fs::metadata(s.path()).ok())
            .and_then(|m| m.modified().ok());
        let mut inner = Inner {
            counters: loaded.counters,
            ..Inner::default()
        };
        for cp in &loaded.files {
            inner.clock += 1;
            let t = inner.clock;
            inner.acked.insert(key(&cp.identity), (cp.clone(), t));
        }
        Arc::new(Self {
            state,
            loaded: loaded.files,
            loaded_at,
            inner: Mutex::new(inner),
            write: Mutex::new(()),
        })
    }

    /// The engine's acknowledgement: every file offset it has applied so far (cumulative: the
    /// engine keeps one entry per file identity it applied lines from) and the store's counter
    /// totals that include exactly those lines. Writes the checkpoint.
    pub fn applied(&self, files: &[FileCheckpoint], counters: Vec<CounterTotal>) {
        {
            let mut inner = self.inner.lock();
            for cp in files {
                let k = key(&cp.identity);
                let changed = inner.acked.get(&k).is_none_or(|(old, _)| old != cp);
                if changed {
                    inner.clock += 1;
                    let t = inner.clock;
                    inner.acked.insert(k, (cp.clone(), t));
                }
            }
            inner.counters = counters;
            inner.dirty = true;
        }
        self.save();
    }

    /// Writes the checkpoint now (the tailer calls it at start, on its own timer, at shutdown).
    pub fn save(&self) {
        let Some(state) = &self.state else {
            self.inner.lock().dirty = false;
            return;
        };
        let _w = self.write.lock();
        let cp = {
            let mut inner = self.inner.lock();
            inner.dirty = false;
            inner.evict();
            inner.snapshot()
        };
        if let Err(e) = state.save(&cp) {
            tracing::warn!("{e}");
        }
    }

    /// Writes the checkpoint if anything changed since the last write.
    pub(crate) fn save_if_dirty(&self) {
        if self.inner.lock().dirty {
            self.save();
        }
    }

    /// The files of the checkpoint read at start.
    pub(crate) fn loaded(&self) -> &[FileCheckpoint] {
        &self.loaded
    }

    /// When the checkpoint read at start was written, if there was one.
    pub(crate) fn loaded_at(&self) -> Option<SystemTime> {
        self.loaded_at
    }

    /// The tailer starts (or resumes) reading a file at `cp.offset`. A file already registered
    /// (`same`: the tailer recognised it; or same inode and a fingerprint it had) keeps its first
    /// start offset.
    pub(crate) fn started(&self, cp: FileCheckpoint, same: bool) {
        let mut inner = self.inner.lock();
        inner.clock += 1;
        let t = inner.clock;
        let k = key(&cp.identity);
        let fp = (cp.identity.fp_len, cp.identity.fingerprint);
        match inner.tailer.get_mut(&k) {
            Some(s) if same || s.fps.contains(&fp) || same_file(&s.cp.identity, &cp.identity) => {
                s.touched = t;
                s.cp.path = cp.path;
                if !s.fps.contains(&fp) {
                    s.fps.push(fp);
                }
            }
            _ => {
                inner.tailer.insert(
                    k,
                    Started {
                        cp,
                        fps: vec![fp],
                        touched: t,
                    },
                );
                inner.dirty = true;
            }
        }
    }

    /// The fingerprint of a file being read grew: remember it (acknowledgements carry it).
    pub(crate) fn track(&self, id: &FileIdentity) {
        let mut inner = self.inner.lock();
        if let Some(s) = inner.tailer.get_mut(&key(id)) {
            let fp = (id.fp_len, id.fingerprint);
            if !s.fps.contains(&fp) {
                s.fps.push(fp);
            }
        }
    }

    /// The checkpoint as it would be written now.
    pub fn snapshot(&self) -> Checkpoint {
        self.inner.lock().snapshot()
    }
}

/// Same inode and, for equal fingerprint lengths, the same fingerprint. (Different lengths:
/// only the recorded fingerprint history can tell.)
fn same_file(a: &FileIdentity, b: &FileIdentity) -> bool {
    a.dev == b.dev && a.ino == b.ino && a.fp_len == b.fp_len && a.fingerprint == b.fingerprint
}

impl Inner {
    fn snapshot(&self) -> Checkpoint {
        let mut files: Vec<FileCheckpoint> = Vec::with_capacity(self.tailer.len());
        for (k, s) in &self.tailer {
            let acked = self
                .acked
                .get(k)
                .filter(|(a, _)| s.fps.contains(&(a.identity.fp_len, a.identity.fingerprint)));
            files.push(match acked {
                Some((a, _)) => FileCheckpoint {
                    path: s.cp.path.clone(),
                    identity: a.identity,
                    offset: a.offset,
                },
                None => s.cp.clone(),
            });
        }
        for (k, (a, _)) in &self.acked {
            if !self.tailer.contains_key(k) {
                files.push(a.clone());
            }
        }
        Checkpoint {
            version: 1,
            files,
            counters: self.counters.clone(),
        }
    }

    fn evict(&mut self) {
        let total = self.tailer.len() + self.acked.len();
        if total <= 2 * MAX_FILES && self.tailer.len() <= MAX_FILES {
            return;
        }
        let mut ages: Vec<(u64, Key)> = self.tailer.iter().map(|(k, s)| (s.touched, *k)).collect();
        for (k, (_, t)) in &self.acked {
            if !self.tailer.contains_key(k) {
                ages.push((*t, *k));
            }
        }
        ages.sort_unstable();
        let excess = ages.len().saturating_sub(MAX_FILES);
        for (_, k) in ages.into_iter().take(excess) {
            self.tailer.remove(&k);
            self.acked.remove(&k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn cp(ino: u64, fp: u64, fp_len: u32, offset: u64) -> FileCheckpoint {
        FileCheckpoint {
            path: PathBuf::from("a.log"),
            identity: FileIdentity {
                dev: 1,
                ino,
                fingerprint: fp,
                fp_len,
            },
            offset,
        }
    }

    fn offsets(c: &Checkpoints) -> Vec<(u64, u64)> {
        let mut v: Vec<(u64, u64)> = c
            .snapshot()
            .files
            .iter()
            .map(|f| (f.identity.ino, f.offset))
            .collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn acked_offset_wins_only_for_the_same_file() {
        let c = Checkpoints::new(None, Checkpoint::default());
        c.started(cp(7, 10, 4, 100), false);
        assert_eq!(offsets(&c), vec![(7, 100)]);
        // The fingerprint grew while reading; the ack carries the grown one.
        c.track(&cp(7, 11, 64, 0).identity);
        c.applied(&[cp(7, 11, 64, 400)], Vec::new());
        assert_eq!(offsets(&c), vec![(7, 400)]);
        // A new file reusing the inode: the stale ack no longer applies.
        c.started(cp(7, 99, 4, 0), false);
        assert_eq!(offsets(&c), vec![(7, 0)]);
    }

    #[test]
    fn loaded_entries_kept_and_counters_are_the_latest_acked() {
        let loaded = Checkpoint {
            version: 1,
            files: vec![cp(3, 1, 8, 50)],
            counters: Vec::new(),
        };
        let c = Checkpoints::new(None, loaded);
        assert_eq!(c.loaded().len(), 1);
        c.started(cp(3, 1, 8, 50), false);
        c.started(cp(4, 2, 8, 0), false);
        assert_eq!(offsets(&c), vec![(3, 50), (4, 0)]);
        let total = CounterTotal {
            name: "x_total".into(),
            labels: Vec::new(),
            unit: String::new(),
            help: String::new(),
            total: 5.0,
        };
        c.applied(&[cp(4, 2, 8, 80)], vec![total.clone()]);
        assert_eq!(offsets(&c), vec![(3, 50), (4, 80)]);
        assert_eq!(c.snapshot().counters, vec![total]);
    }

    #[test]
    fn bounded() {
        let c = Checkpoints::new(None, Checkpoint::default());
        for i in 0..(MAX_FILES as u64 + 100) {
            c.started(cp(i, i, 8, 0), false);
        }
        c.inner.lock().evict();
        let files = c.snapshot().files;
        assert_eq!(files.len(), MAX_FILES);
        assert!(files.iter().all(|f| f.identity.ino >= 100));
    }

    #[test]
    fn writes_to_the_state_dir() {
        let tmp = tempfile::tempdir().unwrap();
        let sd = StateDir::open(tmp.path()).unwrap();
        let c = Checkpoints::new(Some(sd.clone()), Checkpoint::default());
        c.started(cp(9, 1, 8, 12), false);
        c.save_if_dirty();
        assert_eq!(sd.load().unwrap().files, vec![cp(9, 1, 8, 12)]);
    }
}
