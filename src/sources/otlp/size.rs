//! What a logs or metrics export will take once decoded into `prost` messages, known before
//! decoding it: the receiver charges that to its memory budget first, so that a body of many
//! tiny items (an empty log record is 2 bytes on the wire and a `LogRecord` far more in
//! memory) is refused with 429 instead of growing memory past the budget.
//!
//! Protobuf bodies are walked along the messages' shapes: every repeated message counts its
//! struct's size, twice (a vector grows by doubling), every packed varint 8 bytes, twice,
//! and every string or byte run its length and an allocation's overhead. A JSON body is
//! bounded by its objects: each can become at most one struct of the largest kind.

use super::proto::{KeyValue, LogRecord, ResourceLogs, ScopeLogs, Span};
use super::proto_metrics::{
    ExponentialHistogramDataPoint, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics,
    ScopeMetrics, SummaryDataPoint, ValueAtQuantile,
};
use super::wire::{Rd, WireError, DEPTH, LEN};
use super::Signal;
use std::mem::size_of;

/// A field of a message kpid decodes, and what it holds.
enum Field {
    /// Repeated: each is a struct of this size, of this shape.
    Each(usize, &'static [(u32, Field)]),
    /// One message inside its parent's struct, of this shape.
    Inline(&'static [(u32, Field)]),
    /// Repeated varints (packed or not): 8 bytes each.
    Varints,
}

use Field::*;

/// Attributes under `tag`.
const fn attrs(tag: u32) -> (u32, Field) {
    (tag, Each(size_of::<KeyValue>(), &[]))
}

const RESOURCE: &[(u32, Field)] = &[attrs(1)];

const LOGS: &[(u32, Field)] = &[(
    1,
    Each(
        size_of::<ResourceLogs>(),
        &[
            (1, Inline(RESOURCE)),
            (
                2,
                Each(
                    size_of::<ScopeLogs>(),
                    &[(2, Each(size_of::<LogRecord>(), &[attrs(6)]))],
                ),
            ),
        ],
    ),
)];

const NUMBER: Field = Each(size_of::<NumberDataPoint>(), &[attrs(7)]);
const BUCKETS: &[(u32, Field)] = &[(2, Varints)];

const METRIC: &[(u32, Field)] = &[
    (5, Inline(&[(1, NUMBER)])),
    (7, Inline(&[(1, NUMBER)])),
    (
        9,
        Inline(&[(1, Each(size_of::<HistogramDataPoint>(), &[attrs(9)]))]),
    ),
    (
        10,
        Inline(&[(
            1,
            Each(
                size_of::<ExponentialHistogramDataPoint>(),
                &[attrs(1), (8, Inline(BUCKETS)), (9, Inline(BUCKETS))],
            ),
        )]),
    ),
    (
        11,
        Inline(&[(
            1,
            Each(
                size_of::<SummaryDataPoint>(),
                &[attrs(7), (6, Each(size_of::<ValueAtQuantile>(), &[]))],
            ),
        )]),
    ),
];

const METRICS: &[(u32, Field)] = &[(
    1,
    Each(
        size_of::<ResourceMetrics>(),
        &[
            (1, Inline(RESOURCE)),
            (
                2,
                Each(
                    size_of::<ScopeMetrics>(),
                    &[(2, Each(size_of::<Metric>(), METRIC))],
                ),
            ),
        ],
    ),
)];

/// Heap overhead counted for each string, byte run or vector (an allocation's header and
/// rounding).
const ALLOC: usize = 32;

/// The largest struct a JSON object may become.
const LARGEST: usize = {
    let sizes = [
        size_of::<Span>(),
        size_of::<LogRecord>(),
        size_of::<Metric>(),
        size_of::<HistogramDataPoint>(),
        size_of::<ExponentialHistogramDataPoint>(),
        size_of::<SummaryDataPoint>(),
        size_of::<NumberDataPoint>(),
        size_of::<ResourceMetrics>(),
        size_of::<ResourceLogs>(),
        size_of::<KeyValue>(),
    ];
    let mut max = 0;
    let mut i = 0;
    while i < sizes.len() {
        if sizes[i] > max {
            max = sizes[i];
        }
        i += 1;
    }
    max
};

fn walk(
    mut rd: Rd<'_>,
    shape: &[(u32, Field)],
    left: u32,
    total: &mut usize,
) -> Result<(), WireError> {
    while let Some((tag, wt)) = rd.key()? {
        let field = shape.iter().find(|(t, _)| *t == tag).map(|(_, f)| f);
        match (field, wt) {
            (Some(Each(size, sub)), LEN) => {
                *total += 2 * size;
                walk(rd.message(wt, left, rd.what)?, sub, left - 1, total)?;
            }
            (Some(Inline(sub)), LEN) => walk(rd.message(wt, left, rd.what)?, sub, left - 1, total)?,
            (Some(Varints), LEN) => {
                let run = rd.bytes(wt, "varints")?.of(rd.b);
                *total += 16 * run.iter().filter(|b| **b < 0x80).count() + ALLOC;
            }
            (Some(Varints), _) => {
                rd.skip(tag, wt, left)?;
                *total += 16;
            }
            (_, LEN) => {
                let n = rd.bytes(wt, "field")?.len as usize;
                if n > 0 {
                    *total += n + ALLOC;
                }
            }
            _ => rd.skip(tag, wt, left)?,
        }
    }
    Ok(())
}

/// Bytes a logs or metrics body (protobuf) takes once decoded, at most; 0 for traces, which
/// are decoded in place and charged as they are. Refused when the body is no protobuf.
pub fn protobuf(signal: Signal, body: &[u8]) -> Result<usize, WireError> {
    let shape = match signal {
        Signal::Traces => return Ok(0),
        Signal::Logs => LOGS,
        Signal::Metrics => METRICS,
    };
    // Repeated scalars not packed (8 bytes from 9 on the wire, vectors doubling) are within
    // twice the body.
    let mut total = 2 * body.len();
    walk(Rd::new(body, "request"), shape, DEPTH, &mut total)?;
    Ok(total)
}

/// Bytes a JSON body takes once decoded, at most: each object a struct of the largest kind
/// (twice, for vectors' growth), each string its length and an allocation.
pub fn json(body: &[u8]) -> usize {
    let objects = body.iter().filter(|b| **b == b'{').count();
    let quotes = body.iter().filter(|b| **b == b'"').count();
    2 * objects * LARGEST + body.len() + quotes / 2 * ALLOC
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::otlp::proto::{any_value::Value as V, AnyValue, Resource, ScopeLogs};
    use crate::sources::otlp::proto::{ExportLogsServiceRequest, InstrumentationScope};
    use crate::sources::otlp::proto_metrics::{metric::Data, *};
    use prost::Message;
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    /// Counts the bytes this thread holds, so a test can see what decoding took.
    struct Counting;

    thread_local! {
        static LIVE: Cell<isize> = const { Cell::new(0) };
    }

    // SAFETY: every call is forwarded to the system allocator as it came.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, l: Layout) -> *mut u8 {
            LIVE.with(|c| c.set(c.get() + l.size() as isize));
            // SAFETY: the caller's layout, as `GlobalAlloc::alloc` requires.
            unsafe { System.alloc(l) }
        }

        unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
            LIVE.with(|c| c.set(c.get() - l.size() as isize));
            // SAFETY: `p` came from `alloc` with this layout.
            unsafe { System.dealloc(p, l) }
        }
    }

    #[global_allocator]
    static ALLOC: Counting = Counting;

    /// What decoding `body` as a `M` holds, and the estimate: the estimate is never below.
    fn check<M: Message + Default>(signal: Signal, body: &[u8]) -> (usize, usize) {
        let est = protobuf(signal, body).unwrap();
        let before = LIVE.with(|c| c.get());
        let m = M::decode(body).unwrap();
        let held = (LIVE.with(|c| c.get()) - before) as usize;
        drop(m);
        assert!(est >= held, "{signal:?}: estimate {est} < {held} held");
        (held, est)
    }

    fn kv(k: &str, v: V) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: Some(AnyValue { value: Some(v) }),
        }
    }

    fn logs(records: Vec<LogRecord>) -> Vec<u8> {
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(Resource {
                    attributes: vec![kv("service.name", V::StringValue("api".into()))],
                }),
                scope_logs: vec![ScopeLogs {
                    scope: Some(InstrumentationScope { name: "app".into() }),
                    log_records: records,
                }],
            }],
        }
        .encode_to_vec()
    }

    fn metrics(data: Vec<Data>) -> Vec<u8> {
        let metrics = data
            .into_iter()
            .map(|d| Metric {
                name: "m".into(),
                data: Some(d),
                ..Default::default()
            })
            .collect();
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: None,
                scope_metrics: vec![ScopeMetrics { metrics }],
            }],
        }
        .encode_to_vec()
    }

    #[test]
    fn the_estimate_bounds_what_decoding_holds() {
        // An SDK's records, and empty ones (2 bytes each on the wire).
        let real = (0..512)
            .map(|i| LogRecord {
                severity_number: 9,
                body: Some(AnyValue {
                    value: Some(V::StringValue(format!("request {i} done"))),
                }),
                attributes: vec![
                    kv("latency_ms", V::DoubleValue(1.5)),
                    kv("route", V::StringValue("/v1/infer".into())),
                ],
                time_unix_nano: 1,
                ..Default::default()
            })
            .collect();
        let (held, est) = check::<ExportLogsServiceRequest>(Signal::Logs, &logs(real));
        assert!(est < 8 * held, "{est} for {held}: too pessimistic");
        let empty = vec![LogRecord::default(); 100_000];
        check::<ExportLogsServiceRequest>(Signal::Logs, &logs(empty));
        let many_attrs = vec![LogRecord {
            attributes: vec![KeyValue::default(); 50_000],
            ..Default::default()
        }];
        check::<ExportLogsServiceRequest>(Signal::Logs, &logs(many_attrs));

        let point = NumberDataPoint::default();
        let hist = HistogramDataPoint {
            bucket_counts: vec![1; 200],
            explicit_bounds: vec![1.0; 199],
            ..Default::default()
        };
        let exp = ExponentialHistogramDataPoint {
            positive: Some(Buckets {
                offset: 0,
                bucket_counts: vec![1; 20_000],
            }),
            ..Default::default()
        };
        let summary = SummaryDataPoint {
            quantile_values: vec![ValueAtQuantile::default(); 1000],
            ..Default::default()
        };
        let body = metrics(vec![
            Data::Gauge(Gauge {
                data_points: vec![point.clone(); 50_000],
            }),
            Data::Sum(Sum {
                data_points: vec![point; 10],
                ..Default::default()
            }),
            Data::Histogram(Histogram {
                data_points: vec![hist; 100],
                ..Default::default()
            }),
            Data::ExponentialHistogram(ExponentialHistogram {
                data_points: vec![exp],
                ..Default::default()
            }),
            Data::Summary(Summary {
                data_points: vec![summary],
            }),
        ]);
        check::<ExportMetricsServiceRequest>(Signal::Metrics, &body);
    }

    #[test]
    fn a_json_body_is_bounded_by_its_objects() {
        let body = format!(
            r#"{{"resourceLogs":[{{"scopeLogs":[{{"logRecords":[{}]}}]}}]}}"#,
            vec!["{}"; 50_000].join(",")
        );
        let before = LIVE.with(|c| c.get());
        let m: ExportLogsServiceRequest = serde_json::from_str(&body).unwrap();
        let held = (LIVE.with(|c| c.get()) - before) as usize;
        drop(m);
        assert!(json(body.as_bytes()) >= held);
        assert!(protobuf(Signal::Logs, &[0x0a, 0x05]).is_err(), "truncated");
    }
}
