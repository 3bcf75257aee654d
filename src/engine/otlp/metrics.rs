//! OTLP metrics as metric records (`name`, `value`, `kind`, then the point's attributes as
//! labels), so that they become KPIs `name{app,attributes...}` as the socket's samples do:
//!
//! - a monotonic sum → a counter (`_total`), a non-monotonic sum or a gauge → a gauge, a
//!   summary → a gauge per quantile (label `quantile`);
//! - a histogram or an exponential histogram → a distribution, each bucket's new count
//!   observed at the bucket's middle (clamped to the point's min and max); at most
//!   [`MAX_OBSERVATIONS`] per point, the counts scaled down beyond (the rest counted);
//! - cumulative points are turned into increments against the last point of the same series
//!   (kept in a bounded table; a new start time or a smaller value is a restart); a series
//!   beyond the table's cap is counted, not applied;
//! - the name takes the unit as kpid's rules do (`ms` → `_seconds` × 0.001, `By` → `_bytes`).

use super::{value, Arc, Cow, Record, RecordKind, Rules, Store, Value};
use crate::kpi::units;
use crate::kpi::{sanitize_name, Kind};
use crate::sources::otlp::check;
use crate::sources::otlp::proto::KeyValue;
use crate::sources::otlp::proto_metrics::{metric::Data, Metric, DELTA};
use rustc_hash::{FxHashMap, FxHasher};
use std::hash::{Hash, Hasher};

/// Most series whose last cumulative point is kept.
const MAX_SERIES: usize = 16_384;
/// Most bucket counts kept over all series.
const MAX_STORED_BUCKETS: usize = 1 << 20;
/// Most observations one histogram point makes.
pub(super) const MAX_OBSERVATIONS: u64 = 1024;

/// The last cumulative point of a series.
#[derive(Debug, Default)]
struct Last {
    start: u64,
    total: f64,
    /// Bucket counts; for an exponential histogram: zero, then the negative then positive
    /// buckets from `offset` at `scale`.
    buckets: Vec<u64>,
    scale: i32,
    offsets: (i32, i32, usize),
}

/// The cumulative state of every series.
#[derive(Debug, Default)]
pub(super) struct State {
    last: FxHashMap<u64, Last>,
    stored: usize,
}

/// What one metric gave.
#[derive(Debug, Default)]
pub(super) struct Counts {
    pub(super) points: u64,
    pub(super) untracked: u64,
    pub(super) sampled: u64,
}

/// OTLP's UCUM unit as a word kpid's unit rules know.
fn unit_word(u: &str) -> &str {
    match u {
        "s" => "seconds",
        "By" => "bytes",
        "KBy" => "KB",
        "MBy" => "MB",
        "GBy" => "GB",
        "KiBy" => "KiB",
        "MiBy" => "MiB",
        "GiBy" => "GiB",
        "min" => "minutes",
        "h" => "hours",
        "1" => "",
        u if u.starts_with('{') => "",
        u => u,
    }
}

fn text(kv: &KeyValue) -> Option<Cow<'_, [u8]>> {
    Some(match value(&kv.value)? {
        Value::Str(s) => s,
        v => {
            let mut out = Vec::new();
            v.write_text(&mut out);
            Cow::Owned(out)
        }
    })
}

fn series_key(app: &str, name: &str, attrs: &[KeyValue]) -> u64 {
    let mut h = FxHasher::default();
    app.hash(&mut h);
    name.hash(&mut h);
    for kv in attrs {
        kv.key.hash(&mut h);
        if let Some(t) = text(kv) {
            t.hash(&mut h);
        }
    }
    h.finish()
}

/// One record per point: `name`, `value`, `kind` and the labels; `value` changes in place.
struct Point<'a, 'r> {
    r: Record<'a>,
    rules: &'r mut Rules,
    store: &'r mut Store,
    app: &'r Arc<str>,
    now: f64,
    scale: f64,
    offset: f64,
}

impl Point<'_, '_> {
    fn emit(&mut self, v: f64) {
        self.r.fields[1].value = Value::Float(v * self.scale + self.offset);
        self.rules
            .apply(self.store, self.app, RecordKind::Metric, &self.r, self.now);
    }
}

impl State {
    /// The increment of a cumulative series since its last point: `cur` minus the last
    /// counts (or all of `cur` after a restart). `None`: the table is full.
    fn delta(
        &mut self,
        key: u64,
        start: u64,
        cur: &[u64],
        scale_offsets: (i32, (i32, i32, usize)),
    ) -> Option<Vec<u64>> {
        let full = self.last.len() >= MAX_SERIES || self.stored + cur.len() > MAX_STORED_BUCKETS;
        let last = match self.last.get_mut(&key) {
            Some(l) => l,
            None if full => return None,
            None => self.last.entry(key).or_default(),
        };
        let same = last.start == start
            && last.buckets.len() == cur.len()
            && (last.scale, last.offsets) == scale_offsets
            && last.buckets.iter().zip(cur).all(|(a, b)| b >= a);
        let d = if same {
            cur.iter().zip(&last.buckets).map(|(c, l)| c - l).collect()
        } else {
            cur.to_vec()
        };
        self.stored = self.stored + cur.len() - last.buckets.len();
        last.buckets.clear();
        last.buckets.extend_from_slice(cur);
        (last.start, last.scale, last.offsets) = (start, scale_offsets.0, scale_offsets.1);
        Some(d)
    }

    /// The increment of a cumulative sum; `None`: the table is full.
    fn sum_delta(&mut self, key: u64, start: u64, v: f64) -> Option<f64> {
        if self.last.len() >= MAX_SERIES && !self.last.contains_key(&key) {
            return None;
        }
        let last = self.last.entry(key).or_default();
        let d = if last.start == start && v >= last.total {
            v - last.total
        } else {
            v
        };
        (last.start, last.total) = (start, v);
        Some(d)
    }

    /// A delta up-down counter's running value; `None`: the table is full.
    fn running(&mut self, key: u64, v: f64) -> Option<f64> {
        if self.last.len() >= MAX_SERIES && !self.last.contains_key(&key) {
            return None;
        }
        let last = self.last.entry(key).or_default();
        last.total += v;
        Some(last.total)
    }

    /// Applies every point of one metric from `app`.
    pub(super) fn apply(
        &mut self,
        rules: &mut Rules,
        store: &mut Store,
        rec: &mut Record<'static>,
        app: &Arc<str>,
        m: &Metric,
        now: f64,
    ) -> Counts {
        let mut c = Counts::default();
        let Some(data) = &m.data else { return c };
        let kind = match data {
            Data::Sum(s) if s.is_monotonic => Kind::Counter,
            Data::Gauge(_) | Data::Sum(_) | Data::Summary(_) => Kind::Gauge,
            Data::Histogram(_) | Data::ExponentialHistogram(_) => Kind::Distribution,
        };
        let mut raw = String::new();
        sanitize_name(m.name.as_bytes(), &mut raw);
        let exposed = units::for_rule(&raw, kind, unit_word(&m.unit));
        let kind_word: &[u8] = match kind {
            Kind::Counter => b"counter",
            Kind::Gauge => b"gauge",
            Kind::Distribution => b"histogram",
        };
        let (scale, offset) = (
            exposed.scale,
            if kind == Kind::Gauge {
                exposed.offset
            } else {
                0.0
            },
        );
        macro_rules! emit {
            ($attrs:expr, $extra:expr, |$p:ident| $body:block) => {{
                let r = record(rec, exposed.name.as_bytes(), kind_word, $attrs, $extra);
                let mut $p = Point {
                    r,
                    rules: &mut *rules,
                    store: &mut *store,
                    app,
                    now,
                    scale,
                    offset,
                };
                $body * rec = $p.r.recycle();
            }};
        }
        match data {
            Data::Gauge(g) => {
                for p in g.data_points.iter().filter(|p| check::number_ok(p)) {
                    c.points += 1;
                    emit!(&p.attributes, None, |pt| { pt.emit(number(p)) });
                }
            }
            Data::Sum(s) => {
                for p in s.data_points.iter().filter(|p| check::number_ok(p)) {
                    let v = number(p);
                    let key = series_key(app, &m.name, &p.attributes);
                    let v = match (s.is_monotonic, s.aggregation_temporality == DELTA) {
                        (true, true) => Some(v),
                        (true, false) => self.sum_delta(key, p.start_time_unix_nano, v),
                        (false, true) => self.running(key, v),
                        (false, false) => Some(v),
                    };
                    let Some(v) = v else {
                        c.untracked += 1;
                        continue;
                    };
                    c.points += 1;
                    emit!(&p.attributes, None, |pt| { pt.emit(v) });
                }
            }
            Data::Summary(s) => {
                for p in &s.data_points {
                    c.points += 1;
                    for q in &p.quantile_values {
                        emit!(
                            &p.attributes,
                            Some(("quantile", q.quantile.to_string())),
                            |pt| { pt.emit(q.value) }
                        );
                    }
                }
            }
            Data::Histogram(h) => {
                for p in h.data_points.iter().filter(|p| check::histogram_ok(p)) {
                    let counts = if h.aggregation_temporality == DELTA {
                        Some(p.bucket_counts.clone())
                    } else {
                        let key = series_key(app, &m.name, &p.attributes);
                        self.delta(
                            key,
                            p.start_time_unix_nano,
                            &p.bucket_counts,
                            (0, (0, 0, 0)),
                        )
                    };
                    let Some(counts) = counts else {
                        c.untracked += 1;
                        continue;
                    };
                    c.points += 1;
                    let reps = explicit_reps(p);
                    emit!(&p.attributes, None, |pt| {
                        c.sampled += observe(&mut pt, &counts, |i| reps[i]);
                    });
                }
            }
            Data::ExponentialHistogram(h) => {
                for p in h.data_points.iter().filter(|p| check::exponential_ok(p)) {
                    let (neg, pos) = (
                        p.negative.clone().unwrap_or_default(),
                        p.positive.clone().unwrap_or_default(),
                    );
                    let mut cur =
                        Vec::with_capacity(1 + neg.bucket_counts.len() + pos.bucket_counts.len());
                    cur.push(p.zero_count);
                    cur.extend_from_slice(&neg.bucket_counts);
                    cur.extend_from_slice(&pos.bucket_counts);
                    let shape = (p.scale, (neg.offset, pos.offset, neg.bucket_counts.len()));
                    let counts = if h.aggregation_temporality == DELTA {
                        Some(cur)
                    } else {
                        let key = series_key(app, &m.name, &p.attributes);
                        self.delta(key, p.start_time_unix_nano, &cur, shape)
                    };
                    let Some(counts) = counts else {
                        c.untracked += 1;
                        continue;
                    };
                    c.points += 1;
                    let base = 2f64.powf(2f64.powi(-p.scale));
                    let nneg = neg.bucket_counts.len();
                    let rep = |i: usize| -> f64 {
                        if i == 0 {
                            0.0
                        } else if i <= nneg {
                            -base.powf((neg.offset as i64 + i as i64 - 1) as f64 + 0.5)
                        } else {
                            base.powf((pos.offset as i64 + (i - nneg) as i64 - 1) as f64 + 0.5)
                        }
                    };
                    emit!(&p.attributes, None, |pt| {
                        c.sampled += observe(&mut pt, &counts, rep);
                    });
                }
            }
        }
        c
    }
}

/// A metric record: `name`, `value` (0 until emitted), `kind`, then the labels.
fn record<'a>(
    rec: &mut Record<'static>,
    name: &'a [u8],
    kind: &'static [u8],
    attrs: &'a [KeyValue],
    extra: Option<(&'static str, String)>,
) -> Record<'a> {
    let mut r = std::mem::take(rec).recycle();
    r.push(&b"name"[..], Value::Str(Cow::Borrowed(name)));
    r.push(&b"value"[..], Value::Float(0.0));
    r.push(&b"kind"[..], Value::Str(Cow::Borrowed(kind)));
    for kv in attrs {
        if let Some(t) = text(kv) {
            r.push(kv.key.as_bytes(), Value::Str(t));
        }
    }
    if let Some((k, v)) = extra {
        r.push(k.as_bytes(), Value::Str(Cow::Owned(v.into_bytes())));
    }
    r
}

fn number(p: &crate::sources::otlp::proto_metrics::NumberDataPoint) -> f64 {
    use crate::sources::otlp::proto_metrics::number_data_point::Value as N;
    match p.value {
        Some(N::AsDouble(d)) => d,
        Some(N::AsInt(i)) => i as f64,
        None => f64::NAN,
    }
}

/// The middle of each explicit bucket, clamped to the point's min and max.
fn explicit_reps(p: &crate::sources::otlp::proto_metrics::HistogramDataPoint) -> Vec<f64> {
    let b = &p.explicit_bounds;
    let (lo, hi) = (
        p.min.unwrap_or(f64::NEG_INFINITY),
        p.max.unwrap_or(f64::INFINITY),
    );
    let mean = match (p.sum, p.count) {
        (Some(s), n) if n > 0 => s / n as f64,
        _ => 0.0,
    };
    (0..p.bucket_counts.len())
        .map(|i| {
            let v = match (i.checked_sub(1).and_then(|j| b.get(j)), b.get(i)) {
                (Some(a), Some(z)) => (a + z) / 2.0,
                (None, Some(z)) if lo.is_finite() => (lo + z) / 2.0,
                (None, Some(z)) => *z,
                (Some(a), None) if hi.is_finite() => (a + hi) / 2.0,
                (Some(a), None) => *a,
                (None, None) => mean,
            };
            v.clamp(lo.min(hi), hi.max(lo))
        })
        .collect()
}

/// Observes each bucket's count at its value, at most [`MAX_OBSERVATIONS`] in all (scaled
/// down beyond); returns the observations left out.
fn observe(pt: &mut Point<'_, '_>, counts: &[u64], rep: impl Fn(usize) -> f64) -> u64 {
    let total: u64 = counts.iter().sum();
    let mut made = 0u64;
    for (i, &n) in counts.iter().enumerate().filter(|(_, n)| **n > 0) {
        let n = if total > MAX_OBSERVATIONS {
            ((n as u128 * MAX_OBSERVATIONS as u128) / total as u128) as u64
        } else {
            n
        };
        let v = rep(i);
        for _ in 0..n {
            pt.emit(v);
        }
        made += n;
    }
    total - made
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::otlp::proto_metrics::HistogramDataPoint;

    #[test]
    fn cumulative_points_become_increments_and_restarts_start_over() {
        let mut s = State::default();
        assert_eq!(s.sum_delta(1, 100, 5.0), Some(5.0));
        assert_eq!(s.sum_delta(1, 100, 12.0), Some(7.0));
        assert_eq!(s.sum_delta(1, 100, 3.0), Some(3.0), "smaller: a restart");
        assert_eq!(s.sum_delta(1, 200, 4.0), Some(4.0), "new start time");
        assert_eq!(s.running(2, 3.0), Some(3.0));
        assert_eq!(s.running(2, -1.0), Some(2.0));
        let shape = (0, (0, 0, 0));
        assert_eq!(s.delta(3, 1, &[1, 2], shape), Some(vec![1, 2]));
        assert_eq!(s.delta(3, 1, &[4, 2], shape), Some(vec![3, 0]));
        assert_eq!(
            s.delta(3, 1, &[4, 2, 0], shape),
            Some(vec![4, 2, 0]),
            "other bounds"
        );
        assert_eq!(s.stored, 3);
        for k in 10..(10 + MAX_SERIES as u64) {
            let _ = s.sum_delta(k, 0, 1.0);
        }
        assert_eq!(s.sum_delta(u64::MAX, 0, 1.0), None, "the table is full");
        assert_eq!(s.sum_delta(1, 200, 6.0), Some(2.0), "known series go on");
    }

    #[test]
    fn buckets_are_observed_at_their_middle_within_min_and_max() {
        let p = HistogramDataPoint {
            bucket_counts: vec![1, 1, 1],
            explicit_bounds: vec![10.0, 20.0],
            min: Some(4.0),
            max: Some(22.0),
            count: 3,
            ..Default::default()
        };
        assert_eq!(explicit_reps(&p), vec![7.0, 15.0, 21.0]);
        let open = HistogramDataPoint {
            bucket_counts: vec![1, 1],
            explicit_bounds: vec![10.0],
            ..Default::default()
        };
        assert_eq!(explicit_reps(&open), vec![10.0, 10.0]);
        assert_eq!(unit_word("By"), "bytes");
        assert_eq!(unit_word("{request}"), "");
    }
}
