//! App-side cost of one span with 2 fields plus one event, side by side in the same run:
//! - `registry`: a bare `tracing_subscriber::registry()` (the floor every layer pays);
//! - `fmt->sink`: `tracing_subscriber::fmt` writing to `io::sink`;
//! - `kpid`: registry + `kpid-layer` (`sole_layer`, as `kpid_layer::init` builds it)
//!   connected to a reader that drains the socket (run by this process);
//! - `kpid absent`: the same with no daemon (drops counted; the layer disables the spans);
//! - `absent, shared`: registry + `kpid-layer` without `sole_layer` (what an app with other
//!   layers beside kpid gets: the registry still creates every span), no daemon.
//!
//! Each subscriber runs in a process of its own, as in an app: callsite interest is global
//! to a process, so one process holding all five would make every callsite "sometimes"
//! (the absent layers ask per span) and charge every row an `enabled` call that none of
//! them pays alone. The parent runs [`PASSES`] passes; each pass starts one child per
//! subscriber in turn, and each child times [`ROUNDS`] batches of [`BATCH`] operations
//! after a warm-up. Medians are over all batches of a subscriber.
//!
//! Run: `cargo bench -p kpid-layer --bench span_cost` (release profile).
//! `SPAN_COST_ONLY=kpid` keeps one subscriber; `SPAN_COST_CHILD=kpid` runs one child in
//! this process, with a drain of its own (for profiling: `SPAN_COST_CHILD=kpid valgrind
//! --tool=callgrind --toggle-collect='span_cost::op' target/release/deps/span_cost-*`).

use kpid_wire as wire;
use std::io::{Read, Write};
use std::os::unix::net::UnixListener;
use std::process::Command;
use std::time::{Duration, Instant};
use tracing::Dispatch;
use tracing_subscriber::prelude::*;

const BATCH: u64 = 1000;
const ROUNDS: usize = 60;
const PASSES: usize = 10;
const NAMES: [&str; 5] = [
    "registry",
    "fmt->sink",
    "kpid",
    "kpid absent",
    "absent, shared",
];

#[inline(never)]
fn op(i: u64) {
    let span = tracing::info_span!("infer", frame = i, model = "yolo").entered();
    tracing::info!(score = 0.5, "inference done");
    drop(span);
}

fn round(base: u64) -> f64 {
    let t = Instant::now();
    for i in 0..BATCH {
        op(base + i);
    }
    t.elapsed().as_nanos() as f64 / BATCH as f64
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

/// One child: builds subscriber `name`, times its rounds, prints one sample a line, then
/// `stats sent d0 d1 d2 d3 d4` for the kpid rows.
fn child(name: &str, pass: usize) {
    let sock = match std::env::var_os("SPAN_COST_SOCKET") {
        Some(s) => std::path::PathBuf::from(s),
        // Run alone (profiling): a drain of its own.
        None => {
            let dir = std::env::temp_dir().join(format!("kpid-bench-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let sock = dir.join("drain.sock");
            drain(&sock);
            sock
        }
    };
    let nobody = sock.with_file_name("nobody.sock");
    let kpid = |path: &std::path::Path, sole: bool| {
        kpid_layer::Builder::default()
            .socket(path)
            .app("bench")
            .sole_layer(sole)
            .build()
    };
    let (dispatch, guard) = match name {
        "registry" => (Dispatch::new(tracing_subscriber::registry()), None),
        "fmt->sink" => (
            Dispatch::new(
                tracing_subscriber::fmt()
                    .with_writer(std::io::sink)
                    .finish(),
            ),
            None,
        ),
        "kpid" | "kpid absent" | "absent, shared" => {
            let path = if name == "kpid" { &sock } else { &nobody };
            let (l, g) = kpid(path, name != "absent, shared");
            while g.connecting() {
                std::thread::sleep(Duration::from_millis(1));
            }
            assert_eq!(g.stats().connected, name == "kpid", "{name}: connection");
            (
                Dispatch::new(tracing_subscriber::registry().with(l)),
                Some(g),
            )
        }
        _ => panic!("unknown subscriber {name}"),
    };
    let base = (pass * (ROUNDS + 1)) as u64 * BATCH;
    let samples = tracing::dispatcher::with_default(&dispatch, || {
        round(base); // warm up
        (1..=ROUNDS as u64)
            .map(|r| round(base + r * BATCH))
            .collect::<Vec<_>>()
    });
    let mut out = String::new();
    for s in samples {
        out += &format!("{s}\n");
    }
    if let Some(g) = guard {
        g.flush(Duration::from_secs(5));
        let st = g.stats();
        let d = st.dropped.map(|d| d.to_string()).join(" ");
        out += &format!("stats {} {d}\n", st.sent);
    }
    print!("{out}");
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * p) as usize]
}

fn main() {
    if let Ok(name) = std::env::var("SPAN_COST_CHILD") {
        let pass = std::env::var("SPAN_COST_PASS").map_or(0, |p| p.parse().unwrap_or(0));
        return child(&name, pass);
    }
    let dir = std::env::temp_dir().join(format!("kpid-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sock = dir.join("drain.sock");
    drain(&sock);
    let only = std::env::var("SPAN_COST_ONLY").ok();
    let names: Vec<&str> = NAMES
        .into_iter()
        .filter(|n| only.as_deref().is_none_or(|o| o == *n))
        .collect();
    let exe = std::env::current_exe().unwrap();
    let mut samples = vec![Vec::with_capacity(ROUNDS * PASSES); names.len()];
    let mut stats = vec![[0u64; 6]; names.len()];
    for pass in 0..PASSES {
        for (k, name) in names.iter().enumerate() {
            let out = Command::new(&exe)
                .env("SPAN_COST_CHILD", name)
                .env("SPAN_COST_PASS", pass.to_string())
                .env("SPAN_COST_SOCKET", &sock)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            for line in String::from_utf8(out.stdout).unwrap().lines() {
                if let Some(s) = line.strip_prefix("stats ") {
                    for (t, v) in stats[k].iter_mut().zip(s.split(' ')) {
                        *t += v.parse::<u64>().unwrap();
                    }
                } else {
                    samples[k].push(line.parse::<f64>().unwrap());
                }
            }
        }
    }
    let medians: Vec<f64> = samples.iter_mut().map(|s| pct(s, 0.5)).collect();
    println!(
        "one span (2 fields) + one event, ns/op; {PASSES} passes x {ROUNDS} rounds of {BATCH}, \
         a process per subscriber and pass:"
    );
    println!(
        "{:<15} {:>8} {:>8} {:>8}",
        "subscriber", "p10", "median", "p90"
    );
    for (k, name) in names.iter().enumerate() {
        let s = &mut samples[k];
        println!(
            "{name:<15} {:>8.0} {:>8.0} {:>8.0}",
            pct(s, 0.1),
            medians[k],
            pct(s, 0.9)
        );
    }
    if medians.len() == NAMES.len() {
        println!(
            "kpid / fmt->sink = {:.2}; kpid absent / fmt->sink = {:.2}",
            medians[2] / medians[1],
            medians[3] / medians[1]
        );
    }
    for (k, name) in names.iter().enumerate() {
        if name.contains("kpid") || name.contains("absent") {
            let s = &stats[k];
            println!(
                "{name}: sent {} records, dropped (trace..error) {:?}",
                s[0],
                &s[1..]
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
