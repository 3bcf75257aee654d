//! The recent state changes of alert instances: a bounded in-memory list (newest last) that
//! the dashboard's alerts panel and toasts show, numbered so that a reader asks only for what
//! is new. Kept as plain records so that a history store can take them as they come.

use super::eval::{Instance, Severity, State};
use super::payload::Labels;
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

/// The last [`MAX_RECENT`] transitions.
#[derive(Debug, Default)]
pub struct Recent {
    list: VecDeque<Transition>,
    next: u64,
}

impl Recent {
    /// Records that `i` went from `from` to its current state at `now`.
    pub fn push(&mut self, i: &Instance, from: State, now: f64) {
        self.next += 1;
        if self.list.len() == MAX_RECENT {
            self.list.pop_front();
        }
        self.list.push_back(Transition {
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
        });
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
