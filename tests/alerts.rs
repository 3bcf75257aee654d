//! Alerts against the built binary: real log files crossing thresholds, a real local HTTP
//! listener receiving Alertmanager v4 payloads (down for a while: retried, delivered once),
//! the file and console channels, no-data, acknowledgements and silences with the token.

mod common;

use common::{append, http_raw, try_wait, wait_for, Kpid};
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const TOKEN: &str = "alert-test-token";

type Bodies = Arc<Mutex<Vec<Value>>>;

/// A webhook receiver: answers 200 to every POST and keeps its JSON body.
fn receiver(l: TcpListener) -> Bodies {
    let got: Bodies = Arc::default();
    let g = got.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let body = loop {
                let n = s.read(&mut chunk).unwrap_or(0);
                if n == 0 {
                    break None;
                }
                buf.extend_from_slice(&chunk[..n]);
                let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                    continue;
                };
                let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
                assert!(head.starts_with("post /hook http/1.1"), "{head}");
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                if buf.len() >= end + 4 + len {
                    break Some(buf[end + 4..end + 4 + len].to_vec());
                }
            };
            let _ =
                s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            if let Some(b) = body {
                g.lock()
                    .unwrap()
                    .push(serde_json::from_slice(&b).expect("json body"));
            }
        }
    });
    got
}

fn post(port: u16, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    http_raw(
        port,
        format!(
            "POST {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    )
}

fn config(port: u16, extra: &str) -> String {
    format!(
        r#"[server]
token = "{TOKEN}"
interval = "200ms"

[alerts]
interval = "200ms"

[[source]]
path = "a.log"
[[source]]
path = "b.log"
[[source]]
path = "c.log"

[[alert]]
name = "TempHigh"
kpi = "temp"
warn = 10
crit = 100
clear = 5
annotations = {{ summary = "temp {{{{ $value }}}} on {{{{ $labels.source }}}}", runbook_url = "http://runbook.invalid/temp" }}

[[notify]]
kind = "webhook"
name = "hook"
url = "http://127.0.0.1:{port}/hook"
group_by = ["alertname", "source"]
group_interval = "200ms"
{extra}"#
    )
}

fn firing(bodies: &Bodies, name: &str, source: &str, status: &str) -> Vec<Value> {
    bodies
        .lock()
        .unwrap()
        .iter()
        .flat_map(|p| p["alerts"].as_array().cloned().unwrap_or_default())
        .filter(|a| {
            a["labels"]["alertname"] == name
                && (source.is_empty() || a["labels"]["source"] == source)
                && a["status"] == status
        })
        .collect()
}

#[test]
fn hysteresis_label_sets_no_data_channels_ack_and_silence() {
    let dir = tempfile::tempdir().unwrap();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let bodies = receiver(l);
    for f in ["a.log", "b.log", "c.log"] {
        append(&dir.path().join(f), "");
    }
    let extra = r#"
[[alert]]
name = "SpikeHigh"
kpi = "spike"
warn = 10
for = "3s"

[[alert]]
name = "HeartbeatMissing"
kpi = "heartbeat"
no_data = "1s"

[[notify]]
kind = "file"
path = "alerts.jsonl"

[[notify]]
kind = "console"
"#;
    std::fs::write(dir.path().join("kpid.toml"), config(port, extra)).unwrap();
    let k = Kpid::start(
        dir.path(),
        &["--config", "kpid.toml", "--no-state", "--no-socket"],
    );
    let a = dir.path().join("a.log");
    // Oscillating around the threshold (clear at 5): fires once.
    for v in [9, 11, 9, 11, 9, 12, 9, 11] {
        append(
            &a,
            &format!("temp={v} spike={}\n", if v == 12 { 50 } else { 0 }),
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    append(&dir.path().join("b.log"), "temp=150\n");
    wait_for(10, "TempHigh for b", || {
        (!firing(&bodies, "TempHigh", "b", "firing").is_empty()).then_some(())
    });
    append(&a, "temp=1\n");
    wait_for(10, "TempHigh resolved for a", || {
        (!firing(&bodies, "TempHigh", "a", "resolved").is_empty()).then_some(())
    });
    let fa = firing(&bodies, "TempHigh", "a", "firing");
    assert_eq!(fa.len(), 1, "fired once: {fa:?}");
    let fb = firing(&bodies, "TempHigh", "b", "firing");
    assert_eq!(fb[0]["labels"]["severity"], "critical");
    assert_ne!(
        fa[0]["fingerprint"], fb[0]["fingerprint"],
        "one alert per label set"
    );
    assert_eq!(fa[0]["annotations"]["summary"], "temp 11 on a");
    assert_eq!(fa[0]["endsAt"], "0001-01-01T00:00:00Z");
    assert_eq!(fa[0]["fingerprint"].as_str().unwrap().len(), 16);
    // The payload's exact shape.
    let p = bodies.lock().unwrap()[0].clone();
    let mut keys: Vec<&str> = p.as_object().unwrap().keys().map(|k| k.as_str()).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "alerts",
            "commonAnnotations",
            "commonLabels",
            "externalURL",
            "groupKey",
            "groupLabels",
            "receiver",
            "status",
            "truncatedAlerts",
            "version"
        ]
    );
    assert_eq!(p["version"], "4");
    assert_eq!(p["receiver"], "hook");
    let mut akeys: Vec<&str> = p["alerts"][0]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    akeys.sort();
    assert_eq!(
        akeys,
        [
            "annotations",
            "endsAt",
            "fingerprint",
            "generatorURL",
            "labels",
            "startsAt",
            "status"
        ]
    );
    // `for` held the one-sample spike back.
    assert!(firing(&bodies, "SpikeHigh", "", "firing").is_empty());
    // No data: a KPI that never came.
    let nd = wait_for(10, "no-data alert", || {
        firing(&bodies, "HeartbeatMissing", "", "firing").pop()
    });
    assert_eq!(nd["labels"]["nodata"], "true");
    // File channel: JSON lines, the same payloads.
    let lines = std::fs::read_to_string(dir.path().join("alerts.jsonl")).unwrap();
    let first: Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    assert_eq!(first["version"], "4");
    // Health and metrics.
    let h = k.json("/api/health");
    assert_eq!(h["pipeline"]["status"], "CRITICAL", "{h}");
    assert_eq!(h["pipeline"]["sources"]["b"], "CRITICAL");
    let ch = &h["alerts"]["channels"];
    assert!(ch[0]["stats"]["delivered"].as_u64().unwrap() >= 3, "{ch}");
    let (_, m) = k.get("/metrics");
    assert!(
        m.contains("kpid_alert_notifications_total{channel=\"webhook\",result=\"delivered\"}"),
        "{m}"
    );
    assert!(m.contains("ALERTS{alertname=\"TempHigh\",alertstate=\"firing\",severity=\"critical\",source=\"b\"} 1"), "{m}");
    common::promtool_check(&m);
    // Ack: the token is required.
    let id = fb[0]["fingerprint"].as_str().unwrap();
    let (s, _) = post(k.port, &format!("/api/alerts/{id}/ack"), None, "");
    assert_eq!(s, 401);
    let (s, body) = post(k.port, &format!("/api/alerts/{id}/ack"), Some(TOKEN), "");
    assert_eq!(s, 200, "{body}");
    let act = k.json("/api/alerts/active");
    let b = act["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == id)
        .unwrap()
        .clone();
    assert_eq!(b["acked"], true);
    // Silence: token required; a matching alert is not notified.
    let sil = r#"{"matchers":{"source":"c"},"duration":"10m","comment":"maintenance"}"#;
    let (s, _) = post(k.port, "/api/alerts/silences", None, sil);
    assert_eq!(s, 401);
    let (s, body) = post(k.port, "/api/alerts/silences", Some(TOKEN), sil);
    assert_eq!(s, 200, "{body}");
    let (s, body) = post(
        k.port,
        "/api/alerts/silences",
        Some(TOKEN),
        r#"{"matchers":{},"duration":"1m"}"#,
    );
    assert_eq!(s, 400, "{body}");
    append(&dir.path().join("c.log"), "temp=50\n");
    assert!(try_wait(10, || k.json("/api/health")["alerts"]["silenced"]
        .as_u64()
        == Some(1)));
    let act = k.json("/api/alerts/active");
    assert!(
        act["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["labels"]["source"] == "c" && a["silenced"] == true),
        "{act}"
    );
    std::thread::sleep(Duration::from_millis(600));
    assert!(firing(&bodies, "TempHigh", "c", "firing").is_empty());
    let rules = k.json("/api/alerts/rules");
    assert_eq!(rules["rules"].as_array().unwrap().len(), 3);
}

#[test]
fn webhook_down_then_up_is_retried_and_delivered_once() {
    let dir = tempfile::tempdir().unwrap();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l); // down
    for f in ["a.log", "b.log", "c.log"] {
        append(&dir.path().join(f), "");
    }
    std::fs::write(dir.path().join("kpid.toml"), config(port, "")).unwrap();
    let k = Kpid::start(
        dir.path(),
        &["--config", "kpid.toml", "--no-state", "--no-socket"],
    );
    append(&dir.path().join("a.log"), "temp=20\n");
    let health = || k.json("/api/health")["alerts"]["channels"][0]["stats"].clone();
    wait_for(10, "a retry", || {
        (health()["retried"].as_u64() >= Some(2)).then_some(())
    });
    let bodies = receiver(TcpListener::bind(("127.0.0.1", port)).unwrap());
    wait_for(20, "delivery", || {
        (health()["delivered"].as_u64() == Some(1)).then_some(())
    });
    std::thread::sleep(Duration::from_millis(500));
    let got = firing(&bodies, "TempHigh", "a", "firing");
    assert_eq!(got.len(), 1, "delivered once: {got:?}");
    let s = health();
    assert_eq!(s["failed"], 0, "{s}");
    assert!(s["attempts"].as_u64().unwrap() >= 3, "{s}");
}

/// BENCHMARKS.md, "Issue 12: alerts": 1,000 rules evaluated every second (cost from kpid's
/// own evaluation counters, and its CPU time from /proc), and the time from the line that
/// crosses a threshold to the webhook request (`for` = 0, default 1 s interval).
/// `cargo test --test alerts -- --ignored --nocapture bench`
#[test]
#[ignore]
fn bench_thousand_rules_and_latency() {
    let dir = tempfile::tempdir().unwrap();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let bodies = receiver(l);
    let mut extra = String::new();
    for i in 0..999 {
        extra.push_str(&format!(
            "[[alert]]\nname = \"R{i}\"\nkpi = \"g{}\"\nwarn = {}\nvalue = \"{}\"\nannotations = {{ summary = \"g at {{{{ $value }}}}\" }}\n",
            i % 100,
            1e9 + i as f64,
            ["last", "avg", "rate"][i % 3]
        ));
    }
    let cfg = config(port, &extra)
        .replace(
            "interval = \"200ms\"\n\n[alerts]\ninterval = \"200ms\"",
            "interval = \"1s\"\n\n[alerts]\ninterval = \"1s\"",
        )
        .replace("group_interval = \"200ms\"", "group_interval = \"10ms\"");
    for f in ["a.log", "b.log", "c.log"] {
        append(&dir.path().join(f), "");
    }
    std::fs::write(dir.path().join("kpid.toml"), cfg).unwrap();
    let k = Kpid::start(
        dir.path(),
        &["--config", "kpid.toml", "--no-state", "--no-socket"],
    );
    let a = dir.path().join("a.log");
    let gauges: String = (0..100).map(|i| format!(" g{i}={i}")).collect();
    append(&a, &format!("temp=1{gauges}\n"));
    let h0 = k.json("/api/health")["alerts"].clone();
    let t0 = std::time::Instant::now();
    let mut lat = Vec::new();
    for round in 0..15 {
        for (v, status) in [(20, "firing"), (1, "resolved")] {
            let before = firing(&bodies, "TempHigh", "a", status).len();
            std::thread::sleep(Duration::from_millis(137 * (round % 7)));
            let start = std::time::Instant::now();
            append(&a, &format!("temp={v}{gauges}\n"));
            while firing(&bodies, "TempHigh", "a", status).len() == before {
                assert!(
                    start.elapsed() < Duration::from_secs(10),
                    "no {status} webhook"
                );
                std::thread::sleep(Duration::from_millis(2));
            }
            if status == "firing" {
                lat.push(start.elapsed().as_secs_f64() * 1000.0);
            }
        }
    }
    let wall = t0.elapsed().as_secs_f64();
    let h1 = k.json("/api/health")["alerts"].clone();
    let evals = h1["evaluations"].as_u64().unwrap() - h0["evaluations"].as_u64().unwrap();
    let secs =
        h1["eval_seconds_total"].as_f64().unwrap() - h0["eval_seconds_total"].as_f64().unwrap();
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let p = |q: f64| lat[((lat.len() - 1) as f64 * q).round() as usize];
    println!(
        "rules {}  evaluations {evals} in {wall:.1}s  evaluation cost {:.3} % of a core ({:.2} ms each)",
        h1["rules"], secs / wall * 100.0, secs / evals as f64 * 1000.0
    );
    println!(
        "line -> webhook ms: p50 {:.0}  p99 {:.0}  max {:.0}  (n={})",
        p(0.5),
        p(0.99),
        lat[lat.len() - 1],
        lat.len()
    );
    assert!(h1["instances_refused"] == 0);
}

/// `kpid demo --webhook URL`: during the simulated slow-down (40 s to 50 s after the start)
/// the demo's `GpuSaturated` goes pending, fires and resolves, and the webhook gets both.
#[test]
fn demo_alert_goes_pending_fires_and_resolves_on_the_webhook() {
    let dir = tempfile::tempdir().unwrap();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let hook = l.local_addr().unwrap().port();
    let bodies = receiver(l);
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kpid"))
        .args(["demo", "--port", &port.to_string(), "--webhook"])
        .arg(format!("http://127.0.0.1:{hook}/hook"))
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let ok = try_wait(100, || {
        !firing(&bodies, "GpuSaturated", "pipeline", "resolved").is_empty()
    });
    let active = if ok {
        common::http_get(port, "/api/alerts/active").1
    } else {
        String::new()
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        ok,
        "no resolved GpuSaturated on the webhook: {:?}",
        bodies.lock().unwrap()
    );
    assert_eq!(
        firing(&bodies, "GpuSaturated", "pipeline", "firing").len(),
        1
    );
    let v: Value = serde_json::from_str(&active).expect("active alerts json");
    let steps: Vec<(String, String)> = v["recent"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["rule"] == "GpuSaturated")
        .map(|t| {
            (
                t["from"].as_str().unwrap().into(),
                t["to"].as_str().unwrap().into(),
            )
        })
        .collect();
    let want = |a: &str, b: &str| steps.contains(&(a.to_string(), b.to_string()));
    assert!(
        want("inactive", "pending") && want("pending", "firing") && want("firing", "resolved"),
        "{steps:?}"
    );
}

/// `value = "p95"` with `over`: the quantile of the last 2 s of buckets fires on slow
/// requests and resolves once 2 s of fast ones pass, while the 60 s summary's p95 is still
/// high.
#[test]
fn quantile_over_a_window_fires_and_resolves_with_it() {
    let (dir, log) = common::follow_a(
        r#"
[[rule]]
name = "latency_seconds"
kind = "distribution"
field = "ms"
scale = 0.001
unit = "s"
[[alert]]
name = "SlowP95"
kpi = "latency_seconds"
value = "p95"
over = "2s"
warn = 0.05
"#,
    );
    let k = Kpid::start(
        dir.path(),
        &["--config", "k.toml", "--no-state", "--no-socket"],
    );
    let state = |k: &Kpid| -> Option<String> {
        let v = k.json("/api/alerts/active");
        v["alerts"]
            .as_array()?
            .iter()
            .find(|a| a["rule"] == "SlowP95")
            .map(|a| a["state"].as_str().unwrap_or_default().to_owned())
    };
    append(&log, &"ms=100\n".repeat(50));
    wait_for(10, "SlowP95 firing", || {
        (state(&k).as_deref() == Some("firing")).then_some(())
    });
    let resolved = try_wait(15, || {
        append(&log, &"ms=10\n".repeat(20));
        std::thread::sleep(Duration::from_millis(150));
        state(&k).is_none()
    });
    assert!(resolved, "SlowP95 still {:?}", state(&k));
    let latest = k.latest("latency_seconds").unwrap();
    assert!(
        latest["p95"].as_f64().unwrap() > 0.05,
        "the summary's p95 still sees the slow requests: {latest}"
    );
}

/// Alert state changes are kept with the history: `/api/alerts/history` answers over a range
/// (and by rule), across a restart, when the in-memory list of recent ones starts empty.
#[test]
fn alert_history_is_stored_and_read_back_after_a_restart() {
    let (dir, log) = common::follow_a(
        r#"
[history]
flush = "200ms"
[[alert]]
name = "TempHigh"
kpi = "temp"
warn = 10
annotations = { summary = "temp {{ $value }}" }
[[alert]]
name = "Other"
kpi = "other"
warn = 1
"#,
    );
    let args = ["--config", "k.toml", "--state-dir", "state", "--no-socket"];
    let t0 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let mut k = Kpid::start(dir.path(), &args);
    append(&log, "temp=50 other=0\n");
    let steps = |k: &Kpid, q: &str| -> Vec<(String, String, String)> {
        let v = k.json(&format!("/api/alerts/history?from={}{q}", t0 - 1.0));
        assert_eq!(v["stored"], true, "{v}");
        v["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["rule"].as_str().unwrap().to_owned(),
                    e["from"].as_str().unwrap().to_owned(),
                    e["to"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    wait_for(10, "TempHigh firing in history", || {
        steps(&k, "")
            .iter()
            .any(|s| s.0 == "TempHigh" && s.2 == "firing")
            .then_some(())
    });
    append(&log, "temp=1\n");
    wait_for(10, "TempHigh resolved in history", || {
        steps(&k, "")
            .iter()
            .any(|s| s.0 == "TempHigh" && s.2 == "resolved")
            .then_some(())
    });
    let before = steps(&k, "&rule=TempHigh");
    assert!(before.iter().all(|s| s.0 == "TempHigh"), "{before:?}");
    let v = k.json(&format!("/api/alerts/history?from={}", t0 - 1.0));
    let e = &v["events"][0];
    assert_eq!(e["kpi"], "temp{source=\"a\"}", "{v}");
    assert!(e["at"].as_f64().unwrap() >= t0, "{v}");
    // A range before any of it is empty; a bad parameter is refused with its name.
    let empty = k.json(&format!(
        "/api/alerts/history?from={}&to={}",
        t0 - 100.0,
        t0 - 50.0
    ));
    assert_eq!(empty["events"].as_array().unwrap().len(), 0, "{empty}");
    let (s, body) = k.get("/api/alerts/history?limit=zero");
    assert_eq!(s, 400, "{body}");
    assert!(body.contains("limit"), "{body}");
    let (s, body) = k.get("/api/alerts/history?form=1");
    assert_eq!(s, 400, "{body}");
    let h = k.json("/api/health");
    assert!(
        h["history"]["events"]["stored"].as_u64().unwrap() >= 2,
        "{h}"
    );
    k.terminate();
    let k = Kpid::start(dir.path(), &args);
    assert!(k.json("/api/alerts/active")["recent"]
        .as_array()
        .unwrap()
        .is_empty());
    let after = steps(&k, "&rule=TempHigh");
    assert_eq!(after, before, "the same state changes after the restart");
}
