//! What the trace sample costs per span, in-process: [`kpid::traces::Sampler`] fed as the
//! engine feeds it (a request's children first, then its roots) with exports of 512 spans:
//! 64 traces of a root and 7 children, fresh trace ids every export, durations spread so that
//! a new slowest comes now and then, 1 root in 200 failed; a publication every 20 exports.
//! Prints ns per span and how many traces were kept, given up and let go.
//!
//! Run: `cargo bench --bench trace_sample` (env `SECS`, default 5).

use kpid::sources::otlp::proto::{AnyValue, KeyValue, Span, Status, STATUS_CODE_ERROR};
use kpid::sources::otlp::spans::Traces;
use kpid::traces::Sampler;
use std::sync::Arc;
use std::time::Instant;

const NAMES: [&str; 8] = [
    "frame", "decode", "resize", "infer", "nms", "track", "encode", "send",
];

fn attr(key: &str, v: kpid::sources::otlp::proto::any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(v) }),
    }
}

/// Export `k`: 64 traces × 8 spans (span 0 of each is the root).
fn export(k: u64) -> Vec<Span> {
    use kpid::sources::otlp::proto::any_value::Value as V;
    let mut out = Vec::with_capacity(512);
    for t in 0..64u64 {
        let trace = ((k * 64 + t) as u128).to_be_bytes().to_vec();
        // A pseudo-random duration in 1..=100 ms (spans end inside it).
        let ms = 1 + (k.wrapping_mul(2654435761) ^ t.wrapping_mul(40503)) % 100;
        let t0 = 1_700_000_000_000_000_000 + (k * 64 + t) * 1_000_000;
        for s in 0..8u64 {
            out.push(Span {
                trace_id: trace.clone(),
                span_id: (s + 1).to_be_bytes().to_vec(),
                parent_span_id: if s == 0 {
                    vec![]
                } else {
                    1u64.to_be_bytes().to_vec()
                },
                name: NAMES[s as usize].into(),
                kind: 1,
                start_time_unix_nano: t0 + s * 10_000,
                end_time_unix_nano: t0 + ms * 1_000_000 - s * 10_000,
                attributes: vec![
                    attr("frame", V::IntValue((k * 64 + t) as i64)),
                    attr("model", V::StringValue("yolo".into())),
                ],
                status: ((k * 64 + t) % 200 == 0 && s == 0).then(|| Status {
                    message: "bad".into(),
                    code: STATUS_CODE_ERROR,
                }),
            });
        }
    }
    out
}

fn main() {
    let secs: f64 = std::env::var("SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5.0);
    // Exports made beforehand: only the sampler is timed.
    let exports: Vec<Traces> = (0..2000).map(|k| Traces::from_spans(export(k))).collect();
    let app: Arc<str> = "bench".into();
    let mut sampler = Sampler::default();
    let (mut spans, mut n) = (0u64, 0usize);
    let start = Instant::now();
    let mut last = None;
    while start.elapsed().as_secs_f64() < secs {
        let batch = &exports[n % exports.len()];
        let now = 1_700_000_000.0 + n as f64 * 0.01;
        for s in batch.spans().filter(|s| !s.parent_span_id().is_empty()) {
            sampler.child(&s, now);
        }
        for s in batch.spans().filter(|s| s.parent_span_id().is_empty()) {
            sampler.root(&app, &s);
        }
        spans += batch.len() as u64;
        n += 1;
        if n % 20 == 0 {
            last = sampler.publish(now).or(last);
        }
    }
    let el = start.elapsed().as_secs_f64();
    let st = last.map(|v| v.stats).unwrap_or_default();
    println!(
        "trace sample: {spans} spans in {el:.2} s: {:.0} ns/span ({:.2} M spans/s); kept {} now, {} sampled, {} not sampled, {} given up",
        el * 1e9 / spans as f64,
        spans as f64 / el / 1e6,
        st.kept,
        st.sampled,
        st.not_sampled,
        st.pending_evicted + st.pending_expired
    );
}
