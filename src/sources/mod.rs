//! Sources: where lines and records come from.
//!
//! Every source sends [`Input`]s down one bounded channel into the engine, the one stage that
//! applies them to the KPI store. The file tailer ([`tail`]) sends [`Batch`]es of complete
//! lines and waits when the engine is slow (the file is the buffer, nothing is lost); the
//! socket ([`socket`]) sends the frames of each app ([`AppBatch`]) and waits too (the app's
//! own bounded queue drops and counts instead of blocking it). Every file the tailer follows
//! has a [`FileHealth`] entry in the shared [`SourcesHealth`], which `/api/health` reports.

pub mod otlp;
pub mod pipe;
pub mod sample;
pub mod socket;
pub mod tail;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;

/// Identity of a file, stable across renames: device, inode, and a fingerprint of its first
/// bytes (so a recycled inode number is not mistaken for the old file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FileIdentity {
    /// `st_dev`.
    pub dev: u64,
    /// `st_ino`.
    pub ino: u64,
    /// Hash of the first `fp_len` bytes (0 when the file was empty).
    pub fingerprint: u64,
    /// How many leading bytes the fingerprint covers (grows up to a fixed maximum).
    pub fp_len: u32,
}

/// Complete lines read from one file. `data` holds whole lines, each ending with `\n`
/// (a CR before it is kept; parsers strip it). `end_offset` is the file offset just after
/// the last byte of `data`: once the batch is applied, a restart resumes there.
#[derive(Debug)]
pub struct Batch {
    /// Index of the followed file in [`SourcesHealth::files`].
    pub file: usize,
    /// The configured source name (the `source` label of KPIs).
    pub source: Arc<str>,
    /// Identity of the file the bytes came from.
    pub identity: FileIdentity,
    /// Path the file had when read.
    pub path: Arc<PathBuf>,
    /// Whole lines.
    pub data: Vec<u8>,
    /// File offset after `data`.
    pub end_offset: u64,
    /// Acknowledge `end_offset` in the checkpoint once applied (files; not pipes).
    pub checkpoint: bool,
}

/// Whole frames sent by one app (checked for framing, not yet decoded).
#[derive(Debug)]
pub struct AppBatch {
    /// The app's name (its `app` label).
    pub app: Arc<str>,
    /// The connection's number (unique in this daemon's life): the scope of the app's
    /// span and trace ids.
    pub conn: u64,
    /// Complete frames, back to back.
    pub frames: Vec<u8>,
}

/// What a source sends the engine.
#[derive(Debug)]
pub enum Input {
    /// Lines of a file.
    Lines(Batch),
    /// Frames of an app.
    App(AppBatch),
    /// What the samplers found (host, processes, GPU).
    Samples(sample::SampleBatch),
    /// An OTLP export request (spans, log records or metrics).
    Otlp(otlp::OtlpBatch),
    /// A reloaded configuration: new rules and parsers (the daemon's config reload).
    Reconfigure(Box<crate::engine::Reconfigure>),
}

/// State of one followed file, as `/api/health` shows it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FileHealth {
    /// Configured source name.
    pub source: String,
    /// Path (or pattern, until a file matches).
    pub path: String,
    /// `following`, `waiting` (does not exist yet), `error` (unreadable; retried).
    pub state: String,
    /// Offset read up to in the current file.
    pub offset: u64,
    /// Complete lines read.
    pub lines: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Lines the parser rejected (set by the engine).
    pub parse_errors: u64,
    /// Lines longer than the cap, discarded.
    pub discarded_long_lines: u64,
    /// Bytes lost because the file was truncated in place before they were read.
    pub truncated_bytes_lost: u64,
    /// Files that held lines never read: rotated and compressed while kpid was down, or gone
    /// before they could be opened.
    pub missed_files: u64,
    /// Times the kernel's inotify queue overflowed (or the watch failed) while this path was
    /// followed: files created and deleted meanwhile were never reported, so `missed_files`
    /// cannot count them. Each overflow is counted here as a possible loss of unknown size.
    pub event_overflows: u64,
    /// Rotations followed (rename, copytruncate, recreate, symlink switch).
    pub rotations: u64,
    /// Invalid UTF-8 lines (kept, decoded lossily where text is needed).
    pub invalid_utf8_lines: u64,
    /// Last error, if any (cleared when reading works again).
    pub last_error: Option<String>,
}

/// Health of every followed file, shared between the tailer, the engine and the server.
#[derive(Debug, Default)]
pub struct SourcesHealth {
    /// One entry per followed file or pattern; indexes are stable.
    pub files: Mutex<Vec<FileHealth>>,
}

impl SourcesHealth {
    /// A new, shared, empty health table.
    pub fn shared() -> Arc<Self> {
        Arc::new(Self::default())
    }
}
