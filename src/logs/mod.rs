//! The last lines of each source, for the dashboard's log viewer (`/api/logs`).
//!
//! The engine keeps them in a [`LogRing`] as it applies line batches: a batch's bytes are kept
//! once, shared ([`bytes::Bytes`], no copy per line), with a small record per line (where it
//! is, its level, its own timestamp). Each source keeps at most `lines_per_source` lines and
//! `bytes_per_source` bytes; the oldest go first, counted. At each publication the engine
//! hands readers an immutable [`LogsSnapshot`] (the segments are shared by reference), so
//! the server filters and pages lines without touching the engine.

mod query;

pub use query::{LogQuery, QueryError};

use bytes::Bytes;
use serde::Deserialize;
use std::collections::VecDeque;
use std::sync::Arc;

/// `[logs]`: how many recent lines are kept per source.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogsConfig {
    /// Most lines kept per source (0 keeps none).
    pub lines_per_source: usize,
    /// Most bytes kept per source.
    pub bytes_per_source: usize,
    /// Most sources with a ring; lines of further sources are not kept (counted).
    pub max_sources: usize,
}

impl Default for LogsConfig {
    fn default() -> Self {
        LogsConfig {
            lines_per_source: 10_000,
            bytes_per_source: 8 << 20,
            max_sources: 256,
        }
    }
}

/// Where one line is in its segment, and what the parser read from it.
#[derive(Debug, Clone, Copy)]
pub struct LineMeta {
    /// Start in the segment's bytes.
    pub off: u32,
    /// Length, without the line terminator.
    pub len: u32,
    /// Severity: 0 none, then trace, debug, info, warn, error (the parsers' order).
    pub level: u8,
    /// The line's own time (Unix seconds), NaN when it carried none.
    pub ts: f64,
}

/// One applied batch: its bytes and its lines.
#[derive(Debug)]
pub struct Segment {
    /// Sequence number of its first line (grows across all sources).
    pub first_seq: u64,
    /// When it was applied, Unix seconds.
    pub t: f64,
    /// The batch's bytes.
    pub data: Bytes,
    /// Its lines, in order.
    pub lines: Box<[LineMeta]>,
}

impl Segment {
    /// The bytes of line `i`.
    pub fn text(&self, i: usize) -> &[u8] {
        let m = &self.lines[i];
        &self.data[m.off as usize..(m.off + m.len) as usize]
    }
}

/// One source's lines as readers see them.
#[derive(Debug, Clone)]
pub struct SourceLogs {
    /// Source name.
    pub name: Arc<str>,
    /// Segments, oldest first.
    pub segs: Vec<Arc<Segment>>,
    /// Lines of the first segment already gone.
    pub skip: usize,
    /// Lines kept.
    pub kept: usize,
    /// Lines ever received.
    pub total: u64,
    /// Lines that fell out of the ring.
    pub evicted: u64,
}

/// Every source's recent lines, at one publication.
#[derive(Debug, Default)]
pub struct LogsSnapshot {
    /// Sequence number the next line will get.
    pub next_seq: u64,
    /// Per source, in order of first line.
    pub sources: Vec<SourceLogs>,
    /// Lines not kept because `max_sources` sources already had a ring.
    pub untracked: u64,
}

#[derive(Debug)]
struct Ring {
    view: SourceLogs,
    segs: VecDeque<Arc<Segment>>,
    bytes: usize,
    dirty: bool,
}

/// The engine's rings, one per source.
#[derive(Debug)]
pub struct LogRing {
    cfg: LogsConfig,
    rings: Vec<Ring>,
    next_seq: u64,
    untracked: u64,
    dirty: bool,
}

impl LogRing {
    /// Empty rings with these caps.
    pub fn new(cfg: LogsConfig) -> Self {
        LogRing {
            cfg,
            rings: Vec::new(),
            // 0 is free for "before the first line" (`/api/logs?after=0` reads from the oldest).
            next_seq: 1,
            untracked: 0,
            dirty: false,
        }
    }

    /// Keeps a batch of `source` applied at `t`: `data` and where its `lines` are.
    pub fn push(&mut self, source: &Arc<str>, t: f64, data: Vec<u8>, lines: Vec<LineMeta>) {
        if lines.is_empty() || self.cfg.lines_per_source == 0 {
            return;
        }
        let n = lines.len();
        let i = match self.rings.iter().position(|r| r.view.name == *source) {
            Some(i) => i,
            None if self.rings.len() >= self.cfg.max_sources => {
                self.untracked += n as u64;
                self.dirty = true;
                return;
            }
            None => {
                self.rings.push(Ring {
                    view: SourceLogs {
                        name: source.clone(),
                        segs: Vec::new(),
                        skip: 0,
                        kept: 0,
                        total: 0,
                        evicted: 0,
                    },
                    segs: VecDeque::new(),
                    bytes: 0,
                    dirty: false,
                });
                self.rings.len() - 1
            }
        };
        // A batch far smaller than its allocation is copied, so the ring holds what it counts.
        let data = if data.capacity() > 2 * data.len() + 4096 {
            Bytes::copy_from_slice(&data)
        } else {
            Bytes::from(data)
        };
        let r = &mut self.rings[i];
        r.bytes += data.len();
        r.segs.push_back(Arc::new(Segment {
            first_seq: self.next_seq,
            t,
            data,
            lines: lines.into_boxed_slice(),
        }));
        self.next_seq += n as u64;
        r.view.total += n as u64;
        r.view.kept += n;
        r.dirty = true;
        self.dirty = true;
        trim(r, &self.cfg);
    }

    /// The rings as they are now, or `None` when nothing changed since the last call.
    pub fn publish(&mut self) -> Option<Arc<LogsSnapshot>> {
        if !std::mem::take(&mut self.dirty) {
            return None;
        }
        for r in self.rings.iter_mut().filter(|r| r.dirty) {
            r.dirty = false;
            r.view.segs = r.segs.iter().cloned().collect();
        }
        Some(Arc::new(LogsSnapshot {
            next_seq: self.next_seq,
            sources: self.rings.iter().map(|r| r.view.clone()).collect(),
            untracked: self.untracked,
        }))
    }
}

/// Drops the oldest lines past the caps (whole segments for the byte cap; the newest segment
/// always stays).
fn trim(r: &mut Ring, cfg: &LogsConfig) {
    while r.view.kept > cfg.lines_per_source || (r.bytes > cfg.bytes_per_source && r.segs.len() > 1)
    {
        let Some(front) = r.segs.front() else { break };
        let left = front.lines.len() - r.view.skip;
        let excess = r.view.kept.saturating_sub(cfg.lines_per_source);
        if r.bytes <= cfg.bytes_per_source && excess < left {
            r.view.skip += excess;
            r.view.kept -= excess;
            r.view.evicted += excess as u64;
            break;
        }
        r.bytes -= front.data.len();
        r.view.kept -= left;
        r.view.evicted += left as u64;
        r.view.skip = 0;
        r.segs.pop_front();
    }
}

#[cfg(test)]
mod tests;
