//! The automatic KPIs of app records, made without any rule (those of lines are in
//! `natural`): event fields that follow the tracing metrics convention (`counter.X`,
//! `monotonic_counter.X`, `gauge.X`, `histogram.X`) feed KPI `X{app}`, and metric samples
//! from apps become `name{app,labels...}`. Each keeps a bounded cache per origin.

use super::{obs, Cache};
use crate::kpi::units::{self, FieldUnit};
use crate::kpi::{sanitize_name, Kind, SeriesSpec, Store};
use kpid_parsers::{Record, Value};
use std::sync::Arc;

const CONVENTION: [(&str, Kind); 4] = [
    ("counter.", Kind::Counter),
    ("monotonic_counter.", Kind::Counter),
    ("gauge.", Kind::Gauge),
    ("histogram.", Kind::Distribution),
];

/// The exposed name of a KPI an app names: base units, counters ending in `_total`; an
/// increment is only scaled (a counter's offset would add up).
fn exposed(name: &str, kind: Kind) -> FieldUnit {
    let mut e = units::for_kpi(name, kind);
    if kind == Kind::Counter {
        e.offset = 0.0;
    }
    e
}

/// Event fields named by the tracing metrics convention → `X{app}`.
pub(super) fn convention(
    store: &mut Store,
    cache: &mut Cache,
    cap: usize,
    app: &Arc<str>,
    rec: &Record<'_>,
    now: f64,
) {
    for f in &rec.fields {
        if !f.key.contains(&b'.') {
            continue;
        }
        let Some(&(prefix, kind)) = CONVENTION
            .iter()
            .find(|(p, _)| f.key.starts_with(p.as_bytes()))
        else {
            continue;
        };
        let Some(v) = f.value.as_f64() else {
            continue; // a text value carries no number
        };
        let (r, scale, offset) = cache.convention.get_or(&f.key, cap, || {
            let mut name = String::new();
            sanitize_name(&f.key[prefix.len()..], &mut name);
            let exposed = exposed(&name, kind);
            let r = store.resolve(&SeriesSpec {
                name: &exposed.name,
                labels: &[("app", app)],
                kind,
                unit: exposed.unit,
                help: "from event fields (tracing metrics convention)",
                buckets: None,
            });
            (r, exposed.scale, exposed.offset)
        });
        if let Some(r) = r {
            store.apply(r, obs(kind, v * scale + offset), now);
        }
    }
}

/// A metric sample (fields `name`, `value`, `kind`, then its labels) → `name{app,labels}`.
pub(super) fn metric(
    store: &mut Store,
    cache: &mut Cache,
    cap: usize,
    key: &mut Vec<u8>,
    app: &Arc<str>,
    rec: &Record<'_>,
    now: f64,
) {
    let (Some(Value::Str(raw_name)), Some(v), Some(Value::Str(k))) = (
        rec.get(b"name"),
        rec.get(b"value").and_then(Value::as_f64),
        rec.get(b"kind"),
    ) else {
        return;
    };
    let kind = match &**k {
        b"counter" => Kind::Counter,
        b"gauge" => Kind::Gauge,
        _ => Kind::Distribution,
    };
    key.clear();
    for f in rec.fields.iter().filter(|f| &*f.key != b"value") {
        key.extend_from_slice(&f.key);
        key.push(0xfe);
        if let Value::Str(s) = &f.value {
            key.extend_from_slice(s);
        }
        key.push(0xff);
    }
    let (r, scale, offset) = cache.metrics.get_or(key, cap, || {
        let mut name = String::new();
        sanitize_name(raw_name, &mut name);
        let exposed = exposed(&name, kind);
        let mut keys: Vec<(String, String)> = Vec::new();
        for f in rec.fields.iter().skip(3) {
            let mut k = String::new();
            sanitize_name(&f.key, &mut k);
            if k != "app" && !keys.iter().any(|(l, _)| *l == k) {
                let v = match &f.value {
                    Value::Str(s) => String::from_utf8_lossy(s).into_owned(),
                    _ => String::new(),
                };
                keys.push((k, v));
            }
        }
        let mut labels: Vec<(&str, &str)> = vec![("app", app)];
        labels.extend(keys.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let r = store.resolve(&SeriesSpec {
            name: &exposed.name,
            labels: &labels,
            kind,
            unit: exposed.unit,
            help: "explicit metric sample from an app",
            buckets: None,
        });
        (r, exposed.scale, exposed.offset)
    });
    if let Some(r) = r {
        store.apply(r, obs(kind, v * scale + offset), now);
    }
}
