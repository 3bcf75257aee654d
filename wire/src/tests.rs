use super::*;

fn one_frame(buf: &[u8]) -> (u8, &[u8]) {
    let (t, body, used) = split_frame(buf, MAX_FRAME_LEN).unwrap().unwrap();
    assert_eq!(used, buf.len(), "exactly one frame");
    (t, body)
}

#[test]
fn span_round_trips_with_every_value_type() {
    let mut scratch = Vec::new();
    let fields = Fields::encode(
        &mut scratch,
        &[
            ("frame", Value::U64(300)),
            ("delta", Value::I64(-5)),
            ("score", Value::F64(0.25)),
            ("ok", Value::Bool(true)),
            ("model", Value::Str("résnet")),
            ("min", Value::I64(i64::MIN)),
        ],
    );
    let mut buf = Vec::new();
    let span = SpanClose {
        name: "infer",
        target: "app::stage",
        parent: "frame",
        start_unix_ns: 1_700_000_000_123_456_789,
        duration_ns: 1_500_000,
        level: Level::Info,
        error: true,
        fields,
    };
    let n = encode_span(&mut buf, &span);
    assert_eq!(n, buf.len());
    let (t, body) = one_frame(&buf);
    assert_eq!(FrameType::from_u8(t), Some(FrameType::Span));
    let d = decode_span(body).unwrap();
    assert_eq!(
        (d.name, d.target, d.parent),
        ("infer", "app::stage", "frame")
    );
    assert_eq!(
        (d.start_unix_ns, d.duration_ns),
        (span.start_unix_ns, 1_500_000)
    );
    assert_eq!((d.level, d.error), (Level::Info, true));
    let got: Vec<_> = d.fields.collect();
    assert_eq!(got.len(), 6);
    assert_eq!(got[1], ("delta", Value::I64(-5)));
    assert_eq!(got[4], ("model", Value::Str("résnet")));
    assert_eq!(got[5], ("min", Value::I64(i64::MIN)));
}

#[test]
fn event_metric_drops_round_trip() {
    let mut scratch = Vec::new();
    let fields = Fields::encode(&mut scratch, &[("message", Value::Str("hi"))]);
    let mut buf = Vec::new();
    let e = Event {
        time_unix_ns: 7,
        level: Level::Warn,
        target: "t",
        span: "s",
        fields,
    };
    encode_event(&mut buf, &e);
    let d = decode_event(one_frame(&buf).1).unwrap();
    assert_eq!(
        (d.time_unix_ns, d.level, d.target, d.span),
        (7, Level::Warn, "t", "s")
    );
    assert_eq!(
        d.fields.collect::<Vec<_>>(),
        vec![("message", Value::Str("hi"))]
    );

    buf.clear();
    encode_metric(
        &mut buf,
        MetricKind::Gauge,
        "queue_depth",
        &[("stage", "infer")],
        3.5,
    );
    let m = decode_metric(one_frame(&buf).1).unwrap();
    assert_eq!(
        (m.kind, m.name, m.value),
        (MetricKind::Gauge, "queue_depth", 3.5)
    );
    assert_eq!(m.labels().collect::<Vec<_>>(), vec![("stage", "infer")]);
    let mut buf2 = Vec::new();
    encode_metric(
        &mut buf2,
        MetricKind::Gauge,
        "queue_depth",
        &[("stage", "infer")],
        9.0,
    );
    let m2 = decode_metric(one_frame(&buf2).1).unwrap();
    assert_eq!(m.key, m2.key, "the key ignores the value");

    buf.clear();
    encode_drops(&mut buf, &[1, 2, 3, 4, u64::MAX]);
    assert_eq!(
        decode_drops(one_frame(&buf).1).unwrap(),
        [1, 2, 3, 4, u64::MAX]
    );
}

#[test]
fn handshake_frames_round_trip_and_version_is_read_first() {
    let mut buf = Vec::new();
    encode_hello(
        &mut buf,
        &Hello {
            version: VERSION,
            app: "cam",
            pid: 42,
            host: "h",
        },
    );
    let h = decode_hello(one_frame(&buf).1).unwrap();
    assert_eq!((h.version, h.app, h.pid, h.host), (VERSION, "cam", 42, "h"));

    buf.clear();
    encode_hello(
        &mut buf,
        &Hello {
            version: 99,
            app: "cam",
            pid: 1,
            host: "h",
        },
    );
    assert_eq!(decode_hello(one_frame(&buf).1).unwrap().version, 99);

    buf.clear();
    encode_welcome(&mut buf, VERSION, 1 << 20);
    assert_eq!(
        decode_welcome(one_frame(&buf).1).unwrap(),
        (VERSION, 1 << 20)
    );
    buf.clear();
    encode_error(&mut buf, code::VERSION_MISMATCH, "speak 1");
    assert_eq!(decode_error(one_frame(&buf).1).unwrap(), (1, "speak 1"));

    assert_eq!(decode_hello(b"NOPE\x01\x00"), Err(WireError::BadMagic));
    assert_eq!(decode_hello(b"KP"), Err(WireError::BadMagic));
}

#[test]
fn every_truncation_is_an_error_not_a_panic() {
    let mut scratch = Vec::new();
    let fields = Fields::encode(
        &mut scratch,
        &[("a", Value::Str("xyz")), ("b", Value::F64(1.0))],
    );
    let mut buf = Vec::new();
    let span = SpanClose {
        name: "n",
        target: "t",
        parent: "",
        start_unix_ns: 1 << 40,
        duration_ns: 1 << 20,
        level: Level::Error,
        error: false,
        fields,
    };
    encode_span(&mut buf, &span);
    let body = one_frame(&buf).1.to_vec();
    for cut in 0..body.len() {
        assert!(decode_span(&body[..cut]).is_err(), "cut at {cut}");
    }
    let mut long = body.clone();
    long.push(0);
    assert_eq!(decode_span(&long).unwrap_err(), WireError::Trailing(1));
    // An incomplete frame is "not yet", not an error.
    for cut in 0..buf.len() {
        assert_eq!(split_frame(&buf[..cut], MAX_FRAME_LEN).unwrap(), None);
    }
}

#[test]
fn bad_lengths_are_rejected() {
    let zero = [0u8, 0, 0, 0, 16];
    assert!(matches!(
        split_frame(&zero, MAX_FRAME_LEN),
        Err(WireError::BadLength { len: 0, .. })
    ));
    let huge = ((MAX_FRAME_LEN + 1) as u32).to_le_bytes();
    assert!(split_frame(&huge, MAX_FRAME_LEN).is_err());
}

#[test]
fn encoders_clip_strings_and_cap_lists() {
    let long = "é".repeat(MAX_STR_LEN); // 2 bytes each
    let clipped = clip(&long);
    assert!(clipped.len() <= MAX_STR_LEN && clipped.len() % 2 == 0);
    let many: Vec<(String, Value)> = (0..200)
        .map(|i| (format!("k{i}"), Value::Str(&long)))
        .collect();
    let refs: Vec<(&str, Value)> = many.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    let mut scratch = Vec::new();
    let fields = Fields::encode(&mut scratch, &refs);
    assert_eq!(fields.len(), MAX_FIELDS);
    let mut buf = Vec::new();
    let e = Event {
        time_unix_ns: 0,
        level: Level::Info,
        target: &long,
        span: "",
        fields,
    };
    let n = encode_event(&mut buf, &e);
    assert!(
        n <= MAX_FRAME_LEN + 4,
        "worst-case record fits a frame: {n}"
    );
    assert!(decode_event(one_frame(&buf).1).is_ok());
}

#[test]
fn random_bytes_never_panic() {
    let mut x = 0x9e3779b97f4a7c15u64;
    let mut body = Vec::new();
    for round in 0..20_000 {
        body.clear();
        for _ in 0..(round % 64) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            body.push(x as u8);
        }
        let _ = decode_span(&body);
        let _ = decode_event(&body);
        let _ = decode_metric(&body);
        let _ = decode_drops(&body);
        let _ = decode_hello(&body);
        let _ = split_frame(&body, 64);
    }
}

#[test]
fn traced_span_carries_its_ids_in_front_of_a_span_body() {
    let mut scratch = Vec::new();
    let fields = Fields::encode(&mut scratch, &[("model", Value::Str("yolo"))]);
    let span = SpanClose {
        name: "infer",
        target: "app",
        parent: "frame",
        start_unix_ns: 1 << 50,
        duration_ns: 42,
        level: Level::Warn,
        error: false,
        fields,
    };
    let ids = SpanIds {
        trace: 7,
        span: u64::MAX - 1,
        parent: 7,
    };
    let mut buf = Vec::new();
    encode_traced_span(&mut buf, ids, &span);
    let (t, body) = one_frame(&buf);
    assert_eq!(FrameType::from_u8(t), Some(FrameType::TracedSpan));
    let (got, d) = decode_traced_span(body).unwrap();
    assert_eq!(got, ids);
    assert_eq!((d.name, d.parent, d.duration_ns), ("infer", "frame", 42));
    assert_eq!(
        d.fields.collect::<Vec<_>>(),
        [("model", Value::Str("yolo"))]
    );
    // The body after the ids is exactly a span body.
    assert_eq!(decode_span(&body[SPAN_IDS_LEN..]).unwrap().name, "infer");
    for cut in 0..body.len() {
        assert!(decode_traced_span(&body[..cut]).is_err(), "cut at {cut}");
    }
    // A zero span or trace id is refused.
    for at in [0, 8] {
        let mut b = body.to_vec();
        b[at..at + 8].fill(0);
        assert_eq!(
            decode_traced_span(&b).unwrap_err(),
            WireError::Invalid("traced span ids")
        );
    }
}
