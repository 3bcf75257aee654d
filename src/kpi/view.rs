//! Read-only views of a series: the latest figures of each KPI (computed by the engine when
//! it publishes) and history columns (the Prometheus exposition is in `prom`).

use super::desc::Desc;
use super::points::Point;
use super::series::{BucketData, Series};
use super::{Kind, RATE_WINDOW_S, SUMMARY_WINDOW_S};
use serde::Serialize;

/// The latest view of one KPI (see docs/api.md).
#[derive(Debug, Serialize, Default, Clone)]
pub struct Latest {
    /// Newest event time of the series (a late line does not move it back).
    pub t: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sum: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p50: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p95: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p99: Option<f64>,
}

fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// Rate per second of a counter over the last [`RATE_WINDOW_S`] seconds.
fn rate(s: &Series, now: f64, res: i64) -> f64 {
    let cur = (now as i64).div_euclid(res) * res;
    let from = cur - (RATE_WINDOW_S - res).max(0);
    let mut sum = 0.0;
    let mut first = None;
    for b in s.since(from) {
        if let BucketData::Counter(v) = b.data {
            sum += v;
            first.get_or_insert(b.t);
        }
    }
    match first {
        Some(f) => sum / (now - f.max(from) as f64).max(res as f64),
        None => 0.0,
    }
}

/// The latest view of one series.
pub fn latest(desc: &Desc, s: &Series, now: f64, res: i64) -> Latest {
    let mut l = Latest {
        t: s.last_t,
        ..Latest::default()
    };
    let since = (now as i64) - SUMMARY_WINDOW_S + 1;
    match desc.kind {
        Kind::Counter => {
            l.total = Some(s.total);
            l.rate = Some(rate(s, now, res));
        }
        Kind::Gauge => {
            l.value = finite(s.last);
            let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
            for b in s.since(since) {
                if let BucketData::Gauge { min, max, .. } = b.data {
                    lo = lo.min(min);
                    hi = hi.max(max);
                }
            }
            l.min = finite(lo);
            l.max = finite(hi);
        }
        Kind::Distribution => {
            let m = s.merged_since(since);
            l.count = Some(s.total);
            l.sum = Some(s.sum);
            let cur = (now as i64).div_euclid(res) * res;
            let from = cur - (RATE_WINDOW_S - res).max(0);
            let (n, first) = s.since(from).fold((0u64, None), |(n, f), b| match &b.data {
                BucketData::Dist(d) => (n + d.count, f.or(Some(b.t))),
                _ => (n, f),
            });
            l.rate = Some(match first {
                Some(f) => n as f64 / (now - f.max(from) as f64).max(res as f64),
                None => 0.0,
            });
            if m.count > 0 {
                l.min = Some(m.min);
                l.max = Some(m.max);
                l.p50 = m.sketch.quantile(0.50);
                l.p95 = m.sketch.quantile(0.95);
                l.p99 = m.sketch.quantile(0.99);
            }
        }
    }
    l
}

/// History columns of one series, as docs/api.md shows them.
#[derive(Debug, Serialize, Default)]
pub struct Columns {
    /// Bucket starts.
    pub t: Vec<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Vec<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<Vec<u64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p50: Option<Vec<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p95: Option<Vec<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub p99: Option<Vec<f64>>,
}

/// Turns points into columns.
pub fn columns(kind: Kind, pts: &[Point]) -> Columns {
    let mut c = Columns {
        t: pts.iter().map(Point::t).collect(),
        ..Columns::default()
    };
    if kind == Kind::Distribution {
        let col = |f: fn(&Point) -> f64| Some(pts.iter().map(f).collect());
        c.count = Some(
            pts.iter()
                .map(|p| {
                    if let Point::Dist { count, .. } = p {
                        *count
                    } else {
                        0
                    }
                })
                .collect(),
        );
        c.p50 = col(|p| {
            if let Point::Dist { p50, .. } = p {
                *p50
            } else {
                f64::NAN
            }
        });
        c.p95 = col(|p| {
            if let Point::Dist { p95, .. } = p {
                *p95
            } else {
                f64::NAN
            }
        });
        c.p99 = col(|p| {
            if let Point::Dist { p99, .. } = p {
                *p99
            } else {
                f64::NAN
            }
        });
    } else {
        c.value = Some(
            pts.iter()
                .map(|p| {
                    if let Point::Value { value, .. } = p {
                        *value
                    } else {
                        f64::NAN
                    }
                })
                .collect(),
        );
    }
    c
}
