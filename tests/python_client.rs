//! The stdlib-only Python client (clients/python/kpid_client.py) against the real daemon.

mod socket_support;

use socket_support::*;
use std::path::Path;
use std::process::Command;

/// Runs `script` with python3, the client importable and `KPID_SOCKET` set; returns stdout.
fn python(script: &str, socket: &Path) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .env(
            "PYTHONPATH",
            concat!(env!("CARGO_MANIFEST_DIR"), "/clients/python"),
        )
        .env("KPID_SOCKET", socket)
        .output()
        .expect("python3 runs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "python failed:\n{stdout}\n{stderr}");
    stdout.into_owned()
}

const APP: &str = r#"
import json, logging, kpid_client
c = kpid_client.Client(app="py")
log = logging.getLogger("pyapp")
log.setLevel(logging.DEBUG)
log.addHandler(kpid_client.KpidHandler(c))

@c.traced("infer")
def infer(i):
    if i % 10 == 0:
        raise ValueError("bad frame %d" % i)
    return i

@c.traced
def post(i):
    if i % 25 == 0:
        log.error("post failed", extra={"counter.post_failures": 1})

for i in range(500):
    with c.span("frame", n=i, ratio=0.5, tag="x", neg=-3, ok=True):
        try:
            infer(i)
        except ValueError:
            pass
        post(i)
    log.info("frame done", extra={"gauge.queue_depth": i % 7, "histogram.batch": 4})
    c.counter("requests_total", 2, route="/a")
    c.histogram("latency_seconds", 0.001 * i)
c.gauge("inflight", 9)
log.debug("bye")
assert c.flush(10.0)
print(json.dumps(c.stats()))
"#;

#[test]
fn python_client_spans_events_metrics_are_exact() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kpid.sock");
    let d = Daemon::start(&path);
    let out = python(APP, &path);
    let stats: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(
        stats["dropped"],
        serde_json::json!([0, 0, 0, 0, 0]),
        "{stats}"
    );
    expect_total(&d, r#"span_total{app="py",span="frame"}"#, 500.0, 20);
    expect_total(&d, r#"span_total{app="py",span="infer"}"#, 500.0, 5);
    expect_total(&d, r#"span_errors_total{app="py",span="infer"}"#, 50.0, 5);
    expect_total(&d, r#"span_errors_total{app="py",span="post"}"#, 20.0, 5);
    expect_total(&d, r#"span_errors_total{app="py",span="frame"}"#, 0.0, 5);
    expect_total(
        &d,
        r#"span_duration_seconds{app="py",span="frame"}"#,
        500.0,
        5,
    );
    expect_total(&d, r#"events_total{app="py",level="info"}"#, 500.0, 5);
    expect_total(&d, r#"events_total{app="py",level="error"}"#, 20.0, 5);
    expect_total(&d, r#"events_total{app="py",level="debug"}"#, 1.0, 5);
    expect_total(&d, r#"post_failures_total{app="py"}"#, 20.0, 5);
    expect_total(&d, r#"batch{app="py"}"#, 500.0, 5);
    expect_total(&d, r#"requests_total{app="py",route="/a"}"#, 1000.0, 5);
    expect_total(&d, r#"latency_seconds{app="py"}"#, 500.0, 5);
    let g = d.latest(r#"inflight{app="py"}"#).unwrap();
    assert_eq!(g["value"].as_f64(), Some(9.0));
    let g = d.latest(r#"queue_depth{app="py"}"#).unwrap();
    assert_eq!(g["value"].as_f64(), Some((499 % 7) as f64));
    let h = d.socket_health();
    assert_eq!(h["rejected_total"], 0, "{h}");
    // Spans sent once connected carry ids (protocol version 2): failed frames (an exception
    // in `infer` every 10th) are kept as traces with their waterfall.
    let list = wait_for(10, "sampled python traces", || {
        let v = d.kpid.json("/api/traces");
        (v["traces"].as_array()?.iter().any(|t| t["error"] == true)).then_some(v)
    });
    // Spans closed before the client heard the daemon's version went plain: a frame open
    // at that moment may lack its first children; every later one is whole.
    let traces = list["traces"].as_array().unwrap();
    let partial = traces.iter().filter(|t| t["spans"] != 3).count();
    assert!(partial <= 1, "{list}");
    for t in traces.iter().filter(|t| t["spans"] == 3) {
        assert_eq!((&t["app"], &t["root"]), (&"py".into(), &"frame".into()));
        let w = d
            .kpid
            .json(&format!("/api/traces/{}", t["trace_id"].as_str().unwrap()));
        let spans = w["spans"].as_array().unwrap();
        let names: Vec<_> = spans.iter().map(|s| s["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["frame", "infer", "post"], "{w}");
        assert!(
            spans[1..].iter().all(|s| s["parent"] == spans[0]["id"]),
            "{w}"
        );
        let n: u64 = spans[0]["attributes"]["n"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(spans[1]["error"], n % 10 == 0, "{w}");
        assert_eq!(t["error"], n % 10 == 0 || n % 25 == 0, "{w}");
    }
}

#[test]
fn python_client_without_daemon_drops_and_counts_then_reports_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kpid.sock");
    let script = r#"
import json, time, kpid_client
c = kpid_client.Client(app="lonely", max_backoff=0.05)
while c.stats()["connects"] == 0 and c._state == 0:
    time.sleep(0.001)
for i in range(2000):
    with c.span("work"):
        pass
print(json.dumps(c.stats()), flush=True)
import sys
sys.stdin.readline()            # the test starts the daemon now
deadline = time.time() + 10
while not c.stats()["connected"] and time.time() < deadline:
    time.sleep(0.01)
for i in range(100):
    with c.span("work"):
        pass
assert c.flush(10.0)
print(json.dumps(c.stats()), flush=True)
"#;
    use std::io::{BufRead, BufReader, Write};
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .env(
            "PYTHONPATH",
            concat!(env!("CARGO_MANIFEST_DIR"), "/clients/python"),
        )
        .env("KPID_SOCKET", &path)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let before: serde_json::Value = serde_json::from_str(line.trim()).expect("first stats");
    assert_eq!(before["dropped"][2], 2000, "{before}");
    assert_eq!(before["sent"], 0, "{before}");
    let d = Daemon::start(&path);
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    line.clear();
    out.read_line(&mut line).unwrap();
    let after: serde_json::Value = serde_json::from_str(line.trim()).expect("second stats");
    assert!(child.wait().unwrap().success());
    assert_eq!(after["sent"], 100, "{after}");
    expect_total(&d, r#"span_total{app="lonely",span="work"}"#, 100.0, 10);
    expect_total(
        &d,
        r#"app_dropped_total{app="lonely",level="info"}"#,
        2000.0,
        10,
    );
}

#[test]
fn python_client_hears_a_version_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kpid.sock");
    let _d = Daemon::start(&path);
    let out = python(
        r#"
import time, kpid_client
kpid_client.VERSION = kpid_client.MIN_VERSION = 99
c = kpid_client.Client(app="future")
deadline = time.time() + 10
while c.stats()["last_refusal"] is None and time.time() < deadline:
    time.sleep(0.01)
print(c.stats()["last_refusal"])
"#,
        &path,
    );
    assert!(
        out.contains("version 99") && out.contains("speaks versions 1 to 2"),
        "{out}"
    );
}
