//! Lines per second of each built-in parser on generated lines, one core, parse only.
//!
//! `cargo run --release -p kpid-parsers --example throughput [-- LINES [PARSER...]]`
//!
//! The `regex` row uses the Apache pattern of `bench/apache/kpid.toml` (8 named captures).
//! The `auto-*` rows run the `auto` parser on one format each (its recognition cost: compare
//! with the format's own parser, and with the same rows of an earlier build).

use kpid_parsers::{builtin, Parser, ParserOptions, Record, RegexParser};
use std::time::Instant;

const APACHE: &str = r#"^(?P<host>\S+) \S+ (?P<user>\S+) \[(?P<time>[^\]]+)\] "(?P<method>[A-Z]+) (?P<path>\S+) [^"]*" (?P<status>\d{3}) (?P<bytes>\d+|-) "[^"]*" "[^"]*" (?P<duration_us>\d+)$"#;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const LEVELS: [&str; 4] = ["INFO", "INFO", "WARN", "ERROR"];
const PATHS: [&str; 4] = [
    "/api/v1/items",
    "/static/app.js",
    "/login",
    "/api/v1/items/42?x=1",
];

fn generate(kind: &str, n: usize, rng: &mut Rng) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let lvl = LEVELS[rng.below(4) as usize];
            let fps = 90.0 + rng.below(100) as f64 / 10.0;
            let q = rng.below(50);
            let lat = rng.below(200);
            let s = match kind {
                "json" => format!(
                    r#"{{"ts":"2026-11-23T10:00:{:02}.{:03}Z","level":"{}","target":"pipeline::stats","msg":"pipeline stats","fps_in":{fps},"fps_out":{},"queue_rt":{q},"e2e_ms":{lat},"cam":{{"id":"cam{}","ok":true}}}}"#,
                    i % 60, i % 1000, lvl.to_lowercase(), fps - 1.0, i % 8
                ),
                "logfmt" => format!(
                    "2026-11-23T10:00:{:02}.{:03}Z {lvl} pipeline stats fps_in={fps} fps_out={} queue_rt={q} e2e={lat}ms cam=cam{} note=\"all good\"",
                    i % 60, i % 1000, fps - 1.0, i % 8
                ),
                "plain" => format!(
                    "2026-11-23 10:00:{:02}.{:03} [worker-{}] {lvl} processed batch {i} in {lat} ms",
                    i % 60, i % 1000, i % 8
                ),
                "regex" => format!(
                    "10.0.{}.{} - - [23/Nov/2026:10:00:{:02} +0000] \"GET {} HTTP/1.1\" {} {} \"-\" \"Mozilla/5.0 (X11; Linux x86_64)\" {}",
                    rng.below(256), rng.below(256), i % 60,
                    PATHS[rng.below(4) as usize],
                    [200, 200, 200, 304, 404, 500][rng.below(6) as usize],
                    rng.below(50_000), rng.below(500_000)
                ),
                "python" => format!(
                    "2026-11-23 10:00:{:02},{:03} - pipeline.worker - {} - batch done latency_ms={lat} model=m{}",
                    i % 60, i % 1000, if lvl == "WARN" { "WARNING" } else { lvl }, i % 4
                ),
                "syslog" => format!(
                    "<{}>Nov 23 10:00:{:02} web1 worker[{}]: job done latency_ms={lat} queue={q}",
                    [14, 14, 12, 11][rng.below(4) as usize], i % 60, 1000 + i % 8
                ),
                "klog" => format!(
                    "{}1123 10:00:{:02}.{:06}    1234 controller.go:{}] \"synced\" pod=\"web-{}\" took={lat}ms",
                    &lvl[..1], i % 60, i % 1_000_000, 100 + i % 50, i % 8
                ),
                _ => unreachable!(),
            };
            s.into_bytes()
        })
        .collect()
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(500_000);
    let only: Vec<String> = std::env::args().skip(2).collect();
    let mut rng = Rng(0x5EED);
    let sets: Vec<(&str, Vec<Vec<u8>>)> = [
        "json", "logfmt", "plain", "regex", "python", "syslog", "klog",
    ]
    .iter()
    .map(|k| (*k, generate(k, n, &mut rng)))
    .collect();
    let mut mixed: Vec<Vec<u8>> = Vec::with_capacity(n);
    for i in 0..n {
        mixed.push(sets[i % 3].1[i].clone());
    }
    let runs: Vec<(&str, &str, &[Vec<u8>])> = vec![
        ("json", "json", &sets[0].1),
        ("logfmt", "logfmt", &sets[1].1),
        ("plain", "plain", &sets[2].1),
        ("regex", "regex (apache, 8 captures)", &sets[3].1),
        ("regex-crate", "regex, regex crate only", &sets[3].1),
        ("auto", "auto (json/logfmt/plain mix)", &mixed),
        ("auto-json", "auto on json", &sets[0].1),
        ("auto-logfmt", "auto on logfmt", &sets[1].1),
        ("auto-plain", "auto on plain", &sets[2].1),
        ("auto-access", "auto on apache access", &sets[3].1),
        ("auto-python", "auto on python logging", &sets[4].1),
        ("auto-syslog", "auto on syslog (3164)", &sets[5].1),
        ("auto-klog", "auto on klog", &sets[6].1),
    ];
    println!(
        "{:<30} {:>12} {:>9} {:>8}",
        "parser", "lines/s", "MB/s", "errors"
    );
    for (name, label, lines) in runs {
        if !only.is_empty() && !only.iter().any(|o| o == name) {
            continue;
        }
        let opts = ParserOptions {
            pattern: (name == "regex").then(|| APACHE.to_string()),
        };
        let mut p: Box<dyn Parser> = if name.starts_with("auto-") {
            builtin("auto", &opts).expect("parser")
        } else if name == "regex-crate" {
            Box::new(RegexParser::with_fast_path(APACHE, false).expect("pattern"))
        } else {
            builtin(name, &opts).expect("parser")
        };
        let bytes: usize = lines.iter().map(|l| l.len() + 1).sum();
        let mut best = f64::MAX;
        let mut errors = 0;
        // More passes when profiling one parser, so parsing dominates the profile.
        for _ in 0..if only.is_empty() { 3 } else { 10 } {
            let mut rec: Record<'static> = Record::new();
            errors = 0;
            let t = Instant::now();
            for line in lines {
                let mut r = rec.recycle();
                if p.parse(line, &mut r).is_err() {
                    errors += 1;
                }
                std::hint::black_box(&r);
                rec = r.recycle();
            }
            best = best.min(t.elapsed().as_secs_f64());
        }
        println!(
            "{:<30} {:>12.0} {:>9.1} {:>8}",
            label,
            lines.len() as f64 / best,
            bytes as f64 / best / 1e6,
            errors
        );
    }
}
