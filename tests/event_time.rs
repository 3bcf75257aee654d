//! Event time against the built binary: lines land in the bucket of their own timestamp
//! (an old log replayed with `--from-start`, late lines within the lateness), older ones go to
//! history only, lines without a usable time keep their arrival time; every case counted in
//! `/api/health` under `event_time`; `kpid parse` shows each line's time.

mod socket_support;

use kpid_wire as wire;
use serde_json::Value;
use socket_support::common::{append, wait_for, Kpid};
use socket_support::{Daemon, Raw};
use std::process::{Command, Stdio};

const T0: i64 = 1_795_428_000; // 2026-11-23T10:00:00Z

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The points (`t`, `value`) of one KPI id from `/api/metrics/history`.
fn points(k: &Kpid, id: &str) -> Vec<(i64, f64)> {
    let h = k.json(&format!(
        "/api/metrics/history?last=100000&kpi={}",
        urlencode(id)
    ));
    let Some(s) = h["series"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["id"] == id))
    else {
        return Vec::new();
    };
    let t = s["t"].as_array().unwrap();
    let v = s["value"].as_array().unwrap();
    t.iter()
        .zip(v)
        .map(|(t, v)| (t.as_i64().unwrap(), v.as_f64().unwrap_or(f64::NAN)))
        .collect()
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn event_stats(k: &Kpid) -> Value {
    k.json("/api/health")["event_time"].clone()
}

fn total(k: &Kpid, id: &str) -> f64 {
    k.latest(id)
        .and_then(|v| v["total"].as_f64())
        .unwrap_or(0.0)
}

const RULES: &str = "[[rule]]\nname = \"jobs_total\"\nkind = \"counter\"\nfield = \"n\"\n";
const JOBS: &str = "jobs_total";

#[test]
fn an_old_log_replayed_from_the_start_lands_at_its_own_times() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("old.log");
    let mut text = String::new();
    // A week-old log over two hours, one line every 10 minutes, in three formats.
    for i in 0..13 {
        let t = T0 + i * 600;
        text.push_str(&match i % 3 {
            0 => format!("ts={t} level=info n={}\n", i + 1),
            1 => format!("{{\"time\":\"{}\",\"n\":{}}}\n", rfc3339(t), i + 1),
            _ => format!("{} INFO batch done n={}\n", rfc3339(t), i + 1),
        });
    }
    std::fs::write(&log, text).unwrap();
    std::fs::write(dir.path().join("k.toml"), RULES).unwrap();
    let k = Kpid::start(
        dir.path(),
        &[
            "--config",
            "k.toml",
            "--log",
            "old.log",
            "--no-state",
            "--from-start",
        ],
    );
    wait_for(10, "all 13 lines applied", || {
        (total(&k, JOBS) == 91.0).then_some(())
    });
    let pts = wait_for(5, "the last bucket logged", || {
        let p = points(&k, JOBS);
        (p.len() == 13).then_some(p)
    });
    let want: Vec<(i64, f64)> = (0..13).map(|i| (T0 + i * 600, (i + 1) as f64)).collect();
    assert_eq!(pts, want, "each line in the bucket of its own time");
    // The newest event time is two hours after the first: the live window (1 h) relative to
    // it would drop the first hour, except that whole chunks are kept; every point is older
    // than a day here, none at arrival time.
    let latest = k.latest(JOBS).unwrap();
    assert_eq!(latest["t"].as_f64(), Some((T0 + 12 * 600) as f64));
    assert_eq!(
        latest["rate"].as_f64(),
        Some(0.0),
        "nothing happens now: {latest}"
    );
    let s = event_stats(&k);
    assert_eq!(s["late_records"], 0, "{s}");
    assert_eq!(s["unmatched_lines"], 0, "{s}");
}

#[test]
fn late_lines_update_their_bucket_or_go_to_history_only() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    append(&log, "");
    std::fs::write(dir.path().join("k.toml"), RULES).unwrap();
    let k = Kpid::start(
        dir.path(),
        &["--config", "k.toml", "--log", "app.log", "--no-state"],
    );
    let t1 = now() - 2;
    append(&log, &format!("ts={t1} n=1\n"));
    wait_for(10, "the first line", || {
        (total(&k, JOBS) == 1.0).then_some(())
    });
    // 2 minutes late: within the default 5 minutes, into a bucket of its own.
    let late = t1 - 120;
    append(&log, &format!("ts={late} n=5\n"));
    let pts = wait_for(10, "the late bucket", || {
        let p = points(&k, JOBS);
        p.iter().any(|p| p.0 == late).then_some(p)
    });
    assert_eq!(pts.iter().find(|p| p.0 == late).unwrap().1, 5.0, "{pts:?}");
    // Again into the same bucket: its point is corrected.
    append(&log, &format!("ts={late} n=2\n"));
    wait_for(10, "the late bucket corrected", || {
        let p = points(&k, JOBS);
        p.contains(&(late, 7.0)).then_some(())
    });
    // 10 minutes late: history only, counted; the total still has it.
    let too_late = t1 - 600;
    append(&log, &format!("ts={too_late} n=100\n"));
    wait_for(10, "the too-late line counted", || {
        (event_stats(&k)["late_records"] == 1).then_some(())
    });
    assert_eq!(total(&k, JOBS), 108.0);
    assert!(
        points(&k, JOBS).iter().all(|p| p.0 != too_late),
        "not in the live window"
    );
    let late = event_stats(&k)["late_observations"].as_u64().unwrap();
    assert!(
        late >= 2,
        "the counter and log_lines_total at least: {late}"
    );
}

#[test]
fn lines_without_a_usable_time_keep_their_arrival_time_and_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    append(&log, "");
    std::fs::write(
        dir.path().join("k.toml"),
        format!(
            "{RULES}[[source]]\npath = \"app.log\"\nparser = \"plain\"\ntimestamp = \"%d.%m.%Y %H:%M:%S\"\ntimezone = \"+01:00\"\n\n[[source]]\nname = \"free\"\npath = \"free.log\"\n\n[[rule]]\nname = \"lines_seen_total\"\nkind = \"counter\"\nsource = \"free\"\n"
        ),
    )
    .unwrap();
    let free = dir.path().join("free.log");
    append(&free, "");
    let k = Kpid::start(dir.path(), &["--config", "k.toml", "--no-state"]);
    let before = now();
    // The pattern, in the source's zone: 11:00 at +01:00 is T0.
    append(&log, "23.11.2026 11:00:00 INFO one\n");
    // Not the pattern: arrival time, counted.
    append(&log, "2026-11-23T10:00:00Z INFO two\n");
    // No time at all, and one far in the future: arrival time.
    append(&free, "no time on this line\n");
    append(&free, &format!("ts={} x=1\n", now() + 86_400));
    let id = "log_lines_total{level=\"info\",source=\"app\"}";
    let pts = wait_for(10, "both app lines", || {
        let p = points(&k, id);
        (p.len() == 2).then_some(p)
    });
    assert_eq!(pts[0], (T0, 1.0), "{pts:?}");
    assert!(pts[1].0 >= before && pts[1].0 <= now(), "{pts:?}");
    wait_for(10, "both free lines", || {
        (total(&k, "lines_seen_total") == 2.0).then_some(())
    });
    let seen = points(&k, "lines_seen_total");
    assert!(!seen.is_empty());
    assert!(
        seen.iter().all(|p| p.0 >= before && p.0 <= now()),
        "{seen:?}"
    );
    let s = event_stats(&k);
    assert_eq!(s["unmatched_lines"], 1, "{s}");
    assert_eq!(s["future_records"], 1, "{s}");
}

#[test]
fn kpid_parse_shows_each_lines_time() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("k.toml"),
        "[[source]]\npath = \"x.log\"\nparser = \"plain\"\ntimestamp = \"%d.%m.%Y %H:%M:%S%.f\"\n",
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kpid"))
        .args(["parse", "--config", "k.toml"])
        .current_dir(dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"23.11.2026 10:00:00.250 INFO a\nnot a time\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.contains("\n    time 2026-11-23T10:00:00.250Z\n"),
        "{out}"
    );
    assert!(
        out.contains("\n    time arrival (the source's `timestamp` format did not match)\n"),
        "{out}"
    );
}

#[test]
fn app_spans_take_their_own_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kpid.sock");
    let d = Daemon::start(&path);
    let mut app = Raw::hello(&path, "cam");
    let end = now() - 119;
    let mut buf = Vec::new();
    wire::encode_span(
        &mut buf,
        &wire::SpanClose {
            name: "late",
            target: "t",
            parent: "",
            start_unix_ns: (end as u64 - 1) * 1_000_000_000,
            duration_ns: 1_000_000_000,
            level: wire::Level::Info,
            error: false,
            fields: wire::Fields::default(),
        },
    );
    app.send(&buf).unwrap();
    let pts = wait_for(10, "the span's point", || {
        let h = d.kpid.json(&format!(
            "/api/metrics/history?kpi=span_total&from={}",
            end - 60
        ));
        let s = h["series"].as_array()?.first()?.clone();
        let t: Vec<i64> = s["t"]
            .as_array()?
            .iter()
            .filter_map(|t| t.as_i64())
            .collect();
        (!t.is_empty()).then_some(t)
    });
    assert_eq!(pts, vec![end], "at the span's end, not at its arrival");
}

/// Unix seconds as RFC 3339 UTC.
fn rfc3339(t: i64) -> String {
    let (y, m, d) = kpid_parsers::civil_from_days(t.div_euclid(86400));
    let s = t.rem_euclid(86400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}
