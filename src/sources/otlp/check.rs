//! Which items of a decoded request kpid leaves out, and says so in `partial_success`: a
//! span that ends before it starts, a number point without a value, a histogram whose bucket
//! counts do not match its bounds, an exponential histogram of a scale outside -10..=20, a
//! histogram of more than [`MAX_BUCKETS`] buckets. The
//! engine skips exactly these (the same predicates).

use super::proto_metrics::{
    metric::Data, ExponentialHistogramDataPoint, HistogramDataPoint, NumberDataPoint,
};
use super::spans::SpanRef;
use super::Request;

/// Most buckets of a histogram point (each side, for an exponential one).
pub const MAX_BUCKETS: usize = 512;

/// A span kpid applies.
pub fn span_ok(s: &SpanRef<'_>) -> bool {
    s.end_ns() >= s.start_ns()
}

/// A number point kpid applies.
pub fn number_ok(p: &NumberDataPoint) -> bool {
    p.value.is_some()
}

/// A histogram point kpid applies.
pub fn histogram_ok(p: &HistogramDataPoint) -> bool {
    p.bucket_counts.len() <= MAX_BUCKETS
        && (p.bucket_counts.is_empty() || p.bucket_counts.len() == p.explicit_bounds.len() + 1)
}

/// An exponential histogram point kpid applies.
pub fn exponential_ok(p: &ExponentialHistogramDataPoint) -> bool {
    let len =
        |b: &Option<super::proto_metrics::Buckets>| b.as_ref().map_or(0, |b| b.bucket_counts.len());
    (-10..=20).contains(&p.scale)
        && len(&p.positive) <= MAX_BUCKETS
        && len(&p.negative) <= MAX_BUCKETS
}

/// Items in `r`, those left out, and why (the first reason met).
pub fn invalid(r: &Request) -> (u64, u64, &'static str) {
    let items = r.items();
    let mut bad = 0u64;
    let mut why = "";
    let mut note = |ok: bool, reason: &'static str| {
        if !ok {
            bad += 1;
            if why.is_empty() {
                why = reason;
            }
        }
    };
    match r {
        Request::Traces(t) => {
            for span in t.spans() {
                note(span_ok(&span), "span ends before it starts");
            }
        }
        Request::Logs(_) => {}
        Request::Metrics(m) => {
            let metrics = m
                .resource_metrics
                .iter()
                .flat_map(|r| &r.scope_metrics)
                .flat_map(|s| &s.metrics);
            for m in metrics {
                match &m.data {
                    Some(Data::Gauge(g)) => g
                        .data_points
                        .iter()
                        .for_each(|p| note(number_ok(p), "data point without a value")),
                    Some(Data::Sum(g)) => g
                        .data_points
                        .iter()
                        .for_each(|p| note(number_ok(p), "data point without a value")),
                    Some(Data::Histogram(h)) => h.data_points.iter().for_each(|p| {
                        note(
                            histogram_ok(p),
                            "histogram bucket counts do not match its bounds, or are over 512",
                        )
                    }),
                    Some(Data::ExponentialHistogram(h)) => h.data_points.iter().for_each(|p| {
                        note(
                            exponential_ok(p),
                            "exponential histogram scale outside -10..=20, or over 512 buckets",
                        )
                    }),
                    Some(Data::Summary(_)) | None => {}
                }
            }
        }
    }
    (items, bad, why)
}
