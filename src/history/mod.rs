//! History in SQLite: every KPI's buckets kept across restarts, in tiers (1 s for 48 h,
//! 1 min for 30 days, 1 h for a year by default), compressed, capped by age and by size.
//!
//! The engine ships, every flush interval, the deltas its store gained together with the file
//! offsets and counter totals that include exactly them ([`crate::engine::Shipment`]). The
//! writer (thread `kpid-history`, [`writer`]) commits each flush in one transaction: the
//! deltas as a small `head` row, and the checkpoint. Only then does it acknowledge the
//! offsets to the tailer, so a restart, even after `kill -9`, resumes from what history holds
//! and re-reads exactly the lines it lacks. Every few minutes the recent points are folded
//! into compressed chunks ([`codec`]: a row per series and time span, Gorilla
//! delta-of-delta timestamps and XOR floats), and the coarser tiers are rolled up from the
//! finer ones a block (60 of their points) at a time ([`rollup`]). A point arriving for a time
//! a coarser tier has already rolled up goes straight into that tier as well, so each point is
//! counted once in every tier, whatever its lateness.
//!
//! Readers ([`Reader`], [`query`]) use their own connection (WAL: they never block the
//! writer) and the writer's in-memory points not yet folded, taken together under one short
//! lock, so an answer is current and counts nothing twice. [`db`] opens the file and moves a
//! damaged one aside; [`health`] reports what the writer did and dropped. Alert state
//! changes are kept beside the points as [`events`].

#[doc(hidden)]
pub mod bench;
pub mod bits;
pub mod codec;
pub mod config;
pub mod db;
pub mod events;
pub(crate) mod head;
pub mod health;
pub mod query;
pub mod rollup;
pub mod writer;

pub use codec::{Agg, GaugeAgg};
pub use config::{HistoryConfig, Tier};
pub use health::HistoryStats;
pub use query::{Reader, Step};
pub use writer::{spawn, WriterHandle};

use crate::kpi::Desc;
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

/// Errors of history.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// SQLite failed.
    #[error("history database {path}: {source}")]
    Sql {
        /// The file.
        path: PathBuf,
        /// Cause.
        source: rusqlite::Error,
    },
    /// A file operation failed.
    #[error("history {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The directory is not one kpid may trust.
    #[error(transparent)]
    Untrusted(#[from] crate::trust::TrustError),
    /// A chunk could not be read.
    #[error(transparent)]
    Codec(#[from] codec::CodecError),
    /// The config is invalid.
    #[error("{0}")]
    Config(String),
    /// Another process writes this directory.
    #[error("history directory {0} is in use by another kpid (its writer holds history.lock): stop it, or give this one another --data-dir")]
    Busy(PathBuf),
}

/// A series history knows: its durable number and description.
#[derive(Debug)]
pub struct SeriesInfo {
    /// Row id in the `series` table.
    pub id: i64,
    /// Description.
    pub desc: Arc<Desc>,
}

/// Most points held in memory before they are folded into chunks (about 60 MB).
pub const MAX_BUFFERED: usize = 1 << 20;

/// What the writer shares with readers.
#[derive(Debug)]
pub struct Shared {
    /// Finest-tier points not folded into chunks yet, per series, sorted by time.
    pub(crate) buf: Mutex<Buffer>,
    /// Every series, in id order.
    pub(crate) catalogue: RwLock<Vec<Arc<SeriesInfo>>>,
    /// Tiers, finest first.
    pub tiers: Vec<Tier>,
    /// The database file.
    pub path: PathBuf,
    /// Counters for health.
    pub stats: HistoryStats,
}

/// Points not folded yet.
#[derive(Debug, Default)]
pub(crate) struct Buffer {
    pub(crate) series: HashMap<i64, Vec<(i64, Agg)>>,
    pub(crate) points: usize,
}

impl Buffer {
    /// Merges a delta of bucket `t` into series `id`.
    pub(crate) fn add(&mut self, id: i64, t: i64, a: Agg) {
        let v = self.series.entry(id).or_default();
        match v.last() {
            Some((last, _)) if *last < t => v.push((t, a)),
            None => v.push((t, a)),
            _ => match v.binary_search_by_key(&t, |p| p.0) {
                Ok(i) => {
                    v[i].1.merge_same(&a);
                    return;
                }
                Err(i) => v.insert(i, (t, a)),
            },
        }
        self.points += 1;
    }

    /// Merges the deltas of series `id`, sorted by time with one per bucket, in order.
    pub(crate) fn add_run(&mut self, id: i64, pts: impl Iterator<Item = (i64, Agg)>) {
        let v = self.series.entry(id).or_default();
        for (t, a) in pts {
            match v.last() {
                Some((last, _)) if *last >= t => match v.binary_search_by_key(&t, |p| p.0) {
                    Ok(i) => {
                        v[i].1.merge_same(&a);
                        continue;
                    }
                    Err(i) => v.insert(i, (t, a)),
                },
                _ => v.push((t, a)),
            }
            self.points += 1;
        }
    }

    /// Empties the buffer after a fold. A series' vector is kept (for the next points of the
    /// same series, without growing it again) when it held points and is not large: a series
    /// with none since the fold before goes, and so does the memory of a burst.
    pub(crate) fn folded(&mut self) {
        self.series
            .retain(|_, v| !v.is_empty() && v.capacity() <= KEEP_CAPACITY);
        for v in self.series.values_mut() {
            v.clear();
        }
        self.points = 0;
    }
}

/// Largest vector (in points) a series keeps across a fold: 5 minutes at 1 s. What is kept
/// is never more than what the buffer held at the fold.
const KEEP_CAPACITY: usize = 512;

/// The start of the bucket of width `res` holding `t`.
pub fn floor(t: i64, res: i64) -> i64 {
    t.div_euclid(res) * res
}

/// Rolls `pts` (sorted by time) into buckets of width `res`, sorted.
pub fn roll_into(pts: &[(i64, Agg)], res: i64, out: &mut Vec<(i64, Agg)>) {
    for (t, a) in pts {
        let b = floor(*t, res);
        match out.last_mut() {
            Some((lt, la)) if *lt == b => la.roll(a),
            _ => out.push((b, a.clone())),
        }
    }
}

/// Merges points of one finest-tier source (several chunks) by time: sorted, one per bucket.
pub fn merge_by_time(pts: &mut Vec<(i64, Agg)>, same_bucket: bool) {
    pts.sort_by_key(|p| p.0);
    let mut out: Vec<(i64, Agg)> = Vec::with_capacity(pts.len());
    for (t, a) in pts.drain(..) {
        match out.last_mut() {
            Some((lt, la)) if *lt == t => {
                if same_bucket {
                    la.merge_same(&a)
                } else {
                    la.roll(&a)
                }
            }
            _ => out.push((t, a)),
        }
    }
    *pts = out;
}
