//! A WebSocket client that stops reading is disconnected and counted; the others keep their
//! cadence. And `--one-shot` reads files to their end and prints exact counts.

mod common;

use common::{append, try_wait, Kpid};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn slow_websocket_client_is_dropped_and_counted_without_slowing_others() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("wide.log");
    append(&log, "");
    let k = Kpid::start(
        dir.path(),
        &[
            "--log",
            "wide.log",
            "--no-state",
            "--from-start",
            "--interval",
            "50ms",
        ],
    );
    // 400 gauges changing on every line: each update frame is ~100 KB.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (stop, log) = (stop.clone(), log.clone());
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let line: String = (0..400).map(|f| format!("field_{f}={} ", i + f)).collect();
                append(&log, &format!("{line}\n"));
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let url = format!("ws://127.0.0.1:{}/ws/metrics", k.port);
    let (_slow, _) = tungstenite::connect(&url).expect("slow client connects");
    let (mut fast, _) = tungstenite::connect(&url).expect("fast client connects");
    let start = Instant::now();
    let mut frames = 0u32;
    let dropped = try_wait(60, || {
        while let Ok(m) = fast.read() {
            if m.is_text() {
                frames += 1;
            }
            if frames % 20 == 0 {
                break;
            }
        }
        k.json("/api/health")["drops"]["ws_clients_dropped"].as_u64() == Some(1)
    });
    assert!(
        dropped,
        "the slow client was not dropped: {}",
        k.get("/api/health").1
    );
    // The fast client kept receiving all along, then still receives after the drop.
    let before = frames;
    let t = Instant::now();
    while frames < before + 10 {
        if fast.read().expect("fast client still served").is_text() {
            frames += 1;
        }
    }
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "fast client starved: 10 frames took {:?}",
        t.elapsed()
    );
    assert!(
        frames as f64 > start.elapsed().as_secs_f64(),
        "fast client got {frames} frames in {:?}",
        start.elapsed()
    );
    let (_, metrics) = k.get("/metrics");
    assert!(
        metrics.contains("kpid_ws_clients_dropped_total 1"),
        "{metrics}"
    );
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
}

#[test]
fn one_shot_reads_to_the_end_and_prints_exact_counts() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("old.log");
    let mut text = String::new();
    for i in 0..10_000 {
        let level = if i % 10 == 0 { "ERROR" } else { "INFO" };
        text.push_str(&format!(
            "2026-11-23 10:00:00.123 {level} request done status={} ms={}\n",
            200 + (i % 2) * 300,
            i % 50
        ));
    }
    text.push_str("a last line without newline status=200");
    std::fs::write(&log, text).unwrap();
    std::fs::write(
        dir.path().join("k.toml"),
        "[[rule]]\nname = \"requests_total\"\nkind = \"counter\"\nlabels = [\"status\"]\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kpid"))
        .current_dir(dir.path())
        .args(["--one-shot", "--config", "k.toml", "--log", "old.log"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    for want in [
        "log_lines_total{level=\"error\",source=\"old\"} 1000\n",
        "log_lines_total{level=\"info\",source=\"old\"} 9000\n",
        "log_lines_total{level=\"none\",source=\"old\"} 1\n",
        "requests_total{status=\"200\"} 5001\n",
        "requests_total{status=\"500\"} 5000\n",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
}
