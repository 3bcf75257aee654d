//! Tailer throughput, a measurement rather than a test (ignored by default; nothing is timed
//! against a threshold). Run it in release:
//!
//! ```text
//! cargo test --release -p kpid --test tail_throughput -- --ignored --nocapture
//! ```
//!
//! It writes 2,000,000 Apache-style lines (~100 bytes each), reads them in one-shot mode and
//! prints lines/s and MB/s for the tailer thread plus a consumer that counts lines.

use kpid::sources::tail::{self, TailConfig, TailSource};
use kpid::sources::{Input, SourcesHealth};
use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

#[test]
#[ignore = "a measurement: run with --release -- --ignored --nocapture"]
fn tail_throughput() {
    const LINES: usize = 2_000_000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("access.log");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    for n in 0..LINES {
        writeln!(
            out,
            "10.0.{}.{} - - [10/Oct/2024:13:55:36 +0000] \"GET /api/v1/items/{n} HTTP/1.1\" {} {} 0.{:03}",
            n % 250,
            n % 200,
            [200, 404, 500][n % 3],
            n % 5000,
            n % 1000
        )
        .unwrap();
    }
    drop(out);
    let bytes = std::fs::metadata(&path).unwrap().len();
    let cfg = TailConfig {
        sources: vec![TailSource {
            name: Arc::from("bench"),
            pattern: path.display().to_string(),
        }],
        exit_at_eof: true,
        ..TailConfig::default()
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Input>(64);
    // Warm the page cache so the figure is the tailer's, not the disk's.
    std::fs::read(&path).unwrap();
    let t0 = Instant::now();
    let tailer = tail::spawn(
        cfg,
        tx,
        SourcesHealth::shared(),
        tail::Checkpoints::new(None, Default::default()),
    )
    .unwrap();
    let (mut lines, mut batches) = (0usize, 0usize);
    while let Some(Input::Lines(b)) = rx.blocking_recv() {
        lines += memchr::memchr_iter(b'\n', &b.data).count();
        batches += 1;
    }
    let secs = t0.elapsed().as_secs_f64();
    tailer.wait();
    assert_eq!(lines, LINES);
    println!(
        "tail throughput: {LINES} lines, {:.1} MB in {secs:.3} s: {:.2} M lines/s, {:.0} MB/s, {batches} batches",
        bytes as f64 / 1e6,
        LINES as f64 / secs / 1e6,
        bytes as f64 / secs / 1e6
    );
}
