//! The running binary: latest values, history, health, WebSocket, Prometheus exposition,
//! configuration errors, parse errors and restart after kill -9.

mod common;

use common::{append, wait_for, Kpid};
use std::process::Command;
use std::time::{Duration, Instant};

fn lines_total(k: &Kpid, source: &str, level: &str) -> f64 {
    k.latest(&format!(
        "log_lines_total{{level=\"{level}\",source=\"{source}\"}}"
    ))
    .and_then(|v| v["total"].as_f64())
    .unwrap_or(0.0)
}

#[test]
fn latest_reflects_lines_appended_within_1_5_s() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    append(&log, "");
    let k = Kpid::start(
        dir.path(),
        &["--log", "app.log", "--no-state", "--from-start"],
    );
    for round in 1..=3u32 {
        append(
            &log,
            &format!("2026-11-23T10:00:00Z INFO stats fps_in={round}.5 queue_rt={round}\n"),
        );
        std::thread::sleep(Duration::from_millis(1500));
        let v = k
            .latest("frames_in_per_second{source=\"app\"}")
            .expect("fps_in's gauge exists (as frames_in_per_second)");
        assert_eq!(
            v["value"].as_f64(),
            Some(round as f64 + 0.5),
            "round {round}: {v}"
        );
        assert_eq!(lines_total(&k, "app", "info"), round as f64);
    }
    let kpis = k.json("/api/kpis");
    let fps = kpis["kpis"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "frames_in_per_second")
        .unwrap();
    assert_eq!(fps["kind"], "gauge");
    assert_eq!(fps["unit"], "frames/s");
    let hist = k.json("/api/metrics/history?kpi=queue_rt&last=10");
    let s = &hist["series"][0];
    assert_eq!(s["name"], "queue_rt");
    assert!(!s["t"].as_array().unwrap().is_empty());
    assert_eq!(
        s["value"].as_array().unwrap().last().unwrap().as_f64(),
        Some(3.0)
    );
    let (status, body) = k.get("/api/metrics/history?last=abc");
    assert_eq!(status, 400);
    assert!(body.contains("invalid `last`"), "{body}");
}

#[test]
fn websocket_frame_arrives_within_one_interval() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("ws.log");
    append(&log, "");
    let k = Kpid::start(
        dir.path(),
        &[
            "--log",
            "ws.log",
            "--no-state",
            "--from-start",
            "--interval",
            "250ms",
        ],
    );
    let (mut ws, _) =
        tungstenite::connect(format!("ws://127.0.0.1:{}/ws/metrics", k.port)).expect("ws connect");
    let first: serde_json::Value =
        serde_json::from_str(ws.read().unwrap().to_text().unwrap()).unwrap();
    assert_eq!(first["type"], "snapshot");
    assert_eq!(first["interval_ms"], 250);
    ws.send(tungstenite::Message::text(
        r#"{"type":"subscribe","kpis":["log_*"]}"#,
    ))
    .unwrap();
    let snap: serde_json::Value =
        serde_json::from_str(ws.read().unwrap().to_text().unwrap()).unwrap();
    assert_eq!(snap["type"], "snapshot");
    // Let the quiet heartbeat pass, then time one change.
    std::thread::sleep(Duration::from_millis(400));
    let t0 = Instant::now();
    append(&log, "WARN something odd depth=3\n");
    loop {
        let msg = ws.read().expect("ws frame");
        let v: serde_json::Value = serde_json::from_str(msg.to_text().unwrap()).unwrap();
        let hit = v["kpis"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["id"] == "log_lines_total{level=\"warn\",source=\"ws\"}");
        if let Some(e) = hit {
            assert_eq!(e["total"].as_f64(), Some(1.0));
            assert!(e["point"]["t"].is_number());
            assert!(
                v["kpis"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|e| e["name"].as_str().unwrap().starts_with("log_")),
                "subscription filters: {v}"
            );
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(3),
            "no update with the new line: {v}"
        );
    }
    // Within one interval (250 ms) plus tailing: generous on a loaded 2-core CI machine.
    assert!(
        t0.elapsed() < Duration::from_millis(1250),
        "frame took {:?}",
        t0.elapsed()
    );
    ws.send(tungstenite::Message::text(r#"{"type":"ping"}"#))
        .unwrap();
    loop {
        let v: serde_json::Value =
            serde_json::from_str(ws.read().unwrap().to_text().unwrap()).unwrap();
        if v["type"] == "pong" {
            break;
        }
    }
}

#[test]
fn metrics_pass_promtool_check() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("p.log");
    append(&log, "");
    let cfg = dir.path().join("kpid.toml");
    std::fs::write(&cfg, "[[rule]]\nname = \"latency_seconds\"\nkind = \"distribution\"\nfield = \"ms\"\nscale = 0.001\nunit = \"s\"\nhelp = \"request latency\"\n\n[[rule]]\nname = \"bytes\"\nkind = \"counter\"\nfield = \"size\"\nlabels = [\"status\"]\n\n[[rule]]\nname = \"req_seconds\"\nkind = \"distribution\"\nfield = \"ms\"\nscale = 0.001\nbuckets = [0.01, 0.1, 1.0]\n").unwrap();
    let k = Kpid::start(
        dir.path(),
        &[
            "--config",
            "kpid.toml",
            "--log",
            "p.log",
            "--no-state",
            "--from-start",
        ],
    );
    for i in 0..50 {
        append(
            &log,
            &format!(
                "level=info msg=\"req \\\"q\\\"\" ms={} size={} status={}\n",
                i * 3,
                i * 100,
                200 + (i % 3) * 100
            ),
        );
    }
    wait_for(10, "50 lines", || {
        (lines_total(&k, "p", "info") == 50.0).then_some(())
    });
    let (status, body) = k.get("/metrics");
    assert_eq!(status, 200);
    assert!(body.contains("# TYPE req_seconds histogram"), "{body}");
    assert!(
        body.contains("req_seconds_bucket{le=\"+Inf\"} 50"),
        "{body}"
    );
    assert!(body.contains("bytes_total{status=\"300\"}"), "{body}");
    assert!(
        body.contains("latency_seconds{quantile=\"0.99\"}"),
        "{body}"
    );
    common::promtool_check(&body);
}

#[test]
fn malformed_config_names_file_line_and_field_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "[server]\nport = 8050\n\n[[rule]]\nname = \"x_total\"\nkind = \"counter\"\nfilter = \"status >>> 3\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kpid"))
        .args(["--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml") && err.contains("line 7") && err.contains("filter"),
        "{err}"
    );
    std::fs::write(&cfg, "[[rule]]\nname = \"x\"\nkind = \"histogram\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kpid"))
        .args(["--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("line 3") && err.contains("histogram"),
        "{err}"
    );
}

#[test]
fn rejected_lines_are_counted_and_tailing_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("j.log");
    append(&log, "");
    std::fs::write(
        dir.path().join("k.toml"),
        "[[rule]]\nname = \"hits_total\"\nkind = \"counter\"\nlabels = [\"n\"]\n",
    )
    .unwrap();
    let k = Kpid::start(
        dir.path(),
        &[
            "--config",
            "k.toml",
            "--log",
            "j.log",
            "--parser",
            "json",
            "--no-state",
            "--from-start",
        ],
    );
    append(&log, "{\"level\":\"info\",\"n\":1}\n{\"level\":\"info\",\"n\":\nnot json at all\n{\"level\":\"error\",\"n\":3}\n");
    wait_for(10, "the error line after the bad ones", || {
        (lines_total(&k, "j", "error") == 1.0).then_some(())
    });
    let h = k.json("/api/health");
    let src = &h["sources"][0];
    assert_eq!(src["parse_errors"], 2, "{h}");
    assert_eq!(src["lines"], 4, "{h}");
    assert_eq!(h["status"], "warn", "a recent rejection shows as warn: {h}");
    let errs = k.latest("log_parse_errors_total{source=\"j\"}").unwrap();
    assert_eq!(errs["total"].as_f64(), Some(2.0));
    assert_eq!(
        k.latest("n{source=\"j\"}").unwrap()["value"].as_f64(),
        Some(3.0)
    );
    // Regression: rules used to run on rejected lines too (a junk line counted as `n=""`).
    assert_eq!(lines_total(&k, "j", "none"), 2.0);
    let hits = k.latest("hits_total{n=\"1\"}").expect("hits for n=1");
    assert_eq!(hits["total"].as_f64(), Some(1.0));
    assert!(
        k.latest("hits_total{n=\"\"}").is_none(),
        "a rejected line reached a rule"
    );
}

#[test]
fn kill_9_mid_stream_then_restart_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("seq.log");
    append(&log, "");
    std::fs::write(dir.path().join("kpid.toml"), "[tail]\ncheckpoint_interval = \"100ms\"\n\n[[rule]]\nname = \"seq_sum\"\nkind = \"counter\"\nfield = \"seq\"\n").unwrap();
    let args = [
        "--config",
        "kpid.toml",
        "--log",
        "seq.log",
        "--state-dir",
        "state",
    ];
    let mut k = Kpid::start(dir.path(), &args);
    const N: u64 = 20_000;
    let writer = {
        let log = log.clone();
        std::thread::spawn(move || {
            for chunk in (1..=N).collect::<Vec<_>>().chunks(200) {
                let text: String = chunk
                    .iter()
                    .map(|i| format!("level=info seq={i}\n"))
                    .collect();
                append(&log, &text);
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    wait_for(20, "some lines before the kill", || {
        (lines_total(&k, "seq", "info") > 2000.0).then_some(())
    });
    k.kill9();
    std::thread::sleep(Duration::from_millis(300));
    let k = Kpid::start(dir.path(), &args);
    writer.join().unwrap();
    let mut seen = 0.0;
    let caught_up = common::try_wait(30, || {
        seen = lines_total(&k, "seq", "info");
        seen >= N as f64
    });
    assert!(
        caught_up,
        "after restart only {seen} of {N} lines counted: {}",
        k.get("/api/health").1
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        lines_total(&k, "seq", "info"),
        N as f64,
        "no line counted twice"
    );
    let sum = k.latest("seq_sum_total").unwrap()["total"]
        .as_f64()
        .unwrap();
    assert_eq!(sum, (N * (N + 1) / 2) as f64, "every line exactly once");
}

/// Regression: a `--log` file whose stem equals a `[[source]]` name silently replaced that
/// source's configured parser (every request was counted as `status=""`).
#[test]
fn log_flag_never_replaces_a_configured_source_parser() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("other")).unwrap();
    let (mine, other) = (
        dir.path().join("apache.log"),
        dir.path().join("other/apache.log"),
    );
    std::fs::write(dir.path().join("k.toml"), "[[source]]\nname = \"apache\"\npath = \"apache.log\"\nparser = \"regex\"\npattern = '^(?P<status>\\d+) '\n\n[[rule]]\nname = \"hits_total\"\nkind = \"counter\"\nlabels = [\"status\"]\nsource = \"apache\"\n").unwrap();
    std::fs::write(&mine, "200 ok\n404 missing\n").unwrap();
    std::fs::write(&other, "level=info n=1\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kpid"))
        .current_dir(dir.path())
        .args([
            "--one-shot",
            "--config",
            "k.toml",
            "--log",
            "apache.log",
            "--log",
            "other/apache.log",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("hits_total{status=\"200\"} 1\n")
            && text.contains("hits_total{status=\"404\"} 1\n"),
        "{text}"
    );
    assert!(
        text.contains("log_lines_total{level=\"info\",source=\"apache_2\"} 1\n"),
        "{text}"
    );
    assert!(!text.contains("status=\"\""), "{text}");
}

/// An unreadable path is reported in `/api/health` (state `error`, with the reason) and
/// retried: once it becomes a readable file, its lines are read. (Tests run as root, which
/// reads any file whatever its mode, so a directory standing where the file should be is the
/// unreadable thing here.)
#[test]
fn unreadable_file_is_reported_in_health_and_retried() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.log");
    std::fs::create_dir(&path).unwrap();
    let k = Kpid::start(
        dir.path(),
        &["--log", "broken.log", "--no-state", "--from-start"],
    );
    let h = wait_for(10, "the error state in /api/health", || {
        let h = k.json("/api/health");
        (h["sources"][0]["state"] == "error").then_some(h)
    });
    assert!(
        h["sources"][0]["last_error"]
            .as_str()
            .is_some_and(|e| !e.is_empty()),
        "{h}"
    );
    assert_eq!(h["status"], "error", "{h}");
    std::fs::remove_dir(&path).unwrap();
    append(&path, "level=info msg=recovered\n");
    wait_for(20, "the line once the file is readable", || {
        (lines_total(&k, "broken", "info") == 1.0).then_some(())
    });
    let h = k.json("/api/health");
    assert_eq!(h["sources"][0]["state"], "following", "{h}");
    assert!(h["sources"][0]["last_error"].is_null(), "{h}");
}
