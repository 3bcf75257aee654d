use super::*;
use crate::sources::otlp::proto::any_value::Value as V;
use prost::Message;

fn kv(key: &str, v: Option<V>) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: v }),
    }
}

fn sample() -> ExportTraceServiceRequest {
    let span = |i: u8, parent: bool| Span {
        trace_id: vec![i; 16],
        span_id: vec![i + 1; 8],
        parent_span_id: if parent { vec![1; 8] } else { vec![] },
        name: format!("op{i}"),
        kind: 2,
        start_time_unix_nano: 10 + i as u64,
        end_time_unix_nano: 20 + i as u64,
        attributes: vec![
            kv("s", Some(V::StringValue("é".into()))),
            kv("b", Some(V::BoolValue(true))),
            kv("i", Some(V::IntValue(-3))),
            kv("d", Some(V::DoubleValue(0.5))),
            kv("y", Some(V::BytesValue(vec![0xff, 0]))),
            kv("none", None),
            KeyValue {
                key: "absent".into(),
                value: None,
            },
        ],
        status: (i == 2).then(|| Status {
            message: "boom".into(),
            code: STATUS_CODE_ERROR,
        }),
    };
    ExportTraceServiceRequest {
        resource_spans: vec![
            ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![kv("service.name", Some(V::StringValue("a".into())))],
                }),
                scope_spans: vec![
                    ScopeSpans {
                        scope: Some(InstrumentationScope { name: "lib".into() }),
                        spans: vec![span(1, false), span(2, true)],
                    },
                    ScopeSpans {
                        scope: None,
                        spans: vec![span(3, true)],
                    },
                ],
            },
            ResourceSpans {
                resource: None,
                scope_spans: vec![],
            },
        ],
    }
}

/// Both decoders on `body`: the same message, or both refuse.
fn agree(body: &[u8]) -> bool {
    let ours = Traces::decode(body.to_vec());
    let theirs = ExportTraceServiceRequest::decode(body);
    match (&ours, &theirs) {
        (Ok(a), Ok(b)) => assert_eq!(&a.to_message(), b, "{body:02x?}"),
        (Err(_), Err(_)) => {}
        _ => panic!("decoders disagree on {body:02x?}: {ours:?} / {theirs:?}"),
    }
    ours.is_ok()
}

#[test]
fn a_request_reads_as_prost_reads_it() {
    let m = sample();
    let t = Traces::from_message(&m);
    assert_eq!(t.to_message(), m);
    assert_eq!(t.len(), 3);
    let r = t.resources().next().unwrap();
    assert_eq!(r.service_name(), Some("a"));
    assert_eq!(
        r.attributes().collect::<Vec<_>>(),
        [("service.name", Some(AnyRef::Str("a")))]
    );
    let names: Vec<_> = r.scopes().map(|s| s.name()).collect();
    assert_eq!(names, ["lib", ""]);
    let s: Vec<_> = t.spans().collect();
    assert_eq!(s[1].name(), "op2");
    assert!(s[1].error() && !s[0].error());
    assert_eq!(s[1].parent_span_id(), [1; 8]);
    assert!(s[0].parent_span_id().is_empty());
    assert_eq!((s[2].start_ns(), s[2].end_ns()), (13, 23));
    let attrs: Vec<_> = s[0].attributes().map(|(_, v)| v).collect();
    assert_eq!(
        attrs,
        [
            Some(AnyRef::Str("é")),
            Some(AnyRef::Bool(true)),
            Some(AnyRef::Int(-3)),
            Some(AnyRef::Double(0.5)),
            Some(AnyRef::Bytes(&[0xff, 0])),
            None,
            None
        ]
    );
}

#[test]
fn repeats_merge_and_unknown_fields_are_skipped_as_prost_does() {
    let mut span = Span {
        name: "first".into(),
        ..Default::default()
    }
    .encode_to_vec();
    // name again (the last wins), status twice (merged: the code of the first stays),
    // an unknown varint, fixed32, and a group holding a nested group.
    span.extend([0x2a, 2, b'o', b'k']);
    span.extend([0x7a, 2, 0x18, 2, 0x7a, 3, 0x12, 1, b'x']);
    span.extend([0xa0, 0x01, 5, 0x85, 0x01, 1, 2, 3, 4]);
    span.extend([0x5b, 0x63, 0x08, 1, 0x64, 0x5c]);
    // An attribute whose value comes twice: a string, then an empty value (no change),
    // then an int.
    span.extend([0x4a, 13, 0x0a, 1, b'k', 0x12, 2, 0x0a, 0, 0x12, 0, 0x12, 2]);
    span.extend([0x18, 7]);
    let mut scope = vec![0x12, span.len() as u8];
    scope.extend(&span);
    let mut rs = vec![0x12, scope.len() as u8];
    rs.extend(&scope);
    // The resource after the spans, given twice.
    rs.extend([0x0a, 4, 0x0a, 2, 0x0a, 0]);
    rs.extend([0x0a, 4, 0x0a, 2, 0x0a, 0]);
    let mut body = vec![0x0a, rs.len() as u8];
    body.extend(&rs);
    assert!(agree(&body));
    let t = Traces::decode(body).unwrap();
    let s = t.spans().next().unwrap();
    assert_eq!(s.name(), "ok");
    assert!(s.error());
    assert_eq!(
        s.attributes().collect::<Vec<_>>(),
        [("k", Some(AnyRef::Int(7)))]
    );
    assert_eq!(t.resources().next().unwrap().attributes().count(), 2);
}

#[test]
fn edge_cases_are_refused_where_prost_refuses_them() {
    let cases: &[&[u8]] = &[
        &[],
        &[0x0a],
        &[0x0a, 5, 0],
        &[0x00, 0],    // field number 0
        &[0x0e],       // wire type 6
        &[0x0c],       // a group's end with no start
        &[0x0b, 0x14], // a group ended by another field's end
        &[0x0b],       // a group with no end
        &[
            0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
        ], // 10 bytes, ok
        &[
            0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02,
        ], // overflows
        &[
            0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
        ],
        &[0x0a, 0x04, 0x12, 0x02, 0x12, 0x05], // a length past its message's end
        &[0x0a, 0x05, 0x12, 0x03, 0x12, 0x01, 0x2a], // a truncated field inside
        &[0x0a, 0x06, 0x12, 0x04, 0x12, 0x02, 0x2a, 0x00], // an empty name
        &[0x0a, 0x07, 0x12, 0x05, 0x12, 0x03, 0x2a, 0x01, 0xff], // a name not utf-8
        &[0x0a, 0x06, 0x12, 0x04, 0x12, 0x02, 0x28, 0x01], // a name given as a varint
        &[0x0a, 0x06, 0x12, 0x04, 0x12, 0x02, 0x39, 0x01], // a fixed64 cut short
        &[0xf8, 0xff, 0xff, 0xff, 0x0f, 0x00], // the largest field number
        &[0xf8, 0xff, 0xff, 0xff, 0x1f, 0x00], // a key past 32 bits
    ];
    let accepted: Vec<bool> = cases.iter().map(|c| agree(c)).collect();
    assert_eq!(accepted.iter().filter(|a| **a).count(), 4, "{accepted:?}");
    // Groups nested to prost's depth, and one deeper.
    for depth in [90, 99, 100, 101] {
        let mut b = vec![0x0b; depth];
        b.extend(vec![0x0c; depth]);
        agree(&b);
    }
    let e = Traces::decode(vec![0x0a, 0x07, 0x12, 0x05, 0x12, 0x03, 0x2a, 0x01, 0xff]);
    assert_eq!(
        e.unwrap_err().to_string(),
        "string is not utf-8 in span.name at byte 8"
    );
}

/// Random bytes flipped, cut and spliced into a real request: both decoders agree on all.
#[test]
fn mutated_requests_decode_alike() {
    let base = sample().encode_to_vec();
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut ok = 0;
    for _ in 0..20_000 {
        let mut b = base.clone();
        for _ in 0..1 + next() % 3 {
            let i = next() as usize % b.len();
            match next() % 4 {
                0 => b[i] = next() as u8,
                1 => b[i] ^= 1 << (next() % 8),
                2 => b.truncate(i),
                _ => b.insert(i, next() as u8),
            }
            if b.is_empty() {
                break;
            }
        }
        ok += agree(&b) as u32;
    }
    assert!(ok > 1000, "{ok}");
}
