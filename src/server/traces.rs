//! `/api/traces` and `/api/traces/{trace_id}`: the engine's sample of recent slow and failed
//! traces (docs/api.md), read from the published snapshot.

use super::api::error_reply;
use super::AppState;
use crate::traces::{Kept, Trace, TraceSpan, TracesView};
use serde::Serialize;
use serde_json::{Map, Value};
use std::sync::Arc;
use warp::http::StatusCode;
use warp::{Filter, Reply};

/// A sampled trace in the list.
#[derive(Debug, Serialize)]
struct Summary<'a> {
    trace_id: String,
    app: &'a str,
    root: &'a str,
    /// Root start, Unix seconds.
    start: f64,
    /// Root duration, seconds.
    duration: f64,
    error: bool,
    spans: usize,
    spans_dropped: u32,
    /// Kept as one of the slowest of its root name (else as a failed one).
    slow: bool,
}

/// One span of a trace's waterfall.
#[derive(Debug, Serialize)]
struct SpanOut<'a> {
    id: String,
    parent: Option<String>,
    name: &'a str,
    /// Seconds after the root's start (negative if it started before).
    start: f64,
    duration: f64,
    error: bool,
    attributes: Map<String, Value>,
}

fn summary(k: &Kept) -> Summary<'_> {
    let t = &k.trace;
    Summary {
        trace_id: t.hex_id(),
        app: &t.app,
        root: &t.root,
        start: t.start_ns as f64 * 1e-9,
        duration: t.duration(),
        error: t.error,
        spans: t.spans.len(),
        spans_dropped: t.spans_dropped,
        slow: k.slow,
    }
}

fn span<'a>(t: &Trace, s: &'a TraceSpan) -> SpanOut<'a> {
    let secs = |a: u64, b: u64| (a as i128 - b as i128) as f64 * 1e-9;
    SpanOut {
        id: format!("{:016x}", s.id),
        parent: (s.parent != 0).then(|| format!("{:016x}", s.parent)),
        name: &s.name,
        start: secs(s.start_ns, t.start_ns),
        duration: secs(s.end_ns, s.start_ns),
        error: s.error,
        attributes: s
            .attrs
            .iter()
            .map(|(k, v)| (k.to_string(), Value::from(v.to_string())))
            .collect(),
    }
}

fn list(v: &TracesView) -> Value {
    let traces: Vec<_> = v.traces.iter().map(|t| summary(t)).collect();
    serde_json::json!({ "traces": traces })
}

fn one(v: &TracesView, id: &str) -> Box<dyn Reply> {
    let Some(k) = v.get(id).filter(|_| id.len() == 32) else {
        return error_reply(
            StatusCode::NOT_FOUND,
            format!("trace {id} is not in the sample"),
        );
    };
    let mut out = serde_json::to_value(summary(k)).unwrap_or_default();
    let t = &k.trace;
    let spans: Vec<_> = t.spans.iter().map(|s| span(t, s)).collect();
    out["spans"] = serde_json::to_value(spans).unwrap_or_default();
    Box::new(warp::reply::json(&out))
}

pub(super) fn routes(state: Arc<AppState>) -> warp::filters::BoxedFilter<(Box<dyn Reply>,)> {
    let s = state.clone();
    let all = warp::path!("api" / "traces").and(warp::get()).map(move || {
        let snap = s.snapshot();
        Box::new(warp::reply::json(&list(&snap.traces))) as Box<dyn Reply>
    });
    let by_id = warp::path!("api" / "traces" / String)
        .and(warp::get())
        .map(move |id: String| one(&state.snapshot().traces, &id));
    all.or(by_id).unify().boxed()
}
