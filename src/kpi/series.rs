//! One KPI's time series: raw buckets for the recent windows (rates, quantiles), a log of
//! completed chart points for the live window, and running totals.

use super::desc::{Desc, Limits};
use super::points::{Point, PointLog};
use super::sketch::Sketch;
use super::{Kind, Obs, SUMMARY_WINDOW_S};
use std::collections::VecDeque;

/// Observations of one distribution in one bucket.
#[derive(Debug, Clone, Default)]
pub struct DistBucket {
    /// Observation count.
    pub count: u64,
    /// Sum of observations.
    pub sum: f64,
    /// Smallest observation.
    pub min: f64,
    /// Largest observation.
    pub max: f64,
    /// Their quantile sketch.
    pub sketch: Sketch,
}

impl DistBucket {
    /// Adds one observation.
    pub(crate) fn observe(&mut self, x: f64) {
        if self.count == 0 {
            self.min = x;
            self.max = x;
        } else {
            self.min = self.min.min(x);
            self.max = self.max.max(x);
        }
        self.count += 1;
        self.sum += x;
        self.sketch.add(x);
    }

    /// Adds another bucket's observations.
    pub fn merge(&mut self, o: &DistBucket) {
        if o.count == 0 {
            return;
        }
        if self.count == 0 {
            self.min = o.min;
            self.max = o.max;
        } else {
            self.min = self.min.min(o.min);
            self.max = self.max.max(o.max);
        }
        self.count += o.count;
        self.sum += o.sum;
        self.sketch.merge(&o.sketch);
    }
}

/// What one bucket holds, by kind.
#[derive(Debug, Clone)]
pub enum BucketData {
    /// Sum of increments.
    Counter(f64),
    /// Last, smallest and largest value set.
    Gauge {
        /// Last value set.
        last: f64,
        /// Smallest value set.
        min: f64,
        /// Largest value set.
        max: f64,
    },
    /// Observations.
    Dist(Box<DistBucket>),
}

/// One bucket: its start (Unix seconds, a multiple of the resolution) and data.
#[derive(Debug, Clone)]
pub struct Bucket {
    /// Start time.
    pub t: i64,
    /// Contents.
    pub data: BucketData,
}

impl Bucket {
    /// The chart point of this bucket; `span` is how many seconds it covers so far (the
    /// resolution once it is complete).
    pub fn point(&self, span: f64) -> Point {
        match &self.data {
            BucketData::Counter(v) => Point::Value {
                t: self.t,
                value: v / span,
            },
            BucketData::Gauge { last, .. } => Point::Value {
                t: self.t,
                value: *last,
            },
            BucketData::Dist(d) => Point::Dist {
                t: self.t,
                count: d.count,
                p50: d.sketch.quantile(0.50).unwrap_or(f64::NAN),
                p95: d.sketch.quantile(0.95).unwrap_or(f64::NAN),
                p99: d.sketch.quantile(0.99).unwrap_or(f64::NAN),
            },
        }
    }
}

/// The series of one KPI id.
#[derive(Debug)]
pub struct Series {
    /// Counter: sum of all increments; distribution: number of observations.
    pub total: f64,
    /// Distribution: sum of all observations.
    pub sum: f64,
    /// Gauge: last value.
    pub last: f64,
    /// Time of the last update (Unix seconds).
    pub last_t: f64,
    /// Store generation of the last update (for "changed since").
    pub generation: u64,
    /// Fixed histogram buckets (cumulative counts since start), when the rule asked for them.
    pub hist: Option<Box<[u64]>>,
    /// Raw buckets of the recent windows (rates, summaries), oldest first.
    pub buckets: VecDeque<Bucket>,
    /// Completed buckets of the live window, as chart points.
    pub(crate) log: PointLog,
    /// What history has not been sent yet (only while the store ships).
    pub(crate) unshipped: super::ship::Unshipped,
}

/// Raw buckets kept: enough for the summary window, never more than the live window.
fn raw_kept(limits: &Limits) -> usize {
    let res = limits.bucket_secs.max(1);
    ((SUMMARY_WINDOW_S + res - 1) / res + 1).min(limits.window_buckets as i64) as usize
}

impl Series {
    pub(super) fn new(hist_len: Option<usize>) -> Self {
        Series {
            total: 0.0,
            sum: 0.0,
            last: f64::NAN,
            last_t: 0.0,
            generation: 0,
            hist: hist_len.map(|n| vec![0u64; n].into_boxed_slice()),
            buckets: VecDeque::new(),
            log: PointLog::default(),
            unshipped: Default::default(),
        }
    }

    /// Logs the newest raw bucket as a point if it is complete at bucket start `open` and not
    /// logged yet.
    pub(super) fn seal(&mut self, open: i64, limits: &Limits) {
        let res = limits.bucket_secs;
        if let Some(b) = self.buckets.back() {
            if b.t < open && self.log.last_t().is_none_or(|t| t < b.t) {
                self.log.push(b.point(res as f64));
                self.log.trim(b.t - res * limits.window_buckets as i64);
            }
        }
    }

    /// Applies one observation at time `now` to the series of `desc`, trimming the raw
    /// buckets to the recent windows. The store checked the value (finite, and not negative
    /// for a counter).
    pub(super) fn apply(&mut self, desc: &Desc, obs: Obs, now: f64, limits: &Limits) {
        let (kind, bounds) = (desc.kind, desc.buckets.as_deref());
        let res = limits.bucket_secs;
        let bt = (now as i64).div_euclid(res) * res;
        let x = obs.value();
        self.last_t = now;
        let fresh = match self.buckets.back() {
            Some(b) => b.t < bt,
            None => true,
        };
        if fresh {
            self.seal(bt, limits);
            let data = match kind {
                Kind::Counter => BucketData::Counter(0.0),
                Kind::Gauge => BucketData::Gauge {
                    last: x,
                    min: x,
                    max: x,
                },
                Kind::Distribution => BucketData::Dist(Box::default()),
            };
            self.buckets.push_back(Bucket { t: bt, data });
            let oldest = bt - res * raw_kept(limits) as i64;
            while self.buckets.front().is_some_and(|b| b.t <= oldest) {
                self.buckets.pop_front();
            }
        }
        // Late observations (clock went backwards) land in the newest bucket.
        let b = self.buckets.back_mut().expect("bucket just ensured");
        match (&mut b.data, obs) {
            (BucketData::Counter(s), Obs::Add(v)) => {
                *s += v;
                self.total += v;
            }
            (BucketData::Gauge { last, min, max }, Obs::Set(v)) => {
                *last = v;
                *min = min.min(v);
                *max = max.max(v);
                self.last = v;
            }
            (BucketData::Dist(d), Obs::Observe(v)) => {
                d.observe(v);
                self.total += 1.0;
                self.sum += v;
                if let (Some(h), Some(bounds)) = (self.hist.as_mut(), bounds) {
                    let i = bounds.partition_point(|&le| le < v);
                    if i < h.len() {
                        h[i] += 1;
                    }
                }
            }
            // The store checks kinds before calling; a mismatch cannot reach here.
            _ => {}
        }
    }

    /// Raw buckets whose start is at or after `since`.
    pub fn since(&self, since: i64) -> impl Iterator<Item = &Bucket> {
        let start = self.buckets.partition_point(|b| b.t < since);
        self.buckets.range(start..)
    }

    /// All observations of a distribution since `since` (within the raw buckets), merged.
    pub fn merged_since(&self, since: i64) -> DistBucket {
        let mut m = DistBucket::default();
        for b in self.since(since) {
            if let BucketData::Dist(d) = &b.data {
                m.merge(d);
            }
        }
        m
    }

    /// The point of the bucket still open at `now`, if this series has one.
    pub fn open_point(&self, now: f64, res: i64) -> Option<Point> {
        let open = (now as i64).div_euclid(res) * res;
        let b = self.buckets.back().filter(|b| b.t >= open)?;
        Some(b.point((now - b.t as f64).clamp(0.25, res as f64)))
    }
}
