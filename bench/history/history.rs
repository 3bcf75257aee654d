//! History benchmarks (release): `cargo bench --bench history -- disk|cpu|fill DIR`.
//! `bench/history/run.sh` runs them all, with the HTTP query latency against the built
//! `kpid`, and prints the figures BENCHMARKS.md quotes.

use kpid::history::bench;
use std::time::Duration;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    match args.first().map(String::as_str) {
        Some("disk") => {
            let tmp = tempfile::tempdir().expect("tempdir");
            let (series, hours) = (1000, 6);
            let r = bench::disk(tmp.path(), series, hours);
            println!("disk: {series} series, {hours} h at 1 s");
            for (res, pts, bytes) in &r.tiers {
                println!(
                    "  tier {res:>4} s: {pts:>10} points, {bytes:>10} payload bytes, {:.3} B/point",
                    *bytes as f64 / (*pts).max(1) as f64
                );
            }
            for (kind, pts, bytes) in &r.kinds {
                println!(
                    "  1 s {kind:<12}: {:.3} B/point",
                    *bytes as f64 / (*pts).max(1) as f64
                );
            }
            let fine = r.tiers[0].1;
            println!(
                "  file {} bytes (page_count*page_size after checkpoint): {:.3} B per 1 s point, all tiers and indexes included",
                r.file_bytes,
                r.file_bytes as f64 / fine as f64
            );
        }
        Some("cpu") => {
            let tmp = tempfile::tempdir().expect("tempdir");
            let (series, secs) = (10_000, 120);
            let (cpu, pts) = bench::writer_cpu(tmp.path(), series, secs, Duration::from_secs(60));
            println!(
                "cpu: {series} series at 1 Hz for {secs} s (a fold every 60 s): writer thread {cpu:.2} CPU s = {:.2} % of one core, {pts} points",
                100.0 * cpu / secs as f64
            );
        }
        Some("fill") => {
            let dir = std::path::PathBuf::from(args.get(1).expect("fill DIR"));
            let s = bench::fill(&dir, 10, 7);
            println!("{} {}", s.from, s.to);
        }
        _ => eprintln!("usage: history disk | cpu | fill STATE_DIR"),
    }
}
