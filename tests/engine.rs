//! The one engine, against the built binary: app records reach WebSocket clients within one
//! interval with no log traffic, `[[rule]]`s see spans, and memory stays bounded under a
//! cardinality bomb.

mod socket_support;

use socket_support::common::{append, wait_for};
use socket_support::*;
use std::time::{Duration, Instant};

fn ws_json(
    ws: &mut tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<std::net::TcpStream>>,
) -> serde_json::Value {
    serde_json::from_str(ws.read().expect("ws frame").to_text().unwrap()).unwrap()
}

/// Regression: records from apps went straight into the store and never woke the WebSocket
/// pusher, so an app that only reported spans reached the page at the 5 s heartbeat.
#[test]
fn a_span_reaches_websocket_clients_within_one_interval_with_no_log_traffic() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("kpid.sock");
    let k = Kpid::start(
        dir.path(),
        &[
            "--socket",
            sock.to_str().unwrap(),
            "--no-state",
            "--interval",
            "250ms",
        ],
    );
    let (mut ws, _) =
        tungstenite::connect(format!("ws://127.0.0.1:{}/ws/metrics", k.port)).expect("ws");
    assert_eq!(ws_json(&mut ws)["type"], "snapshot");
    let mut app = Raw::hello(&sock, "solo");
    // Let a heartbeat-free moment pass, then time one new span name.
    std::thread::sleep(Duration::from_millis(400));
    let mut frame = Vec::new();
    span_frame(&mut frame, "decode", 2_000_000, false);
    let t0 = Instant::now();
    app.send(&frame).unwrap();
    let id = r#"span_total{app="solo",span="decode"}"#;
    loop {
        let v = ws_json(&mut ws);
        let hit = v["kpis"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["id"] == id);
        if let Some(e) = hit {
            assert_eq!(e["total"].as_f64(), Some(1.0), "{e}");
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(4),
            "no update with the span: {v}"
        );
    }
    // One interval (250 ms) plus decoding: generous on a loaded 2-core CI machine, and far
    // below the 5 s heartbeat the old path waited for.
    assert!(
        t0.elapsed() < Duration::from_millis(1250),
        "took {:?}",
        t0.elapsed()
    );
}

#[test]
fn a_rule_on_a_span_name_gives_its_own_distribution_with_buckets() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("kpid.sock");
    std::fs::write(
        dir.path().join("kpid.toml"),
        r#"[[rule]]
name = "infer_seconds"
kind = "distribution"
input = "span"
field = "duration"
filter = 'span == "infer"'
buckets = [0.005, 0.05, 0.5]
help = "inference time"
"#,
    )
    .unwrap();
    let k = Kpid::start(
        dir.path(),
        &[
            "--config",
            "kpid.toml",
            "--socket",
            sock.to_str().unwrap(),
            "--no-state",
        ],
    );
    let mut app = Raw::hello(&sock, "cam");
    let mut frames = Vec::new();
    for i in 0..100u64 {
        // 1 ms, 10 ms or 100 ms; and spans of another name the rule must not see.
        span_frame(
            &mut frames,
            "infer",
            1_000_000 * 10u64.pow((i % 3) as u32),
            false,
        );
        span_frame(&mut frames, "decode", 1_000_000, false);
    }
    app.send(&frames).unwrap();
    let body = wait_for(10, "the rule's histogram", || {
        let (_, m) = k.get("/metrics");
        m.contains("infer_seconds_count 100").then_some(m)
    });
    for want in [
        "# TYPE infer_seconds histogram",
        r#"infer_seconds_bucket{le="0.005"} 34"#,
        r#"infer_seconds_bucket{le="0.05"} 67"#,
        r#"infer_seconds_bucket{le="0.5"} 100"#,
        r#"infer_seconds_bucket{le="+Inf"} 100"#,
    ] {
        assert!(body.contains(want), "missing `{want}` in:\n{body}");
    }
    // The built-in span rules saw both names.
    assert!(
        body.contains(r#"span_total{app="cam",span="decode"} 100"#),
        "{body}"
    );
}

fn rss_peak_kb(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

/// Feeds `lines` lines made by `line(i)` to a daemon with `config`, waits until all are
/// counted, and returns its peak RSS in MB.
fn bomb(config: &str, lines: u64, line: impl Fn(u64) -> String) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("kpid.toml"), config).unwrap();
    let log = dir.path().join("bomb.log");
    let mut text = String::with_capacity(64 << 20);
    for i in 0..lines {
        text.push_str(&line(i));
        text.push('\n');
    }
    append(&log, &text);
    drop(text);
    let k = Kpid::start(
        dir.path(),
        &[
            "--config",
            "kpid.toml",
            "--log",
            "bomb.log",
            "--from-start",
            "--no-state",
            "--no-socket",
        ],
    );
    let id = r#"log_lines_total{level="none",source="bomb"}"#;
    wait_for(240, "every line counted", || {
        let t = k.latest(id)?["total"].as_f64()?;
        (t == lines as f64).then_some(())
    });
    // Still answering, and saying what it refused: the store's drops, or the fields the
    // zero-config inference left out (a KPI of its own, per source and reason).
    let h = k.json("/api/health");
    let metrics = k.get("/metrics").1;
    let left_out: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("auto_fields_left_out_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(
        h["drops"]["label_sets_folded"].as_u64().unwrap()
            + h["drops"]["series_refused"].as_u64().unwrap()
            > 0
            || left_out > 0.0,
        "{h}"
    );
    rss_peak_kb(k.child.id()) as f64 / 1024.0
}

/// Regression: each distinct key (or label value) left ~219 bytes in the caches in front of
/// the store, never freed: 4M lines with a unique key each took RSS to 853 MB. The bound
/// asserted here is the issue's 64 MB; at the old rate these lines alone would add ~90 MB.
#[test]
fn rss_stays_bounded_under_a_cardinality_bomb() {
    let n: u64 = std::env::var("KPID_BOMB_LINES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(400_000);
    let keys = bomb("", n, |i| format!("k{i}=1"));
    let labels = bomb(
        "[[rule]]\nname = \"hits_total\"\nkind = \"counter\"\nlabels = [\"user\"]\n",
        n,
        |i| format!("user=u{i:012}"),
    );
    eprintln!(
        "peak RSS: unique keys {keys:.1} MB, unique label values {labels:.1} MB ({n} lines each)"
    );
    assert!(keys < 64.0, "unique keys: peak RSS {keys:.1} MB");
    assert!(
        labels < 64.0,
        "unique label values: peak RSS {labels:.1} MB"
    );
}
