//! The frame decoder's checks: cut a byte stream into frames, decode each by its type,
//! re-encode what decoded and decode that again: the same record must come back.

use kpid_wire::{
    decode_drops, decode_error, decode_event, decode_hello, decode_metric, decode_span,
    decode_traced_span, decode_welcome, encode_drops, encode_error, encode_event, encode_hello,
    encode_metric, encode_span, encode_traced_span, encode_welcome, split_frame, Fields, FrameType, Value, MAX_FIELDS, MAX_LABELS,
    MAX_STR_LEN,
};

/// Cuts `data` into frames as the daemon's socket source does (stopping at the first bad
/// length or the incomplete tail) and checks every frame.
pub fn check_stream(data: &[u8]) {
    // A small limit too, so that the fuzzer reaches the length check easily.
    let max = if data.first().is_some_and(|b| b & 1 == 1) {
        64
    } else {
        kpid_wire::MAX_FRAME_LEN
    };
    let mut rest = data;
    while let Ok(Some((ty, body, used))) = split_frame(rest, max) {
        assert!(used <= rest.len() && used == body.len() + kpid_wire::HEADER_LEN);
        assert!(body.len() < max, "a body longer than the frame limit");
        check_frame(ty, body);
        rest = &rest[used..];
    }
}

/// Decodes one frame body by its type and checks the round trip.
pub fn check_frame(ty: u8, body: &[u8]) {
    let mut out = Vec::new();
    match FrameType::from_u8(ty) {
        Some(FrameType::Hello) => {
            if let Ok(h) = decode_hello(body) {
                encode_hello(&mut out, &h);
                if (kpid_wire::MIN_VERSION..=kpid_wire::VERSION).contains(&h.version) {
                    assert_eq!(decode_hello(reread(&out)).as_ref(), Ok(&h));
                }
            }
        }
        Some(FrameType::Welcome) => {
            if let Ok((v, m)) = decode_welcome(body) {
                encode_welcome(&mut out, v, m);
                assert_eq!(decode_welcome(reread(&out)), Ok((v, m)));
            }
        }
        Some(FrameType::Error) => {
            if let Ok((code, msg)) = decode_error(body) {
                assert!(msg.len() <= MAX_STR_LEN);
                encode_error(&mut out, code, msg);
                assert_eq!(decode_error(reread(&out)), Ok((code, msg)));
            }
        }
        Some(FrameType::Span) => {
            if let Ok(s) = decode_span(body) {
                let fields = all_fields(s.fields);
                let mut scratch = Vec::new();
                let again = kpid_wire::SpanClose {
                    fields: Fields::encode(&mut scratch, &fields),
                    ..s
                };
                encode_span(&mut out, &again);
                let back = decode_span(reread(&out)).expect("a re-encoded span decodes");
                assert_eq!(
                    format!("{:?}", (s.name, s.target, s.parent, s.start_unix_ns)),
                    format!(
                        "{:?}",
                        (back.name, back.target, back.parent, back.start_unix_ns)
                    )
                );
                assert_eq!(
                    (s.duration_ns, s.level, s.error),
                    (back.duration_ns, back.level, back.error)
                );
                assert_same_fields(&fields, &all_fields(back.fields));
            }
        }
        Some(FrameType::TracedSpan) => {
            if let Ok((ids, s)) = decode_traced_span(body) {
                assert!(ids.span != 0 && ids.trace != 0, "zero ids decoded: {ids:?}");
                // The ids, then exactly a span body: the span checks apply to it.
                check_frame(FrameType::Span as u8, &body[kpid_wire::SPAN_IDS_LEN..]);
                let fields = all_fields(s.fields);
                let mut scratch = Vec::new();
                let again = kpid_wire::SpanClose {
                    fields: Fields::encode(&mut scratch, &fields),
                    ..s
                };
                encode_traced_span(&mut out, ids, &again);
                let (back, span) = decode_traced_span(reread(&out)).expect("it decodes again");
                assert_eq!((back, span.name, span.duration_ns), (ids, s.name, s.duration_ns));
            }
        }
        Some(FrameType::Event) => {
            if let Ok(e) = decode_event(body) {
                let fields = all_fields(e.fields);
                let mut scratch = Vec::new();
                let again = kpid_wire::Event {
                    fields: Fields::encode(&mut scratch, &fields),
                    ..e
                };
                encode_event(&mut out, &again);
                let back = decode_event(reread(&out)).expect("a re-encoded event decodes");
                assert_eq!(
                    (e.time_unix_ns, e.level, e.target, e.span),
                    (back.time_unix_ns, back.level, back.target, back.span)
                );
                assert_same_fields(&fields, &all_fields(back.fields));
            }
        }
        Some(FrameType::Metric) => {
            if let Ok(m) = decode_metric(body) {
                let labels: Vec<(&str, &str)> = m.labels().collect();
                assert!(labels.len() <= MAX_LABELS);
                assert!(m.key.len() <= body.len());
                encode_metric(&mut out, m.kind, m.name, &labels, m.value);
                let back = decode_metric(reread(&out)).expect("a re-encoded metric decodes");
                assert_eq!((m.kind, m.name), (back.kind, back.name));
                assert_eq!(m.value.to_bits(), back.value.to_bits());
                assert_eq!(labels, back.labels().collect::<Vec<_>>());
            }
        }
        Some(FrameType::Drops) => {
            if let Ok(d) = decode_drops(body) {
                encode_drops(&mut out, &d);
                assert_eq!(decode_drops(reread(&out)), Ok(d));
            }
        }
        None => {}
    }
}

/// The body of the one frame in `out`.
fn reread(out: &[u8]) -> &[u8] {
    let (_, body, used) = split_frame(out, usize::MAX)
        .expect("an encoded frame has a valid length")
        .expect("an encoded frame is complete");
    assert_eq!(used, out.len(), "an encoder wrote more than one frame");
    body
}

/// Every field of a validated record: exactly as many as its count says.
fn all_fields(f: Fields<'_>) -> Vec<(&str, Value<'_>)> {
    let n = f.len();
    assert!(n <= MAX_FIELDS);
    let all: Vec<_> = f.collect();
    assert_eq!(
        all.len(),
        n,
        "a validated record yields fewer fields than its count"
    );
    all
}

fn assert_same_fields(a: &[(&str, Value<'_>)], b: &[(&str, Value<'_>)]) {
    assert_eq!(a.len(), b.len());
    for ((ka, va), (kb, vb)) in a.iter().zip(b) {
        assert_eq!(ka, kb);
        match (va, vb) {
            (Value::F64(x), Value::F64(y)) => assert_eq!(x.to_bits(), y.to_bits()),
            _ => assert_eq!(va, vb),
        }
    }
}
