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
    /// Newest event time applied (Unix seconds): a late observation does not move it back.
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
    /// The newest raw bucket changed after its point was logged: log it again at the next
    /// seal.
    relog: bool,
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
            relog: false,
        }
    }

    /// Logs again the newest raw bucket's point when it changed since it was logged, then logs
    /// the newest raw bucket as a point if it is complete at bucket start `open` and not
    /// logged yet.
    pub(super) fn seal(&mut self, open: i64, limits: &Limits) {
        let res = limits.bucket_secs;
        if std::mem::take(&mut self.relog) {
            if let Some(b) = self.buckets.back() {
                self.log.upsert(b.point(res as f64));
            }
        }
        if let Some(b) = self.buckets.back() {
            if b.t < open && self.log.last_t().is_none_or(|t| t < b.t) {
                self.log.push(b.point(res as f64));
                self.log.trim(b.t - res * limits.window_buckets as i64);
            }
        }
    }

    /// Applies one observation at event time `t` to the series of `desc`. The store checked
    /// the value (finite, and not negative for a counter) and that `t` is within the lateness
    /// of the series' newest time ([`Series::newest`]).
    ///
    /// In order (the newest bucket or a newer one), the observation fills the newest bucket.
    /// Late, it fills its own bucket among the raw ones (created in its place if it had none)
    /// and re-logs that bucket's chart point; older than the raw buckets, it corrects the
    /// logged point (counters exactly; a distribution's count, its quantiles as they were).
    pub(super) fn apply(&mut self, desc: &Desc, obs: Obs, t: f64, limits: &Limits) {
        let res = limits.bucket_secs;
        let bt = (t as i64).div_euclid(res) * res;
        self.last_t = self.last_t.max(t);
        let back = self.buckets.back().map(|b| b.t);
        let k = match back {
            Some(b) if b == bt => Some(self.buckets.len() - 1),
            Some(b) if b > bt => self.late_bucket(desc.kind, bt, b, limits),
            _ => {
                self.seal(bt, limits);
                self.buckets.push_back(Bucket {
                    t: bt,
                    data: BucketData::empty(desc.kind),
                });
                let oldest = bt - res * raw_kept(limits) as i64;
                while self.buckets.front().is_some_and(|b| b.t <= oldest) {
                    self.buckets.pop_front();
                }
                Some(self.buckets.len() - 1)
            }
        };
        let newest = back.is_none_or(|b| bt >= b);
        match k {
            Some(k) => {
                let b = &mut self.buckets[k];
                b.data.observe(obs);
                // A late bucket's point is logged again now; the newest one's, once logged
                // (its time passed while lines of it were still coming), at the next seal,
                // once for all the lines in between.
                if !newest {
                    self.log.upsert(b.point(res as f64));
                } else if self.log.last_t() == Some(bt) {
                    self.relog = true;
                }
            }
            None => self.correct_point(desc.kind, obs, bt, res),
        }
        match obs {
            Obs::Add(v) => self.total += v,
            Obs::Set(v) if newest => self.last = v,
            Obs::Set(_) => {}
            Obs::Observe(v) => self.count_observation(desc, v),
        }
    }

    /// Index of the raw bucket `bt` (older than the newest, `back`), made in its place when
    /// it had none; `None` when it is older than the raw buckets kept.
    fn late_bucket(&mut self, kind: Kind, bt: i64, back: i64, limits: &Limits) -> Option<usize> {
        let i = self.buckets.partition_point(|b| b.t < bt);
        if self.buckets.get(i).is_some_and(|b| b.t == bt) {
            return Some(i);
        }
        if bt <= back - limits.bucket_secs * raw_kept(limits) as i64 {
            return None;
        }
        let data = BucketData::empty(kind);
        self.buckets.insert(i, Bucket { t: bt, data });
        Some(i)
    }

    /// Corrects the logged point of bucket `bt`, older than the raw buckets, for `obs`.
    fn correct_point(&mut self, kind: Kind, obs: Obs, bt: i64, res: i64) {
        let p = match (self.log.find(bt), obs) {
            (Some(Point::Value { t, value }), Obs::Add(v)) => Point::Value {
                t: *t,
                value: value + v / res as f64,
            },
            (
                Some(Point::Dist {
                    t,
                    count,
                    p50,
                    p95,
                    p99,
                }),
                Obs::Observe(_),
            ) => Point::Dist {
                t: *t,
                count: count + 1,
                p50: *p50,
                p95: *p95,
                p99: *p99,
            },
            (Some(_), _) => return,
            (None, _) => {
                let mut b = Bucket {
                    t: bt,
                    data: BucketData::empty(kind),
                };
                b.data.observe(obs);
                b.point(res as f64)
            }
        };
        self.log.upsert(p);
    }

    /// Adds a distribution observation to the running totals (and fixed histogram).
    fn count_observation(&mut self, desc: &Desc, v: f64) {
        self.total += 1.0;
        self.sum += v;
        if let (Some(h), Some(bounds)) = (self.hist.as_mut(), desc.buckets.as_deref()) {
            let i = bounds.partition_point(|&le| le < v);
            if i < h.len() {
                h[i] += 1;
            }
        }
    }

    /// Counts an observation too late for the live window into the running totals only
    /// (history gets its bucket through the store's deltas); a gauge keeps its newer value.
    pub(super) fn apply_history_only(&mut self, desc: &Desc, obs: Obs) {
        match obs {
            Obs::Add(v) => self.total += v,
            Obs::Set(_) => {}
            Obs::Observe(v) => self.count_observation(desc, v),
        }
    }

    /// Newest event time applied (Unix seconds; 0 before any).
    pub fn newest(&self) -> f64 {
        self.last_t
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
