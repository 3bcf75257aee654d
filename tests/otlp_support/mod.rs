//! Shared by the OTLP tests: the OpenTelemetry Python SDK in a virtual environment (made
//! on first use, as `scripts/deps.sh` does), the receiver's port, raw POSTs.
#![allow(dead_code)]

use super::common::{http_raw, Kpid};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The PyPI packages the SDK tests use (the same list as scripts/deps.sh).
pub const PACKAGES: [&str; 2] = [
    "opentelemetry-sdk",
    "opentelemetry-exporter-otlp-proto-http",
];

/// The virtual environment's python, with the OpenTelemetry SDK and its OTLP/HTTP exporter
/// installed (from PyPI, the first time).
pub fn otel_python() -> PathBuf {
    static PY: OnceLock<PathBuf> = OnceLock::new();
    PY.get_or_init(|| {
        let venv = std::env::var_os("KPID_OTEL_VENV")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("otel-venv"));
        let py = venv.join("bin/python");
        let ready = |py: &PathBuf| {
            Command::new(py)
                .args(["-c", "import opentelemetry.sdk, opentelemetry.exporter.otlp.proto.http"])
                .output()
                .is_ok_and(|o| o.status.success())
        };
        if !ready(&py) {
            let ok = Command::new("python3")
                .args(["-m", "venv"])
                .arg(&venv)
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "python3 -m venv {} failed", venv.display());
            let out = Command::new(&py)
                .args(["-m", "pip", "install", "-q"])
                .args(PACKAGES)
                .output()
                .expect("pip runs");
            assert!(
                out.status.success(),
                "pip install {PACKAGES:?} failed (PyPI must be reachable; scripts/deps.sh installs them):\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(ready(&py), "the OpenTelemetry SDK does not import after install");
        }
        py
    })
    .clone()
}

/// The OTLP receiver's port, from `/api/health`.
pub fn otlp_port(k: &Kpid) -> u16 {
    let h = k.json("/api/health");
    let listen = h["otlp"]["listen"].as_str().expect("an otlp section");
    listen.rsplit(':').next().unwrap().parse().unwrap()
}

/// POSTs `body` to `path` with these extra header lines; returns status and the answer.
pub fn post(port: u16, path: &str, headers: &str, body: &[u8]) -> (u16, String) {
    let mut raw = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n{headers}Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(body);
    http_raw(port, &raw)
}

/// gzip of `data`.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// The value of the sample `series` (`name{labels}`) on `/metrics`, if present.
pub fn sample(k: &Kpid, series: &str) -> Option<f64> {
    let (_, body) = k.get("/metrics");
    body.lines().find_map(|l| {
        l.strip_prefix(series)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

/// Waits until `series` on `/metrics` reads `want` (within a relative 1e-9).
pub fn expect(k: &Kpid, series: &str, want: f64) {
    let mut last = None;
    let ok = super::common::try_wait(20, || {
        last = sample(k, series);
        last.is_some_and(|v| (v - want).abs() <= want.abs() * 1e-9 + 1e-12)
    });
    assert!(ok, "{series}: want {want}, got {last:?}");
}

/// Waits until the span KPIs of `app`'s `span` read `total` spans, `errors` of them in
/// error, and `seconds` in all.
pub fn expect_spans(k: &Kpid, app: &str, span: &str, total: f64, errors: f64, seconds: f64) {
    let labels = format!(r#"{{app="{app}",span="{span}"}}"#);
    expect(k, &format!("span_total{labels}"), total);
    expect(k, &format!("span_errors_total{labels}"), errors);
    expect(k, &format!("span_duration_seconds_count{labels}"), total);
    if seconds >= 0.0 {
        expect(k, &format!("span_duration_seconds_sum{labels}"), seconds);
    }
}

/// A protobuf trace export of `n` spans named `name` for service `app`, each 2 ms long, every
/// `err_every`-th in error.
pub fn trace_request(app: &str, name: &str, n: usize, err_every: usize) -> Vec<u8> {
    let spans: Vec<_> = (0..n)
        .map(|i| {
            let err = err_every > 0 && i % err_every == 0;
            (u128::from_be_bytes([1; 16]), i as u64 + 1, 0, name, 2, err)
        })
        .collect();
    export(Some(app), &spans, 1_000_000_000)
}

/// A protobuf export of the spans `(trace, span, parent, name, dur_ms, error)`, all starting
/// at `now_ns` (no parent: 0), without a resource (`unknown_service`).
pub fn spans_request(spans: &[(u128, u64, u64, &str, u64, bool)], now_ns: u64) -> Vec<u8> {
    export(None, spans, now_ns)
}

fn export(app: Option<&str>, spans: &[(u128, u64, u64, &str, u64, bool)], start: u64) -> Vec<u8> {
    use kpid::sources::otlp::proto::*;
    use prost::Message;
    let spans = spans
        .iter()
        .map(|&(t, s, p, name, ms, err)| Span {
            trace_id: t.to_be_bytes().to_vec(),
            span_id: s.to_be_bytes().to_vec(),
            parent_span_id: if p == 0 {
                vec![]
            } else {
                p.to_be_bytes().to_vec()
            },
            name: name.into(),
            start_time_unix_nano: start,
            end_time_unix_nano: start + ms * 1_000_000,
            status: err.then(|| Status {
                message: "bad".into(),
                code: STATUS_CODE_ERROR,
            }),
            ..Default::default()
        })
        .collect();
    let resource = app.map(|app| Resource {
        attributes: vec![KeyValue {
            key: "service.name".into(),
            value: Some(AnyValue {
                value: Some(any_value::Value::StringValue(app.into())),
            }),
        }],
    });
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource,
            scope_spans: vec![ScopeSpans { scope: None, spans }],
        }],
    }
    .encode_to_vec()
}
