//! From decoded records to store observations, for one connection (one app). Series refs
//! are resolved once per (span name), (level), (field key), (metric key) and cached, so the
//! steady state is hash lookups and [`Store::apply`] calls, with no allocation.

use crate::kpi::{sanitize_name, Kind, Obs, SeriesRef, SeriesSpec, Store};
use kpid_wire::{self as wire, FrameType, Level, MetricKind, Value};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Most entries per cache; past it, series are resolved on every use (the store folds
/// excess label values into `other` anyway).
const CACHE_CAP: usize = 4096;

/// Why a frame was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reject {
    /// The body did not decode.
    Malformed,
    /// Unknown or unexpected frame type (skipped).
    UnknownType,
}

/// FNV-1a: short keys, no DoS concern (one app's own names, capped).
#[derive(Default)]
pub(crate) struct Fnv(u64);
impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf29ce484222325
        } else {
            self.0
        };
        for &b in bytes {
            h = (h ^ b as u64).wrapping_mul(0x100000001b3);
        }
        self.0 = h;
    }
}
type Map<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;

#[derive(Clone, Copy)]
struct SpanRefs {
    total: Option<SeriesRef>,
    duration: Option<SeriesRef>,
    errors: Option<SeriesRef>,
}

/// What one connection counted since the last flush into [`super::SocketStats`].
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Counts {
    pub(crate) frames: u64,
    pub(crate) spans: u64,
    pub(crate) events: u64,
    pub(crate) metrics: u64,
    pub(crate) malformed: u64,
    pub(crate) unknown_type: u64,
    pub(crate) app_dropped: u64,
    pub(crate) store_refused: u64,
}

/// Per-connection state: the app label and resolved series.
pub(crate) struct Applier {
    app: Box<str>,
    spans: Map<Box<str>, SpanRefs>,
    events: [Option<Option<SeriesRef>>; 5],
    drops: [Option<Option<SeriesRef>>; 5],
    fields: Map<Box<str>, Option<SeriesRef>>,
    metrics: Map<Box<[u8]>, Option<SeriesRef>>,
    name: String,
    pub(crate) counts: Counts,
}

const CONVENTION: [(&str, Kind); 4] = [
    ("counter.", Kind::Counter),
    ("monotonic_counter.", Kind::Counter),
    ("gauge.", Kind::Gauge),
    ("histogram.", Kind::Distribution),
];

fn obs(kind: Kind, v: f64) -> Obs {
    match kind {
        Kind::Counter => Obs::Add(v),
        Kind::Gauge => Obs::Set(v),
        Kind::Distribution => Obs::Observe(v),
    }
}

impl Applier {
    pub(crate) fn new(app: &str) -> Self {
        Applier {
            app: app.into(),
            spans: Map::default(),
            events: [None; 5],
            drops: [None; 5],
            fields: Map::default(),
            metrics: Map::default(),
            name: String::new(),
            counts: Counts::default(),
        }
    }

    /// Applies one frame.
    #[inline]
    pub(crate) fn apply(&mut self, store: &mut Store, ty: u8, body: &[u8], now: f64) {
        self.counts.frames += 1;
        let r = match FrameType::from_u8(ty) {
            Some(FrameType::Span) => self.span(store, body, now),
            Some(FrameType::Event) => self.event(store, body, now),
            Some(FrameType::Metric) => self.metric(store, body, now),
            Some(FrameType::Drops) => self.drops(store, body, now),
            _ => Err(Reject::UnknownType),
        };
        match r {
            Ok(()) => {}
            Err(Reject::Malformed) => self.counts.malformed += 1,
            Err(Reject::UnknownType) => self.counts.unknown_type += 1,
        }
    }

    fn resolve(&mut self, store: &mut Store, spec: SeriesSpec<'_>) -> Option<SeriesRef> {
        let r = store.resolve(&spec);
        if r.is_none() {
            self.counts.store_refused += 1;
        }
        r
    }

    fn span(&mut self, store: &mut Store, body: &[u8], now: f64) -> Result<(), Reject> {
        let s = wire::decode_span(body).map_err(|_| Reject::Malformed)?;
        self.counts.spans += 1;
        let refs = match self.spans.get(s.name) {
            Some(r) => *r,
            None => {
                let app = &*self.app.clone();
                let labels = [("app", app), ("span", s.name)];
                let spec = |name, kind, unit, help| SeriesSpec {
                    name,
                    labels: &labels,
                    kind,
                    unit,
                    help,
                    buckets: None,
                };
                let refs = SpanRefs {
                    total: self
                        .resolve(store, spec("span_total", Kind::Counter, "", "spans closed")),
                    duration: self.resolve(
                        store,
                        spec(
                            "span_duration_seconds",
                            Kind::Distribution,
                            "s",
                            "time from span open to close",
                        ),
                    ),
                    errors: self.resolve(
                        store,
                        spec(
                            "span_errors_total",
                            Kind::Counter,
                            "",
                            "spans closed in error (error field or ERROR event inside)",
                        ),
                    ),
                };
                if self.spans.len() < CACHE_CAP {
                    self.spans.insert(s.name.into(), refs);
                }
                refs
            }
        };
        if let Some(r) = refs.total {
            store.apply(r, Obs::Add(1.0), now);
        }
        if let Some(r) = refs.duration {
            store.apply(r, Obs::Observe(s.duration_ns as f64 * 1e-9), now);
        }
        if let Some(r) = refs.errors {
            // Adding 0 keeps the error series alive beside the span, so error % reads 0.
            store.apply(r, Obs::Add(if s.error { 1.0 } else { 0.0 }), now);
        }
        Ok(())
    }

    fn event(&mut self, store: &mut Store, body: &[u8], now: f64) -> Result<(), Reject> {
        let e = wire::decode_event(body).map_err(|_| Reject::Malformed)?;
        self.counts.events += 1;
        let li = e.level as usize;
        let r = match self.events[li] {
            Some(r) => r,
            None => {
                let app = &*self.app.clone();
                let labels = [("app", app), ("level", e.level.as_str())];
                let spec = SeriesSpec {
                    name: "events_total",
                    labels: &labels,
                    kind: Kind::Counter,
                    unit: "",
                    help: "events reported by apps, per level",
                    buckets: None,
                };
                let r = self.resolve(store, spec);
                self.events[li] = Some(r);
                r
            }
        };
        if let Some(r) = r {
            store.apply(r, Obs::Add(1.0), now);
        }
        for (key, value) in e.fields {
            if !key.contains('.') {
                continue;
            }
            let Some(&(prefix, kind)) = CONVENTION.iter().find(|(p, _)| key.starts_with(p)) else {
                continue;
            };
            let Some(v) = value.as_f64().or(match value {
                Value::Bool(b) => Some(b as u8 as f64),
                _ => None,
            }) else {
                continue; // a text value carries no number
            };
            let r = match self.fields.get(key) {
                Some(r) => *r,
                None => {
                    self.name.clear();
                    sanitize_name(&key.as_bytes()[prefix.len()..], &mut self.name);
                    let (name, app) = (std::mem::take(&mut self.name), self.app.clone());
                    let labels = [("app", &*app)];
                    let spec = SeriesSpec {
                        name: &name,
                        labels: &labels,
                        kind,
                        unit: "",
                        help: "from event fields (tracing metrics convention)",
                        buckets: None,
                    };
                    let r = self.resolve(store, spec);
                    self.name = name;
                    if self.fields.len() < CACHE_CAP {
                        self.fields.insert(key.into(), r);
                    }
                    r
                }
            };
            if let Some(r) = r {
                store.apply(r, obs(kind, v), now);
            }
        }
        Ok(())
    }

    fn metric(&mut self, store: &mut Store, body: &[u8], now: f64) -> Result<(), Reject> {
        let m = wire::decode_metric(body).map_err(|_| Reject::Malformed)?;
        self.counts.metrics += 1;
        let kind = match m.kind {
            MetricKind::Counter => Kind::Counter,
            MetricKind::Gauge => Kind::Gauge,
            MetricKind::Histogram => Kind::Distribution,
        };
        let r = match self.metrics.get(m.key) {
            Some(r) => *r,
            None => {
                self.name.clear();
                sanitize_name(m.name.as_bytes(), &mut self.name);
                let name = std::mem::take(&mut self.name);
                let app = self.app.clone();
                let mut keys: Vec<String> = Vec::new();
                let mut labels: Vec<(&str, &str)> = vec![("app", &*app)];
                for (k, _) in m.labels() {
                    let mut s = String::new();
                    sanitize_name(k.as_bytes(), &mut s);
                    keys.push(s);
                }
                for (k, (_, v)) in keys.iter().zip(m.labels()) {
                    if k != "app" && !labels.iter().any(|(l, _)| l == k) {
                        labels.push((k, v));
                    }
                }
                let spec = SeriesSpec {
                    name: &name,
                    labels: &labels,
                    kind,
                    unit: "",
                    help: "explicit metric sample from an app",
                    buckets: None,
                };
                let r = self.resolve(store, spec);
                self.name = name;
                if self.metrics.len() < CACHE_CAP {
                    self.metrics.insert(m.key.into(), r);
                }
                r
            }
        };
        if let Some(r) = r {
            store.apply(r, obs(kind, m.value), now);
        }
        Ok(())
    }

    fn drops(&mut self, store: &mut Store, body: &[u8], now: f64) -> Result<(), Reject> {
        let d = wire::decode_drops(body).map_err(|_| Reject::Malformed)?;
        for (i, &n) in d.iter().enumerate().filter(|(_, &n)| n > 0) {
            self.counts.app_dropped = self.counts.app_dropped.saturating_add(n);
            let r = match self.drops[i] {
                Some(r) => r,
                None => {
                    let app = &*self.app.clone();
                    let labels = [("app", app), ("level", Level::ALL[i].as_str())];
                    let spec = SeriesSpec {
                        name: "app_dropped_total",
                        labels: &labels,
                        kind: Kind::Counter,
                        unit: "",
                        help: "records an app dropped (queue full or kpid absent), as it reported",
                        buckets: None,
                    };
                    let r = self.resolve(store, spec);
                    self.drops[i] = Some(r);
                    r
                }
            };
            if let Some(r) = r {
                store.apply(r, Obs::Add(n as f64), now);
            }
        }
        Ok(())
    }
}
