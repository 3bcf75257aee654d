//! The history writer (thread `kpid-history`): commits each flush of the engine, with its
//! checkpoint, in one transaction, then acknowledges the offsets to the tailer; folds recent
//! points into chunks every `[history] chunk`, then rolls up, expires and caps ([`rollup`]).

use super::codec::Agg;
use super::config::{HistoryConfig, Tier};
use super::events::{self, Event, EventSink};
use super::head::{decode_head, encode_head, Points, DIRECT_POINTS};
use super::{db, floor, roll_into, rollup};
use super::{HistoryError, Reader, SeriesInfo, Shared, MAX_BUFFERED};
use crate::engine::Shipment;
use crate::kpi::{Desc, Kind};
use crate::sources::tail::{Checkpoints, FileCheckpoint};
use crate::state::{Checkpoint, CounterTotal};
use parking_lot::RwLock;
use rusqlite::Connection;
use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// The writer, opened and not started yet.
#[derive(Debug)]
pub struct Writer {
    conn: Connection,
    shared: Arc<Shared>,
    engine_ids: HashMap<u32, i64>,
    by_key: HashMap<String, (i64, Kind)>,
    pending_descs: Vec<(u32, Arc<Desc>)>,
    files: HashMap<(u64, u64), FileCheckpoint>,
    marks: Vec<i64>,
    chunk_every: Duration,
    max_size: u64,
    last_fold: Instant,
    events: Option<std::sync::mpsc::Receiver<Event>>,
    /// The directory's writer lock, released when the writer ends.
    _lock: std::fs::File,
}

/// The running writer.
#[derive(Debug)]
pub struct WriterHandle {
    thread: Option<std::thread::JoinHandle<()>>,
    /// What readers and health share with it.
    pub shared: Arc<Shared>,
}

impl WriterHandle {
    /// Waits until the writer has committed the last shipment (its channel closes when the
    /// engine ends).
    pub fn join(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn kind_code(k: Kind) -> i64 {
    k as i64
}

fn kind_of(c: i64) -> Kind {
    match c {
        0 => Kind::Counter,
        1 => Kind::Gauge,
        _ => Kind::Distribution,
    }
}

impl Writer {
    /// Opens the database in `dir` (moving a damaged one aside). Returns the writer, a
    /// reader, and the checkpoint the last flush committed, if any.
    pub fn open(
        dir: &std::path::Path,
        cfg: &HistoryConfig,
        bucket_s: i64,
    ) -> Result<(Writer, Reader, Option<Checkpoint>), HistoryError> {
        let tiers = cfg.tiers(bucket_s).map_err(HistoryError::Config)?;
        let opened = db::open(dir)?;
        let path = opened.path.clone();
        let sql = |source| HistoryError::Sql {
            path: path.clone(),
            source,
        };
        let conn = opened.conn;
        let recovered = opened.recovered;
        let catalogue = load_catalogue(&conn).map_err(sql)?;
        let by_key = catalogue
            .iter()
            .map(|s| (s.desc.id.clone(), (s.id, s.desc.kind)))
            .collect();
        let shared = Arc::new(Shared {
            buf: Default::default(),
            catalogue: RwLock::new(catalogue),
            tiers: tiers.clone(),
            path: path.clone(),
            stats: Default::default(),
        });
        *shared.stats.recovered.lock() = recovered;
        let checkpoint = db::checkpoint(&conn).unwrap_or_else(|e| {
            shared.stats.error(e);
            None
        });
        let now = crate::kpi::now() as i64;
        let mut marks = vec![i64::MIN; tiers.len()];
        for (k, t) in tiers.iter().enumerate().skip(1) {
            let key = format!("rollup.{k}");
            marks[k] = match db::meta_get::<i64>(&conn, &key).map_err(sql)? {
                Some(m) => m,
                None => {
                    let m = floor(now, t.block);
                    db::meta_set(&conn, &key, m).map_err(sql)?;
                    m
                }
            };
        }
        let mut w = Writer {
            conn,
            shared: shared.clone(),
            engine_ids: HashMap::new(),
            by_key,
            pending_descs: Vec::new(),
            files: HashMap::new(),
            marks,
            chunk_every: cfg.chunk.0.max(Duration::from_secs(1)),
            max_size: cfg.max_size.0,
            last_fold: Instant::now(),
            events: None,
            _lock: opened.lock,
        };
        if let Some(cp) = &checkpoint {
            for f in &cp.files {
                w.files.insert((f.identity.dev, f.identity.ino), f.clone());
            }
        }
        w.load_head().map_err(sql)?;
        w.shared
            .stats
            .bytes
            .store(db::used_bytes(&w.conn).unwrap_or(0), Relaxed);
        let reader = Reader::new(shared, db::reader(&path)?);
        Ok((w, reader, checkpoint))
    }

    /// Puts the points of flushes not folded yet back in memory.
    fn load_head(&mut self) -> rusqlite::Result<()> {
        load_head(&self.conn, &self.shared)
    }

    /// The writer's connection (benchmarks measure the file through it).
    #[doc(hidden)]
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The shared state (for readers and health).
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// A sink for events (alert state changes); the writer stores what it sends after each
    /// flush. One per writer: a second call replaces the first.
    pub fn event_sink(&mut self) -> EventSink {
        let (sink, rx) = events::channel(self.shared.stats.events.clone());
        self.events = Some(rx);
        sink
    }

    /// Stores the events waiting.
    pub fn store_events(&mut self) {
        if let Some(rx) = &self.events {
            events::store(&mut self.conn, rx, &self.shared.stats.events);
        }
    }
}

/// Every series the database knows, in id order.
pub(crate) fn load_catalogue(conn: &Connection) -> rusqlite::Result<Vec<Arc<SeriesInfo>>> {
    let mut st =
        conn.prepare("SELECT id, key, name, labels, kind, unit, help FROM series ORDER BY id")?;
    let rows = st.query_map([], |r| {
        let labels: String = r.get(3)?;
        Ok(SeriesInfo {
            id: r.get(0)?,
            desc: Arc::new(Desc {
                id: r.get(1)?,
                name: r.get(2)?,
                labels: serde_json::from_str(&labels).unwrap_or_default(),
                kind: kind_of(r.get(4)?),
                unit: r.get(5)?,
                help: r.get(6)?,
                buckets: None,
            }),
        })
    })?;
    rows.map(|r| r.map(Arc::new)).collect()
}

/// Puts the points of flushes not folded into chunks yet (the `head` rows) in `shared`'s
/// memory, where queries find them.
pub(crate) fn load_head(conn: &Connection, shared: &Shared) -> rusqlite::Result<()> {
    let mut st = conn.prepare("SELECT data FROM head ORDER BY id")?;
    let blobs: Vec<Vec<u8>> = st
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    drop(st);
    let res = shared.tiers[0].res;
    let mut buf = shared.buf.lock();
    for b in blobs {
        if let Err(e) = decode_head(&b, res, &mut buf) {
            shared.stats.error(format!("history head: {e}"));
        }
    }
    Ok(())
}

/// Starts the writer thread: it takes shipments until the channel closes, then folds what it
/// holds and ends.
pub fn spawn(
    mut w: Writer,
    mut rx: mpsc::Receiver<Shipment>,
    checkpoints: Arc<Checkpoints>,
) -> std::io::Result<WriterHandle> {
    let shared = w.shared.clone();
    let thread = std::thread::Builder::new()
        .name("kpid-history".into())
        .spawn(move || {
            while let Some(first) = rx.blocking_recv() {
                let mut batch = vec![first];
                while batch.len() < 16 {
                    match rx.try_recv() {
                        Ok(s) => batch.push(s),
                        Err(_) => break,
                    }
                }
                w.flush(batch, &checkpoints);
                w.store_events();
                let full = w.shared.buf.lock().points >= MAX_BUFFERED;
                if full || w.last_fold.elapsed() >= w.chunk_every {
                    w.fold_and_maintain();
                }
            }
            w.store_events();
            w.fold_and_maintain();
            if let Err(e) = w.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);") {
                w.shared.stats.error(format!("history checkpoint: {e}"));
            }
        })?;
    Ok(WriterHandle {
        thread: Some(thread),
        shared,
    })
}

impl Writer {
    /// Commits a batch of shipments (one transaction), then acknowledges its offsets.
    pub fn flush(&mut self, batch: Vec<Shipment>, checkpoints: &Checkpoints) {
        let start = Instant::now();
        let total: usize = batch.iter().map(|s| s.deltas.len()).sum();
        let mut files = Vec::new();
        let mut counters = None;
        let mut deltas = Vec::with_capacity(batch.len());
        for mut s in batch {
            self.pending_descs.append(&mut s.descs);
            for f in &s.files {
                self.files
                    .insert((f.identity.dev, f.identity.ino), f.clone());
            }
            files = s.files;
            counters = Some(s.counters);
            deltas.push(s.deltas);
        }
        let counters = counters.expect("a batch is never empty");
        let res = self.shared.tiers[0].res;
        let mut pts = Points::default();
        match self.commit(deltas, &counters, &mut pts, res) {
            Ok(()) => {
                let n = pts.flat.len();
                self.shared.stats.points.fetch_add(n as u64, Relaxed);
                let mut buf = self.shared.buf.lock();
                let mut flat = pts.flat.into_iter();
                for ((id, len), direct) in pts.runs.into_iter().zip(pts.direct) {
                    let run = flat.by_ref().take(len);
                    if direct {
                        run.for_each(drop);
                    } else {
                        buf.add_run(id, run);
                    }
                }
                drop(buf);
                self.shared.stats.chunks.fetch_add(pts.chunks, Relaxed);
                checkpoints.applied(&files, counters);
                self.shared
                    .stats
                    .flushed(start.elapsed().as_micros() as u64);
            }
            Err(e) => {
                self.shared
                    .stats
                    .dropped_error_points
                    .fetch_add(total as u64, Relaxed);
                self.shared.stats.error(format!(
                    "history database {}: flush failed, {total} points lost: {e}",
                    self.shared.path.display()
                ));
            }
        }
    }

    fn commit(
        &mut self,
        deltas: Vec<Vec<crate::kpi::Delta>>,
        counters: &[CounterTotal],
        pts: &mut Points,
        res: i64,
    ) -> rusqlite::Result<()> {
        let tx = self.conn.transaction()?;
        let mut fresh: HashMap<String, (i64, Arc<Desc>)> = HashMap::new();
        for (n, d) in &self.pending_descs {
            let id = match (self.by_key.get(&d.id), fresh.get(&d.id)) {
                (_, Some((id, _))) => *id,
                (Some((id, k)), _) if *k == d.kind => *id,
                (Some((id, _)), _) => {
                    tx.execute(
                        "UPDATE series SET kind = ?2 WHERE id = ?1",
                        rusqlite::params![id, kind_code(d.kind)],
                    )?;
                    fresh.insert(d.id.clone(), (*id, d.clone()));
                    *id
                }
                (None, None) => {
                    let labels = serde_json::to_string(&d.labels).unwrap_or_default();
                    tx.execute(
                        "INSERT INTO series(key, name, labels, kind, unit, help) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                        rusqlite::params![d.id, d.name, labels, kind_code(d.kind), d.unit, d.help],
                    )?;
                    let id = tx.last_insert_rowid();
                    fresh.insert(d.id.clone(), (id, d.clone()));
                    id
                }
            };
            self.engine_ids.insert(*n, id);
        }
        pts.gather(deltas, &self.engine_ids);
        // A series shipping a long run of buckets (a replay, or a writer that fell behind)
        // whose recent points are all folded goes straight into chunks, in this transaction:
        // no head row, nothing held in memory. Kept in shipping order for queries, which
        // read chunks, then the buffer.
        pts.direct = {
            let buf = self.shared.buf.lock();
            (pts.runs.iter())
                .map(|&(id, len)| {
                    len >= DIRECT_POINTS && buf.series.get(&id).is_none_or(|v| v.is_empty())
                })
                .collect()
        };
        let (mut blob, mut scratch) = (Vec::new(), Vec::new());
        let mut at = 0;
        let mut ins = rollup::Inserter::new(&tx)?;
        let mut coarse = Vec::new();
        for (&(id, len), &direct) in pts.runs.iter().zip(&pts.direct) {
            let run = &pts.flat[at..at + len];
            if direct {
                pts.chunks += put_chunks(
                    &mut ins,
                    &self.shared.tiers,
                    &self.marks,
                    id,
                    run,
                    &mut coarse,
                )?;
            } else {
                encode_head(id, res, run, &mut blob, &mut scratch);
            }
            at += len;
        }
        drop(ins);
        if !blob.is_empty() {
            tx.prepare_cached("INSERT INTO head(data) VALUES (?1)")?
                .execute([&blob])?;
        }
        let cp = Checkpoint {
            version: 1,
            files: self.files.values().cloned().collect(),
            counters: counters.to_vec(),
        };
        let text = serde_json::to_string(&cp).expect("checkpoint serializes");
        db::meta_set(&tx, "checkpoint", text)?;
        tx.commit()?;
        self.pending_descs.clear();
        let mut cat = self.shared.catalogue.write();
        for (key, (id, d)) in fresh {
            self.by_key.insert(key, (id, d.kind));
            let info = Arc::new(SeriesInfo { id, desc: d });
            match cat.binary_search_by_key(&id, |s| s.id) {
                Ok(i) => cat[i] = info,
                Err(i) => cat.insert(i, info),
            }
        }
        Ok(())
    }

    /// Folds the recent points into chunks, then rolls up, expires and caps.
    pub fn fold_and_maintain(&mut self) {
        self.last_fold = Instant::now();
        let shared = self.shared.clone();
        let stats = &shared.stats;
        if let Err(e) = self.fold() {
            stats.error(format!("history fold: {e}"));
            return;
        }
        let now = crate::kpi::now() as i64;
        let m = rollup::maintain(
            &mut self.conn,
            &self.shared.tiers,
            &mut self.marks,
            now,
            self.max_size,
            stats,
        );
        if let Err(e) = m {
            stats.error(format!("history maintenance: {e}"));
        }
        let keep = self
            .shared
            .tiers
            .iter()
            .map(|t| t.retention)
            .max()
            .unwrap_or(0);
        if let Err(e) = events::expire(&self.conn, (now - keep) as f64, &stats.events) {
            stats.error(format!("history events: {e}"));
        }
        stats
            .bytes
            .store(db::used_bytes(&self.conn).unwrap_or(0), Relaxed);
    }

    fn fold(&mut self) -> Result<(), HistoryError> {
        let tiers = self.shared.tiers.clone();
        let mut buf = self.shared.buf.lock();
        if buf.points == 0 {
            return Ok(());
        }
        let path = self.shared.path.clone();
        let sql = |source| HistoryError::Sql {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(sql)?;
        let mut chunks = 0u64;
        {
            let mut ins = rollup::Inserter::new(&tx).map_err(sql)?;
            let mut coarse = Vec::new();
            for (id, pts) in &buf.series {
                chunks += put_chunks(&mut ins, &tiers, &self.marks, *id, pts, &mut coarse)
                    .map_err(sql)?;
            }
        }
        tx.execute("DELETE FROM head", []).map_err(sql)?;
        tx.commit().map_err(sql)?;
        buf.folded();
        drop(buf);
        self.shared.stats.folds.fetch_add(1, Relaxed);
        self.shared.stats.chunks.fetch_add(chunks, Relaxed);
        Ok(())
    }
}

/// Writes one series' points (sorted, one per bucket) as chunks: one in the finest tier, and
/// one in each coarser tier whose rollup has already passed some of them (those land there
/// directly, so each point counts once in every tier). Returns the chunks written.
fn put_chunks(
    ins: &mut rollup::Inserter<'_>,
    tiers: &[Tier],
    marks: &[i64],
    id: i64,
    pts: &[(i64, Agg)],
    coarse: &mut Vec<(i64, Agg)>,
) -> rusqlite::Result<u64> {
    if pts.is_empty() {
        return Ok(0);
    }
    ins.put(0, id, tiers[0].res, pts)?;
    let mut chunks = 1;
    for (k, t) in tiers.iter().enumerate().skip(1) {
        let late = pts.partition_point(|p| p.0 < marks[k]);
        if late > 0 {
            coarse.clear();
            roll_into(&pts[..late], t.res, coarse);
            ins.put(k, id, t.res, coarse)?;
            chunks += 1;
        }
    }
    Ok(chunks)
}

#[cfg(test)]
#[path = "writer_tests.rs"]
mod tests;
