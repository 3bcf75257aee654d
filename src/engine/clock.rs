//! Event time: which time each record's observations take. A record's own time (its line's
//! timestamp, read as its source's [`TimeSpec`] says, or an app's span or event time) when it
//! has a usable one; else its arrival time. A time more than the future skew ahead of the
//! clock, or before 2000 (a clock never set, a test's zero), is not usable (counted). Whether an observation is too late for the
//! live window is the store's call, per series ([`Store::apply`](crate::kpi::Store::apply)).

use crate::kpi::{EventTimeStats, Store};
use kpid_parsers::{EventTime, Record, TimeSpec};

/// Earliest usable event time: 2000-01-01T00:00:00Z.
pub(crate) const EARLIEST: f64 = 946_684_800.0;

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
        } else if t >= EARLIEST {
            t
        } else {
            stats.implausible_records += 1;
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
            now: 1.8e9,
            skew: 60.0,
        };
        let mut s = EventTimeStats::default();
        assert_eq!(c.at(Some(1.8e9 - 100.0), &mut s), 1.8e9 - 100.0);
        assert_eq!(c.at(Some(1.8e9 + 59.0), &mut s), 1.8e9 + 59.0);
        assert_eq!(c.at(None, &mut s), 1.8e9);
        assert_eq!(s, EventTimeStats::default());
        assert_eq!(c.at(Some(1.8e9 + 61.0), &mut s), 1.8e9);
        assert_eq!(c.at(Some(1e-9), &mut s), 1.8e9);
        assert_eq!((s.future_records, s.implausible_records), (1, 1));
        let spec = TimeSpec::new("%Y-%m-%d", None).unwrap();
        let r = Record::new();
        assert_eq!(c.line(&spec, b"not a date", &r, &mut s), 1.8e9);
        assert_eq!(c.line(&spec, b"1999-12-31 x", &r, &mut s), 1.8e9);
        assert_eq!(c.line(&spec, b"2000-01-01 x", &r, &mut s), EARLIEST);
        assert_eq!((s.unmatched_lines, s.implausible_records), (1, 2));
    }
}
