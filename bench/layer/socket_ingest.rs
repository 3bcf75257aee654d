//! Daemon-side ingest of span closes through the real `kpid` binary (release build):
//!
//! 1. **capacity**: one sender writes pre-encoded span frames (8 span names, 2 fields each)
//!    as fast as the socket takes them for `SECS` seconds; the rate is spans applied to the
//!    store (`/api/health` → `socket.spans`) over the time until all were applied.
//!    Then the same with protocol 2's traced spans (traces of 8 spans, fresh trace ids every
//!    batch), which also feed the trace sample.
//! 2. **paced, end to end**: an app thread with the real `kpid-layer` opens and closes spans
//!    (2 fields) at a paced target rate for `SECS` seconds; reports the rate achieved, the
//!    layer's drops and what the daemon applied (must equal what was emitted).
//!
//! Run: `cargo bench --bench socket_ingest` (env `SECS`, default 10; `RATE`, default 1000000).

use kpid_wire as wire;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};
use tracing_subscriber::prelude::*;

#[path = "../common/daemon.rs"]
mod daemon;

use daemon::Kpid;

fn start(dir: &std::path::Path, sock: &std::path::Path) -> Kpid {
    daemon::start(dir, &["--socket", sock.to_str().unwrap(), "--no-otlp"])
}

fn socket_stats(port: u16) -> serde_json::Value {
    daemon::health(port, "socket")
}

fn spans_applied(port: u16) -> u64 {
    socket_stats(port)["spans"].as_u64().unwrap_or(0)
}

fn wait_applied(port: u16, want: u64) -> Instant {
    let deadline = Instant::now() + Duration::from_secs(120);
    while spans_applied(port) < want {
        assert!(
            Instant::now() < deadline,
            "daemon never applied {want} spans: {}",
            socket_stats(port)
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    Instant::now()
}

/// One sender of pre-encoded span frames as fast as the socket takes them. `traced`: protocol
/// 2's `TracedSpan` frames, traces of 8 spans (7 children, then their root), fresh trace ids
/// every batch, so every span also goes through the trace sample.
fn capacity(dir: &std::path::Path, secs: u64, traced: bool) {
    let sock = dir.join(if traced { "trc.sock" } else { "cap.sock" });
    let k = start(dir, &sock);
    let mut s = UnixStream::connect(&sock).unwrap();
    let mut hello = Vec::new();
    wire::encode_hello(
        &mut hello,
        &wire::Hello {
            version: wire::VERSION,
            app: "blaster",
            pid: 1,
            host: "h",
        },
    );
    s.write_all(&hello).unwrap();
    let mut reply = [0u8; 64];
    let _ = s.read(&mut reply).unwrap();
    let names = daemon::SPAN_NAMES;
    let mut batch = Vec::with_capacity(70_000);
    let mut scratch = Vec::new();
    let mut per_batch = 0u64;
    // Where each traced frame's ids start, to give every batch fresh trace ids.
    let mut id_at = Vec::new();
    while batch.len() < 64 << 10 {
        let fields = wire::Fields::encode(
            &mut scratch,
            &[
                ("frame", wire::Value::U64(per_batch)),
                ("model", wire::Value::Str("yolo")),
            ],
        );
        let span = wire::SpanClose {
            name: names[per_batch as usize % names.len()],
            target: "bench",
            parent: "frame",
            start_unix_ns: 1_700_000_000_000_000_000 + per_batch,
            duration_ns: 1_000_000 + per_batch * 1000,
            level: wire::Level::Info,
            error: per_batch % 100 == 0,
            fields,
        };
        if traced {
            let trace = per_batch / 8 + 1;
            let root = per_batch % 8 == 7;
            let ids = wire::SpanIds {
                trace,
                span: if root { trace } else { (per_batch + 1) << 20 },
                parent: if root { 0 } else { trace },
            };
            id_at.push(batch.len() + wire::HEADER_LEN);
            wire::encode_traced_span(&mut batch, ids, &span);
        } else {
            wire::encode_span(&mut batch, &span);
        }
        per_batch += 1;
    }
    // Whole traces only.
    while traced && per_batch % 8 != 0 {
        let at = id_at.pop().unwrap();
        batch.truncate(at - wire::HEADER_LEN);
        per_batch -= 1;
    }
    let t0 = Instant::now();
    let mut sent = 0u64;
    let mut round = 0u64;
    while t0.elapsed() < Duration::from_secs(secs) {
        if traced {
            round += 1;
            for &at in &id_at {
                let old = u64::from_le_bytes(batch[at..at + 8].try_into().unwrap());
                let new = (old & 0xFFFF_FFFF) | round << 32;
                batch[at..at + 8].copy_from_slice(&new.to_le_bytes());
                if batch[at + 16..at + 24] == [0; 8] {
                    batch[at + 8..at + 16].copy_from_slice(&new.to_le_bytes());
                }
            }
        }
        s.write_all(&batch).unwrap();
        sent += per_batch;
    }
    let done = wait_applied(k.port, sent);
    let el = (done - t0).as_secs_f64();
    let st = socket_stats(k.port);
    let traces = daemon::health(k.port, "traces");
    println!(
        "capacity{}: {sent} spans ({} B each) applied in {el:.2} s = {:.0} spans/s; rejected {}{}",
        if traced { " (traced)" } else { "" },
        batch.len() as u64 / per_batch,
        sent as f64 / el,
        st["rejected_total"],
        if traced {
            format!("; traces {traces}")
        } else {
            String::new()
        }
    );
}

fn paced(dir: &std::path::Path, secs: u64, rate: u64) {
    let sock = dir.join("paced.sock");
    let k = start(dir, &sock);
    let (layer, guard) = kpid_layer::Builder::default()
        .socket(&sock)
        .app("paced")
        .build();
    while guard.connecting() {
        std::thread::sleep(Duration::from_millis(1));
    }
    let chunk = (rate / 1000).max(1); // spans per millisecond
    let mut emitted = 0u64;
    let t0 = Instant::now();
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        let mut tick = 0u64;
        while t0.elapsed() < Duration::from_secs(secs) {
            for i in 0..chunk {
                let _s =
                    tracing::info_span!("infer", frame = emitted + i, model = "yolo").entered();
            }
            emitted += chunk;
            tick += 1;
            let due = t0 + Duration::from_millis(tick);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
        }
    });
    let el = t0.elapsed().as_secs_f64();
    assert!(guard.flush(Duration::from_secs(30)));
    let st = guard.stats();
    let dropped: u64 = st.dropped.iter().sum();
    let applied_by = wait_applied(k.port, st.sent);
    let lag = applied_by.saturating_duration_since(t0 + Duration::from_secs_f64(el));
    let daemon = socket_stats(k.port);
    println!(
        "paced: target {rate}/s, emitted {emitted} in {el:.2} s = {:.0} spans/s; layer sent {}, dropped {dropped}; \
         daemon applied {} (rejected {}, app-reported drops {}); all applied {:.0} ms after the app stopped",
        emitted as f64 / el,
        st.sent,
        daemon["spans"],
        daemon["rejected_total"],
        daemon["app_dropped"],
        lag.as_secs_f64() * 1e3
    );
}

fn main() {
    let secs = std::env::var("SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let rate = std::env::var("RATE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let dir = std::env::temp_dir().join(format!("kpid-ingest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    println!(
        "kpid ingest, {} CPUs, {secs} s per run",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    capacity(&dir, secs, false);
    capacity(&dir, secs, true);
    paced(&dir, secs, rate);
    let _ = std::fs::remove_dir_all(&dir);
}
