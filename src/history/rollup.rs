//! Maintenance after each fold: rolling the coarser tiers up from the finer ones, retention
//! per tier, and the size cap (oldest points of the finest tier first).
//!
//! Tier `k` keeps a watermark `W_k`: every point of the finer tier before it has been rolled
//! into tier `k`. A rollup takes the finer tier's points in `[W_k, B)` (`B` a block boundary,
//! at most the finer tier's own watermark), merges them per coarse bucket and advances
//! `W_k` to `B`, in one transaction. Points folded later with a time before `W_k` are
//! written to tier `k` directly by the fold, so nothing is rolled twice or missed.

use super::codec::{self, Agg};
use super::health::HistoryStats;
use super::{db, floor, merge_by_time, roll_into, Tier};
use rusqlite::{CachedStatement, Connection};
use std::sync::atomic::Ordering::Relaxed;

/// Inserts chunks.
pub struct Inserter<'c> {
    st: CachedStatement<'c>,
    scratch: Vec<u8>,
}

impl std::fmt::Debug for Inserter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Inserter")
    }
}

impl<'c> Inserter<'c> {
    /// Prepares the statement on `conn`.
    pub fn new(conn: &'c Connection) -> rusqlite::Result<Self> {
        Ok(Inserter {
            st: conn.prepare_cached(
                "INSERT INTO chunk(tier, series, t0, t1, data) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?,
            scratch: Vec::new(),
        })
    }

    /// Writes `pts` (sorted, one kind, at least one) as one chunk of `tier`.
    pub fn put(
        &mut self,
        tier: usize,
        series: i64,
        res: i64,
        pts: &[(i64, Agg)],
    ) -> rusqlite::Result<()> {
        let (Some(first), Some(last)) = (pts.first(), pts.last()) else {
            return Ok(());
        };
        self.scratch.clear();
        codec::encode(first.1.kind(), res, pts, &mut self.scratch);
        self.st.execute(rusqlite::params![
            tier as i64,
            series,
            first.0,
            last.0,
            &self.scratch
        ])?;
        Ok(())
    }
}

/// Rolls up, expires, caps the size; then hands free pages back to the file system.
pub fn maintain(
    conn: &mut Connection,
    tiers: &[Tier],
    marks: &mut [i64],
    now: i64,
    max_size: u64,
    stats: &HistoryStats,
) -> rusqlite::Result<()> {
    for k in 1..tiers.len() {
        let mut b = floor(now, tiers[k].block);
        if k >= 2 {
            b = b.min(floor(marks[k - 1], tiers[k].block));
        }
        if b > marks[k] {
            roll_up(conn, tiers, k, marks[k], b, stats)?;
            marks[k] = b;
        }
    }
    for (k, t) in tiers.iter().enumerate() {
        let n = points_where(conn, "tier = ?1 AND t1 < ?2", k, now - t.retention)?;
        if n > 0 {
            conn.execute(
                "DELETE FROM chunk WHERE tier = ?1 AND t1 < ?2",
                rusqlite::params![k as i64, now - t.retention],
            )?;
            stats.expired_points.fetch_add(n, Relaxed);
        }
    }
    cap(conn, tiers.len(), max_size, stats)?;
    // Free pages go back to the file system (one per step) once the WAL is checkpointed.
    {
        let mut st = conn.prepare("PRAGMA incremental_vacuum")?;
        let mut rows = st.query([])?;
        while rows.next()?.is_some() {}
    }
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
}

/// Points held by the chunks matching `cond` (`?1`: tier, `?2`: a time).
fn points_where(conn: &Connection, cond: &str, tier: usize, t: i64) -> rusqlite::Result<u64> {
    let mut st = conn.prepare_cached(&format!("SELECT data FROM chunk WHERE {cond}"))?;
    let mut rows = st.query(rusqlite::params![tier as i64, t])?;
    let mut n = 0u64;
    while let Some(r) = rows.next()? {
        let data = r.get_ref(0)?.as_blob()?;
        let mut at = 1;
        n += crate::kpi::sketch::get_varint(data, &mut at).unwrap_or(0);
    }
    Ok(n)
}

fn roll_up(
    conn: &mut Connection,
    tiers: &[Tier],
    k: usize,
    from: i64,
    to: i64,
    stats: &HistoryStats,
) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    let fine = tiers[k - 1].res;
    let mut out: Vec<(i64, Vec<(i64, Agg)>)> = Vec::new();
    {
        let mut st = tx.prepare(
            "SELECT series, data FROM chunk WHERE tier = ?1 AND t1 >= ?2 AND t0 < ?3
             ORDER BY series, id",
        )?;
        let mut rows = st.query(rusqlite::params![(k - 1) as i64, from, to])?;
        let mut cur: Option<i64> = None;
        let mut pts: Vec<(i64, Agg)> = Vec::new();
        let mut flush = |id: Option<i64>, pts: &mut Vec<(i64, Agg)>| {
            pts.retain(|p| p.0 >= from && p.0 < to);
            if let (Some(id), false) = (id, pts.is_empty()) {
                merge_by_time(pts, k - 1 == 0);
                let mut coarse = Vec::new();
                roll_into(pts, tiers[k].res, &mut coarse);
                out.push((id, coarse));
            }
            pts.clear();
        };
        while let Some(r) = rows.next()? {
            let id: i64 = r.get(0)?;
            if cur != Some(id) {
                flush(cur, &mut pts);
                cur = Some(id);
            }
            if let Err(e) = codec::decode(r.get_ref(1)?.as_blob()?, fine, &mut pts) {
                stats.error(format!("history rollup of series {id}: {e}"));
            }
        }
        flush(cur, &mut pts);
    }
    {
        let mut ins = Inserter::new(&tx)?;
        for (id, pts) in &out {
            ins.put(k, *id, tiers[k].res, pts)?;
        }
    }
    stats.chunks.fetch_add(out.len() as u64, Relaxed);
    db::meta_set(&tx, &format!("rollup.{k}"), to)?;
    tx.commit()
}

/// Deletes the oldest chunks, finest tier first, until the database uses at most `max`.
fn cap(conn: &Connection, tiers: usize, max: u64, stats: &HistoryStats) -> rusqlite::Result<()> {
    while db::used_bytes(conn)? > max {
        let mut deleted = false;
        for k in 0..tiers {
            let victims: Vec<(i64, Vec<u8>)> = conn
                .prepare_cached("SELECT id, data FROM chunk WHERE tier = ?1 ORDER BY t0 LIMIT 256")?
                .query_map([k as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            if victims.is_empty() {
                continue;
            }
            let mut n = 0;
            let mut del = conn.prepare_cached("DELETE FROM chunk WHERE id = ?1")?;
            for (id, data) in &victims {
                let mut at = 1;
                n += crate::kpi::sketch::get_varint(data, &mut at).unwrap_or(0);
                del.execute([id])?;
            }
            stats.dropped_size_points.fetch_add(n, Relaxed);
            deleted = true;
            break;
        }
        if !deleted {
            break;
        }
    }
    Ok(())
}
