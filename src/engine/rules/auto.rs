//! The automatic KPIs, made without any rule: numeric fields of lines become gauges named
//! after their key, event fields that follow the tracing metrics convention (`counter.X`,
//! `monotonic_counter.X`, `gauge.X`, `histogram.X`) feed KPI `X{app}`, and metric samples
//! from apps become `name{app,labels...}`. Each keeps a bounded cache per origin.

use super::{obs, Cache};
use crate::kpi::{sanitize_name, Kind, SeriesSpec, Store};
use kpid_parsers::{Record, Value};
use std::sync::Arc;

const CONVENTION: [(&str, Kind); 4] = [
    ("counter.", Kind::Counter),
    ("monotonic_counter.", Kind::Counter),
    ("gauge.", Kind::Gauge),
    ("histogram.", Kind::Distribution),
];

/// Guesses a unit from a field name's suffix (`latency_ms` → `ms`, `gpu_util` → `%`).
pub fn unit_from_key(name: &str) -> &'static str {
    let suffix = name.rsplit('_').next().unwrap_or("");
    match suffix {
        "ms" => "ms",
        "us" => "us",
        "ns" => "ns",
        "s" | "sec" | "secs" | "seconds" => "s",
        "bytes" => "bytes",
        "kb" => "KB",
        "mb" => "MB",
        "gb" => "GB",
        "pct" | "percent" | "util" | "utilization" => "%",
        "c" | "celsius" => "°C",
        _ if name.starts_with("fps") || suffix == "fps" => "fps",
        _ => "",
    }
}

/// Numeric fields of a line (not read by an explicit rule) → gauges `key{source}`.
pub(super) fn gauges(
    store: &mut Store,
    cache: &mut Cache,
    cap: usize,
    consumed: &[Vec<u8>],
    source: &Arc<str>,
    rec: &Record<'_>,
    now: f64,
) {
    for f in &rec.fields {
        if !f.value.is_numeric() || consumed.iter().any(|c| *c == *f.key) {
            continue;
        }
        let r = cache.gauges.get_or(&f.key, cap, || {
            let mut name = String::new();
            sanitize_name(&f.key, &mut name);
            let help = format!(
                "numeric field `{}` of parsed lines",
                String::from_utf8_lossy(&f.key)
            );
            let unit = if matches!(f.value, Value::Duration(_)) {
                "s"
            } else {
                unit_from_key(&name)
            };
            store.resolve(&SeriesSpec {
                name: &name,
                labels: &[("source", source)],
                kind: Kind::Gauge,
                unit,
                help: &help,
                buckets: None,
            })
        });
        if let (Some(r), Some(v)) = (r, f.value.as_f64()) {
            store.apply(r, crate::kpi::Obs::Set(v), now);
        }
    }
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
        let r = cache.convention.get_or(&f.key, cap, || {
            let mut name = String::new();
            sanitize_name(&f.key[prefix.len()..], &mut name);
            store.resolve(&SeriesSpec {
                name: &name,
                labels: &[("app", app)],
                kind,
                unit: "",
                help: "from event fields (tracing metrics convention)",
                buckets: None,
            })
        });
        if let Some(r) = r {
            store.apply(r, obs(kind, v), now);
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
    let r = cache.metrics.get_or(key, cap, || {
        let mut name = String::new();
        sanitize_name(raw_name, &mut name);
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
        store.resolve(&SeriesSpec {
            name: &name,
            labels: &labels,
            kind,
            unit: "",
            help: "explicit metric sample from an app",
            buckets: None,
        })
    });
    if let Some(r) = r {
        store.apply(r, obs(kind, v), now);
    }
}
