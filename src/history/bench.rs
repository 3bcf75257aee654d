//! Synthetic loads for the history benchmarks (`bench/history/`): a typical pipeline's
//! series fed to the real writer, as the engine ships them. Not part of kpid's API.

use super::config::HistoryConfig;
use super::writer::{self, Writer};
use super::{db, Step};
use crate::engine::Shipment;
use crate::kpi::{BucketData, Delta, Desc, DistBucket, Kind};
use crate::sources::tail::Checkpoints;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Reproducible randomness (xorshift64*), for benchmarks and tests.
#[derive(Debug)]
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// In [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The mix: 40 % counters ticking about 100 a second, 40 % integer gauges moving (queue
/// depths, in flight), 15 % gauges with one decimal (CPU %, temperatures), 5 % latency
/// distributions.
fn kind_of(i: u32) -> Kind {
    match i % 20 {
        0..=7 => Kind::Counter,
        8..=18 => Kind::Gauge,
        _ => Kind::Distribution,
    }
}

fn descs(n: u32) -> Vec<(u32, Arc<Desc>)> {
    (0..n)
        .map(|i| {
            let name = format!("bench_{i}");
            let d = Desc {
                id: name.clone(),
                name,
                labels: vec![],
                kind: kind_of(i),
                unit: String::new(),
                help: String::new(),
                buckets: None,
            };
            (i, Arc::new(d))
        })
        .collect()
}

/// One second of every series.
fn second(n: u32, t: i64, state: &mut [f64], r: &mut Rng, out: &mut Vec<Delta>) {
    for i in 0..n {
        let s = &mut state[i as usize];
        let data = match (kind_of(i), i % 20) {
            (Kind::Counter, _) => BucketData::Counter(90.0 + r.below(21) as f64),
            (Kind::Gauge, 8..=15) => {
                *s = (*s + r.below(5) as f64 - 2.0).clamp(0.0, 500.0);
                BucketData::Gauge {
                    last: *s,
                    min: *s,
                    max: *s,
                }
            }
            (Kind::Gauge, _) => {
                *s = ((*s * 10.0 + r.below(7) as f64 - 3.0).clamp(0.0, 1000.0)).round() / 10.0;
                BucketData::Gauge {
                    last: *s,
                    min: *s,
                    max: *s,
                }
            }
            _ => {
                let mut d = DistBucket::default();
                for _ in 0..20 {
                    d.observe(0.001 * (1 + r.below(500)) as f64);
                }
                BucketData::Dist(Box::new(d))
            }
        };
        out.push(Delta { series: i, t, data });
    }
}

/// Bytes on disk after `hours` of `n` series at 1 s: per tier (chunk payload bytes,
/// points), and the whole file (page_count × page_size after a WAL checkpoint).
#[derive(Debug)]
pub struct DiskReport {
    /// Per tier: resolution, points, payload bytes.
    pub tiers: Vec<(i64, u64, u64)>,
    /// The whole file.
    pub file_bytes: u64,
    /// Per kind in tier 0: (kind, points, payload bytes).
    pub kinds: Vec<(&'static str, u64, u64)>,
}

/// Feeds `hours` of `n` series ending now into a fresh database in `dir`.
pub fn disk(dir: &Path, n: u32, hours: i64) -> DiskReport {
    let cfg = HistoryConfig::default();
    let (mut w, _r, _) = Writer::open(dir, &cfg, 1).expect("open");
    let cps = Checkpoints::new(None, Default::default());
    let end = crate::kpi::now() as i64;
    let start = end - hours * 3600;
    let mut r = Rng(42);
    let mut state = vec![100.0; n as usize];
    let mut d = descs(n);
    for m in 0..hours * 12 {
        let mut s = Shipment {
            bucket_s: 1,
            descs: std::mem::take(&mut d),
            ..Shipment::default()
        };
        for k in 0..300 {
            second(n, start + m * 300 + k, &mut state, &mut r, &mut s.deltas);
        }
        w.flush(vec![s], &cps);
        w.fold_and_maintain();
    }
    let conn = w.connection();
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .expect("checkpoint");
    let mut tiers = Vec::new();
    for (k, t) in cfg.tiers(1).expect("tiers").iter().enumerate() {
        let (pts, bytes) = payload(conn, &format!("tier = {k}"));
        tiers.push((t.res, pts, bytes));
    }
    let mut kinds = Vec::new();
    for (name, c) in [("counter", 0), ("gauge", 1), ("distribution", 2)] {
        let cond = format!("tier = 0 AND series IN (SELECT id FROM series WHERE kind = {c})");
        let (pts, bytes) = payload(conn, &cond);
        kinds.push((name, pts, bytes));
    }
    let q = |p: &str| conn.query_row(p, [], |r| r.get::<_, i64>(0)).expect(p);
    let file_bytes = (q("PRAGMA page_count") * q("PRAGMA page_size")) as u64;
    DiskReport {
        tiers,
        file_bytes,
        kinds,
    }
}

fn payload(conn: &rusqlite::Connection, cond: &str) -> (u64, u64) {
    let mut st = conn
        .prepare(&format!("SELECT data FROM chunk WHERE {cond}"))
        .expect("select");
    let mut rows = st.query([]).expect("query");
    let (mut pts, mut bytes) = (0u64, 0u64);
    while let Some(row) = rows.next().expect("row") {
        let data = row.get_ref(0).expect("data").as_blob().expect("blob");
        let mut at = 1;
        pts += crate::kpi::sketch::get_varint(data, &mut at).unwrap_or(0);
        bytes += data.len() as u64;
    }
    (pts, bytes)
}

/// The writer thread's CPU seconds while `n` series ship once a second for `secs` seconds
/// (real time, through the channel, as the engine does), folding every `chunk`.
pub fn writer_cpu(dir: &Path, n: u32, secs: u64, chunk: Duration) -> (f64, u64) {
    let cfg = HistoryConfig {
        chunk: crate::config::Dur(chunk),
        ..Default::default()
    };
    let (w, _r, _) = Writer::open(dir, &cfg, 1).expect("open");
    let shared = w.shared().clone();
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let h = writer::spawn(w, rx, Checkpoints::new(None, Default::default())).expect("spawn");
    let mut r = Rng(7);
    let mut state = vec![100.0; n as usize];
    let mut d = descs(n);
    let t0 = Instant::now();
    let start = crate::kpi::now() as i64;
    let cpu0 = thread_cpu("kpid-history");
    for s in 0..secs {
        let mut sh = Shipment {
            bucket_s: 1,
            descs: std::mem::take(&mut d),
            ..Shipment::default()
        };
        second(n, start + s as i64, &mut state, &mut r, &mut sh.deltas);
        tx.blocking_send(sh).expect("send");
        let next = t0 + Duration::from_secs(s + 1);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    let cpu = thread_cpu("kpid-history") - cpu0;
    drop(tx);
    h.join();
    let points = shared
        .stats
        .points
        .load(std::sync::atomic::Ordering::Relaxed);
    (cpu, points)
}

/// CPU seconds (user + system) of this process's thread named `name`.
fn thread_cpu(name: &str) -> f64 {
    let tick = 100.0; // USER_HZ
    for e in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        let comm = std::fs::read_to_string(e.path().join("comm")).unwrap_or_default();
        if comm.trim() != name {
            continue;
        }
        let stat = std::fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let rest = stat.rsplit(')').next().unwrap_or("");
        let f: Vec<&str> = rest.split_whitespace().collect();
        let num = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        // After the comm: state is field 0; utime and stime are fields 11 and 12.
        return (num(11) + num(12)) / tick;
    }
    0.0
}

/// Fills `state_dir/history` with `days` of `n` series ending now (for the HTTP bench).
pub fn fill(state_dir: &Path, n: u32, days: i64) -> Step {
    let dir = state_dir.join("history");
    let cfg = HistoryConfig::default();
    let (mut w, _r, _) = Writer::open(&dir, &cfg, 1).expect("open");
    let cps = Checkpoints::new(None, Default::default());
    let end = crate::kpi::now() as i64;
    let start = end - days * 86400;
    let mut r = Rng(9);
    let mut state = vec![100.0; n as usize];
    let mut d = descs(n);
    for h in 0..days * 24 {
        let mut s = Shipment {
            bucket_s: 1,
            descs: std::mem::take(&mut d),
            ..Shipment::default()
        };
        for k in 0..3600 {
            second(n, start + h * 3600 + k, &mut state, &mut r, &mut s.deltas);
        }
        w.flush(vec![s], &cps);
        w.fold_and_maintain();
    }
    let _ = db::used_bytes(w.connection());
    Step {
        from: start,
        to: end,
        step: 1,
    }
}
