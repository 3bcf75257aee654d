//! The OTLP/HTTP receiver under hostile input, against the built binary: truncated
//! protobuf, a gzip bomb, an oversized body, a wrong content type or encoding, a wrong
//! method, path or Host, a body of tiny spans past the memory budget once decoded are each
//! refused with the status the specification gives, counted
//! by reason in `/api/health`, and the daemon keeps every other KPI. A port already taken is
//! reported in health and the daemon goes on.

mod common;
mod otlp_support;

use common::{append, Kpid};
use otlp_support::*;

const PB: &str = "Content-Type: application/x-protobuf\r\n";

#[test]
fn hostile_bodies_are_refused_counted_and_the_rest_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    append(&log, "");
    std::fs::write(
        dir.path().join("k.toml"),
        "[otlp]\nmax_body = 262144\nmemory_budget = 1048576\n[[source]]\nname = \"app\"\npath = \"app.log\"\n",
    )
    .unwrap();
    let k = Kpid::start(
        dir.path(),
        &["--no-state", "--no-socket", "--config", "k.toml"],
    );
    let port = otlp_port(&k);
    let good = trace_request("good", "op", 10, 0);

    // Truncated protobuf: 400 with a google.rpc.Status.
    let (s, a) = post(port, "/v1/traces", PB, &good[..good.len() - 3]);
    assert_eq!(s, 400, "{a}");
    // A gzip bomb: 64 MiB of zeros in about 64 KiB, refused as it inflates past 256 KiB.
    let bomb = gzip(&vec![0u8; 64 << 20]);
    assert!(bomb.len() < 256 << 10);
    let (s, a) = post(
        port,
        "/v1/traces",
        "Content-Type: application/x-protobuf\r\nContent-Encoding: gzip\r\n",
        &bomb,
    );
    assert_eq!(s, 413, "{a}");
    // Broken gzip: 400.
    let (s, a) = post(
        port,
        "/v1/logs",
        "Content-Type: application/x-protobuf\r\nContent-Encoding: gzip\r\n",
        b"\x1f\x8b not really",
    );
    assert_eq!(s, 400, "{a}");
    // An oversized body, announced (refused before it is read) and chunked (while read).
    let head = format!(
        "POST /v1/metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{PB}Content-Length: {}\r\n\r\n",
        300 << 10
    );
    let (s, a) = common::http_raw(port, head.as_bytes());
    assert_eq!(s, 413, "{a}");
    let mut chunked = format!(
        "POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{PB}Transfer-Encoding: chunked\r\n\r\n"
    )
    .into_bytes();
    for _ in 0..40 {
        chunked.extend_from_slice(format!("{:x}\r\n", 8192).as_bytes());
        chunked.extend_from_slice(&[0u8; 8192]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let (s, a) = common::http_raw(port, &chunked);
    assert_eq!(s, 413, "{a}");
    // 100,000 empty spans in 200 KiB: valid protobuf whose decoded tables would pass the
    // whole 1 MiB memory budget; refused as they grow (413: it would never fit). Regression:
    // before, 4 such bodies of log records at once took 822 MB with a 64 MiB budget.
    let mut scope = Vec::new();
    for _ in 0..100_000 {
        scope.extend_from_slice(&[0x12, 0x00]);
    }
    let tiny = [0x0a, 0x00].repeat(16);
    let nest = |tag: u8, inner: &[u8]| {
        let mut v = vec![tag];
        let mut n = inner.len();
        while n >= 0x80 {
            v.push((n as u8) | 0x80);
            n >>= 7;
        }
        v.push(n as u8);
        v.extend_from_slice(inner);
        v
    };
    let body = [nest(0x0a, &nest(0x12, &scope)), tiny].concat();
    let (s, a) = post(port, "/v1/traces", PB, &body);
    assert_eq!(s, 413, "{a}");
    assert!(a.contains("memory_budget"), "{a}");
    // The same with log records (a `LogRecord` is far larger than its 2 bytes): refused
    // before it is decoded, from the records' count.
    let body = nest(0x0a, &nest(0x12, &scope));
    let (s, a) = post(port, "/v1/logs", PB, &body);
    assert_eq!(s, 413, "{a}");
    // Wrong content type, encoding, method, path, Host.
    let (s, a) = post(port, "/v1/traces", "Content-Type: text/plain\r\n", &good);
    assert_eq!(s, 415, "{a}");
    let (s, a) = post(
        port,
        "/v1/traces",
        "Content-Type: application/x-protobuf\r\nContent-Encoding: br\r\n",
        &good,
    );
    assert_eq!(s, 415, "{a}");
    let (s, a) = common::http_get(port, "/v1/traces");
    assert_eq!(s, 405, "{a}");
    let (s, a) = post(port, "/v2/spans", PB, &good);
    assert_eq!(s, 404, "{a}");
    let raw = [
        b"POST /v1/traces HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n".as_slice(),
    ]
    .concat();
    let (s, a) = common::http_raw(port, &raw);
    assert_eq!(s, 421, "{a}");

    // Meanwhile, and after, everything else works: a good export and the log file.
    let (s, a) = post(port, "/v1/traces", PB, &good);
    assert_eq!(s, 200, "{a}");
    append(&log, "level=info msg=hi\nlevel=error msg=oops\n");
    expect(&k, r#"span_total{app="good",span="op"}"#, 10.0);
    expect(&k, r#"log_lines_total{level="error",source="app"}"#, 1.0);

    let h = k.json("/api/health");
    let r = &h["otlp"]["rejected"];
    assert_eq!(r["malformed"], 2, "{h}");
    assert_eq!(r["too_large"], 5, "{h}");
    assert_eq!(r["unsupported_media_type"], 2, "{h}");
    assert_eq!(r["method"], 1, "{h}");
    assert_eq!(r["not_found"], 1, "{h}");
    assert_eq!(r["host"], 1, "{h}");
    assert_eq!(h["otlp"]["rejected_total"], 12, "{h}");
    assert_eq!(h["otlp"]["spans"], 10, "{h}");
    assert_eq!(h["otlp"]["in_flight_bytes"], 0, "{h}");
    assert!(h["otlp"]["last_error"].is_string(), "{h}");
    assert_eq!(h["status"], "warn", "refusals show: {h}");
}

#[test]
fn a_taken_port_is_reported_in_health_and_the_daemon_goes_on() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("a.log");
    append(&log, "");
    let k = Kpid::start(
        dir.path(),
        &[
            "--no-state",
            "--no-socket",
            "--otlp",
            &addr,
            "--log",
            "a.log",
        ],
    );
    let h = k.json("/api/health");
    assert_eq!(h["otlp"]["state"], "error", "{h}");
    let err = h["otlp"]["error"].as_str().unwrap();
    assert!(err.contains(&addr) && err.contains("in use"), "{err}");
    assert_eq!(h["status"], "warn", "{h}");
    append(&log, "level=info msg=still here\n");
    expect(&k, r#"log_lines_total{level="info",source="a"}"#, 1.0);
    drop(taken);
}

#[test]
fn no_otlp_opens_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let k = Kpid::start(dir.path(), &["--no-state", "--no-socket", "--no-otlp"]);
    let h = k.json("/api/health");
    assert!(h.get("otlp").is_none(), "{h}");
    let (_, metrics) = k.get("/metrics");
    assert!(!metrics.contains("kpid_otlp_"), "{metrics}");
}
