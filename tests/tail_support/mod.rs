//! Helpers for the tail integration tests: a tailer over a temporary directory, a collector
//! thread that can be paused (to make the tailer wait on a full channel), a writer of
//! fixed-width numbered lines, and waits with generous deadlines (never timing assertions).

#![allow(dead_code)]

use kpid::sources::tail::{self, Checkpoints, FileCheckpoint, TailConfig, TailSource, Tailer};
use kpid::sources::{Batch, FileHealth, Input, SourcesHealth};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// How long any wait may take before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(20);

/// Polls `cond` until it holds; panics with `what` after [`DEADLINE`].
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + DEADLINE;
    while !cond() {
        assert!(
            Instant::now() < end,
            "timed out after {DEADLINE:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A fixed-width (32 bytes) numbered line.
pub fn line(tag: &str, n: usize) -> Vec<u8> {
    let l = format!("{tag:<6}{n:08} abcdefghijklmnop\n");
    assert_eq!(l.len(), 32);
    l.into_bytes()
}

/// Lines `range` of `tag`, concatenated.
pub fn lines(tag: &str, range: std::ops::Range<usize>) -> Vec<u8> {
    range.flat_map(|n| line(tag, n)).collect()
}

/// What the collector received.
#[derive(Debug, Default)]
pub struct Collected {
    /// Every batch's data, in arrival order.
    pub data: Mutex<Vec<u8>>,
    /// Data per batch path.
    pub by_path: Mutex<HashMap<PathBuf, Vec<u8>>>,
    /// Checkpoint after the last batch, per path.
    pub checkpoints: Mutex<HashMap<PathBuf, FileCheckpoint>>,
    /// Bytes received so far.
    pub len: AtomicUsize,
    /// While set, nothing is received (the channel fills and the tailer waits).
    pub paused: AtomicBool,
}

impl Collected {
    pub fn len(&self) -> usize {
        self.len.load(Ordering::SeqCst)
    }

    /// Waits until at least `n` bytes were received.
    pub fn wait_len(&self, n: usize) {
        wait_until(&format!("{n} bytes received"), || self.len() >= n);
    }

    fn take(&self, b: Batch) {
        assert!(b.data.ends_with(b"\n"), "a batch must hold whole lines");
        self.checkpoints
            .lock()
            .insert((*b.path).clone(), FileCheckpoint::after(&b));
        self.by_path
            .lock()
            .entry((*b.path).clone())
            .or_default()
            .extend_from_slice(&b.data);
        let mut data = self.data.lock();
        data.extend_from_slice(&b.data);
        self.len.store(data.len(), Ordering::SeqCst);
    }
}

/// A running tailer over files in a temporary directory, and its collector.
#[derive(Debug)]
pub struct Harness {
    pub dir: tempfile::TempDir,
    pub health: Arc<SourcesHealth>,
    pub got: Arc<Collected>,
    tailer: Option<Tailer>,
    collector: Option<JoinHandle<()>>,
}

impl Harness {
    /// A temporary directory, no tailer yet.
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            health: SourcesHealth::shared(),
            got: Arc::new(Collected::default()),
            tailer: None,
            collector: None,
        }
    }

    /// Forgets what was received (after [`Self::stop`]) to start again over the same files.
    pub fn reset(&mut self) {
        self.got = Arc::new(Collected::default());
    }

    /// `rel` inside the directory.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// A config following `patterns` (relative to the directory) with a fast poll.
    pub fn config(&self, patterns: &[&str]) -> TailConfig {
        TailConfig {
            sources: patterns
                .iter()
                .map(|p| TailSource {
                    name: Arc::from("test"),
                    pattern: self.path(p).display().to_string(),
                })
                .collect(),
            poll_interval: Duration::from_millis(100),
            ..TailConfig::default()
        }
    }

    /// Starts the tailer with `cfg` and a channel of `capacity` batches (no checkpoint kept).
    pub fn start(&mut self, cfg: TailConfig, capacity: usize) {
        self.start_with(cfg, capacity, Checkpoints::new(None, Default::default()));
    }

    /// Starts the tailer with `cfg`, a channel of `capacity` batches and `checkpoints`.
    pub fn start_with(&mut self, cfg: TailConfig, capacity: usize, checkpoints: Arc<Checkpoints>) {
        let (tx, mut rx) = mpsc::channel::<Input>(capacity);
        self.tailer = Some(tail::spawn(cfg, tx, self.health.clone(), checkpoints).unwrap());
        let got = self.got.clone();
        self.collector = Some(std::thread::spawn(move || loop {
            if got.paused.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(2));
                continue;
            }
            match rx.try_recv() {
                Ok(Input::Lines(b)) => got.take(b),
                Ok(other) => panic!("the tailer sent {other:?}"),
                Err(mpsc::error::TryRecvError::Empty) => {
                    std::thread::sleep(Duration::from_millis(1))
                }
                Err(mpsc::error::TryRecvError::Disconnected) => return,
            }
        }));
    }

    /// Stops the tailer, waits for the collector to drain the channel, returns all data.
    pub fn stop(&mut self) -> Vec<u8> {
        if let Some(t) = self.tailer.take() {
            t.stop();
        }
        self.got.paused.store(false, Ordering::SeqCst);
        if let Some(c) = self.collector.take() {
            c.join().unwrap();
        }
        self.got.data.lock().clone()
    }

    /// One-shot: waits for the tailer to finish on its own, then for the collector.
    pub fn wait_one_shot(&mut self) -> Vec<u8> {
        if let Some(t) = self.tailer.take() {
            t.wait();
        }
        self.stop()
    }

    /// Health of the file followed at `rel`.
    pub fn health_of(&self, rel: &str) -> FileHealth {
        let p = self.path(rel).display().to_string();
        let table = self.health.files.lock();
        table
            .iter()
            .find(|h| h.path == p)
            .cloned()
            .unwrap_or_else(|| panic!("no health entry for {p}: {table:?}"))
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if self.tailer.is_some() || self.collector.is_some() {
            let _ = self.stop();
        }
    }
}

/// Appends numbered lines, keeping a copy of everything written, pausing now and then so the
/// tailer reads while the writer writes.
#[derive(Debug)]
pub struct Writer {
    pub file: File,
    /// Every byte written, in order.
    pub written: Vec<u8>,
}

impl Writer {
    /// Opens `path` for appending (creating it).
    pub fn open(path: &Path) -> Self {
        Self {
            file: append(path),
            written: Vec::new(),
        }
    }

    /// Reopens (after a rotation), keeping what was written so far.
    pub fn reopen(&mut self, path: &Path) {
        self.file = append(path);
    }

    /// Appends `bytes` as one write.
    pub fn raw(&mut self, bytes: &[u8]) {
        self.file.write_all(bytes).unwrap();
        self.written.extend_from_slice(bytes);
    }

    /// Appends lines `range` of `tag`, one write per line, with a short pause every 100.
    pub fn lines(&mut self, tag: &str, range: std::ops::Range<usize>) {
        for n in range {
            self.raw(&line(tag, n));
            if n % 100 == 99 {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    }
}

/// Opens `path` for appending, creating it.
pub fn append(path: &Path) -> File {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap()
}

/// Asserts two byte streams are equal, showing where they first differ.
pub fn assert_same(got: &[u8], want: &[u8]) {
    if got == want {
        return;
    }
    let at = got
        .iter()
        .zip(want)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(want.len()));
    let from = at.saturating_sub(64);
    panic!(
        "streams differ at byte {at} (got {} bytes, want {}):\n got: {:?}\nwant: {:?}",
        got.len(),
        want.len(),
        String::from_utf8_lossy(&got[from..(at + 64).min(got.len())]),
        String::from_utf8_lossy(&want[from..(at + 64).min(want.len())]),
    );
}

/// logrotate without its `create`: numbered files shift up (`.1` → `.2` ...) and the log
/// becomes `.1`.
pub fn rotate_numbered(p: &Path) {
    let name = p.file_name().unwrap().to_str().unwrap().to_string();
    let numbered = |i: usize| p.with_file_name(format!("{name}.{i}"));
    let mut n = 1;
    while numbered(n).exists() {
        n += 1;
    }
    for i in (1..n).rev() {
        std::fs::rename(numbered(i), numbered(i + 1)).unwrap();
    }
    std::fs::rename(p, numbered(1)).unwrap();
}
