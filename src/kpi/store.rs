//! [`Store`]: the table of series, with caps on series and label sets.

use super::desc::{Desc, Limits, SeriesSpec};
use super::series::Series;
use super::{Kind, Obs};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;

/// Handle to a series; stable for the store's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SeriesRef(pub(crate) u32);

/// What the store refused or folded (shown on the dashboard).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct StoreDrops {
    /// New label sets folded into `other` because their name reached its cap.
    pub label_sets_folded: u64,
    /// Series refused because the store reached its series cap.
    pub series_refused: u64,
    /// Observations refused because the name exists with another kind.
    pub kind_conflicts: u64,
    /// Observations refused for their value: NaN or infinite, or a negative counter increment.
    pub invalid_values: u64,
    /// Buckets history never received: a series' backlog passed
    /// [`MAX_UNSHIPPED`](super::MAX_UNSHIPPED) while the writer fell behind.
    pub history_unshipped: u64,
}

impl StoreDrops {
    /// Everything refused or folded, in all.
    pub fn total(&self) -> u64 {
        self.label_sets_folded
            + self.series_refused
            + self.kind_conflicts
            + self.invalid_values
            + self.history_unshipped
    }
}

#[derive(Debug, Default)]
struct NameInfo {
    kind: Option<Kind>,
    label_sets: usize,
    folded: u64,
}

/// All series. Owned by one stage (the engine); readers get what a
/// [`Publisher`](super::Publisher) builds from it.
#[derive(Debug)]
pub struct Store {
    limits: Limits,
    descs: Vec<Arc<Desc>>,
    series: Vec<Series>,
    index: HashMap<String, SeriesRef>,
    names: HashMap<String, NameInfo>,
    generation: u64,
    drops: StoreDrops,
    id_scratch: String,
    /// Whether observations are also kept for history ([`Store::take_deltas`]).
    shipping: bool,
    /// Series with unshipped deltas, in the order they were first touched.
    to_ship: Vec<u32>,
    /// Descriptions already shipped (series are never removed: the rest are new).
    descs_shipped: usize,
    /// A series' unshipped backlog reached [`FLUSH_AT`](super::ship::FLUSH_AT).
    flush_due: bool,
    /// What event time did with lines and observations.
    event: EventTimeStats,
    /// What session rules did.
    sessions: SessionStats,
}

/// What event time did: shown in `/api/health` under `event_time`. None of it loses data.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct EventTimeStats {
    /// Observations more than the lateness behind their series' newest time: they went to
    /// the running totals and history only, not to the live window.
    pub late_observations: u64,
    /// Lines and app records with at least one such observation.
    pub late_records: u64,
    /// Lines and app records stamped more than the future skew ahead of the clock: they took
    /// their arrival time.
    pub future_records: u64,
    /// Lines and app records stamped before 2000 (a clock never set): they took their
    /// arrival time.
    pub implausible_records: u64,
    /// Lines where their source's explicit `timestamp` format did not match: they took
    /// their arrival time.
    pub unmatched_lines: u64,
}

/// What session rules (`kind = "start"` and `since`, docs/rules.md) did: shown in
/// `/api/health` under `sessions`; evictions and expiries lose a session's start.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct SessionStats {
    /// Keys open now, over all start rules.
    pub open: u64,
    /// Keys opened.
    pub started: u64,
    /// Keys an end closed.
    pub ended: u64,
    /// Ends whose key had no open start (not observed).
    pub unmatched: u64,
    /// Open keys evicted, oldest first, because their start rule had `max_open` open.
    pub evicted: u64,
    /// Starts forgotten because they were older than their rule's `expire`.
    pub expired: u64,
}

impl Store {
    /// An empty store.
    pub fn new(limits: Limits) -> Self {
        Store {
            limits,
            descs: Vec::new(),
            series: Vec::new(),
            index: HashMap::new(),
            names: HashMap::new(),
            generation: 0,
            drops: StoreDrops::default(),
            id_scratch: String::new(),
            shipping: false,
            to_ship: Vec::new(),
            descs_shipped: 0,
            flush_due: false,
            event: EventTimeStats::default(),
            sessions: SessionStats::default(),
        }
    }

    /// What event time did so far.
    pub fn event_stats(&self) -> EventTimeStats {
        self.event
    }

    /// The engine's line counts of event time (future and unmatched lines, late lines).
    pub fn event_stats_mut(&mut self) -> &mut EventTimeStats {
        &mut self.event
    }

    /// What session rules did so far.
    pub fn session_stats(&self) -> SessionStats {
        self.sessions
    }

    /// The session rules' counts, for the engine's rules to update.
    pub fn session_stats_mut(&mut self) -> &mut SessionStats {
        &mut self.sessions
    }

    /// Whether a series' backlog for history is large enough to ship now rather than at the
    /// next flush (a fast replay of an old log spreads over many buckets).
    pub fn flush_due(&self) -> bool {
        self.flush_due
    }

    /// Keeps, from now on, what each observation adds for history, until
    /// [`Store::take_deltas`] drains it.
    pub fn ship_to_history(&mut self) {
        self.shipping = true;
    }

    /// Whether any delta waits for [`Store::take_deltas`].
    pub fn has_deltas(&self) -> bool {
        !self.to_ship.is_empty()
    }

    /// Whether the store keeps deltas for history.
    pub fn ships(&self) -> bool {
        self.shipping
    }

    /// Drains what was added since the last call: the descriptions of series created since
    /// (with their numbers) into `descs`, and one [`Delta`](super::Delta) per series and
    /// bucket into `out`, each series' buckets oldest first.
    pub fn take_deltas(&mut self, descs: &mut Vec<(u32, Arc<Desc>)>, out: &mut Vec<super::Delta>) {
        for (i, d) in self.descs.iter().enumerate().skip(self.descs_shipped) {
            descs.push((i as u32, d.clone()));
        }
        self.descs_shipped = self.descs.len();
        self.flush_due = false;
        for i in self.to_ship.drain(..) {
            let u = &mut self.series[i as usize].unshipped;
            u.queued = false;
            out.extend(u.buckets.drain(..).map(|b| super::Delta {
                series: i,
                t: b.t,
                data: b.data,
            }));
        }
    }

    /// Caps and resolution in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Finds or creates the series for `spec`. Returns `None` (and counts it) when the name
    /// exists with another kind or the store is full. Past the label-set cap of its name,
    /// the label values become `other` (counted). A refused series leaves nothing behind: the
    /// store's memory is bounded by its caps whatever is asked of it.
    pub fn resolve(&mut self, spec: &SeriesSpec<'_>) -> Option<SeriesRef> {
        let mut labels: Vec<(&str, &str)> = spec.labels.to_vec();
        labels.sort_unstable();
        write_id(&mut self.id_scratch, spec.name, &labels);
        if let Some(&r) = self.index.get(self.id_scratch.as_str()) {
            return Some(r);
        }
        if !self.names.contains_key(spec.name) && self.series.len() >= self.limits.max_series {
            self.drops.series_refused += 1;
            return None;
        }
        let info = self.names.entry(spec.name.to_owned()).or_default();
        match info.kind {
            Some(k) if k != spec.kind => {
                self.drops.kind_conflicts += 1;
                return None;
            }
            _ => info.kind = Some(spec.kind),
        }
        if !labels.is_empty() && info.label_sets >= self.limits.max_label_sets {
            info.folded += 1;
            self.drops.label_sets_folded += 1;
            for l in labels.iter_mut() {
                l.1 = "other";
            }
            write_id(&mut self.id_scratch, spec.name, &labels);
            if let Some(&r) = self.index.get(self.id_scratch.as_str()) {
                return Some(r);
            }
        }
        if self.series.len() >= self.limits.max_series {
            self.drops.series_refused += 1;
            return None;
        }
        info.label_sets += 1;
        let r = SeriesRef(self.series.len() as u32);
        let buckets = match spec.kind {
            Kind::Distribution => spec.buckets.cloned(),
            _ => None,
        };
        self.series
            .push(Series::new(buckets.as_ref().map(|b| b.len())));
        self.descs.push(Arc::new(Desc {
            id: self.id_scratch.clone(),
            name: spec.name.to_owned(),
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            kind: spec.kind,
            unit: spec.unit.to_owned(),
            help: spec.help.to_owned(),
            buckets,
        }));
        self.index.insert(self.id_scratch.clone(), r);
        Some(r)
    }

    /// Applies one observation at its event time `t` (Unix seconds). An observation of the
    /// wrong kind for the series, a value that is not finite, or a negative counter increment
    /// is counted and ignored. One more than the lateness ([`Limits::lateness_secs`]) behind
    /// the series' newest time only adds to its running totals and, when the store ships, to
    /// history at its own bucket (counted in [`EventTimeStats::late_observations`]).
    pub fn apply(&mut self, r: SeriesRef, obs: Obs, t: f64) {
        let i = r.0 as usize;
        let desc = &self.descs[i];
        if obs.kind() != desc.kind {
            self.drops.kind_conflicts += 1;
            return;
        }
        let x = obs.value();
        if !x.is_finite() || (desc.kind == Kind::Counter && x < 0.0) {
            self.drops.invalid_values += 1;
            return;
        }
        self.generation += 1;
        let s = &mut self.series[i];
        s.generation = self.generation;
        if t >= s.newest() - self.limits.lateness_secs as f64 {
            s.apply(desc, obs, t, &self.limits);
        } else {
            s.apply_history_only(desc, obs);
            self.event.late_observations += 1;
        }
        if self.shipping {
            let res = self.limits.bucket_secs;
            let bt = (t as i64).div_euclid(res) * res;
            if s.unshipped.add(desc.kind, obs, bt) {
                self.drops.history_unshipped += 1;
            }
            if s.unshipped.buckets.len() >= super::ship::FLUSH_AT {
                self.flush_due = true;
            }
            if !s.unshipped.queued {
                s.unshipped.queued = true;
                self.to_ship.push(i as u32);
            }
        }
    }

    /// A series' last set value (a gauge's; NaN before any).
    pub fn last(&self, r: SeriesRef) -> f64 {
        self.series[r.0 as usize].last
    }

    /// Restores a counter's running total (from a checkpoint) without adding a bucket.
    pub fn restore_total(&mut self, r: SeriesRef, total: f64) {
        let s = &mut self.series[r.0 as usize];
        s.total = total;
    }

    /// Current generation: it grows with every applied observation.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Drop counters.
    pub fn drops(&self) -> StoreDrops {
        self.drops
    }

    /// Label sets folded per KPI name (only names that folded some).
    pub fn folded_by_name(&self) -> impl Iterator<Item = (&str, u64)> {
        self.names
            .iter()
            .filter(|(_, i)| i.folded > 0)
            .map(|(n, i)| (n.as_str(), i.folded))
    }

    /// Number of series.
    pub fn len(&self) -> usize {
        self.series.len()
    }

    /// True when no series exists.
    pub fn is_empty(&self) -> bool {
        self.series.is_empty()
    }

    /// Every series with its description, in creation order.
    pub fn iter(&self) -> impl Iterator<Item = (&Arc<Desc>, &Series)> {
        self.descs.iter().zip(self.series.iter())
    }

    /// Descriptions and series side by side, the series mutable (for the publisher).
    pub(super) fn parts_mut(&mut self) -> (&Limits, &[Arc<Desc>], &mut [Series]) {
        (&self.limits, &self.descs, &mut self.series)
    }

    /// The series with this id.
    pub fn get(&self, id: &str) -> Option<(&Arc<Desc>, &Series)> {
        let r = self.index.get(id)?;
        Some((&self.descs[r.0 as usize], &self.series[r.0 as usize]))
    }
}

fn write_id(out: &mut String, name: &str, labels: &[(&str, &str)]) {
    out.clear();
    out.push_str(name);
    super::write_labels(out, labels.iter().copied());
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
