//! OTLP export requests as records, applied through the same [`Rules`] as the socket's:
//!
//! - a span → a [`RecordKind::Span`] record with `span` (its name), `duration` (seconds),
//!   `error` (status code ERROR), `parent` (the parent's name, when it is in the same request)
//!   and its attributes: `span_total`, `span_duration_seconds`, `span_errors_total{app,span}`;
//! - a log record → a [`RecordKind::Line`] with its level (severity number, else text),
//!   message (body), target (scope) and attributes as fields: `log_lines_total{source,level}`
//!   and the automatic gauges of its numeric attributes;
//! - a metric data point → [`RecordKind::Metric`] records (`metrics`).
//!
//! The resource's `service.name` is the origin (`app`, or `source` for log records).

mod metrics;

use super::clock::{counting_late, Clock};
use super::rules::{RecordKind, Rules};
use crate::kpi::Store;
use crate::sources::otlp::proto::{AnyValue, KeyValue, Resource};
use crate::sources::otlp::spans::{AnyRef, ScopeRef, Traces};
use crate::sources::otlp::{check, OtlpBatch, OtlpStats, Request};
use kpid_parsers::{Level, Record, Value};
use rustc_hash::FxHashMap;
use std::borrow::Cow;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

/// Most distinct app names kept interned; past it the table starts again.
const MAX_APPS: usize = 4096;

/// What the engine keeps for OTLP: interned app names, the cumulative metric state, and the
/// counts applied since the last publication.
#[derive(Debug, Default)]
pub(crate) struct Otlp {
    apps: FxHashMap<Box<str>, Arc<str>>,
    state: metrics::State,
    counts: Counts,
    stats: Option<Arc<OtlpStats>>,
    /// The sample of recent traces (`/api/traces`).
    pub(crate) traces: crate::traces::Sampler,
}

#[derive(Debug, Default)]
struct Counts {
    spans: u64,
    logs: u64,
    points: u64,
    untracked: u64,
    sampled: u64,
}

/// A scalar attribute value of a decoded message as a field value.
fn value(v: &Option<AnyValue>) -> Option<Value<'_>> {
    AnyRef::of(v).map(value_ref)
}

/// An attribute value as a field value.
fn value_ref(v: AnyRef<'_>) -> Value<'_> {
    match v {
        AnyRef::Str(s) => Value::Str(Cow::Borrowed(s.as_bytes())),
        AnyRef::Bool(b) => Value::Bool(b),
        AnyRef::Int(i) => Value::Int(i),
        AnyRef::Double(d) => Value::Float(d),
        AnyRef::Bytes(b) => Value::Str(Cow::Borrowed(b)),
    }
}

/// The level of a severity number (1-4 trace ... 17-24 error and fatal), else of its text.
fn level(number: i32, text: &str) -> Option<Level> {
    Some(match number {
        1..=4 => Level::Trace,
        5..=8 => Level::Debug,
        9..=12 => Level::Info,
        13..=16 => Level::Warn,
        17..=24 => Level::Error,
        _ => return Level::from_bytes(text.as_bytes()),
    })
}

impl Otlp {
    /// The app a resource names (`service.name`, else `unknown_service`), interned.
    fn app(&mut self, res: &Option<Resource>) -> Arc<str> {
        let name = res
            .iter()
            .flat_map(|r| &r.attributes)
            .find(|kv| kv.key == "service.name")
            .and_then(|kv| match AnyRef::of(&kv.value)? {
                AnyRef::Str(s) => Some(s),
                _ => None,
            });
        self.app_named(name)
    }

    /// The app a service name names (`unknown_service` for none or ""), interned.
    fn app_named(&mut self, name: Option<&str>) -> Arc<str> {
        let name = name.filter(|n| !n.is_empty()).unwrap_or("unknown_service");
        if let Some(a) = self.apps.get(name) {
            return a.clone();
        }
        if self.apps.len() >= MAX_APPS {
            self.apps.clear();
        }
        let a: Arc<str> = Arc::from(name);
        self.apps.insert(name.into(), a.clone());
        a
    }

    /// Applies one export request.
    pub(crate) fn apply(
        &mut self,
        rules: &mut Rules,
        store: &mut Store,
        rec: &mut Record<'static>,
        batch: OtlpBatch,
        clock: Clock,
    ) {
        let now = clock.now;
        if !self
            .stats
            .as_ref()
            .is_some_and(|s| Arc::ptr_eq(s, &batch.stats))
        {
            self.flush();
            self.stats = Some(batch.stats.clone());
        }
        match &batch.request {
            Request::Traces(t) => {
                let mut apps = Vec::new();
                for rs in t.resources() {
                    let app = self.app_named(rs.service_name());
                    for ss in rs.scopes() {
                        self.spans(rules, store, rec, &app, ss, clock);
                    }
                    apps.push(app);
                }
                self.sample(t, &apps, now);
            }
            Request::Logs(l) => {
                for rl in &l.resource_logs {
                    let app = self.app(&rl.resource);
                    for sl in &rl.scope_logs {
                        let target = sl.scope.as_ref().map_or("", |s| s.name.as_str());
                        for lr in &sl.log_records {
                            let mut r = std::mem::take(rec).recycle();
                            r.level = level(lr.severity_number, &lr.severity_text);
                            if !target.is_empty() {
                                r.target = Some(Cow::Borrowed(target.as_bytes()));
                            }
                            let t = if lr.time_unix_nano > 0 {
                                lr.time_unix_nano
                            } else {
                                lr.observed_time_unix_nano
                            };
                            if t > 0 {
                                r.timestamp = Some(t as f64 * 1e-9);
                            }
                            if let Some(Value::Str(m)) = value(&lr.body) {
                                r.message = Some(m);
                            }
                            // The SDKs' own `code.*` and `thread.*` attributes (line numbers,
                            // thread ids) are no KPIs.
                            let own = |kv: &&KeyValue| {
                                !kv.key.starts_with("code.") && !kv.key.starts_with("thread.")
                            };
                            for kv in lr.attributes.iter().filter(own) {
                                if let Some(v) = value(&kv.value) {
                                    r.push(kv.key.as_bytes(), v);
                                }
                            }
                            // At the record's own time, as a log line's.
                            let t = clock.at(r.timestamp, store.event_stats_mut());
                            counting_late(store, |s| rules.apply(s, &app, RecordKind::Line, &r, t));
                            self.counts.logs += 1;
                            *rec = r.recycle();
                        }
                    }
                }
            }
            Request::Metrics(m) => {
                for rm in &m.resource_metrics {
                    let app = self.app(&rm.resource);
                    for sm in &rm.scope_metrics {
                        for metric in &sm.metrics {
                            let c = self.state.apply(rules, store, rec, &app, metric, now);
                            self.counts.points += c.points;
                            self.counts.untracked += c.untracked;
                            self.counts.sampled += c.sampled;
                        }
                    }
                }
            }
        }
    }

    /// Hands a request's spans to the trace sampler: every child first, then the roots, so
    /// that a root completes its trace with the children sent along with it.
    /// `apps`: each resource's app, in order.
    fn sample(&mut self, t: &Traces, apps: &[Arc<str>], now: f64) {
        let mut roots = Vec::new();
        for (rs, app) in t.resources().zip(apps) {
            for s in rs.scopes().flat_map(|ss| ss.spans()) {
                if !check::span_ok(&s) {
                    continue;
                }
                if s.parent_span_id().is_empty() {
                    roots.push((app, s));
                } else {
                    self.traces.child(&s, now);
                }
            }
        }
        for (app, s) in roots {
            self.traces.root(app, &s);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn spans(
        &mut self,
        rules: &mut Rules,
        store: &mut Store,
        rec: &mut Record<'static>,
        app: &Arc<str>,
        scope: ScopeRef<'_>,
        clock: Clock,
    ) {
        let target = scope.name();
        let with_fields = rules.wants_fields(RecordKind::Span);
        // Parent names are only read by rules; look them up only then.
        let names: FxHashMap<&[u8], &str> = if with_fields {
            scope.spans().map(|s| (s.span_id(), s.name())).collect()
        } else {
            FxHashMap::default()
        };
        for s in scope.spans().filter(check::span_ok) {
            let mut r = std::mem::take(rec).recycle();
            let error = s.error();
            r.level = Some(if error { Level::Error } else { Level::Info });
            r.target = Some(Cow::Borrowed(target.as_bytes()));
            r.timestamp = Some(s.end_ns() as f64 * 1e-9);
            r.push(&b"span"[..], Value::Str(Cow::Borrowed(s.name().as_bytes())));
            let ns = s.end_ns() - s.start_ns();
            r.push(&b"duration"[..], Value::Duration(ns as f64 * 1e-9));
            r.push(&b"error"[..], Value::Bool(error));
            if with_fields {
                let parent = s.parent_span_id();
                if let Some(p) = names.get(parent).filter(|_| !parent.is_empty()) {
                    r.push(&b"parent"[..], Value::Str(Cow::Borrowed(p.as_bytes())));
                }
                for (k, v) in s.attributes() {
                    if let Some(v) = v {
                        r.push(k.as_bytes(), value_ref(v));
                    }
                }
            }
            // At the span's end, as an app's span over the socket.
            let t = clock.at(r.timestamp, store.event_stats_mut());
            counting_late(store, |st| rules.apply(st, app, RecordKind::Span, &r, t));
            self.counts.spans += 1;
            *rec = r.recycle();
        }
    }

    /// Adds what was applied since the last call to the receiver's counters (called when the
    /// engine publishes, so that health never runs ahead of the published KPIs).
    pub(crate) fn flush(&mut self) {
        let c = std::mem::take(&mut self.counts);
        let Some(s) = &self.stats else { return };
        for (a, n) in [
            (&s.spans, c.spans),
            (&s.log_records, c.logs),
            (&s.data_points, c.points),
            (&s.untracked_points, c.untracked),
            (&s.observations_sampled, c.sampled),
        ] {
            if n > 0 {
                a.fetch_add(n, Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    /// The fuzz target's seeds (made with opentelemetry-proto's own Python classes and JSON
    /// printer, ids turned into hex; and `seed-trace-merged-fields`, written byte by byte:
    /// fields given twice, unknown fields and groups, a resource after its spans) decode and
    /// apply.
    #[test]
    fn the_fuzz_seeds_decode_and_apply() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus/otlp_decode");
        let mut n = 0;
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("seed-")
            {
                let data = std::fs::read(&p).unwrap();
                assert!(
                    crate::fuzzing::otlp(&data),
                    "{} does not decode",
                    p.display()
                );
                n += 1;
            }
        }
        assert_eq!(n, 10);
    }
}
