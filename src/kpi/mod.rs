//! The KPI store: every series kpid keeps, their descriptions and their live window.
//!
//! The engine resolves a [`SeriesSpec`] (name, labels, kind...) to a [`SeriesRef`] once,
//! caches it, and then [`Store::apply`]s observations ([`Obs`]) through the ref. The store
//! caps the number of series and the number of label sets per KPI name (the rest fold into
//! `other`) and counts what it refused. It has one owner, the engine, which
//! publishes immutable [`Snapshot`]s for readers through a [`Publisher`] ([`view`], [`prom`]).

mod desc;
mod points;
pub mod prom;
mod publish;
mod series;
mod ship;
pub mod sketch;
mod store;
pub mod units;
pub mod view;

#[cfg(test)]
mod event_time_tests;

pub use desc::{Desc, Limits, SeriesSpec};
pub use points::Point;
pub use publish::{KpiView, Publisher, Snapshot};
pub use series::{BucketData, DistBucket};
pub use ship::{Delta, FLUSH_AT, MAX_UNSHIPPED};
pub use store::{EventTimeStats, SeriesRef, SessionStats, Store, StoreDrops};

/// Window over which counter rates are computed, in seconds.
pub const RATE_WINDOW_S: i64 = 10;
/// Window over which gauge min/max and distribution quantiles are computed, in seconds.
pub const SUMMARY_WINDOW_S: i64 = 60;

use serde::Serialize;

/// Kind of a KPI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Only goes up; charted as a rate.
    Counter,
    /// Set to a value.
    Gauge,
    /// Observations summarised by quantiles.
    Distribution,
}

impl Kind {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Distribution => "distribution",
        }
    }
}

/// One observation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Obs {
    /// Counter increment.
    Add(f64),
    /// Gauge value.
    Set(f64),
    /// Distribution observation.
    Observe(f64),
}

impl Obs {
    /// The kind of KPI this observation fits.
    pub fn kind(self) -> Kind {
        match self {
            Obs::Add(_) => Kind::Counter,
            Obs::Set(_) => Kind::Gauge,
            Obs::Observe(_) => Kind::Distribution,
        }
    }

    /// The number carried.
    pub fn value(self) -> f64 {
        match self {
            Obs::Add(v) | Obs::Set(v) | Obs::Observe(v) => v,
        }
    }
}

/// Current time as Unix seconds.
pub fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// Makes `raw` a valid Prometheus metric or label name (`[a-zA-Z_][a-zA-Z0-9_]*`), appending
/// it to `out`.
pub fn sanitize_name(raw: &[u8], out: &mut String) {
    for (i, &b) in raw.iter().enumerate() {
        let ok = b.is_ascii_alphabetic() || b == b'_' || (i > 0 && b.is_ascii_digit());
        if ok {
            out.push(b as char);
        } else if i == 0 && b.is_ascii_digit() {
            out.push('_');
            out.push(b as char);
        } else {
            out.push('_');
        }
    }
    if out.is_empty() {
        out.push('_');
    }
}

/// Appends `{k="v",...}` in the Prometheus text syntax (values escaped); nothing when there
/// are no labels.
pub fn write_labels<'a>(out: &mut String, labels: impl IntoIterator<Item = (&'a str, &'a str)>) {
    let start = out.len();
    for (k, v) in labels {
        out.push(if out.len() == start { '{' } else { ',' });
        out.push_str(k);
        out.push_str("=\"");
        for c in v.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    if out.len() != start {
        out.push('}');
    }
}

/// A time given in a request (`from=`, `to=`): Unix seconds as written, or an RFC 3339
/// date-time with its zone (`Z` or `±hh:mm`), read by the parsers' timestamp grammar.
pub fn time_param(v: &str) -> Option<f64> {
    if let Ok(x) = v.parse::<f64>() {
        return (x.is_finite() && x.abs() < 1e13).then_some(x);
    }
    let b = v.as_bytes();
    let zoned = b.ends_with(b"Z")
        || b.ends_with(b"z")
        || (b.len() > 6 && matches!(b[b.len() - 6], b'+' | b'-') && b[b.len() - 3] == b':');
    zoned.then(|| kpid_parsers::parse_time(b)).flatten()
}

/// Unix seconds as RFC 3339 UTC with milliseconds.
pub fn rfc3339(t: f64) -> String {
    let ms = (t * 1000.0).round() as i64;
    let (secs, ms) = (ms.div_euclid(1000), ms.rem_euclid(1000));
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    let (y, m, d) = kpid_parsers::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}
