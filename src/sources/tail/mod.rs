//! The rotation-safe file tailer.
//!
//! [`spawn`] starts a thread that follows every file matching the configured paths or globs
//! and sends [`Batch`]es of whole lines down a bounded channel. It waits when the channel is
//! full (the file is the buffer: nothing is lost) and reads big chunks, cutting lines with
//! `memchr` and allocating nothing per line.
//!
//! Files are followed through rename rotation (the old file is finished, including what is
//! written to it after the rename, before the new one), copytruncate (the unread tail is taken
//! from the copy, found by the fingerprint of its first bytes), in-place truncation (the bytes
//! lost are counted in [`FileHealth::truncated_bytes_lost`](crate::sources::FileHealth)),
//! delete and recreate, files and directories that do not exist yet, and symlinks switched to a
//! new target. inotify (through `notify`) wakes the thread; a stat poll is the backstop.
//!
//! kpid has its own tailer because linemux 0.3, tried first, loses a line written to the old
//! file after a rename, drops bytes on copytruncate, splits a line written in two parts, has no
//! line cap, drops invalid UTF-8 and does not follow symlink switches.
//!
//! A file is identified by device, inode and a fingerprint of its first bytes ([`FileIdentity`]),
//! and read once whatever paths, globs or symlinks reach it. The tailer owns the checkpoint
//! ([`Checkpoints`]): every file it opens is registered with its start offset (written at start,
//! on a timer and at shutdown), and the engine acknowledges the offsets it applied with the
//! counter totals that include them. On restart each checkpointed file resumes exactly where it
//! stopped, also when it was rotated while kpid was down: it is looked for among the path's
//! rotation siblings, and the siblings written since (never read) are read after it, oldest
//! first, before the current file. The same search finds a file renamed away before it could
//! be opened at its path.

mod checkpoint;
mod drain;
mod follower;
mod identity;
mod lines;
mod open_file;
mod pass;
mod registry;
mod siblings;
mod watch;
mod worker;

pub use checkpoint::Checkpoints;

use crate::sources::{Batch, FileIdentity, Input, SourcesHealth};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::{mpsc, Notify};

/// One configured source: a path or a glob, and the name its lines carry.
#[derive(Debug, Clone)]
pub struct TailSource {
    /// Source name (the `source` label of KPIs).
    pub name: Arc<str>,
    /// A path (`logs/app.log`) or a glob (`logs/*.log`).
    pub pattern: String,
}

/// Where reading a file stopped: persisted by the daemon, given back in [`TailConfig::resume`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileCheckpoint {
    /// Path the file was followed under.
    pub path: PathBuf,
    /// The file.
    pub identity: FileIdentity,
    /// Offset after the last line applied.
    pub offset: u64,
}

impl FileCheckpoint {
    /// The checkpoint to persist once `batch` has been applied.
    pub fn after(batch: &Batch) -> Self {
        Self {
            path: (*batch.path).clone(),
            identity: batch.identity,
            offset: batch.end_offset,
        }
    }
}

/// How to tail.
#[derive(Debug, Clone)]
pub struct TailConfig {
    /// What to follow.
    pub sources: Vec<TailSource>,
    /// Lines longer than this (without their `\n`) are discarded and counted; the next line is
    /// intact. Default 64 KiB.
    pub max_line_bytes: usize,
    /// A last line without `\n` is held this long after it last grew, then emitted as a line.
    /// Default 1 s.
    pub partial_flush: Duration,
    /// Stat poll, the backstop for missed inotify events. Default 250 ms.
    pub poll_interval: Duration,
    /// Files present at startup with no checkpoint: read from 0 (`true`) or from the end.
    /// Files that appear later are always read from 0. Default `false`.
    pub from_start: bool,
    /// Checkpoints from the last run: each file still there resumes exactly at its offset.
    pub resume: Vec<FileCheckpoint>,
    /// A rotated-away file is closed after being quiet this long. Default 5 s.
    pub rotate_wait: Duration,
    /// How often the tailer writes the checkpoint when files were opened since the last write.
    /// Default 1 s.
    pub checkpoint_interval: Duration,
    /// One-shot: read every matching file to its end once (from 0, or from its checkpoint),
    /// send it all, flush partial last lines, and stop. [`Tailer::wait`] returns then.
    pub exit_at_eof: bool,
}

impl Default for TailConfig {
    fn default() -> Self {
        Self {
            sources: Vec::new(),
            max_line_bytes: 64 * 1024,
            partial_flush: Duration::from_secs(1),
            poll_interval: Duration::from_millis(250),
            from_start: false,
            resume: Vec::new(),
            rotate_wait: Duration::from_secs(5),
            checkpoint_interval: Duration::from_secs(1),
            exit_at_eof: false,
        }
    }
}

/// Changes the sources of a running tailer (a config reload): sources kept as they were go
/// on untouched, removed ones are no longer followed (their health entries say `removed`),
/// added ones are followed as at startup (`from_start` decides where a file present now is
/// read from).
#[derive(Debug, Clone)]
pub struct TailControl {
    signal: Arc<watch::Signal>,
    pending: Arc<parking_lot::Mutex<Option<Vec<TailSource>>>>,
}

impl TailControl {
    /// Hands the tailer its new sources; it switches on its next wake-up (now).
    pub fn set_sources(&self, sources: Vec<TailSource>) {
        *self.pending.lock() = Some(sources);
        self.signal.wake(true);
    }
}

/// The running tailer thread.
#[derive(Debug)]
pub struct Tailer {
    control: TailControl,
    signal: Arc<watch::Signal>,
    stop: Arc<Notify>,
    skip_save: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Tailer {
    /// A handle that changes the sources while the tailer runs.
    pub fn control(&self) -> TailControl {
        self.control.clone()
    }

    /// Stops the tailer (also while it waits on a full channel) and joins its thread.
    pub fn stop(mut self) {
        self.signal.stop();
        self.stop.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Stops the tailer without its shutdown checkpoint, as if the process had been killed
    /// (`kill -9`): for tests of restarts.
    #[doc(hidden)]
    pub fn abandon(self) {
        self.skip_save.store(true, Ordering::SeqCst);
        self.stop();
    }

    /// Waits for the thread to end: in one-shot mode, once everything present was sent.
    pub fn wait(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// True once the thread has ended.
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(JoinHandle::is_finished)
    }
}

impl Drop for Tailer {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.signal.stop();
            self.stop.notify_one();
        }
    }
}

/// Starts tailing on a thread of its own. Files present when this is called are the files
/// "present at startup" of [`TailConfig::from_start`]; each followed file (or pattern waiting
/// for a match) has its entry in `health` when this returns. The thread ends when stopped, when
/// the receiver is dropped, or in one-shot mode when done; `tx` is dropped then.
///
/// `checkpoints`: every file opened is registered there with the offset reading starts at, and
/// the checkpoint is written once the files present now are open, every
/// [`TailConfig::checkpoint_interval`] when files were opened since, and when the thread ends.
/// The files of the checkpoint it was created with are resumed (as [`TailConfig::resume`]).
pub fn spawn(
    cfg: TailConfig,
    tx: mpsc::Sender<Input>,
    health: Arc<SourcesHealth>,
    checkpoints: Arc<Checkpoints>,
) -> std::io::Result<Tailer> {
    let signal = Arc::new(watch::Signal::default());
    let stop = Arc::new(Notify::new());
    let skip_save = Arc::new(AtomicBool::new(false));
    let control = TailControl {
        signal: signal.clone(),
        pending: Arc::default(),
    };
    let mut worker = worker::Worker::new(
        cfg,
        tx,
        health,
        &control,
        stop.clone(),
        checkpoints,
        skip_save.clone(),
    )?;
    worker.prime();
    let thread = std::thread::Builder::new()
        .name("kpid-tail".into())
        .spawn(move || worker.run())?;
    Ok(Tailer {
        control,
        signal,
        stop,
        skip_save,
        thread: Some(thread),
    })
}
