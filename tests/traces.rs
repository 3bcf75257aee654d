//! The trace sample (`/api/traces`, `/api/traces/{id}`) against the built binary: traces
//! sent by the real OpenTelemetry Python SDK, checked value by value (the slowest kept, the
//! recent failed kept, the waterfall's spans); the bounds (spans per trace, traces in
//! assembly) with protobuf requests built here, what they drop counted in `/api/health`.

mod common;
mod otlp_support;

use common::{wait_for, Kpid};
use otlp_support::*;
use serde_json::Value;
use std::process::Command;

const MS: f64 = 1e-3;

/// Trace i's root duration, seconds (as tests/otlp_support/traces.py makes it).
fn duration(i: u64) -> f64 {
    10.0 * MS * (1 + (7 * i) % 40) as f64
}

fn close(a: &Value, b: f64) -> bool {
    a.as_f64().is_some_and(|a| (a - b).abs() < 1e-6)
}

#[test]
fn python_sdk_traces_keep_the_slowest_and_the_recent_failed() {
    let py = otel_python();
    let dir = tempfile::tempdir().unwrap();
    let k = Kpid::start(dir.path(), &["--no-state", "--no-socket"]);
    let port = otlp_port(&k);
    // Recent (a sampled trace is kept 15 minutes after it ended), on a whole second.
    let base_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        - 120;
    let out = Command::new(py)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/otlp_support/traces.py"
        ))
        .env(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://127.0.0.1:{port}"),
        )
        .env("BASE_NS", (base_s * 1_000_000_000).to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "traces.py failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list = wait_for(20, "ten sampled traces", || {
        let v = k.json("/api/traces");
        (v["traces"].as_array()?.len() == 10).then_some(v)
    });
    let h = k.json("/api/health");
    let st = &h["traces"];
    assert_eq!(
        st["sampled"].as_u64().unwrap() + st["not_sampled"].as_u64().unwrap(),
        40,
        "{st}"
    );
    assert_eq!(st["kept"], 10, "{st}");
    assert_eq!(
        (&st["pending_traces"], &st["spans_dropped"]),
        (&0.into(), &0.into()),
        "{st}"
    );
    // The five slowest (7i mod 40 in 35..=39) and the five most recent failed (i % 6 == 0).
    let slow = [5u64, 11, 17, 28, 34];
    let failed = [12u64, 18, 24, 30, 36];
    let mut seen = Vec::new();
    let mut last_start = f64::INFINITY;
    for t in list["traces"].as_array().unwrap() {
        assert_eq!(
            (t["app"].as_str(), t["root"].as_str()),
            (Some("pytrace"), Some("request")),
            "{t}"
        );
        assert_eq!(t["spans"], 4, "{t}");
        let id = t["trace_id"].as_str().unwrap();
        assert_eq!(id.len(), 32, "{t}");
        let w = k.json(&format!("/api/traces/{id}"));
        let spans = w["spans"].as_array().unwrap();
        let i: u64 = spans[0]["attributes"]["i"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        seen.push(i);
        let start = t["start"].as_f64().unwrap();
        assert!(start <= last_start, "most recent first: {list}");
        last_start = start;
        assert!(close(&t["start"], (base_s + i) as f64), "{t} (trace {i})");
        assert!(close(&t["duration"], duration(i)), "{t} (trace {i})");
        assert_eq!(t["error"], failed.contains(&i), "{t} (trace {i})");
        assert_eq!(t["slow"], slow.contains(&i), "{t} (trace {i})");
        // The waterfall: root first, then by start; offsets from the root's start.
        let names: Vec<_> = spans.iter().map(|s| s["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["request", "decode", "infer", "kernel"], "{w}");
        let id_of = |n: usize| spans[n]["id"].clone();
        assert_eq!(spans[0]["parent"], Value::Null);
        assert_eq!(
            (&spans[1]["parent"], &spans[2]["parent"]),
            (&id_of(0), &id_of(0))
        );
        assert_eq!(spans[3]["parent"], id_of(2), "kernel runs inside infer");
        let want = [
            (0.0, duration(i)),
            (MS, 2.0 * MS),
            (3.0 * MS, duration(i) - 5.0 * MS),
            (4.0 * MS, MS),
        ];
        for (s, (off, d)) in spans.iter().zip(want) {
            assert!(
                close(&s["start"], off) && close(&s["duration"], d),
                "{s} (trace {i})"
            );
        }
        assert_eq!(spans[2]["error"], failed.contains(&i), "{w}");
        assert_eq!(spans[2]["attributes"]["model"], "resnet", "{w}");
        assert_eq!(w["duration"], t["duration"]);
    }
    seen.sort_unstable();
    let mut want: Vec<u64> = slow.iter().chain(&failed).copied().collect();
    want.sort_unstable();
    assert_eq!(seen, want);
    let (status, body) = k.get(&format!("/api/traces/{:032x}", 7));
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("not in the sample"), "{body}");
}

#[test]
fn bounds_are_kept_and_what_they_drop_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let k = Kpid::start(dir.path(), &["--no-state", "--no-socket"]);
    let port = otlp_port(&k);
    let now_ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let send = |spans: &[(u128, u64, u64, &str, u64, bool)]| {
        let body = spans_request(spans, now_ns);
        let (status, answer) = post(
            port,
            "/v1/traces",
            "Content-Type: application/x-protobuf\r\n",
            &body,
        );
        assert_eq!(status, 200, "{answer}");
    };
    // One trace of 300 children, the root last: 255 children are kept with it.
    let mut big: Vec<_> = (2..302u64)
        .map(|s| (1u128, s, 1, "step", 1, false))
        .collect();
    big.push((1, 1, 0, "job", 50, false));
    send(&big);
    // 2,100 traces whose root never comes (in 3 requests): the oldest 52 make room.
    for r in 0..3u128 {
        let orphans: Vec<_> = (0..700u128)
            .map(|t| (1000 + r * 700 + t, 9, 8, "orphan", 1, false))
            .collect();
        send(&orphans);
    }
    // "job" again, failed and faster: kept (failed, and one of the slowest while fewer than
    // five are).
    send(&[(2, 1, 0, "job", 10, true)]);
    let h = wait_for(20, "the counters", || {
        let h = k.json("/api/health");
        (h["traces"]["kept"] == 2 && h["traces"]["pending_evicted"] == 52).then_some(h)
    });
    let st = &h["traces"];
    assert_eq!(st["spans_dropped"], 45, "{st}");
    assert_eq!(st["pending_traces"], 2048, "{st}");
    assert_eq!(st["pending_spans"], 2048, "{st}");
    let list = k.json("/api/traces");
    // Most recent (by end) first: the 50 ms trace ends last.
    let t = &list["traces"];
    assert_eq!(t[0]["trace_id"], format!("{:032x}", 1), "{list}");
    assert_eq!(t[0]["spans"], 256, "{list}");
    assert_eq!(t[0]["spans_dropped"], 45, "{list}");
    assert!(close(&t[0]["duration"], 50.0 * MS), "{list}");
    assert_eq!(t[0]["app"], "unknown_service", "{list}");
    assert_eq!(t[1]["trace_id"], format!("{:032x}", 2), "{list}");
    assert_eq!(
        (&t[1]["error"], &t[1]["slow"]),
        (&true.into(), &true.into()),
        "{list}"
    );
    let (status, _) = k.get(&format!("/api/traces/{:032x}", 1000));
    assert_eq!(status, 404, "a trace in assembly is not in the sample");
}
