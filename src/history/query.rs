//! Reading history: any range at any step, from the right tier (the finest that still covers
//! the start and whose resolution is at most the step), aggregated to the step. The part of
//! the range a tier has not rolled up yet comes from the finer tiers, and the newest from the
//! writer's memory, so an answer is always current.

use super::codec::{self, Agg};
use super::{db, floor, merge_by_time, HistoryError, SeriesInfo, Shared};
use parking_lot::Mutex;
use rusqlite::Connection;
use std::sync::Arc;

/// One series' points, sorted by time.
pub type Points = Vec<(i64, Agg)>;

/// A query's range and step, seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// First time (inclusive).
    pub from: i64,
    /// Last time (inclusive).
    pub to: i64,
    /// Step (at least the finest resolution).
    pub step: i64,
}

/// Reads history on its own connection.
#[derive(Debug)]
pub struct Reader {
    shared: Arc<Shared>,
    conn: Mutex<Connection>,
}

/// Which series a selector picks: an id, a name, `*`, or a name prefix ending in `*`.
pub fn selected(name: &str, id: &str, sel: &[String]) -> bool {
    sel.is_empty()
        || sel.iter().any(|k| {
            k == "*"
                || k == id
                || k == name
                || k.strip_suffix('*').is_some_and(|p| name.starts_with(p))
        })
}

impl Reader {
    /// A reader over `shared`, with its own connection.
    pub fn new(shared: Arc<Shared>, conn: Connection) -> Self {
        Reader {
            shared,
            conn: Mutex::new(conn),
        }
    }

    /// Opens the history in `dir` to read only (`kpid report --data-dir`): no lock taken, so
    /// a running kpid may write it meanwhile (WAL: this reader sees what was committed). The
    /// points of flushes not folded yet are read from the database too.
    pub fn open(
        dir: &std::path::Path,
        cfg: &super::HistoryConfig,
        bucket_s: i64,
    ) -> Result<Reader, HistoryError> {
        let tiers = cfg.tiers(bucket_s).map_err(HistoryError::Config)?;
        let path = dir.join(db::FILE);
        if !path.is_file() {
            return Err(HistoryError::Io {
                path,
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no history there"),
            });
        }
        let conn = db::reader(&path)?;
        let sql = |source| HistoryError::Sql {
            path: path.clone(),
            source,
        };
        let catalogue = super::writer::load_catalogue(&conn).map_err(sql)?;
        let shared = Arc::new(Shared {
            buf: Default::default(),
            catalogue: parking_lot::RwLock::new(catalogue),
            tiers,
            path: path.clone(),
            stats: Default::default(),
        });
        super::writer::load_head(&conn, &shared).map_err(sql)?;
        Ok(Reader::new(shared, conn))
    }

    /// The shared state.
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The series a selector picks, in id order.
    pub fn select(&self, sel: &[String]) -> Vec<Arc<SeriesInfo>> {
        self.shared
            .catalogue
            .read()
            .iter()
            .filter(|s| selected(&s.desc.name, &s.desc.id, sel))
            .cloned()
            .collect()
    }

    /// The tier for a query: the coarsest whose resolution divides `step` and whose retention
    /// covers `from` (fewest points to read; the answer is the same as from a finer tier, as
    /// coarser points keep sums, extremes, counts and merged sketches, and the part of the
    /// range it has not rolled up yet is read from the finer tiers), else the coarsest whose
    /// resolution is at most `step`.
    pub fn tier_for(&self, from: i64, step: i64, now: i64) -> usize {
        let tiers = &self.shared.tiers;
        let step = step.max(tiers[0].res);
        let fit: Vec<usize> = (0..tiers.len()).filter(|&k| tiers[k].res <= step).collect();
        fit.iter()
            .rev()
            .copied()
            .find(|&k| step % tiers[k].res == 0 && now - tiers[k].retention <= from)
            .unwrap_or(*fit.last().unwrap_or(&0))
    }

    /// Events of `kind` from `from` to `to`, oldest first, at most `limit` (the newest), and
    /// whether some were left out.
    pub fn events(
        &self,
        kind: &str,
        from: f64,
        to: f64,
        limit: usize,
    ) -> Result<(Vec<(f64, String)>, bool), HistoryError> {
        super::events::query(&self.conn.lock(), kind, from, to, limit).map_err(|source| {
            HistoryError::Sql {
                path: self.shared.path.clone(),
                source,
            }
        })
    }

    /// Each series' points over `q`, one per step (its start time), aggregated: counters sum,
    /// gauges last/min/max/sum/count, distributions merged. Returns the tier used.
    pub fn query(
        &self,
        series: &[Arc<SeriesInfo>],
        q: Step,
    ) -> Result<(usize, Vec<Points>), HistoryError> {
        let step = q.step.max(self.shared.tiers[0].res);
        let k = self.tier_for(q.from, step, crate::kpi::now() as i64);
        self.query_tier(series, q, k).map(|o| (k, o))
    }

    /// [`Reader::query`] from tier `k` (and the finer tiers for what it has not rolled up).
    pub fn query_tier(
        &self,
        series: &[Arc<SeriesInfo>],
        q: Step,
        k: usize,
    ) -> Result<Vec<Vec<(i64, Agg)>>, HistoryError> {
        let tiers = &self.shared.tiers;
        let step = q.step.max(tiers[k].res);
        let path = self.shared.path.clone();
        let sql = |source| HistoryError::Sql {
            path: path.clone(),
            source,
        };
        let conn = self.conn.lock();
        // The writer's memory and the database, taken together: a fold moves points from one
        // to the other under this lock.
        let (recent, marks) = {
            let buf = self.shared.buf.lock();
            let recent: Vec<Vec<(i64, Agg)>> = series
                .iter()
                .map(|s| {
                    buf.series
                        .get(&s.id)
                        .map(|v| {
                            let a = v.partition_point(|p| p.0 < q.from);
                            let b = v.partition_point(|p| p.0 <= q.to);
                            v[a..b].to_vec()
                        })
                        .unwrap_or_default()
                })
                .collect();
            conn.execute_batch("BEGIN").map_err(sql)?;
            let mut marks = vec![i64::MAX; tiers.len() + 1];
            for (j, m) in marks.iter_mut().enumerate().take(tiers.len()).skip(1) {
                let got = db::meta_get::<i64>(&conn, &format!("rollup.{j}"));
                *m = match got {
                    Ok(v) => v.unwrap_or(i64::MIN),
                    Err(e) => {
                        let _ = conn.execute_batch("ROLLBACK");
                        return Err(sql(e));
                    }
                };
            }
            (recent, marks)
        };
        let out = self.read(&conn, series, q, step, k, recent, &marks);
        let _ = conn.execute_batch("COMMIT");
        out.map_err(sql)
    }

    #[allow(clippy::too_many_arguments)]
    fn read(
        &self,
        conn: &Connection,
        series: &[Arc<SeriesInfo>],
        q: Step,
        step: i64,
        k: usize,
        recent: Vec<Vec<(i64, Agg)>>,
        marks: &[i64],
    ) -> rusqlite::Result<Vec<Vec<(i64, Agg)>>> {
        let tiers = &self.shared.tiers;
        let mut st = conn.prepare_cached(
            "SELECT data FROM chunk WHERE tier = ?1 AND series = ?2 AND t1 >= ?3 AND t0 <= ?4
             ORDER BY id",
        )?;
        let mut out = Vec::with_capacity(series.len());
        let mut pts = Vec::new();
        for (s, recent) in series.iter().zip(recent) {
            let mut steps: Vec<(i64, Agg)> = Vec::new();
            let mut all: Vec<(i64, Agg)> = Vec::new();
            // Tier j answers [W_{j+1}, W_j) (tier k from the start, tier 0 to the end).
            for j in (0..=k).rev() {
                let lo = if j == k {
                    q.from
                } else {
                    q.from.max(marks[j + 1])
                };
                let hi = if j == 0 { q.to } else { q.to.min(marks[j] - 1) };
                pts.clear();
                if lo <= hi {
                    let mut rows = st.query(rusqlite::params![j as i64, s.id, lo, hi])?;
                    while let Some(r) = rows.next()? {
                        let data = r.get_ref(0)?.as_blob()?;
                        if codec::chunk_kind(data) != Some(s.desc.kind) {
                            continue;
                        }
                        if let Err(e) = codec::decode(data, tiers[j].res, &mut pts) {
                            self.shared
                                .stats
                                .error(format!("history query of {}: {e}", s.desc.id));
                        }
                    }
                    pts.retain(|p| p.0 >= lo && p.0 <= hi);
                }
                if j == 0 {
                    // Not folded yet: each lands where the fold would put it, once.
                    let kind = s.desc.kind;
                    pts.extend(recent.iter().filter(|p| p.1.kind() == kind).cloned());
                }
                merge_by_time(&mut pts, j == 0);
                all.append(&mut pts);
            }
            all.sort_by_key(|p| p.0);
            for (t, a) in &all {
                let b = floor(*t, step);
                match steps.last_mut() {
                    Some((lt, la)) if *lt == b => la.roll(a),
                    _ => steps.push((b, a.clone())),
                }
            }
            out.push(steps);
        }
        Ok(out)
    }
}
