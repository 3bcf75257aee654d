//! Chart points: one per bucket. A series logs its completed points in sealed chunks shared
//! by reference, so that publishing a series copies at most one chunk's worth of points, and
//! readers hold [`Points`] without holding the store.

use serde::Serialize;
use std::collections::VecDeque;
use std::sync::Arc;

/// Points per sealed chunk.
const CHUNK: usize = 64;

/// One chart point (one bucket) of a series.
#[derive(Debug, Serialize, Clone, Copy, PartialEq)]
#[serde(untagged)]
pub enum Point {
    /// Counter (increase per second) or gauge (last value).
    Value {
        /// Bucket start.
        t: i64,
        /// Value.
        value: f64,
    },
    /// Distribution bucket.
    Dist {
        /// Bucket start.
        t: i64,
        /// Observations in the bucket.
        count: u64,
        /// Quantiles of those observations.
        p50: f64,
        /// 95th percentile.
        p95: f64,
        /// 99th percentile.
        p99: f64,
    },
}

impl Point {
    /// Bucket start.
    pub fn t(&self) -> i64 {
        match self {
            Point::Value { t, .. } | Point::Dist { t, .. } => *t,
        }
    }
}

/// Completed points of one series, oldest first.
#[derive(Debug, Default)]
pub(crate) struct PointLog {
    sealed: VecDeque<Arc<[Point]>>,
    tail: Vec<Point>,
}

impl PointLog {
    pub(crate) fn push(&mut self, p: Point) {
        self.tail.push(p);
        if self.tail.len() == CHUNK {
            self.sealed
                .push_back(Arc::from(std::mem::take(&mut self.tail)));
        }
    }

    pub(crate) fn last_t(&self) -> Option<i64> {
        self.tail
            .last()
            .or_else(|| self.sealed.back().and_then(|c| c.last()))
            .map(Point::t)
    }

    /// The point of bucket `t`, when logged.
    pub(crate) fn find(&self, t: i64) -> Option<&Point> {
        if let Some(i) = self.tail.iter().rposition(|p| p.t() <= t) {
            return (self.tail[i].t() == t).then(|| &self.tail[i]);
        }
        let c = self
            .sealed
            .partition_point(|c| c.last().is_some_and(|p| p.t() < t));
        let chunk = self.sealed.get(c)?;
        chunk
            .binary_search_by_key(&t, Point::t)
            .ok()
            .map(|i| &chunk[i])
    }

    /// Puts `p` in the log in time order, replacing the point of the same bucket (a late
    /// observation re-logs a completed bucket). A sealed chunk readers may hold is copied,
    /// never changed.
    pub(crate) fn upsert(&mut self, p: Point) {
        let t = p.t();
        let in_tail = self.sealed.is_empty()
            || match self.tail.first() {
                Some(f) => f.t() <= t,
                None => self
                    .sealed
                    .back()
                    .and_then(|c| c.last())
                    .is_none_or(|l| l.t() < t),
            };
        if in_tail {
            let i = self.tail.partition_point(|q| q.t() < t);
            if self.tail.get(i).is_some_and(|q| q.t() == t) {
                self.tail[i] = p;
            } else {
                self.tail.insert(i, p);
                if self.tail.len() == CHUNK {
                    self.sealed
                        .push_back(Arc::from(std::mem::take(&mut self.tail)));
                }
            }
            return;
        }
        // In a sealed chunk: the first whose last point is at or after `t` (else the last).
        let c = self
            .sealed
            .partition_point(|c| c.last().is_some_and(|q| q.t() < t))
            .min(self.sealed.len() - 1);
        let mut v = self.sealed[c].to_vec();
        match v.binary_search_by_key(&t, Point::t) {
            Ok(i) => v[i] = p,
            Err(i) => v.insert(i, p),
        }
        self.sealed[c] = Arc::from(v);
    }

    /// Drops whole chunks whose points are all at or before `cutoff` (the window keeps at
    /// most one chunk more than it needs).
    pub(crate) fn trim(&mut self, cutoff: i64) {
        while self
            .sealed
            .front()
            .is_some_and(|c| c.last().is_some_and(|p| p.t() <= cutoff))
        {
            self.sealed.pop_front();
        }
    }

    /// A reader's copy: sealed chunks by reference, the tail copied, plus the open point.
    pub(crate) fn snapshot(&self, open: Option<Point>) -> Points {
        Points {
            sealed: self.sealed.iter().cloned().collect(),
            tail: self.tail.clone().into(),
            open,
        }
    }
}

/// A series' points as published: completed ones, then the one of the open bucket.
#[derive(Debug, Clone, Default)]
pub struct Points {
    sealed: Vec<Arc<[Point]>>,
    tail: Arc<[Point]>,
    open: Option<Point>,
}

impl Points {
    /// Every point, oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Point> {
        self.sealed
            .iter()
            .flat_map(|c| c.iter())
            .chain(self.tail.iter())
            .chain(self.open.iter())
    }

    /// The last `last` points whose bucket starts within `[from, to]`, oldest first.
    pub fn range(&self, from: i64, to: i64, last: usize) -> Vec<Point> {
        let mut v: Vec<Point> = self
            .iter()
            .rev()
            .skip_while(|p| p.t() > to)
            .take_while(|p| p.t() >= from)
            .take(last)
            .copied()
            .collect();
        v.reverse();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(t: i64) -> Point {
        Point::Value { t, value: t as f64 }
    }

    #[test]
    fn upsert_replaces_or_inserts_in_order_without_touching_shared_chunks() {
        let mut log = PointLog::default();
        for t in (0..200).step_by(2) {
            log.push(pt(t));
        }
        let before = log.snapshot(None);
        for t in [10, 11, 150, 151, 198, 199, -1] {
            log.upsert(Point::Value { t, value: -1.0 });
        }
        let after = log.snapshot(None);
        let ts: Vec<i64> = after.iter().map(Point::t).collect();
        let mut want: Vec<i64> = (0..200).step_by(2).collect();
        want.extend([11, 151, 199, -1]);
        want.sort_unstable();
        assert_eq!(ts, want, "in time order, one point per bucket");
        for t in [10, 11, 150, 151, 198, 199, -1] {
            assert_eq!(log.find(t), Some(&Point::Value { t, value: -1.0 }));
        }
        assert_eq!(log.find(3), None);
        assert_eq!(log.find(4), Some(&pt(4)));
        assert!(
            before.iter().all(|p| *p == pt(p.t())),
            "what a reader held is unchanged"
        );
    }

    #[test]
    fn log_seals_chunks_and_snapshots_share_them() {
        let mut log = PointLog::default();
        for t in 0..200 {
            log.push(pt(t));
        }
        let a = log.snapshot(Some(pt(200)));
        let ts: Vec<i64> = a.iter().map(Point::t).collect();
        assert_eq!(ts, (0..=200).collect::<Vec<_>>());
        let b = log.snapshot(None);
        assert!(Arc::ptr_eq(&a.sealed[0], &b.sealed[0]), "chunks are shared");
        log.trim(100);
        let c = log.snapshot(None);
        assert_eq!(
            c.iter().next().map(Point::t),
            Some(64),
            "whole chunks trimmed"
        );
        assert_eq!(
            c.range(150, 160, 5)
                .iter()
                .map(Point::t)
                .collect::<Vec<_>>(),
            vec![156, 157, 158, 159, 160]
        );
        assert!(c.range(500, 600, 5).is_empty());
    }
}
