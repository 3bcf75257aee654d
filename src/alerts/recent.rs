//! The recent state changes of alert instances: a bounded in-memory list (newest last) that
//! the dashboard's alerts panel and toasts show, numbered so that a reader asks only for what
//! is new. With history on, each also goes to the history writer as an event (kind
//! `alert`), which `/api/alerts/history` reads back over any range.

use super::eval::{Instance, Severity, State};
use super::payload::Labels;
use crate::history::events::{Event, EventSink};
use serde::Serialize;
use std::collections::VecDeque;

/// State changes kept.
pub const MAX_RECENT: usize = 200;

/// One state change of one alert instance.
#[derive(Debug, Clone, Serialize)]
pub struct Transition {
    /// Number, increasing from 1.
    pub seq: u64,
    /// When, Unix seconds.
    pub at: f64,
    /// The instance's fingerprint (what `ack` takes).
    pub id: String,
    /// Rule name.
    pub rule: String,
    /// KPI id (empty when no series matched).
    pub kpi: String,
    /// The instance's labels.
    pub labels: Labels,
    /// State before.
    pub from: State,
    /// State after.
    pub to: State,
    /// Severity after.
    pub severity: Option<Severity>,
    /// Value when it changed.
    pub value: Option<f64>,
    /// The `summary` annotation, expanded.
    pub summary: Option<String>,
}

/// The last [`MAX_RECENT`] transitions; each also goes to history when a sink is set.
#[derive(Debug, Default)]
pub struct Recent {
    list: VecDeque<Transition>,
    next: u64,
    sink: Option<EventSink>,
}

/// The kind alert transitions are stored as in history.
pub const EVENT_KIND: &str = "alert";

impl Recent {
    /// Records that `i` went from `from` to its current state at `now`.
    pub fn push(&mut self, i: &Instance, from: State, now: f64) {
        self.next += 1;
        if self.list.len() == MAX_RECENT {
            self.list.pop_front();
        }
        let t = Transition {
            seq: self.next,
            at: now,
            id: i.id.clone(),
            rule: i.rule.clone(),
            kpi: i.kpi.clone(),
            labels: i.labels.clone(),
            from,
            to: i.state,
            severity: i.severity,
            value: i.value,
            summary: i.annotations.get("summary").cloned(),
        };
        if let Some(sink) = &self.sink {
            sink.send(Event {
                at: now,
                kind: EVENT_KIND,
                body: serde_json::to_string(&t).unwrap_or_default(),
            });
        }
        self.list.push_back(t);
    }

    /// Sends every transition from now on to history too.
    pub fn store_in(&mut self, sink: EventSink) {
        self.sink = Some(sink);
    }

    /// Those from `from` to `to` (Unix seconds), oldest first: what a daemon without history
    /// can say of a range.
    pub fn between(&self, from: f64, to: f64) -> Vec<Transition> {
        self.list
            .iter()
            .filter(|t| t.at >= from && t.at <= to)
            .cloned()
            .collect()
    }

    /// The newest `n`, oldest first.
    pub fn last(&self, n: usize) -> Vec<Transition> {
        let skip = self.list.len().saturating_sub(n);
        self.list.iter().skip(skip).cloned().collect()
    }

    /// Number of the newest transition (0 before any).
    pub fn seq(&self) -> u64 {
        self.next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_bounded_and_numbered() {
        let mut r = Recent::default();
        let mut i = Instance::new("r", String::new(), Labels::new(), 0.0);
        for n in 0..(MAX_RECENT + 5) {
            i.state = if n % 2 == 0 {
                State::Firing
            } else {
                State::Resolved
            };
            r.push(&i, State::Pending, n as f64);
        }
        let all = r.last(usize::MAX);
        assert_eq!(all.len(), MAX_RECENT);
        assert_eq!(all.last().unwrap().seq, (MAX_RECENT + 5) as u64);
        assert_eq!(all[0].seq, 6);
        assert_eq!(r.last(3).len(), 3);
        assert_eq!(r.seq(), (MAX_RECENT + 5) as u64);
    }
}
