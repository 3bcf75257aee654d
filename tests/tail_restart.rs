//! Restarts of the built `kpid` around a followed log, stopped by `kill -9` and by SIGTERM:
//! a quiet file (no line since start, or none since the last batch) appended to while kpid is
//! down, and two or three rotations while it is down (the middle files written entirely while
//! down). Every line carries `seq=N`; `log_lines_total` and the sum of `seq` (a counter rule)
//! must come out exact: zero lost, zero counted twice.

mod common;

use common::{append, try_wait, Kpid};
use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

const CONFIG: &str = "[tail]\ncheckpoint_interval = \"100ms\"\n\n[[rule]]\nname = \"seq_sum\"\nkind = \"counter\"\nfield = \"seq\"\n";
const ARGS: [&str; 7] = [
    "--config",
    "kpid.toml",
    "--log",
    "app.log",
    "--state-dir",
    "state",
    "--no-socket",
];

/// How kpid goes down.
#[derive(Debug, Clone, Copy)]
enum Stop {
    Kill9,
    Term,
}

/// A log directory and what must be counted.
struct Scenario {
    dir: tempfile::TempDir,
    count: u64,
    sum: u64,
    next: u64,
}

impl Scenario {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("kpid.toml"), CONFIG).unwrap();
        Self {
            dir,
            count: 0,
            sum: 0,
            next: 1,
        }
    }

    fn path(&self, rel: &str) -> std::path::PathBuf {
        self.dir.path().join(rel)
    }

    /// Appends `n` lines that must be counted to `rel`.
    fn write(&mut self, rel: &str, n: u64) {
        let text: String = (self.next..self.next + n)
            .map(|i| format!("level=info seq={i}\n"))
            .collect();
        append(&self.path(rel), &text);
        self.count += n;
        self.sum += (self.next..self.next + n).sum::<u64>();
        self.next += n;
    }

    /// Writes lines that must never be counted (present before kpid first starts).
    fn write_uncounted(&self, rel: &str, n: u64) {
        let text: String = (0..n)
            .map(|i| format!("level=info seq={}\n", 1_000_000_000 + i))
            .collect();
        append(&self.path(rel), &text);
    }

    fn start(&self) -> Kpid {
        Kpid::start(self.dir.path(), &ARGS)
    }

    /// logrotate `create`: numbered files shift up, the log becomes `.1`, a new log is created.
    fn rotate(&self) {
        let mut n = 1;
        while self.path(&format!("app.log.{n}")).exists() {
            n += 1;
        }
        for i in (1..n).rev() {
            fs::rename(
                self.path(&format!("app.log.{i}")),
                self.path(&format!("app.log.{}", i + 1)),
            )
            .unwrap();
        }
        fs::rename(self.path("app.log"), self.path("app.log.1")).unwrap();
        append(&self.path("app.log"), "");
    }

    /// Waits until everything written is counted, then checks nothing more comes.
    fn expect_exact(&self, k: &Kpid) {
        let mut seen = 0.0;
        let caught_up = try_wait(30, || {
            seen = lines_total(k);
            seen >= self.count as f64
        });
        assert!(
            caught_up,
            "only {seen} of {} lines counted: {}",
            self.count,
            k.get("/api/health").1
        );
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(lines_total(k), self.count as f64, "no line counted twice");
        assert_eq!(seq_sum(k), self.sum as f64, "every line exactly once");
    }
}

fn lines_total(k: &Kpid) -> f64 {
    k.latest("log_lines_total{level=\"info\",source=\"app\"}")
        .and_then(|v| v["total"].as_f64())
        .unwrap_or(0.0)
}

fn seq_sum(k: &Kpid) -> f64 {
    k.latest("seq_sum_total")
        .and_then(|v| v["total"].as_f64())
        .unwrap_or(0.0)
}

fn stop(k: &mut Kpid, how: Stop) {
    match how {
        Stop::Kill9 => k.kill9(),
        Stop::Term => k.terminate(),
    }
}

/// Sets `path`'s modification time an hour back (an old rotated file).
fn age(path: &Path) {
    let f = fs::OpenOptions::new().append(true).open(path).unwrap();
    f.set_modified(SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
}

/// Started on an existing log and stopped before any new line; 1,000 lines appended while
/// down are all counted after the restart. Then a quiet file after some lines: the last
/// offsets are acknowledged on the timer, not only with the next batch.
fn quiet_file(how: Stop) {
    let mut s = Scenario::new();
    s.write_uncounted("app.log", 500);
    let mut k = s.start();
    stop(&mut k, how);
    s.write("app.log", 1000);
    let mut k = s.start();
    s.expect_exact(&k);
    // Quiet for a few checkpoint intervals after the last batch, then stopped.
    std::thread::sleep(Duration::from_millis(400));
    stop(&mut k, how);
    s.write("app.log", 1000);
    let k = s.start();
    s.expect_exact(&k);
}

#[test]
fn quiet_file_then_kill9_then_append_then_restart() {
    quiet_file(Stop::Kill9);
}

#[test]
fn quiet_file_then_sigterm_then_append_then_restart() {
    quiet_file(Stop::Term);
}

/// `rotations` rotations while kpid is down, with lines written to every file, old rotated
/// files (an hour old) beside the log that must not be read.
fn rotations_while_down(rotations: usize, how: Stop) {
    let mut s = Scenario::new();
    for i in 1..=2 {
        let old = format!("app.log.{i}");
        s.write_uncounted(&old, 50);
        age(&s.path(&old));
    }
    append(&s.path("app.log"), "");
    let mut k = s.start();
    s.write("app.log", 200);
    s.expect_exact(&k);
    s.write("app.log", 100);
    std::thread::sleep(Duration::from_millis(50));
    stop(&mut k, how);
    s.write("app.log", 100);
    for _ in 0..rotations {
        s.rotate();
        s.write("app.log", 300);
    }
    let k = s.start();
    s.expect_exact(&k);
    let health = k.json("/api/health");
    assert_eq!(health["status"], "ok", "{health}");
}

#[test]
fn two_rotations_while_down_kill9() {
    rotations_while_down(2, Stop::Kill9);
}

#[test]
fn three_rotations_while_down_sigterm() {
    rotations_while_down(3, Stop::Term);
}

#[test]
fn three_rotations_while_down_kill9() {
    rotations_while_down(3, Stop::Kill9);
}

/// A rotated file compressed while down cannot be read: it is counted as a missed file and
/// health says so.
#[test]
fn compressed_rotation_while_down_is_counted() {
    let mut s = Scenario::new();
    append(&s.path("app.log"), "");
    let mut k = s.start();
    s.write("app.log", 100);
    s.expect_exact(&k);
    stop(&mut k, Stop::Kill9);
    s.rotate();
    s.write("app.log", 100);
    s.rotate();
    // The middle file, compressed (here only renamed: its content is never read).
    fs::rename(s.path("app.log.1"), s.path("app.log.1.gz")).unwrap();
    s.count -= 100;
    s.sum -= (101..=200).sum::<u64>();
    s.write("app.log", 100);
    let k = s.start();
    s.expect_exact(&k);
    let health = k.json("/api/health");
    assert_eq!(health["sources"][0]["missed_files"], 1, "{health}");
    assert_eq!(health["status"], "warn", "{health}");
    let (_, metrics) = k.get("/metrics");
    assert!(
        metrics.contains("kpid_source_missed_files_total{source=\"app\",path=\"app.log\"} 1"),
        "{metrics}"
    );
}
