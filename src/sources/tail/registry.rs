//! Every file the tailer has seen, by device and inode: where reading it would resume, which
//! are open now (one file is read by one follower only, whatever paths reach it), and the
//! shared [`Checkpoints`] every file opened is registered with.

use super::checkpoint::{Checkpoints, MAX_FILES};
use super::identity::{fnv1a, matches, read_head, FP_MAX};
use super::open_file::OpenFile;
use super::FileCheckpoint;
use std::collections::{HashMap, HashSet};
use std::fs::{File, Metadata};
use std::os::unix::fs::MetadataExt;
use std::sync::Arc;

type Key = (u64, u64);

/// Every file seen (by device and inode): where reading it would resume, which are open now,
/// and the shared checkpoints the files opened are registered with.
#[derive(Debug)]
pub(crate) struct Registry {
    files: HashMap<Key, FileCheckpoint>,
    /// Files open in some follower (one file is read by one follower only).
    pub open: HashSet<Key>,
    /// Files already counted as missed.
    pub missed: HashSet<Key>,
    pub checkpoints: Arc<Checkpoints>,
}

impl Registry {
    pub fn new(checkpoints: Arc<Checkpoints>, resume: &[FileCheckpoint]) -> Self {
        let mut r = Self {
            files: HashMap::new(),
            open: HashSet::new(),
            missed: HashSet::new(),
            checkpoints,
        };
        for cp in resume {
            r.insert(cp.clone());
        }
        r
    }

    fn insert(&mut self, cp: FileCheckpoint) {
        if self.files.len() >= MAX_FILES && !self.files.contains_key(&key(&cp)) {
            // Forget closed files first (open ones are re-registered when closed).
            let closed: Vec<Key> = self
                .files
                .keys()
                .filter(|k| !self.open.contains(k))
                .take(MAX_FILES / 4)
                .copied()
                .collect();
            for k in closed {
                self.files.remove(&k);
            }
        }
        self.files.insert(key(&cp), cp);
    }

    /// The offset to resume `file` at, if it is a file seen before (same leading bytes).
    pub fn resume(&self, file: &File, meta: &Metadata) -> Option<u64> {
        let cp = self.files.get(&(meta.dev(), meta.ino()))?;
        matches(file, meta, &cp.identity, true)
            .unwrap_or(false)
            .then_some(cp.offset)
    }

    /// True when `file` starts with the leading bytes of another file seen (a copy of it).
    pub fn is_copy_of_known(&self, file: &File, meta: &Metadata) -> bool {
        let Ok(head) = read_head(file, FP_MAX) else {
            return false;
        };
        let own = (meta.dev(), meta.ino());
        self.files.iter().any(|(k, cp)| {
            let len = cp.identity.fp_len as usize;
            *k != own
                && len > 0
                && head.len() >= len
                && fnv1a(&head[..len]) == cp.identity.fingerprint
        })
    }

    /// `f` was opened (at its current offset); `same`: it is a file seen before, resumed.
    pub fn opened(&mut self, f: &OpenFile, same: bool) {
        let cp = FileCheckpoint {
            path: (*f.path).clone(),
            identity: f.id,
            offset: f.asm.line_start(),
        };
        self.open.insert(f.dev_ino());
        self.checkpoints.started(cp.clone(), same);
        f.noted.set((f.id.fp_len, f.id.fingerprint));
        self.insert(cp);
    }

    /// `f`'s fingerprint may have grown since it was last noted.
    pub fn track(&mut self, f: &OpenFile) {
        let fp = (f.id.fp_len, f.id.fingerprint);
        if f.noted.get() != fp {
            f.noted.set(fp);
            self.checkpoints.track(&f.id);
            if let Some(cp) = self.files.get_mut(&f.dev_ino()) {
                cp.identity = f.id;
            }
        }
    }

    /// `f` is closed: reading it again would resume where it stopped.
    pub fn closed(&mut self, f: &OpenFile) {
        self.open.remove(&f.dev_ino());
        self.insert(FileCheckpoint {
            path: (*f.path).clone(),
            identity: f.id,
            offset: f.asm.line_start(),
        });
    }
}

pub(crate) fn key(cp: &FileCheckpoint) -> Key {
    (cp.identity.dev, cp.identity.ino)
}
