//! What the store ships to history: [`Delta`]s, the bucket contents added since the last
//! shipment. The engine drains them ([`Store::take_deltas`](super::Store::take_deltas)) at
//! each flush and hands them, with the offsets they include, to the history writer, which
//! merges each into what it holds for the same series and bucket ([`BucketData::merge`]).
//! Deltas rather than whole buckets: a bucket still open, or reopened by a late line, ships
//! again later, and merging never counts anything twice.

use super::series::{Bucket, BucketData};
use super::{Kind, Obs};

/// Most unshipped buckets one series keeps (an hour at 1 s) while the writer falls behind;
/// past it the oldest is dropped and counted (`StoreDrops::history_unshipped`).
pub const MAX_UNSHIPPED: usize = 3600;

/// Unshipped buckets of one series at which the engine ships without waiting for its next
/// flush ([`Store::flush_due`](super::Store::flush_due)).
pub const FLUSH_AT: usize = MAX_UNSHIPPED / 4;

/// Contents of one bucket of one series added since the last shipment.
#[derive(Debug, Clone)]
pub struct Delta {
    /// The series (index in creation order: `SeriesRef`'s number, stable for the store's
    /// life).
    pub series: u32,
    /// Bucket start, Unix seconds (a multiple of the resolution).
    pub t: i64,
    /// What was added.
    pub data: BucketData,
}

impl BucketData {
    /// An empty bucket of `kind` (a gauge's `last` is NaN until set).
    pub fn empty(kind: Kind) -> Self {
        match kind {
            Kind::Counter => BucketData::Counter(0.0),
            Kind::Gauge => BucketData::Gauge {
                last: f64::NAN,
                min: f64::INFINITY,
                max: f64::NEG_INFINITY,
            },
            Kind::Distribution => BucketData::Dist(Box::default()),
        }
    }

    /// Adds one observation (of the bucket's kind; another is ignored).
    #[inline]
    pub fn observe(&mut self, obs: Obs) {
        match (self, obs) {
            (BucketData::Counter(s), Obs::Add(v)) => *s += v,
            (BucketData::Gauge { last, min, max }, Obs::Set(v)) => {
                *last = v;
                *min = min.min(v);
                *max = max.max(v);
            }
            (BucketData::Dist(d), Obs::Observe(v)) => d.observe(v),
            _ => {}
        }
    }

    /// Merges a later delta of the same bucket: counters add, gauges keep the extremes and
    /// the later last value, distributions merge their observations.
    pub fn merge(&mut self, later: &BucketData) {
        match (self, later) {
            (BucketData::Counter(s), BucketData::Counter(v)) => *s += v,
            (
                BucketData::Gauge { last, min, max },
                BucketData::Gauge {
                    last: l2,
                    min: lo,
                    max: hi,
                },
            ) => {
                if !l2.is_nan() {
                    *last = *l2;
                }
                *min = min.min(*lo);
                *max = max.max(*hi);
            }
            (BucketData::Dist(d), BucketData::Dist(o)) => d.merge(o),
            _ => {}
        }
    }
}

/// A series' deltas not shipped yet, oldest bucket first.
#[derive(Debug, Default)]
pub(crate) struct Unshipped {
    pub(crate) buckets: Vec<Bucket>,
    /// Whether the series is on the store's list of series to ship.
    pub(crate) queued: bool,
}

impl Unshipped {
    /// Adds `obs` to the delta of bucket `t`; returns whether a bucket had to be dropped.
    pub(crate) fn add(&mut self, kind: Kind, obs: Obs, t: i64) -> bool {
        let pos = self.buckets.iter().rposition(|b| b.t <= t);
        let i = match pos {
            Some(i) if self.buckets[i].t == t => i,
            _ => {
                let at = pos.map_or(0, |i| i + 1);
                self.buckets.insert(
                    at,
                    Bucket {
                        t,
                        data: BucketData::empty(kind),
                    },
                );
                at
            }
        };
        self.buckets[i].data.observe(obs);
        if self.buckets.len() > MAX_UNSHIPPED {
            self.buckets.remove(0);
            return true;
        }
        false
    }
}
