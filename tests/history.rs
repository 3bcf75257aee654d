//! History in SQLite against the built `kpid`: what was counted before a restart is served
//! after it; `kill -9` while a log is being appended loses no line and counts none twice, in
//! history as in the totals; a corrupt or truncated database is moved aside with a warning in
//! `/api/health` and the daemon runs on; `/api/export` answers CSV and JSON, and refuses
//! what it cannot answer with a clear 400.

mod common;

use common::{append, try_wait, wait_for, Kpid};
use serde_json::Value;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const CONFIG: &str = "[history]\nflush = \"200ms\"\n\n[[rule]]\nname = \"seq_sum\"\nkind = \"counter\"\nfield = \"seq\"\n";
const ARGS: [&str; 7] = [
    "--config",
    "kpid.toml",
    "--log",
    "app.log",
    "--state-dir",
    "state",
    "--no-socket",
];

fn now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("kpid.toml"), CONFIG).unwrap();
    std::fs::write(dir.path().join("app.log"), "").unwrap();
    dir
}

/// Sum of every point of every series `kpi` selects, from history (counters as sums).
fn history_sum(k: &Kpid, kpi: &str, from: f64) -> f64 {
    let path = format!(
        "/api/export?format=json&kpi={kpi}&from={}&to={}&step=3600&counter=sum",
        from as i64 - 3600,
        now() as i64 + 5
    );
    let (status, body) = k.get(&path);
    if status == 404 {
        return f64::NAN; // not in history yet
    }
    assert_eq!(status, 200, "{path}: {body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    v["series"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["value"].as_array().unwrap().clone())
        .map(|x| x.as_f64().unwrap())
        .sum()
}

fn total(k: &Kpid, id: &str) -> f64 {
    k.latest(id)
        .and_then(|v| v["total"].as_f64())
        .unwrap_or(0.0)
}

/// Appends `seq=N` lines until stopped; returns the count and sum written.
fn appender(
    path: &Path,
    stop: Arc<AtomicBool>,
    next: Arc<AtomicU64>,
) -> std::thread::JoinHandle<()> {
    let path = path.to_owned();
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            let first = next.fetch_add(20, Ordering::Relaxed);
            let text: String = (first..first + 20)
                .map(|i| format!("level=info seq={i}\n"))
                .collect();
            append(&path, &text);
            std::thread::sleep(Duration::from_millis(7));
        }
    })
}

#[test]
fn kill9_while_appending_loses_nothing_and_counts_nothing_twice_in_history() {
    let dir = setup();
    let log = dir.path().join("app.log");
    let t0 = now();
    let mut k = Kpid::start(dir.path(), &ARGS);
    wait_for(10, "history in health", || {
        k.json("/api/health").get("history").cloned()
    });
    let (stop, next) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicU64::new(1)),
    );
    let w = appender(&log, stop.clone(), next.clone());
    std::thread::sleep(Duration::from_millis(2500));
    k.kill9();
    std::thread::sleep(Duration::from_millis(500));
    let mut k = Kpid::start(dir.path(), &ARGS);
    std::thread::sleep(Duration::from_millis(1500));
    // A second kill -9, then a clean stop and start: history from every run is kept.
    k.kill9();
    let mut k2 = Kpid::start(dir.path(), &ARGS);
    std::thread::sleep(Duration::from_millis(1000));
    stop.store(true, Ordering::Relaxed);
    w.join().unwrap();
    let n = next.load(Ordering::Relaxed) - 1;
    let sum = (n * (n + 1) / 2) as f64;
    assert!(n > 1000, "only {n} lines written");
    let id = "seq_sum_total";
    assert!(
        try_wait(30, || total(&k2, id) >= sum),
        "totals: {} of {sum}",
        total(&k2, id)
    );
    k2.terminate();
    let k3 = Kpid::start(dir.path(), &ARGS);
    assert_eq!(total(&k3, id), sum, "the total after restarts");
    assert!(
        try_wait(10, || history_sum(&k3, id, t0) == sum),
        "history holds {} of {sum}",
        history_sum(&k3, id, t0)
    );
    assert_eq!(history_sum(&k3, "log_lines_total", t0), n as f64);
    // The old endpoint's shape, served from history: per-second rates of both runs.
    let v = k3.json(&format!(
        "/api/metrics/history?kpi={id}&from={}",
        t0 as i64 - 1
    ));
    let s = &v["series"][0];
    assert_eq!(v["bucket_s"], 1);
    let pts = s["t"].as_array().unwrap().len();
    assert!(pts >= 4, "{v}");
    let rate: f64 = s["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .sum();
    assert_eq!(rate, sum, "1 s points: rate per second sums to the total");
    let h = k3.json("/api/health");
    assert!(h["history"]["series"].as_u64().unwrap() >= 2, "{h}");
    assert!(h["history"]["warning"].is_null(), "{h}");
    drop(k);
}

fn damaged_database_is_replaced(damage: impl Fn(&Path)) {
    let dir = setup();
    let log = dir.path().join("app.log");
    let mut k = Kpid::start(dir.path(), &ARGS);
    wait_for(10, "history in health", || {
        k.json("/api/health").get("history").cloned()
    });
    append(&log, "level=info seq=5\n");
    assert!(try_wait(10, || total(&k, "seq_sum_total") == 5.0));
    k.terminate();
    let db = dir.path().join("state/history/history.db");
    assert!(db.exists());
    damage(&db);
    let k = Kpid::start(dir.path(), &ARGS);
    let h = k.json("/api/health");
    let warning = h["history"]["warning"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(warning.contains("moved aside"), "{h}");
    assert_eq!(h["status"], "warn", "{h}");
    let aside = std::fs::read_dir(dir.path().join("state/history"))
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            name.to_string_lossy().starts_with("history.db.corrupt-")
        })
        .count();
    assert_eq!(aside, 1);
    // The daemon runs on, on a fresh database.
    append(&log, "level=info seq=7\n");
    assert!(try_wait(10, || history_sum(
        &k,
        "seq_sum_total",
        now() - 60.0
    ) == 7.0));
}

#[test]
fn a_corrupt_database_is_moved_aside_and_a_fresh_one_started() {
    damaged_database_is_replaced(|db| {
        std::fs::write(db, vec![0xa5u8; 8192]).unwrap();
    });
}

#[test]
fn a_truncated_database_is_moved_aside_and_a_fresh_one_started() {
    damaged_database_is_replaced(|db| {
        let len = std::fs::metadata(db).unwrap().len();
        let f = std::fs::OpenOptions::new().write(true).open(db).unwrap();
        f.set_len(len / 3).unwrap();
    });
}

#[test]
fn export_answers_csv_and_json_and_refuses_bad_requests() {
    let dir = setup();
    let log = dir.path().join("app.log");
    let k = Kpid::start(dir.path(), &ARGS);
    wait_for(10, "history in health", || {
        k.json("/api/health").get("history").cloned()
    });
    let t0 = now() as i64;
    append(&log, "level=info seq=3 depth=4\n");
    assert!(try_wait(10, || history_sum(&k, "seq_sum_total", t0 as f64) == 3.0));
    let from = kpid_rfc3339(t0 - 5);
    let (status, csv) = k.get(&format!(
        "/api/export?format=csv&kpi=seq_sum_total,depth&from={from}&to={}&step=60",
        t0 + 60
    ));
    assert_eq!(status, 200, "{csv}");
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "t,time,kpi,kind,value,sum,min,max,mean,count,p50,p95,p99"
    );
    let rows: Vec<&str> = lines.collect();
    assert!(
        rows.iter()
            .any(|r| r.contains(",seq_sum_total,counter,0.05,3,")),
        "{csv}"
    );
    assert!(
        rows.iter()
            .any(|r| r.contains("depth") && r.contains(",gauge,4,,4,4,4,1,")),
        "{csv}"
    );
    for (q, why) in [
        ("format=xml&from=0", "csv or json"),
        ("from=yesterday", "not a time"),
        ("from=0&to=10000000&step=1", "larger `step`"),
        ("to=5", "`from` is required"),
        ("from=0&nope=1", "unknown parameter"),
    ] {
        let (status, body) = k.get(&format!("/api/export?{q}"));
        assert_eq!(status, 400, "{q}: {body}");
        assert!(body.contains(why), "{q}: {body}");
    }
    let (status, body) = k.get(&format!("/api/export?kpi=nothing_here&from={t0}"));
    assert_eq!(status, 404, "{body}");
    let (status, body) = k.get("/api/metrics/history?step=0");
    assert_eq!(status, 400, "{body}");
}

fn kpid_rfc3339(t: i64) -> String {
    let out = std::process::Command::new("date")
        .args(["-u", "-d", &format!("@{t}"), "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn no_history_keeps_none_and_export_says_so() {
    let dir = setup();
    let mut args = ARGS.to_vec();
    args.push("--no-history");
    let k = Kpid::start(dir.path(), &args);
    let (status, body) = k.get("/api/export?from=0");
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("history is off"), "{body}");
    assert!(k.json("/api/health").get("history").is_none());
    assert!(!dir.path().join("state/history").exists());
    // The in-memory endpoint still answers.
    k.json("/api/metrics/history?last=5");
}
