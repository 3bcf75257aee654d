//! What describes a series ([`Desc`]), what a source asks for ([`SeriesSpec`]), and the
//! store's caps and resolution ([`Limits`]).

use super::Kind;
use serde::Serialize;
use std::sync::Arc;

/// Everything that describes a series (its catalogue entry).
#[derive(Debug, Clone, Serialize)]
pub struct Desc {
    /// `name{label="value",...}`, labels sorted.
    pub id: String,
    /// Metric name.
    pub name: String,
    /// Sorted labels.
    #[serde(serialize_with = "labels_as_map")]
    pub labels: Vec<(String, String)>,
    /// Kind.
    pub kind: Kind,
    /// Unit (`s`, `bytes`, `%`, ... or empty).
    pub unit: String,
    /// Help text.
    pub help: String,
    /// Upper bounds of fixed histogram buckets, when asked for.
    #[serde(skip)]
    pub buckets: Option<Arc<[f64]>>,
}

fn labels_as_map<S: serde::Serializer>(v: &[(String, String)], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(Some(v.len()))?;
    for (k, val) in v {
        m.serialize_entry(k, val)?;
    }
    m.end()
}

/// What a source asks the store to resolve.
#[derive(Debug, Clone, Copy)]
pub struct SeriesSpec<'a> {
    /// Metric name (already a valid Prometheus name).
    pub name: &'a str,
    /// Labels, any order.
    pub labels: &'a [(&'a str, &'a str)],
    /// Kind.
    pub kind: Kind,
    /// Unit.
    pub unit: &'a str,
    /// Help text.
    pub help: &'a str,
    /// Fixed histogram bounds (distributions only).
    pub buckets: Option<&'a Arc<[f64]>>,
}

/// Caps and resolution.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most series in all.
    pub max_series: usize,
    /// Most label sets per KPI name; further ones fold into `other`.
    pub max_label_sets: usize,
    /// Bucket width in seconds.
    pub bucket_secs: i64,
    /// Buckets kept per series (live window / bucket width).
    pub window_buckets: usize,
    /// How far behind its series' newest time an observation still updates the live window
    /// (seconds); older ones go to history only.
    pub lateness_secs: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_series: 10_000,
            max_label_sets: 200,
            bucket_secs: 1,
            window_buckets: 3600,
            lateness_secs: 300,
        }
    }
}
