//! Sessions: state carried from one line to another, keyed by a field (mtail's
//! `connection_time[$pid] = timestamp()` ... `timestamp() - connection_time[$pid]`).
//!
//! A `kind = "start"` rule records the time of each record it passes under the text of its
//! `key` field (a later start under an open key restarts it). A rule with `since = "START"`
//! reads the time since that start under the same key as its value (a counter adds it, a
//! distribution observes it, a gauge sets it) and forgets the key once the record's rules
//! have all run; a record whose key has no open start is not observed (counted as
//! `unmatched`). At most `max_open` keys are open per start rule: past it the oldest is
//! evicted; a start older than `expire` is forgotten when next looked at. All of it is counted
//! in [`SessionStats`], shown in `/api/health` under `sessions`.

use crate::kpi::SessionStats;
use rustc_hash::FxHashMap;
use std::collections::VecDeque;

/// Default most open keys per start rule.
pub(super) const MAX_OPEN: usize = 10_000;

/// The open keys of one start rule.
#[derive(Debug)]
pub(super) struct Sessions {
    /// Key → (start time, the start's sequence number).
    open: FxHashMap<Box<[u8]>, (f64, u64)>,
    /// Keys in the order they were started, with their sequence number (an entry whose
    /// number is no longer the key's is stale: it ended or restarted).
    order: VecDeque<(Box<[u8]>, u64)>,
    seq: u64,
    cap: usize,
    /// Seconds after which a start is forgotten (infinite without `expire`).
    expire: f64,
}

impl Sessions {
    pub(super) fn new(cap: usize, expire: f64) -> Sessions {
        Sessions {
            open: FxHashMap::default(),
            order: VecDeque::new(),
            seq: 0,
            cap: cap.max(1),
            expire,
        }
    }

    /// Opens (or restarts) `key` at `t`, evicting the oldest open key when full.
    pub(super) fn start(&mut self, key: &[u8], t: f64, stats: &mut SessionStats) {
        self.seq += 1;
        if let Some(s) = self.open.get_mut(key) {
            *s = (t, self.seq);
        } else {
            while self.open.len() >= self.cap {
                let Some((old, seq)) = self.order.pop_front() else {
                    break;
                };
                if self.open.get(&old).is_some_and(|s| s.1 == seq) {
                    self.open.remove(&old);
                    stats.evicted += 1;
                    stats.open -= 1;
                }
            }
            self.open.insert(key.into(), (t, self.seq));
            stats.started += 1;
            stats.open += 1;
        }
        self.order.push_back((key.into(), self.seq));
        // Stale entries (ended or restarted keys) are dropped once they outnumber the open.
        if self.order.len() > 2 * self.cap.max(self.open.len()) {
            let open = &self.open;
            self.order
                .retain(|(k, seq)| open.get(k).is_some_and(|s| s.1 == *seq));
        }
    }

    /// The time since `key` started, at `t`, and the start's sequence number (to end it);
    /// `None` (counted) when it has no open start or its start expired.
    pub(super) fn since(
        &mut self,
        key: &[u8],
        t: f64,
        stats: &mut SessionStats,
    ) -> Option<(f64, u64)> {
        let Some(&(start, seq)) = self.open.get(key) else {
            stats.unmatched += 1;
            return None;
        };
        if t - start > self.expire {
            self.open.remove(key);
            stats.expired += 1;
            stats.unmatched += 1;
            stats.open -= 1;
            return None;
        }
        Some((t - start, seq))
    }

    /// Forgets `key` if it is still the start `seq` (not restarted since).
    pub(super) fn end(&mut self, key: &[u8], seq: u64, stats: &mut SessionStats) {
        if self.open.get(key).is_some_and(|s| s.1 == seq) {
            self.open.remove(key);
            stats.ended += 1;
            stats.open -= 1;
        }
    }

    /// Keys open now.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.open.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_from_the_latest_start_and_forgets_at_the_end() {
        let mut st = SessionStats::default();
        let mut s = Sessions::new(10, f64::INFINITY);
        s.start(b"1", 100.0, &mut st);
        s.start(b"1", 110.0, &mut st);
        let (d, seq) = s.since(b"1", 115.0, &mut st).unwrap();
        assert_eq!(d, 5.0);
        s.end(b"1", seq, &mut st);
        assert!(s.since(b"1", 120.0, &mut st).is_none());
        assert_eq!((st.started, st.ended, st.unmatched), (1, 1, 1));
    }

    #[test]
    fn evicts_the_oldest_past_its_cap_and_stays_bounded() {
        let mut st = SessionStats::default();
        let mut s = Sessions::new(3, f64::INFINITY);
        for i in 0..1000u32 {
            s.start(&i.to_le_bytes(), f64::from(i), &mut st);
            // Restarts leave stale order entries behind: they are dropped.
            s.start(&i.to_le_bytes(), f64::from(i), &mut st);
        }
        assert_eq!(s.len(), 3);
        assert!(s.order.len() <= 6, "order: {}", s.order.len());
        assert_eq!(st.evicted, 997);
        assert!(s.since(&0u32.to_le_bytes(), 2000.0, &mut st).is_none());
        assert!(s.since(&999u32.to_le_bytes(), 2000.0, &mut st).is_some());
    }

    #[test]
    fn a_start_past_its_expiry_is_forgotten() {
        let mut st = SessionStats::default();
        let mut s = Sessions::new(10, 60.0);
        s.start(b"a", 0.0, &mut st);
        assert!(s.since(b"a", 61.0, &mut st).is_none());
        assert_eq!((st.expired, st.unmatched, s.len()), (1, 1, 0));
    }
}
