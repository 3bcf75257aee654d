use super::*;
use crate::sources::otlp::proto::{Span, Status, STATUS_CODE_ERROR};
use crate::sources::otlp::spans::Traces;

/// `sp` as a child, as the engine hands one from a decoded export.
fn child(s: &mut Sampler, sp: &Span, now: f64) {
    let t = Traces::from_spans(vec![sp.clone()]);
    s.child(&t.spans().next().expect("one span"), now);
}

/// `sp` as a root.
fn root(s: &mut Sampler, app: &Arc<str>, sp: &Span) {
    let t = Traces::from_spans(vec![sp.clone()]);
    s.root(app, &t.spans().next().expect("one span"));
}

fn span(trace: u8, id: u8, parent: u8, start_ms: u64, dur_ms: u64, error: bool) -> Span {
    Span {
        trace_id: vec![trace; 16],
        span_id: vec![0, 0, 0, 0, 0, 0, 0, id],
        parent_span_id: if parent == 0 {
            vec![]
        } else {
            vec![0, 0, 0, 0, 0, 0, 0, parent]
        },
        name: if parent == 0 { "frame" } else { "infer" }.into(),
        start_time_unix_nano: 1_000_000_000_000 + start_ms * 1_000_000,
        end_time_unix_nano: 1_000_000_000_000 + (start_ms + dur_ms) * 1_000_000,
        status: error.then(|| Status {
            code: STATUS_CODE_ERROR,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// One trace `t`: a root of `dur_ms` with two children, the second failed when `error`.
fn trace(s: &mut Sampler, app: &Arc<str>, t: u8, dur_ms: u64, error: bool) {
    child(s, &span(t, 2, 1, 1, 3, false), 1000.0);
    child(s, &span(t, 3, 1, 4, dur_ms - 5, error), 1000.0);
    root(s, app, &span(t, 1, 0, 0, dur_ms, false));
}

#[test]
fn keeps_the_slowest_and_the_recent_failed_per_root_name() {
    let app: Arc<str> = "cam".into();
    let mut s = Sampler::default();
    for t in 1..=20u8 {
        // Durations 10, 20, ... 200 ms; traces 3, 6, 9, ... fail.
        trace(&mut s, &app, t, 10 * t as u64, t % 3 == 0);
    }
    let v = s.publish(1000.0).expect("changed");
    let slow: Vec<u128> = v
        .traces
        .iter()
        .filter(|k| k.slow)
        .map(|k| k.trace.id)
        .collect();
    let id = |t: u8| u128::from_be_bytes([t; 16]);
    let mut want: Vec<u128> = (16..=20).map(id).collect();
    let mut got = slow.clone();
    want.sort();
    got.sort();
    assert_eq!(got, want, "the five slowest");
    let failed: Vec<u128> = v
        .traces
        .iter()
        .filter(|k| k.trace.error)
        .map(|k| k.trace.id)
        .collect();
    for t in [6u8, 9, 12, 15, 18] {
        assert!(failed.contains(&id(t)), "failed trace {t} kept");
    }
    assert!(!failed.contains(&id(3)), "only the five most recent failed");
    assert_eq!(v.traces.len(), 9, "18 is slow and failed, listed once");
    let t20 = &v.get(&format!("{:032x}", id(20))).expect("kept").trace;
    assert_eq!(t20.spans.len(), 3);
    assert_eq!(&*t20.spans[0].name, "frame");
    assert_eq!((t20.spans[1].id, t20.spans[1].parent), (2, 1));
    assert!((t20.duration() - 0.2).abs() < 1e-9);
    assert_eq!(v.stats.sampled + v.stats.not_sampled, 20);
    assert_eq!(v.stats.kept, 9);
    assert!(
        s.publish(1000.0).is_none(),
        "nothing new, nothing published"
    );
}

#[test]
fn bounds_spans_per_trace_and_traces_in_assembly() {
    let app: Arc<str> = "cam".into();
    let mut s = Sampler::default();
    for i in 0..MAX_SPANS + 10 {
        child(
            &mut s,
            &span(1, (i % 200) as u8 + 2, 1, 1, 1, false),
            1000.0,
        );
    }
    root(&mut s, &app, &span(1, 1, 0, 0, 5, false));
    let v = s.publish(1000.0).unwrap();
    // The root and MAX_SPANS - 1 children are kept.
    assert_eq!(v.traces[0].trace.spans.len(), MAX_SPANS);
    assert_eq!(v.stats.spans_dropped, 11);
    assert_eq!(v.traces[0].trace.spans_dropped, 11);
    for t in 0..MAX_PENDING + 5 {
        let mut sp = span(0, 2, 1, 1, 1, false);
        sp.trace_id = (t as u128 + 1000).to_be_bytes().to_vec();
        child(&mut s, &sp, 1000.0);
    }
    let v = s.publish(1000.0).unwrap();
    assert_eq!(v.stats.pending_evicted, 5);
    assert_eq!(v.stats.pending_traces, MAX_PENDING as u64);
    let v = s.publish(1000.0 + PENDING_TTL_S + 1.0).unwrap();
    assert_eq!(v.stats.pending_expired, MAX_PENDING as u64);
    assert_eq!((v.stats.pending_traces, v.stats.pending_spans), (0, 0));
    let v = s.publish(1000.0 + KEEP_S + 1.0).unwrap();
    assert!(v.traces.is_empty(), "sampled traces age out");
}

#[test]
fn attributes_are_capped_in_number_and_length() {
    use crate::sources::otlp::proto::{any_value::Value as Av, AnyValue, KeyValue};
    let kv = |k: String, v: Av| KeyValue {
        key: k,
        value: Some(AnyValue { value: Some(v) }),
    };
    let mut first = span(1, 1, 0, 0, 5, false);
    first.attributes = (0..20)
        .map(|i| kv(format!("k{i}"), Av::IntValue(i)))
        .collect();
    first.attributes[0] = kv("long".into(), Av::StringValue("é".repeat(200)));
    let mut s = Sampler::default();
    root(&mut s, &"cam".into(), &first);
    let v = s.publish(1000.0).unwrap();
    let attrs = &v.traces[0].trace.spans[0].attrs;
    assert_eq!(attrs.len(), MAX_ATTRS);
    let long = attrs[0].1.to_string();
    assert!(
        long.ends_with('…') && long.len() <= MAX_ATTR_LEN + '…'.len_utf8(),
        "{long}"
    );
    assert_eq!(long.chars().filter(|&c| c == 'é').count(), MAX_ATTR_LEN / 2);
    assert_eq!(
        (&*attrs[15].0, attrs[15].1.to_string()),
        ("k15", "15".to_string())
    );
}

#[test]
fn otlp_children_kept_as_they_came_or_decoded_at_once_read_alike() {
    use crate::sources::otlp::proto::{any_value::Value as Av, AnyValue, KeyValue};
    let kv = |k: &str, v: Av| KeyValue {
        key: k.into(),
        value: Some(AnyValue { value: Some(v) }),
    };
    let mut small = span(7, 2, 1, 1, 2, true);
    small.attributes = vec![kv("model", Av::StringValue("yolo".into()))];
    // Past MAX_FRAME_KEPT: decoded when it comes.
    let mut big = span(7, 3, 1, 2, 2, false);
    big.attributes = (0..8)
        .map(|i| kv(&format!("k{i}"), Av::StringValue("x".repeat(200))))
        .collect();
    let t = Traces::from_spans(vec![small, big]);
    let raw: Vec<usize> = t.spans().map(|s| s.raw().len()).collect();
    assert!(
        raw[0] <= MAX_FRAME_KEPT && raw[1] > MAX_FRAME_KEPT,
        "{raw:?}"
    );
    let mut s = Sampler::default();
    for c in t.spans() {
        s.child(&c, 1000.0);
    }
    let app: Arc<str> = "cam".into();
    root(&mut s, &app, &span(7, 1, 0, 0, 10, false));
    let v = s.publish(1000.0).unwrap();
    let tr = &v.traces[0].trace;
    assert!(tr.error, "the failed child kept as it came marks its trace");
    let got: Vec<(u64, u64, usize, bool)> = tr
        .spans
        .iter()
        .map(|s| (s.id, s.parent, s.attrs.len(), s.error))
        .collect();
    assert_eq!(got, [(1, 0, 0, false), (2, 1, 1, true), (3, 1, 8, false)]);
    assert_eq!(tr.spans[1].attrs[0].1.to_string(), "yolo");
    assert_eq!(&*tr.spans[1].name, "infer");
}
