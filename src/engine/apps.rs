//! App frames (span closes, events, metric samples, drop reports) as records: decoded here,
//! in the engine, and applied through the same [`Rules`] as log lines.
//!
//! A span close (plain or traced) becomes a [`RecordKind::Span`] record with fields `span` (its name),
//! `duration` (seconds), `error`, `parent` (when it has one) and the span's own fields; an
//! event becomes a [`RecordKind::Event`] record with its fields and `span`; a metric sample a
//! [`RecordKind::Metric`] record with `name`, `value`, `kind` and its labels; a drop report one
//! [`RecordKind::Drops`] record per level with a `dropped` count.

use super::clock::{counting_late, Clock};
use super::rules::{RecordKind, Rules};
use crate::kpi::Store;
use crate::sources::socket::SocketStats;
use crate::sources::AppBatch;
use crate::traces::Sampler;
use kpid_parsers::{Level, Record, Value};
use kpid_wire::{self as wire, FrameType, MetricKind};
use std::borrow::Cow;
use std::sync::atomic::Ordering::Relaxed;

fn level(l: wire::Level) -> Level {
    match l {
        wire::Level::Trace => Level::Trace,
        wire::Level::Debug => Level::Debug,
        wire::Level::Info => Level::Info,
        wire::Level::Warn => Level::Warn,
        wire::Level::Error => Level::Error,
    }
}

fn value(v: wire::Value<'_>) -> Value<'_> {
    match v {
        wire::Value::I64(i) => Value::Int(i),
        wire::Value::U64(u) => i64::try_from(u).map_or(Value::Float(u as f64), Value::Int),
        wire::Value::F64(f) => Value::Float(f),
        wire::Value::Bool(b) => Value::Bool(b),
        wire::Value::Str(s) => Value::Str(Cow::Borrowed(s.as_bytes())),
    }
}

/// What the frames applied since the last publication held; added to [`SocketStats`] when
/// the engine publishes, so that health never runs ahead of the published KPIs.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    frames: u64,
    spans: u64,
    events: u64,
    metrics: u64,
    malformed: u64,
    unknown_type: u64,
    app_dropped: u64,
}

impl Counts {
    /// Adds the counts to `stats` and resets them.
    pub(super) fn flush(&mut self, stats: &SocketStats) {
        let c = std::mem::take(self);
        for (a, n) in [
            (&stats.frames, c.frames),
            (&stats.spans, c.spans),
            (&stats.events, c.events),
            (&stats.metrics, c.metrics),
            (&stats.rejected.malformed, c.malformed),
            (&stats.rejected.unknown_type, c.unknown_type),
        ] {
            if n > 0 {
                a.fetch_add(n, Relaxed);
            }
        }
        if c.app_dropped > 0 {
            // Saturating: an app's report can never wrap the total around.
            let _ = stats
                .app_dropped
                .fetch_update(Relaxed, Relaxed, |t| Some(t.saturating_add(c.app_dropped)));
        }
    }
}

/// Decodes the whole frames of `batch` (their framing was checked by the connection) and
/// applies each as a record from its app, counting into `c`. Span closes and events take
/// their own time (the span's end, the event's time) as event time; metric samples and drop
/// reports their arrival time. Traced spans also go to the trace sample.
pub(crate) fn apply(
    rules: &mut Rules,
    store: &mut Store,
    rec: &mut Record<'static>,
    batch: &AppBatch,
    c: &mut Counts,
    clock: Clock,
    traces: &mut Sampler,
) {
    let now = clock.now;
    let app = &batch.app;
    let mut rest = &batch.frames[..];
    let span_fields = rules.wants_fields(RecordKind::Span);
    while let Ok(Some((ty, body, used))) = wire::split_frame(rest, usize::MAX) {
        rest = &rest[used..];
        c.frames += 1;
        let mut r = std::mem::take(rec).recycle();
        let kind = match FrameType::from_u8(ty) {
            Some(FrameType::Span) => match wire::decode_span(body) {
                Ok(s) => {
                    span(&mut r, s, span_fields);
                    c.spans += 1;
                    Ok(RecordKind::Span)
                }
                Err(_) => Err(Some(())),
            },
            Some(FrameType::TracedSpan) => match wire::decode_traced_span(body) {
                Ok((ids, s)) => {
                    traces.socket_span(app, batch.conn, (ids, &s), body, now);
                    span(&mut r, s, span_fields);
                    c.spans += 1;
                    Ok(RecordKind::Span)
                }
                Err(_) => Err(Some(())),
            },
            Some(FrameType::Event) => event(&mut r, body).map(|()| {
                c.events += 1;
                RecordKind::Event
            }),
            Some(FrameType::Metric) => metric(&mut r, body).map(|()| {
                c.metrics += 1;
                RecordKind::Metric
            }),
            Some(FrameType::Drops) => match wire::decode_drops(body) {
                Ok(d) => {
                    for (i, &n) in d.iter().enumerate().filter(|(_, &n)| n > 0) {
                        c.app_dropped = c.app_dropped.saturating_add(n);
                        let mut d = r.recycle();
                        d.level = Some(level(wire::Level::ALL[i]));
                        d.push(&b"dropped"[..], Value::Float(n as f64));
                        rules.apply(store, app, RecordKind::Drops, &d, now);
                        r = d.recycle();
                    }
                    Err(None)
                }
                Err(_) => Err(Some(())),
            },
            _ => {
                c.unknown_type += 1;
                Err(None)
            }
        };
        match kind {
            Ok(kind) => {
                let t = clock.at(r.timestamp, store.event_stats_mut());
                counting_late(store, |s| rules.apply(s, app, kind, &r, t));
            }
            Err(Some(())) => c.malformed += 1,
            Err(None) => {}
        }
        *rec = r.recycle();
    }
}

/// A span close as a record; its own fields only when a rule reads them (`with_fields`).
fn span<'a>(r: &mut Record<'a>, s: wire::SpanClose<'a>, with_fields: bool) {
    r.level = Some(level(s.level));
    r.target = Some(Cow::Borrowed(s.target.as_bytes()));
    r.timestamp = Some((s.start_unix_ns.saturating_add(s.duration_ns)) as f64 * 1e-9);
    r.push(&b"span"[..], Value::Str(Cow::Borrowed(s.name.as_bytes())));
    r.push(
        &b"duration"[..],
        Value::Duration(s.duration_ns as f64 * 1e-9),
    );
    r.push(&b"error"[..], Value::Bool(s.error));
    if !s.parent.is_empty() {
        r.push(
            &b"parent"[..],
            Value::Str(Cow::Borrowed(s.parent.as_bytes())),
        );
    }
    if with_fields {
        for (k, v) in s.fields {
            r.push(k.as_bytes(), value(v));
        }
    }
}

fn event<'a>(r: &mut Record<'a>, body: &'a [u8]) -> Result<(), Option<()>> {
    let e = wire::decode_event(body).map_err(|_| Some(()))?;
    r.level = Some(level(e.level));
    r.target = Some(Cow::Borrowed(e.target.as_bytes()));
    r.timestamp = Some(e.time_unix_ns as f64 * 1e-9);
    if !e.span.is_empty() {
        r.push(&b"span"[..], Value::Str(Cow::Borrowed(e.span.as_bytes())));
    }
    for (k, v) in e.fields {
        if let ("message", wire::Value::Str(m)) = (k, v) {
            r.message = Some(Cow::Borrowed(m.as_bytes()));
        }
        r.push(k.as_bytes(), value(v));
    }
    Ok(())
}

fn metric<'a>(r: &mut Record<'a>, body: &'a [u8]) -> Result<(), Option<()>> {
    let m = wire::decode_metric(body).map_err(|_| Some(()))?;
    let kind: &[u8] = match m.kind {
        MetricKind::Counter => b"counter",
        MetricKind::Gauge => b"gauge",
        MetricKind::Histogram => b"histogram",
    };
    r.push(&b"name"[..], Value::Str(Cow::Borrowed(m.name.as_bytes())));
    r.push(&b"value"[..], Value::Float(m.value));
    r.push(&b"kind"[..], Value::Str(Cow::Borrowed(kind)));
    for (k, v) in m.labels() {
        r.push(k.as_bytes(), Value::Str(Cow::Borrowed(v.as_bytes())));
    }
    Ok(())
}
