//! App-side cost of one span with 2 fields plus one event, side by side in the same run:
//! - `registry`: a bare `tracing_subscriber::registry()` (the floor every layer pays);
//! - `fmt->sink`: `tracing_subscriber::fmt` writing to `io::sink`;
//! - `kpid`: registry + `kpid-layer` (`sole_layer`, as `kpid_layer::init` builds it)
//!   connected to a reader that drains the socket;
//! - `kpid absent`: the same with no daemon (drops counted; the layer disables the spans);
//! - `absent, shared`: registry + `kpid-layer` without `sole_layer` (what an app with other
//!   layers beside kpid gets: the registry still creates every span), no daemon.
//!
//! Note that callsite interest is global: the sole layers make every callsite "sometimes",
//! so all rows pay an `enabled` call per span and event, as an app using `init` would.
//!
//! Rounds alternate the subscribers; each round times a batch of operations on the
//! calling thread and records ns per operation; medians are over all rounds.
//! Run: `cargo bench -p kpid-layer --bench span_cost` (release profile).

use kpid_wire as wire;
use std::io::{Read, Write};
use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant};
use tracing::Dispatch;
use tracing_subscriber::prelude::*;

const BATCH: u64 = 1000;
const ROUNDS: usize = 600;

#[inline(never)]
fn op(i: u64) {
    let span = tracing::info_span!("infer", frame = i, model = "yolo").entered();
    tracing::info!(score = 0.5, "inference done");
    drop(span);
}

fn round(d: &Dispatch, base: u64) -> f64 {
    tracing::dispatcher::with_default(d, || {
        let t = Instant::now();
        for i in 0..BATCH {
            op(base + i);
        }
        t.elapsed().as_nanos() as f64 / BATCH as f64
    })
}

/// A reader that answers the hello and discards everything after it.
fn drain(path: &std::path::Path) {
    let l = UnixListener::bind(path).unwrap();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { return };
            std::thread::spawn(move || {
                let mut b = vec![0u8; 256 << 10];
                let mut got = 0;
                while wire::split_frame(&b[..got], 1 << 16)
                    .ok()
                    .flatten()
                    .is_none()
                {
                    match s.read(&mut b[got..]) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got += n,
                    }
                }
                let mut w = Vec::new();
                wire::encode_welcome(&mut w, wire::VERSION, wire::MAX_FRAME_LEN as u32);
                s.write_all(&w).unwrap();
                while matches!(s.read(&mut b), Ok(n) if n > 0) {}
            });
        }
    });
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p) as usize]
}

fn main() {
    let dir = std::env::temp_dir().join(format!("kpid-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sock = dir.join("drain.sock");
    drain(&sock);
    let (kpid, kpid_guard) = kpid_layer::Builder::default()
        .socket(&sock)
        .app("bench")
        .sole_layer(true)
        .build();
    let (absent, absent_guard) = kpid_layer::Builder::default()
        .socket(dir.join("nobody.sock"))
        .app("bench")
        .sole_layer(true)
        .build();
    let (shared, shared_guard) = kpid_layer::Builder::default()
        .socket(dir.join("nobody.sock"))
        .app("bench")
        .build();
    while kpid_guard.connecting() || absent_guard.connecting() || shared_guard.connecting() {
        std::thread::sleep(Duration::from_millis(1));
    }
    let fmt = tracing_subscriber::fmt()
        .with_writer(std::io::sink)
        .finish();
    let subs: Vec<(&str, Dispatch)> = vec![
        ("registry", Dispatch::new(tracing_subscriber::registry())),
        ("fmt->sink", Dispatch::new(fmt)),
        (
            "kpid",
            Dispatch::new(tracing_subscriber::registry().with(kpid)),
        ),
        (
            "kpid absent",
            Dispatch::new(tracing_subscriber::registry().with(absent)),
        ),
        (
            "absent, shared",
            Dispatch::new(tracing_subscriber::registry().with(shared)),
        ),
    ];
    // SPAN_COST_ONLY=name keeps one subscriber (for profiling).
    let only = std::env::var("SPAN_COST_ONLY").ok();
    let subs: Vec<_> = subs
        .into_iter()
        .filter(|(n, _)| only.as_deref().is_none_or(|o| o == *n))
        .collect();
    let mut samples = vec![Vec::with_capacity(ROUNDS); subs.len()];
    for (_, d) in &subs {
        round(d, 0); // warm up
    }
    for r in 0..ROUNDS {
        for (k, (_, d)) in subs.iter().enumerate() {
            samples[k].push(round(d, (r as u64) * BATCH));
        }
    }
    kpid_guard.flush(Duration::from_secs(5));
    let st = kpid_guard.stats();
    let sa = absent_guard.stats();
    let ss = shared_guard.stats();
    let medians: Vec<f64> = samples.iter_mut().map(|s| pct(s, 0.5)).collect();
    println!("one span (2 fields) + one event, ns/op over {ROUNDS} rounds of {BATCH}:");
    println!(
        "{:<15} {:>8} {:>8} {:>8}",
        "subscriber", "p10", "median", "p90"
    );
    for (k, (name, _)) in subs.iter().enumerate() {
        let s = &mut samples[k];
        println!(
            "{name:<15} {:>8.0} {:>8.0} {:>8.0}",
            pct(s, 0.1),
            medians[k],
            pct(s, 0.9)
        );
    }
    if medians.len() == 5 {
        println!(
            "kpid / fmt->sink = {:.2}; kpid absent / fmt->sink = {:.2}",
            medians[2] / medians[1],
            medians[3] / medians[1]
        );
    }
    println!(
        "kpid layer: sent {} records, dropped {:?}; absent layer dropped {:?}; shared {:?}",
        st.sent, st.dropped, sa.dropped, ss.dropped
    );
    let _ = std::fs::remove_dir_all(&dir);
}
