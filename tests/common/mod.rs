//! Shared helpers for tests against the built `kpid` binary: start it on a free port, wait
//! for it, speak plain HTTP/1.0 to it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running kpid, killed on drop.
pub struct Kpid {
    pub child: Child,
    pub port: u16,
    /// What kpid printed at start after its address (the dashboard link with the token).
    pub banner: String,
}

impl Kpid {
    /// Starts `kpid ARGS --port 0` in `cwd` and waits until it prints its address. Unless
    /// `ARGS` name an OTLP address (or none), the OTLP receiver takes a free port: tests
    /// running at once do not compete for 4318.
    pub fn start(cwd: &Path, args: &[&str]) -> Kpid {
        let otlp_named = args
            .iter()
            .any(|a| a.starts_with("--otlp") || *a == "--no-otlp");
        let otlp: &[&str] = if otlp_named {
            &[]
        } else {
            &["--otlp", "127.0.0.1:0"]
        };
        let mut child = Command::new(env!("CARGO_BIN_EXE_kpid"))
            .args(args)
            .args(otlp)
            .args(["--port", "0"])
            .current_dir(cwd)
            .env("KPID_LOG", "kpid=debug,warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn kpid");
        let out = child.stdout.take().unwrap();
        let mut line = String::new();
        let mut out = BufReader::new(out);
        out.read_line(&mut line).expect("read kpid's first line");
        // kpid prints its address and the token link in one write.
        let mut banner = String::new();
        if !out.buffer().is_empty() {
            let _ = out.read_line(&mut banner);
        }
        let port = line
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.trim_end_matches('/').parse().ok())
            .unwrap_or_else(|| panic!("kpid did not print its address, got {line:?}"));
        Kpid {
            child,
            port,
            banner,
        }
    }

    pub fn get(&self, path: &str) -> (u16, String) {
        http_get(self.port, path)
    }

    pub fn json(&self, path: &str) -> serde_json::Value {
        let (status, body) = self.get(path);
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    /// The latest view of one KPI id, if present.
    pub fn latest(&self, id: &str) -> Option<serde_json::Value> {
        let v = self.json("/api/metrics/latest");
        v["kpis"]
            .as_array()?
            .iter()
            .find(|k| k["id"] == id)
            .cloned()
    }

    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn terminate(&mut self) {
        unsafe_kill(self.child.id(), 15);
        let _ = self.child.wait();
    }
}

impl Drop for Kpid {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unsafe_kill(pid: u32, sig: i32) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status();
}

/// Sends `raw` as is and reads until the server closes; returns status (0 if none) and the
/// whole answer.
pub fn http_raw(port: u16, raw: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.write_all(raw);
    let mut got = Vec::new();
    let _ = s.read_to_end(&mut got);
    let text = String::from_utf8_lossy(&got).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// GET over HTTP/1.0; returns status and body.
pub fn http_get(port: u16, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, body.to_owned())
}

/// Polls `f` until it returns Some, or panics after `secs` seconds with `what`.
pub fn wait_for<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {secs}s waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Appends lines to a file.
pub fn append(path: &Path, lines: &str) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(lines.as_bytes()).unwrap();
}

/// Polls `f` until it is true or `secs` pass; returns whether it became true.
pub fn try_wait(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

/// `promtool check metrics` (lint included) must pass on `body`.
pub fn promtool_check(body: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect(
            "promtool must be installed (Debian package `prometheus`; scripts/deps.sh installs it)",
        );
    child
        .stdin
        .take()
        .unwrap()
        .write_all(body.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\n---\n{body}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A config that follows `a.log` (source `a`, logfmt) and publishes and evaluates alerts every
/// 200 ms: the start of the alert and reload tests' configs.
pub const FOLLOW_A: &str = r#"[server]
interval = "200ms"

[alerts]
interval = "200ms"

[[source]]
name = "a"
path = "a.log"
parser = "logfmt"
"#;

/// A temporary directory holding an empty `a.log` and `k.toml`: [`FOLLOW_A`] then `extra`.
/// Returns it and the log's path.
pub fn follow_a(extra: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("a.log");
    append(&log, "");
    std::fs::write(dir.path().join("k.toml"), format!("{FOLLOW_A}{extra}")).unwrap();
    (dir, log)
}

/// Runs `kpid --one-shot ARGS` in `cwd`; its stdout (the Prometheus exposition) when it
/// succeeded, else panics with its stderr.
pub fn one_shot(cwd: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_kpid"))
        .current_dir(cwd)
        .arg("--one-shot")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kpid --one-shot {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
