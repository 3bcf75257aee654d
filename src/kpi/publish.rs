//! What the store publishes: an immutable [`Snapshot`] of every KPI, built by the one stage
//! that owns the store and handed to readers (server, exposition, later history and alerts),
//! which never lock anything. A KPI whose series did not change keeps its [`KpiView`] from
//! the previous snapshot (shared by reference), so a publication costs little more than the
//! KPIs that changed.

use super::desc::Desc;
use super::points::Points;
use super::store::{EventTimeStats, SessionStats, Store, StoreDrops};
use super::view::{self, Latest};
use super::SUMMARY_WINDOW_S;
use std::sync::Arc;

/// One KPI as readers see it.
#[derive(Debug)]
pub struct KpiView {
    /// Its description.
    pub desc: Arc<Desc>,
    /// Snapshot sequence at which this view was built ("changed since" for live updates).
    pub rev: u64,
    /// The latest figures (rate, quantiles over the summary window, ...).
    pub latest: Latest,
    /// Counter: sum of all increments; distribution: number of observations.
    pub total: f64,
    /// Distribution: sum of all observations.
    pub sum: f64,
    /// Gauge: last value.
    pub last: f64,
    /// Fixed histogram buckets (cumulative), when the rule asked for them.
    pub hist: Option<Box<[u64]>>,
    /// Chart points of the live window, the open bucket last.
    pub points: Points,
}

/// Everything readers need, at one instant.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// Sequence number (grows with every publication).
    pub seq: u64,
    /// When it was built, Unix seconds.
    pub ts: f64,
    /// Bucket width, seconds.
    pub bucket_s: i64,
    /// Every KPI, in creation order.
    pub kpis: Vec<Arc<KpiView>>,
    /// What the store refused or folded.
    pub drops: StoreDrops,
    /// Label sets folded per KPI name (only names that folded some).
    pub folded: Vec<(String, u64)>,
    /// What event time did with late, future and unmatched lines.
    pub event_time: EventTimeStats,
    /// What session rules did (open keys, evictions, ends without a start).
    pub sessions: SessionStats,
    /// The sample of recent traces (`/api/traces`).
    pub traces: Arc<crate::traces::TracesView>,
}

impl Snapshot {
    /// The KPI with this id.
    pub fn get(&self, id: &str) -> Option<&KpiView> {
        self.kpis.iter().find(|k| k.desc.id == id).map(|k| &**k)
    }
}

/// Builds snapshots of a store, remembering what it published so that an unchanged KPI
/// keeps its view.
#[derive(Debug, Default)]
pub struct Publisher {
    seq: u64,
    views: Vec<Arc<KpiView>>,
    /// Per series: generation and open bucket as of its current view.
    marks: Vec<(u64, Option<i64>)>,
    traces: Arc<crate::traces::TracesView>,
}

impl Publisher {
    /// The trace sample the next snapshots carry (until set again).
    pub fn set_traces(&mut self, traces: Arc<crate::traces::TracesView>) {
        self.traces = traces;
    }

    /// Builds the snapshot of `store` at `now`. Rebuilds the view of each series that changed
    /// since the last publication, whose open bucket closed since, and (with `refresh`) every
    /// series updated within the summary window, whose windowed figures age with time.
    pub fn publish(&mut self, store: &mut Store, now: f64, refresh: bool) -> Arc<Snapshot> {
        let mut folded: Vec<(String, u64)> = store
            .folded_by_name()
            .map(|(n, c)| (n.to_owned(), c))
            .collect();
        folded.sort();
        let drops = store.drops();
        let event_time = store.event_stats();
        let sessions = store.session_stats();
        let (limits, descs, series) = store.parts_mut();
        let res = limits.bucket_secs;
        let open = (now as i64).div_euclid(res) * res;
        let recent = now - SUMMARY_WINDOW_S as f64 - res as f64;
        let p = self;
        p.seq += 1;
        for (i, s) in series.iter_mut().enumerate() {
            s.seal(open, limits);
            let mark = p.marks.get(i).copied();
            let stale = match mark {
                None => true,
                Some((g, o)) => {
                    g != s.generation
                        || o.is_some_and(|o| o < open)
                        || (refresh && s.last_t >= recent)
                }
            };
            if !stale {
                continue;
            }
            let desc = &descs[i];
            let open_point = s.open_point(now, res);
            let v = Arc::new(KpiView {
                desc: desc.clone(),
                rev: p.seq,
                latest: view::latest(desc, s, now, res),
                total: s.total,
                sum: s.sum,
                last: s.last,
                hist: s.hist.clone(),
                points: s.log.snapshot(open_point),
            });
            let m = (s.generation, open_point.map(|p| p.t()));
            if i < p.views.len() {
                p.views[i] = v;
                p.marks[i] = m;
            } else {
                p.views.push(v);
                p.marks.push(m);
            }
        }
        Arc::new(Snapshot {
            seq: p.seq,
            ts: now,
            bucket_s: res,
            kpis: p.views.clone(),
            drops,
            folded,
            event_time,
            sessions,
            traces: p.traces.clone(),
        })
    }
}
