//! Event time: which time each record's observations take. A record's own time (its line's
//! timestamp, read as its source's [`TimeSpec`] says, or an app's span or event time) when it
//! has a usable one; else its arrival time. A time more than the future skew ahead of the
//! clock, or before 1970, is not usable (counted). Whether an observation is too late for the
//! live window is the store's call, per series ([`Store::apply`](crate::kpi::Store::apply)).

use crate::kpi::{EventTimeStats, Store};
use kpid_parsers::{EventTime, Record, TimeSpec};

/// The arrival time of what is being applied and the future skew allowed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    /// Arrival time, Unix seconds.
    pub now: f64,
    /// Most seconds a record's time may be ahead of `now`.
    pub skew: f64,
}

impl Clock {
    /// The time of a record that carries `t` (an app's record), counting an unusable one.
    pub(crate) fn at(&self, t: Option<f64>, stats: &mut EventTimeStats) -> f64 {
        match t {
            None => self.now,
            Some(t) => self.usable(t, stats),
        }
    }

    /// The time of a parsed line, read as its source's `spec` says.
    #[inline]
    pub(crate) fn line(
        &self,
        spec: &TimeSpec,
        line: &[u8],
        rec: &Record<'_>,
        stats: &mut EventTimeStats,
    ) -> f64 {
        match spec.event_time(line, rec) {
            EventTime::Found(t) => self.usable(t, stats),
            EventTime::Absent => self.now,
            EventTime::Unmatched => {
                stats.unmatched_lines += 1;
                self.now
            }
        }
    }

    fn usable(&self, t: f64, stats: &mut EventTimeStats) -> f64 {
        if t > self.now + self.skew {
            stats.future_records += 1;
            self.now
        } else if t >= 0.0 {
            t
        } else {
            stats.unmatched_lines += 1;
            self.now
        }
    }
}

/// Applies one record through `apply` at time `t`, counting it in `late_records` when any of
/// its observations was too late for the live window.
#[inline]
pub(crate) fn counting_late(store: &mut Store, apply: impl FnOnce(&mut Store)) {
    let before = store.event_stats().late_observations;
    apply(store);
    if store.event_stats().late_observations != before {
        store.event_stats_mut().late_records += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unusable_times_take_arrival_time_and_are_counted() {
        let c = Clock {
            now: 1000.0,
            skew: 60.0,
        };
        let mut s = EventTimeStats::default();
        assert_eq!(c.at(Some(900.0), &mut s), 900.0);
        assert_eq!(c.at(Some(1059.0), &mut s), 1059.0);
        assert_eq!(c.at(None, &mut s), 1000.0);
        assert_eq!(s, EventTimeStats::default());
        assert_eq!(c.at(Some(1061.0), &mut s), 1000.0);
        assert_eq!(c.at(Some(-5.0), &mut s), 1000.0);
        assert_eq!((s.future_records, s.unmatched_lines), (1, 1));
        let spec = TimeSpec::new("%Y-%m-%d", None).unwrap();
        let r = Record::new();
        assert_eq!(c.line(&spec, b"not a date", &r, &mut s), 1000.0);
        assert_eq!(c.line(&spec, b"1970-01-01 x", &r, &mut s), 0.0);
        assert_eq!(s.unmatched_lines, 2);
    }
}
