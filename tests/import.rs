//! `kpid import` against the built binary: an old log lands in history at its lines' own
//! times (hour by hour, as written), a file imported again counts only what was appended
//! since, and a directory a running kpid writes is refused with the reason.

mod common;

use common::Kpid;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

const CONFIG: &str = "[[rule]]\nname = \"seq_sum\"\nkind = \"counter\"\nfield = \"seq\"\n";

/// Yesterday 09:00 UTC, as Unix seconds.
fn yesterday_nine() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    (now / 86_400 - 1) * 86_400 + 9 * 3600
}

/// Lines `from..to` (one a second from `t0`), RFC 3339 stamped.
fn lines(t0: i64, from: u64, to: u64) -> String {
    (from..to)
        .map(|i| {
            let t = t0 + i as i64;
            let (d, s) = (t.div_euclid(86_400), t.rem_euclid(86_400));
            let (year, month, day) = kpid_parsers::civil_from_days(d);
            format!(
                "ts={year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z level=info seq={}\n",
                s / 3600,
                s / 60 % 60,
                s % 60,
                i + 1
            )
        })
        .collect()
}

fn import(dir: &Path) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kpid"))
        .args([
            "import",
            "--config",
            "kpid.toml",
            "--state-dir",
            "state",
            "app.log",
        ])
        .current_dir(dir)
        .output()
        .expect("run kpid import");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

/// Per-hour sums of a KPI's series over `[from, to)`, from history.
fn hourly(k: &Kpid, kpi: &str, from: i64, to: i64) -> Vec<(i64, f64)> {
    let v: Value = k.json(&format!(
        "/api/export?format=json&kpi={kpi}&from={from}&to={}&step=3600&counter=sum",
        to - 1
    ));
    let s = &v["series"][0];
    let t = s["t"].as_array().unwrap();
    let val = s["value"].as_array().unwrap();
    t.iter()
        .zip(val)
        .map(|(t, v)| (t.as_i64().unwrap(), v.as_f64().unwrap()))
        .collect()
}

#[test]
fn an_old_log_lands_at_its_own_times_once_however_often_imported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("kpid.toml"), CONFIG).unwrap();
    let t0 = yesterday_nine();
    let log = dir.path().join("app.log");
    std::fs::write(&log, lines(t0, 0, 7200)).unwrap();
    let (ok, out) = import(dir.path());
    assert!(ok, "{out}");
    assert!(out.contains("app.log: 7200 lines, 0 unparsed"), "{out}");
    // The third hour appended later: a second import reads only it, a third nothing.
    common::append(&log, &lines(t0, 7200, 10_800));
    let (ok, out) = import(dir.path());
    assert!(ok && out.contains("app.log: 3600 lines"), "{out}");
    let (ok, out) = import(dir.path());
    assert!(ok && out.contains("app.log: 0 lines"), "{out}");

    let k = Kpid::start(
        dir.path(),
        &[
            "--config",
            "kpid.toml",
            "--state-dir",
            "state",
            "--no-socket",
        ],
    );
    let lines_h = hourly(&k, "log_lines_total", t0 - 3600, t0 + 4 * 3600);
    assert_eq!(
        lines_h,
        [(t0, 3600.0), (t0 + 3600, 3600.0), (t0 + 7200, 3600.0)],
        "one hour of lines in each hour, none before or after"
    );
    let seq: f64 = hourly(&k, "seq_sum_total", t0, t0 + 3 * 3600)
        .iter()
        .map(|p| p.1)
        .sum();
    assert_eq!(seq, (10_800.0 * 10_801.0) / 2.0);
    // The totals carry on from what was imported.
    let total = k.latest("seq_sum_total").unwrap()["total"]
        .as_f64()
        .unwrap();
    assert_eq!(total, seq);
    // A running kpid writes this history: an import is refused, and says why.
    let (ok, out) = import(dir.path());
    assert!(!ok, "{out}");
    assert!(out.contains("in use by another kpid"), "{out}");
}
