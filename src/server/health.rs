//! `/api/health`: overall status, per-source state and every drop counter.

use super::AppState;
use crate::health::Status;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::time::Instant;

/// Remembers when the loss total last grew.
#[derive(Debug, Default)]
pub struct WarnTracker {
    total: u64,
    changed: Option<Instant>,
}

/// Builds the health object.
pub fn health_json(state: &AppState) -> Value {
    let snap = state.snapshot();
    let (kpi_count, drops) = (snap.kpis.len(), snap.drops);
    let files = state.sources.files.lock().clone();
    let mut status = Status::Ok;
    // A session start evicted or expired is a duration that will never be observed.
    let mut losses = drops.total() + snap.sessions.evicted + snap.sessions.expired;
    for f in &files {
        if f.state == "error" {
            status = Status::Error;
        }
        losses += f.parse_errors
            + f.discarded_long_lines
            + f.truncated_bytes_lost
            + f.missed_files
            + f.event_overflows;
    }
    let ws_dropped = state.ws.dropped.load(Ordering::Relaxed);
    losses += ws_dropped;
    let mut obj = json!({
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_s": state.started.elapsed().as_secs_f64(),
        "kpi_count": kpi_count,
        "sources": files,
        "drops": {
            "ws_clients_dropped": ws_dropped,
            "label_sets_folded": drops.label_sets_folded,
            "series_refused": drops.series_refused,
            "kind_conflicts": drops.kind_conflicts,
            "invalid_values": drops.invalid_values,
        },
        "event_time": snap.event_time,
        "sessions": snap.sessions,
        "traces": snap.traces.stats,
        "ws": {
            "clients": state.ws.clients.load(Ordering::Relaxed),
            "frames": state.ws.frames.load(Ordering::Relaxed),
        },
        "http": state.http.snapshot(),
    });
    for s in &state.sections {
        status = status.max(s.status());
        losses += s.losses();
        obj[s.name()] = s.snapshot();
    }
    {
        let mut w = state.warn.lock();
        if losses != w.total {
            w.total = losses;
            w.changed = Some(Instant::now());
        }
        if w.changed.is_some_and(|t| t.elapsed().as_secs() < 60) {
            status = status.max(Status::Warn);
        }
    }
    obj["status"] = json!(status.as_str());
    obj
}
