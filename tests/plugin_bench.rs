//! Plugin benchmarks (BENCHMARKS.md, "Parser plugins"). Ignored by default; run with
//!
//! ```text
//! cargo test --release --test plugin_bench -- --ignored --nocapture
//! ```
//!
//! Reads the Apache benchmark file (bench/out/apache.log, 2,000,000 lines from
//! bench/apache/gen.py, generated when missing; KPID_APACHE_LOG overrides) and reports:
//! - the plugin overhead per line: the nginx plugin loaded from its .so against the very same
//!   scanner built in (kpid_plugin_nginx::clf linked as a Rust library, pushing the same fields
//!   into the Record directly);
//! - throughput of the nginx plugin over the whole file, beside the built-in regex parser with
//!   the Apache benchmark's pattern.

mod plugin_support;

use kpid::plugin_host::{Isolation, PluginHost, WorkerSettings};
use kpid_parsers::{BatchInfo, Level, ParseError, Parser, ParserOptions, Record, Value};
use kpid_plugin_nginx::clf;
use plugin_support::*;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The nginx plugin's logic, built in: same scanner, same fields, same order.
struct BuiltinNginx;

impl Parser for BuiltinNginx {
    fn name(&self) -> &str {
        "nginx-builtin"
    }

    fn parse<'a>(&mut self, line: &'a [u8], out: &mut Record<'a>) -> Result<(), ParseError> {
        let a = clf::scan(line).map_err(|e| match e {
            clf::ScanError::NoMatch => ParseError::NoMatch,
            clf::ScanError::Bad(why) => ParseError::Invalid(why.into()),
        })?;
        out.timestamp = a.time;
        out.level = Some(match a.status {
            500.. => Level::Error,
            400..=499 => Level::Warn,
            _ => Level::Info,
        });
        let s = |b: &'a [u8]| Value::Str(b.into());
        out.push(&b"remote_addr"[..], s(a.remote_addr));
        if let Some(v) = a.user {
            out.push(&b"user"[..], s(v));
        }
        for (k, v) in [
            (&b"method"[..], a.method),
            (b"path", a.path),
            (b"query", a.query),
            (b"protocol", a.protocol),
        ] {
            if let Some(v) = v {
                out.push(k, s(v));
            }
        }
        out.push(&b"status"[..], Value::Int(i64::from(a.status)));
        out.push(&b"bytes"[..], Value::Int(a.bytes as i64));
        if let Some(v) = a.referer {
            out.push(&b"referer"[..], s(v));
        }
        if let Some(v) = a.user_agent {
            out.push(&b"user_agent"[..], s(v));
        }
        if let Some(t) = a.request_time {
            out.push(&b"request_time"[..], Value::Duration(t * 1e-6));
        }
        Ok(())
    }
}

fn apache_log() -> PathBuf {
    if let Some(p) = std::env::var_os("KPID_APACHE_LOG") {
        return p.into();
    }
    let path = root().join("bench/out/apache.log");
    if !path.exists() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let status = std::process::Command::new("python3")
            .arg(root().join("bench/apache/gen.py"))
            .arg(&path)
            .arg("2000000")
            .status()
            .expect("run bench/apache/gen.py");
        assert!(status.success());
    }
    path
}

/// Parses every line once; returns (elapsed, fields seen, errors).
fn pass(p: &mut dyn Parser, lines: &[&[u8]]) -> (Duration, usize, usize) {
    let (mut fields, mut errors) = (0, 0);
    let mut rec: Record<'static> = Record::new();
    let start = Instant::now();
    for line in lines {
        let mut r = rec.recycle();
        match p.parse(line, &mut r) {
            Ok(()) => fields += r.fields.len(),
            Err(_) => errors += 1,
        }
        rec = r.recycle();
    }
    (start.elapsed(), fields, errors)
}

/// The file cut into batches of whole lines of about 128 KiB (the tailer's read size;
/// `KPID_BENCH_BATCH` bytes overrides).
fn batches(data: &[u8]) -> Vec<(&[u8], Vec<&[u8]>)> {
    let size: usize = std::env::var("KPID_BENCH_BATCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(128 << 10);
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let cut = rest.len().min(size);
        let end = match memchr_back(&rest[..cut]) {
            Some(i) if cut < rest.len() => i + 1,
            _ => cut,
        };
        let (chunk, tail) = rest.split_at(end);
        out.push((chunk, kpid::engine::stage::lines(chunk).collect()));
        rest = tail;
    }
    out
}

fn memchr_back(b: &[u8]) -> Option<usize> {
    b.iter().rposition(|&c| c == b'\n')
}

/// Parses every batch (prepare, then each line) once; returns (elapsed, fields, errors).
fn pass_batched(p: &mut dyn Parser, batches: &[(&[u8], Vec<&[u8]>)]) -> (Duration, usize, usize) {
    let (mut fields, mut errors) = (0, 0);
    let mut rec: Record<'static> = Record::new();
    let start = Instant::now();
    for (data, lines) in batches {
        let info = BatchInfo {
            source: "bench",
            data,
            offset: None,
        };
        p.prepare(&info, lines);
        for line in lines {
            let mut r = rec.recycle();
            match p.parse(line, &mut r) {
                Ok(()) => fields += r.fields.len(),
                Err(_) => errors += 1,
            }
            rec = r.recycle();
        }
    }
    (start.elapsed(), fields, errors)
}

/// Nanoseconds on CPU of this thread plus its child processes (the plugin workers it
/// started), from /proc's schedstat: on a shared, loaded machine wall time also counts the
/// time spent waiting for a core.
fn cpu_ns() -> u64 {
    let read = |p: &str| -> u64 {
        std::fs::read_to_string(p)
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    };
    let mut total = read("/proc/thread-self/schedstat");
    let children = std::fs::read_to_string("/proc/thread-self/children").unwrap_or_default();
    for pid in children.split_whitespace() {
        total += read(&format!("/proc/{pid}/schedstat"));
    }
    total
}

/// In-process against worker process (issue 9, crash-contained plugins): the same plugin
/// and file, in batches of about 128 KiB as the tailer sends them.
#[test]
#[ignore = "benchmark: run with --release -- --ignored --nocapture"]
fn worker_process_overhead() {
    let data = std::fs::read(apache_log()).unwrap();
    let batches = batches(&data);
    let n: usize = batches.iter().map(|b| b.1.len()).sum();
    let dir = plugin_dir();
    install(&workspace_plugin("nginx"), dir.path(), "nginx.so");
    let host = PluginHost::load_dir(dir.path());
    let mut inproc = host.make("nginx", "request_time=us").unwrap().unwrap();
    host.set_isolation(Isolation::Worker(WorkerSettings {
        exe: env!("CARGO_BIN_EXE_kpid").into(),
        ..WorkerSettings::default()
    }));
    let mut worker = host.make("nginx", "request_time=us").unwrap().unwrap();
    let mut builtin = BuiltinNginx;
    let (_, f1, e1) = pass_batched(inproc.as_mut(), &batches[..20]);
    let (_, f2, e2) = pass_batched(worker.as_mut(), &batches[..20]);
    assert_eq!((f1, e1), (f2, e2));
    let runs = 5;
    let (mut best_in, mut best_worker, mut best_builtin) =
        (Duration::MAX, Duration::MAX, Duration::MAX);
    let (mut cpu_in, mut cpu_worker) = (u64::MAX, u64::MAX);
    for _ in 0..runs {
        let c = cpu_ns();
        best_in = best_in.min(pass_batched(inproc.as_mut(), &batches).0);
        cpu_in = cpu_in.min(cpu_ns() - c);
        let c = cpu_ns();
        best_worker = best_worker.min(pass_batched(worker.as_mut(), &batches).0);
        cpu_worker = cpu_worker.min(cpu_ns() - c);
        best_builtin = best_builtin.min(pass_batched(&mut builtin, &batches).0);
    }
    let per = |d: Duration| d.as_nanos() as f64 / n as f64;
    println!(
        "lines {n} in {} batches, best of {runs} passes",
        batches.len()
    );
    for (what, d) in [
        ("nginx plugin in-process", best_in),
        ("nginx plugin in a worker", best_worker),
        ("same scanner built in", best_builtin),
    ] {
        println!(
            "{what:<26} {:>7.1} ns/line  {:>6.2} M lines/s  {:>6.3} s for the file",
            per(d),
            n as f64 / d.as_secs_f64() / 1e6,
            d.as_secs_f64()
        );
    }
    println!(
        "worker over in-process: {:+.1} ns/line; in-process over built in: {:+.1} ns/line",
        per(best_worker) - per(best_in),
        per(best_in) - per(best_builtin)
    );
    let cpu = |ns: u64| ns as f64 / n as f64;
    println!(
        "CPU (this thread + workers): in-process {:.1} ns/line, worker {:.1} ns/line ({:+.1})",
        cpu(cpu_in),
        cpu(cpu_worker),
        cpu(cpu_worker) - cpu(cpu_in)
    );
}

#[test]
#[ignore = "benchmark: run with --release -- --ignored --nocapture"]
fn plugin_overhead_and_throughput() {
    let data = std::fs::read(apache_log()).unwrap();
    let lines: Vec<&[u8]> = kpid::engine::stage::lines(&data).collect();
    let n = lines.len();
    let dir = plugin_dir();
    install(&workspace_plugin("nginx"), dir.path(), "nginx.so");
    let host = PluginHost::load_dir(dir.path());
    let mut plugin = host.make("nginx", "request_time=us").unwrap().unwrap();
    let mut builtin = BuiltinNginx;
    let pattern = r#"^(?P<host>\S+) \S+ (?P<user>\S+) \[(?P<time>[^\]]+)\] "(?P<method>[A-Z]+) (?P<path>\S+) [^"]*" (?P<status>\d{3}) (?P<bytes>\d+|-) "[^"]*" "[^"]*" (?P<duration_us>\d+)$"#;
    let mut regex = kpid_parsers::builtin(
        "regex",
        &ParserOptions {
            pattern: Some(pattern.into()),
        },
    )
    .unwrap();

    // Nothing copied: keys are the plugin's literals, values slices of the line.
    let mut rec = Record::new();
    plugin.parse(lines[0], &mut rec).unwrap();
    let copied: Vec<_> = rec
        .fields
        .iter()
        .filter(|f| matches!(f.key, std::borrow::Cow::Owned(_)))
        .collect();
    assert!(copied.is_empty(), "keys copied: {copied:?}");
    drop(rec);
    // Same output both ways.
    let (_, f1, e1) = pass(plugin.as_mut(), &lines[..10_000]);
    let (_, f2, e2) = pass(&mut builtin, &lines[..10_000]);
    assert_eq!((f1, e1), (f2, e2));
    assert_eq!(e1, 0);

    let runs = 7;
    let (mut best_plugin, mut best_builtin, mut best_regex) =
        (Duration::MAX, Duration::MAX, Duration::MAX);
    for _ in 0..runs {
        best_plugin = best_plugin.min(pass(plugin.as_mut(), &lines).0);
        best_builtin = best_builtin.min(pass(&mut builtin, &lines).0);
        best_regex = best_regex.min(pass(regex.as_mut(), &lines).0);
    }
    let per = |d: Duration| d.as_nanos() as f64 / n as f64;
    let mb = data.len() as f64 / 1e6;
    println!(
        "lines {n}, {mb:.1} MB, {:.1} fields/line, best of {runs} passes",
        f1 as f64 / 10_000.0
    );
    for (what, d) in [
        ("nginx plugin (.so)", best_plugin),
        ("same scanner built in", best_builtin),
        ("built-in regex parser", best_regex),
    ] {
        println!(
            "{what:<24} {:>7.1} ns/line  {:>6.2} M lines/s  {:>6.0} MB/s  {:>6.3} s for the file",
            per(d),
            n as f64 / d.as_secs_f64() / 1e6,
            mb / d.as_secs_f64(),
            d.as_secs_f64()
        );
    }
    println!(
        "plugin overhead: {:+.1} ns/line",
        per(best_plugin) - per(best_builtin)
    );
    let info = &host.list()[0];
    println!(
        "plugin's own figures: {} lines, {} errors, {:.0} ns/line (sampled)",
        info.lines,
        info.errors,
        info.ns_per_line.unwrap()
    );
}
