//! The `history` section of `/api/health` and `/metrics`: what the writer wrote, how long its
//! flushes took, the file's size, and everything it dropped or could not do.

use super::Shared;
use crate::health::{HealthSection, Status};
use parking_lot::Mutex;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// The writer's counters.
#[derive(Debug, Default)]
pub struct HistoryStats {
    /// Finest-tier points received (deltas).
    pub points: AtomicU64,
    /// Flushes committed.
    pub flushes: AtomicU64,
    /// Last and longest flush, microseconds.
    pub flush_last_us: AtomicU64,
    /// Longest flush, microseconds.
    pub flush_max_us: AtomicU64,
    /// Folds of recent points into chunks.
    pub folds: AtomicU64,
    /// Chunks written, all tiers.
    pub chunks: AtomicU64,
    /// Bytes the database uses (pages in use).
    pub bytes: AtomicU64,
    /// Points deleted by retention.
    pub expired_points: AtomicU64,
    /// Points deleted to keep under `max_size`.
    pub dropped_size_points: AtomicU64,
    /// Points lost to a failed write (the flush's deltas).
    pub dropped_error_points: AtomicU64,
    /// Failed operations.
    pub errors: AtomicU64,
    /// The last error.
    pub last_error: Mutex<Option<String>>,
    /// Set when a damaged database was moved aside at start.
    pub recovered: Mutex<Option<String>>,
    /// Events (alert state changes) stored and dropped.
    pub events: Arc<super::events::EventStats>,
}

impl HistoryStats {
    /// Counts an error and keeps its message.
    pub fn error(&self, msg: String) {
        tracing::warn!("{msg}");
        self.errors.fetch_add(1, Relaxed);
        *self.last_error.lock() = Some(msg);
    }

    /// Records a flush's duration.
    pub fn flushed(&self, us: u64) {
        self.flushes.fetch_add(1, Relaxed);
        self.flush_last_us.store(us, Relaxed);
        self.flush_max_us.fetch_max(us, Relaxed);
    }
}

/// The health section (shares the writer's state).
#[derive(Debug)]
pub struct HistorySection(pub Arc<Shared>);

impl HealthSection for HistorySection {
    fn name(&self) -> &'static str {
        "history"
    }

    fn snapshot(&self) -> Value {
        let s = &self.0.stats;
        let g = |a: &AtomicU64| a.load(Relaxed);
        let tiers: Vec<Value> = self
            .0
            .tiers
            .iter()
            .map(|t| json!({"resolution_s": t.res, "retention_s": t.retention}))
            .collect();
        json!({
            "path": self.0.path.display().to_string(),
            "series": self.0.catalogue.read().len(),
            "points_written": g(&s.points),
            "flushes": g(&s.flushes),
            "flush_last_ms": g(&s.flush_last_us) as f64 / 1000.0,
            "flush_max_ms": g(&s.flush_max_us) as f64 / 1000.0,
            "folds": g(&s.folds),
            "chunks_written": g(&s.chunks),
            "bytes_on_disk": g(&s.bytes),
            "buffered_points": self.0.buf.lock().points,
            "tiers": tiers,
            "expired_points": g(&s.expired_points),
            "events": {
                "stored": g(&s.events.stored),
                "expired": g(&s.events.expired),
            },
            "dropped": {
                "size_cap_points": g(&s.dropped_size_points),
                "write_error_points": g(&s.dropped_error_points),
                "events_queue_full": g(&s.events.dropped_queue),
                "events_write_error": g(&s.events.dropped_error),
            },
            "errors": g(&s.errors),
            "last_error": *s.last_error.lock(),
            "warning": *s.recovered.lock(),
        })
    }

    fn status(&self) -> Status {
        let s = &self.0.stats;
        if s.recovered.lock().is_some() || s.errors.load(Relaxed) > 0 {
            Status::Warn
        } else {
            Status::Ok
        }
    }

    fn losses(&self) -> u64 {
        let s = &self.0.stats;
        s.dropped_size_points.load(Relaxed)
            + s.dropped_error_points.load(Relaxed)
            + s.events.dropped_queue.load(Relaxed)
            + s.events.dropped_error.load(Relaxed)
    }

    fn prometheus(&self, out: &mut String) {
        use std::fmt::Write;
        let s = &self.0.stats;
        let g = |a: &AtomicU64| a.load(Relaxed);
        let _ = writeln!(out, "# HELP kpid_history_points_total Points history received.\n# TYPE kpid_history_points_total counter\nkpid_history_points_total {}", g(&s.points));
        let _ = writeln!(out, "# HELP kpid_history_bytes Bytes the history database uses.\n# TYPE kpid_history_bytes gauge\nkpid_history_bytes {}", g(&s.bytes));
        let _ = writeln!(out, "# HELP kpid_history_dropped_points_total Points and events history dropped (size cap, full queue, write errors).\n# TYPE kpid_history_dropped_points_total counter\nkpid_history_dropped_points_total {}", self.losses());
    }
}
