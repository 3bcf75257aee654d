//! Daemon-side ingest of spans over OTLP/HTTP through the real `kpid` binary (release build):
//! `CLIENTS` threads (default 2) each keep one HTTP/1.1 connection and POST pre-encoded
//! `ExportTraceServiceRequest`s of 512 spans (the SDKs' default batch: 8 span names, 2
//! attributes each, one resource) to `/v1/traces` as fast as kpid answers, for `SECS` seconds
//! (default 10); the rate is spans applied to the store (`/api/health` → `otlp.spans`) over
//! the time until all were applied. Run once with protobuf bodies and once gzipped.
//!
//! Run: `cargo bench --bench otlp_ingest` (env `SECS`, `CLIENTS`).

use kpid::sources::otlp::proto::*;
use prost::Message;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

#[path = "../common/daemon.rs"]
mod daemon;

fn otlp_stats(port: u16) -> serde_json::Value {
    daemon::health(port, "otlp")
}

fn kv(key: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(v) }),
    }
}

/// One export of `n` spans, as an SDK's batch processor sends it.
fn request(n: usize) -> Vec<u8> {
    let names = daemon::SPAN_NAMES;
    let spans = (0..n)
        .map(|i| Span {
            trace_id: (i as u128 / 8).to_be_bytes().to_vec(),
            span_id: (i as u64 + 1).to_be_bytes().to_vec(),
            parent_span_id: if i % 8 == 0 {
                Vec::new()
            } else {
                (i as u64 - i as u64 % 8 + 1).to_be_bytes().to_vec()
            },
            name: names[i % names.len()].into(),
            kind: 1,
            start_time_unix_nano: 1_700_000_000_000_000_000 + i as u64,
            end_time_unix_nano: 1_700_000_000_001_000_000 + i as u64 * 1000,
            attributes: vec![
                kv("frame", any_value::Value::IntValue(i as i64)),
                kv("model", any_value::Value::StringValue("yolo".into())),
            ],
            status: (i % 100 == 0).then(|| Status {
                message: "bad".into(),
                code: STATUS_CODE_ERROR,
            }),
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv(
                    "service.name",
                    any_value::Value::StringValue("bench".into()),
                )],
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "bench".into(),
                }),
                spans,
            }],
        }],
    }
    .encode_to_vec()
}

/// POSTs `body` on a kept-alive connection; returns the status.
fn post(s: &mut BufReader<TcpStream>, request: &[u8]) -> u16 {
    s.get_mut().write_all(request).unwrap();
    let mut status = 0;
    let mut len = 0usize;
    let mut line = String::new();
    loop {
        line.clear();
        s.read_line(&mut line).unwrap();
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some(code) = l.strip_prefix("HTTP/1.1 ") {
            status = code[..3].parse().unwrap();
        } else if let Some((k, v)) = l.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().unwrap();
            }
        }
    }
    let mut sink = vec![0u8; len];
    s.read_exact(&mut sink).unwrap();
    status
}

fn run(dir: &std::path::Path, secs: u64, clients: usize, gzip: bool) {
    let k = daemon::start(dir, &["--no-socket", "--otlp", "127.0.0.1:0"]);
    let port: u16 = otlp_stats(k.port)["listen"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let per = 512u64;
    let mut body = request(per as usize);
    let raw_len = body.len();
    if gzip {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&body).unwrap();
        body = e.finish().unwrap();
    }
    let head = format!(
        "POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/x-protobuf\r\n{}Content-Length: {}\r\n\r\n",
        if gzip { "Content-Encoding: gzip\r\n" } else { "" },
        body.len()
    );
    let t0 = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let mut request = head.clone().into_bytes();
            request.extend_from_slice(&body);
            std::thread::spawn(move || {
                let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
                stream.set_nodelay(true).unwrap();
                let mut s = BufReader::new(stream);
                let (mut sent, mut refused) = (0u64, 0u64);
                while t0.elapsed() < Duration::from_secs(secs) {
                    match post(&mut s, &request) {
                        200 => sent += per,
                        _ => refused += 1,
                    }
                }
                (sent, refused)
            })
        })
        .collect();
    let (mut sent, mut refused) = (0, 0);
    for t in threads {
        let (s, r) = t.join().unwrap();
        sent += s;
        refused += r;
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while otlp_stats(k.port)["spans"].as_u64().unwrap_or(0) < sent {
        assert!(
            Instant::now() < deadline,
            "never applied: {}",
            otlp_stats(k.port)
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let el = t0.elapsed().as_secs_f64();
    let st = otlp_stats(k.port);
    println!(
        "otlp/http {}: {clients} clients, {sent} spans ({per}/request, {} B/span on the wire, {} B/span inflated) applied in {el:.2} s = {:.0} spans/s; \
         {refused} requests refused (429/503), rejected {}",
        if gzip { "protobuf+gzip" } else { "protobuf" },
        body.len() as u64 / per,
        raw_len as u64 / per,
        sent as f64 / el,
        st["rejected_total"]
    );
}

fn main() {
    let secs = std::env::var("SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let clients = std::env::var("CLIENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let dir = tempfile::tempdir().unwrap();
    run(dir.path(), secs, clients, false);
    run(dir.path(), secs, clients, true);
}
