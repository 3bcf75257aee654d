//! Events kept with the history: things that happened at a time rather than values per
//! bucket, today the state changes of alert instances (`kind = "alert"`). A producer holds an
//! [`EventSink`] (a bounded channel: it never waits, and what it cannot send is counted); the
//! writer thread stores what arrived after each flush, and expires events with the longest
//! tier and past [`MAX_EVENTS`]. Readers ask for a kind over a time range ([`query`]).

use rusqlite::Connection;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;

/// The table (created in a file of any earlier version too).
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS event(id INTEGER PRIMARY KEY, at REAL NOT NULL, kind TEXT NOT NULL,
  body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS event_by_time ON event(kind, at);
";

/// Most events kept; the oldest go first.
pub const MAX_EVENTS: i64 = 100_000;
/// Events waiting for the writer; more are dropped and counted.
pub const QUEUE: usize = 8192;
/// Most events one query returns.
pub const MAX_ANSWER: usize = 10_000;

/// One event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// When, Unix seconds.
    pub at: f64,
    /// What kind (`"alert"`).
    pub kind: &'static str,
    /// Its record, JSON.
    pub body: String,
}

/// Counters of events.
#[derive(Debug, Default)]
pub struct EventStats {
    /// Stored.
    pub stored: AtomicU64,
    /// Dropped: the queue was full or the writer had ended.
    pub dropped_queue: AtomicU64,
    /// Dropped: a write failed.
    pub dropped_error: AtomicU64,
    /// Deleted by retention or by [`MAX_EVENTS`].
    pub expired: AtomicU64,
}

/// Where a producer sends events.
#[derive(Debug, Clone)]
pub struct EventSink {
    tx: SyncSender<Event>,
    stats: Arc<EventStats>,
}

impl EventSink {
    /// Sends `e` without waiting; counts it if it cannot.
    pub fn send(&self, e: Event) {
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = self.tx.try_send(e) {
            self.stats.dropped_queue.fetch_add(1, Relaxed);
        }
    }
}

/// A sink and the writer's end of it.
pub fn channel(stats: Arc<EventStats>) -> (EventSink, Receiver<Event>) {
    let (tx, rx) = sync_channel(QUEUE);
    (EventSink { tx, stats }, rx)
}

/// Stores every event waiting in `rx` (one transaction). Returns how many.
pub fn store(conn: &mut Connection, rx: &Receiver<Event>, stats: &EventStats) -> usize {
    let batch: Vec<Event> = rx.try_iter().take(QUEUE).collect();
    if batch.is_empty() {
        return 0;
    }
    let r = (|| {
        let tx = conn.transaction()?;
        {
            let mut st =
                tx.prepare_cached("INSERT INTO event(at, kind, body) VALUES (?1, ?2, ?3)")?;
            for e in &batch {
                st.execute(rusqlite::params![e.at, e.kind, e.body])?;
            }
        }
        tx.commit()
    })();
    match r {
        Ok(()) => {
            stats.stored.fetch_add(batch.len() as u64, Relaxed);
            batch.len()
        }
        Err(e) => {
            stats.dropped_error.fetch_add(batch.len() as u64, Relaxed);
            tracing::warn!("history events: {e}");
            0
        }
    }
}

/// Deletes events older than `before` and the oldest past [`MAX_EVENTS`].
pub fn expire(conn: &Connection, before: f64, stats: &EventStats) -> rusqlite::Result<()> {
    let mut n = conn.execute("DELETE FROM event WHERE at < ?1", [before])?;
    n += conn.execute(
        "DELETE FROM event WHERE id <= (SELECT max(id) FROM event) - ?1",
        [MAX_EVENTS],
    )?;
    stats.expired.fetch_add(n as u64, Relaxed);
    Ok(())
}

/// Events of `kind` from `from` to `to` (inclusive), oldest first, at most `limit` (the
/// newest when there are more); and whether some were left out.
pub fn query(
    conn: &Connection,
    kind: &str,
    from: f64,
    to: f64,
    limit: usize,
) -> rusqlite::Result<(Vec<(f64, String)>, bool)> {
    let limit = limit.min(MAX_ANSWER);
    let mut st = conn.prepare_cached(
        "SELECT at, body FROM event WHERE kind = ?1 AND at >= ?2 AND at <= ?3
         ORDER BY at DESC, id DESC LIMIT ?4",
    )?;
    let mut out: Vec<(f64, String)> = st
        .query_map(rusqlite::params![kind, from, to, limit as i64 + 1], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    let more = out.len() > limit;
    out.truncate(limit);
    out.reverse();
    Ok((out, more))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Connection {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(SCHEMA).unwrap();
        c
    }

    fn ev(at: f64) -> Event {
        Event {
            at,
            kind: "alert",
            body: format!("{{\"at\":{at}}}"),
        }
    }

    #[test]
    fn stored_in_order_bounded_by_range_and_limit() {
        let mut c = db();
        let stats = Arc::new(EventStats::default());
        let (sink, rx) = channel(stats.clone());
        for t in [5.0, 1.0, 3.0, 9.0] {
            sink.send(ev(t));
        }
        assert_eq!(store(&mut c, &rx, &stats), 4);
        let (got, more) = query(&c, "alert", 1.0, 5.0, 10).unwrap();
        assert_eq!(got.iter().map(|e| e.0).collect::<Vec<_>>(), [1.0, 3.0, 5.0]);
        assert!(!more);
        // The newest when the limit cuts.
        let (got, more) = query(&c, "alert", 0.0, 10.0, 2).unwrap();
        assert_eq!(got.iter().map(|e| e.0).collect::<Vec<_>>(), [5.0, 9.0]);
        assert!(more);
        assert!(query(&c, "reload", 0.0, 10.0, 2).unwrap().0.is_empty());
    }

    #[test]
    fn a_full_queue_or_a_gone_writer_is_counted_not_waited_on() {
        let stats = Arc::new(EventStats::default());
        let (sink, rx) = channel(stats.clone());
        for t in 0..QUEUE + 3 {
            sink.send(ev(t as f64));
        }
        assert_eq!(stats.dropped_queue.load(Relaxed), 3);
        drop(rx);
        sink.send(ev(0.0));
        assert_eq!(stats.dropped_queue.load(Relaxed), 4);
    }

    #[test]
    fn expiry_by_age_and_by_count() {
        let mut c = db();
        let stats = Arc::new(EventStats::default());
        let (sink, rx) = channel(stats.clone());
        for t in 0..10 {
            sink.send(ev(t as f64));
        }
        store(&mut c, &rx, &stats);
        expire(&c, 4.0, &stats).unwrap();
        assert_eq!(stats.expired.load(Relaxed), 4);
        let (got, _) = query(&c, "alert", 0.0, 100.0, 100).unwrap();
        assert_eq!(got.first().unwrap().0, 4.0);
    }
}
