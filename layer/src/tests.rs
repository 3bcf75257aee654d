//! The layer against a bare listener that decodes what arrives with `kpid-wire` (the real
//! daemon is exercised by the workspace's tests/socket_*.rs). Events here name a target:
//! this module's own, `kpid_layer::tests`, is filtered out as the layer's own.

use super::*;
use kpid_wire as wire;
use std::io::{Read, Write};
use std::os::unix::net::UnixListener;
use std::sync::mpsc;
use tracing_subscriber::prelude::*;

/// Accepts one connection, answers the hello, and sends every later frame (type, body).
fn listener(path: &std::path::Path) -> mpsc::Receiver<(u8, Vec<u8>)> {
    listener_speaking(path, wire::VERSION)
}

/// A listener that speaks protocol versions up to `max`: a newer hello is refused with a
/// version mismatch, as an older daemon does, and the next connection is taken.
fn listener_speaking(path: &std::path::Path, max: u16) -> mpsc::Receiver<(u8, Vec<u8>)> {
    let l = UnixListener::bind(path).unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || 'conn: loop {
        let (mut s, _) = l.accept().unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 65536];
        let mut greeted = false;
        loop {
            while let Ok(Some((t, body, used))) = wire::split_frame(&buf, wire::MAX_FRAME_LEN) {
                if !greeted {
                    let h = wire::decode_hello(body).unwrap();
                    assert_eq!(h.app, "unit", "{h:?}");
                    let mut w = Vec::new();
                    if h.version > max {
                        wire::encode_error(&mut w, wire::code::VERSION_MISMATCH, "too new");
                        let _ = s.write_all(&w);
                        continue 'conn;
                    }
                    wire::encode_welcome(&mut w, h.version, wire::MAX_FRAME_LEN as u32);
                    s.write_all(&w).unwrap();
                    greeted = true;
                } else if tx.send((t, body.to_vec())).is_err() {
                    return;
                }
                buf.drain(..used);
            }
            match s.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    });
    rx
}

/// A span frame of either kind: its ids (traced spans only) and the span.
fn any_span(t: u8, body: &[u8]) -> Option<(Option<wire::SpanIds>, wire::SpanClose<'_>)> {
    match wire::FrameType::from_u8(t)? {
        wire::FrameType::Span => Some((None, wire::decode_span(body).unwrap())),
        wire::FrameType::TracedSpan => {
            let (ids, s) = wire::decode_traced_span(body).unwrap();
            Some((Some(ids), s))
        }
        _ => None,
    }
}

#[test]
fn spans_and_events_arrive_encoded() {
    let dir = std::env::temp_dir().join(format!("kpid-layer-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("a.sock");
    let _ = std::fs::remove_file(&path);
    let rx = listener(&path);
    let (layer, guard) = Builder::default().socket(&path).app("unit").build();
    let sub = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(sub, || {
        let outer = tracing::info_span!(target: "app", "frame", n = 7u64);
        let _o = outer.enter();
        let s =
            tracing::info_span!(target: "app", "infer", model = "m", score = tracing::field::Empty);
        let _e = s.enter();
        s.record("score", 0.5);
        tracing::error!(target: "app", code = 3, "bad {}", "input");
        tracing::info!(target: "kpid_layer::internal", "not reported");
    });
    assert!(guard.flush(Duration::from_secs(5)));
    let mut got = Vec::new();
    while got.len() < 3 {
        got.push(rx.recv_timeout(Duration::from_secs(5)).expect("frame"));
    }
    let (t, body) = &got[0];
    assert_eq!(wire::FrameType::from_u8(*t), Some(wire::FrameType::Event));
    let e = wire::decode_event(body).unwrap();
    assert_eq!((e.level, e.span), (wire::Level::Error, "infer"));
    let f: Vec<_> = e.fields.collect();
    assert_eq!(
        f,
        vec![
            ("message", wire::Value::Str("bad input")),
            ("code", wire::Value::I64(3))
        ]
    );
    let s = any_span(got[1].0, &got[1].1).expect("a span").1;
    assert_eq!(
        (s.name, s.parent, s.error),
        ("infer", "frame", true),
        "ERROR event inside"
    );
    let f: Vec<_> = s.fields.collect();
    assert_eq!(
        f,
        vec![
            ("model", wire::Value::Str("m")),
            ("score", wire::Value::F64(0.5))
        ]
    );
    let s = any_span(got[2].0, &got[2].1).expect("a span").1;
    assert_eq!((s.name, s.parent, s.error), ("frame", "", false));
    assert_eq!(
        s.fields.collect::<Vec<_>>(),
        vec![("n", wire::Value::U64(7))]
    );
    assert!(s.duration_ns > 0 && s.start_unix_ns > 1_600_000_000_000_000_000);
    // One clock for all: the event happened inside the outer span.
    let (from, to) = (s.start_unix_ns, s.start_unix_ns + s.duration_ns);
    assert!(
        (from..=to).contains(&e.time_unix_ns),
        "event at {} outside its span {from}..={to}",
        e.time_unix_ns
    );
    assert!(
        rx.recv_timeout(Duration::from_millis(200)).is_err(),
        "own target filtered"
    );
    assert_eq!(guard.stats().dropped, [0; 5]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn absent_daemon_counts_drops_per_level() {
    let path = std::env::temp_dir().join(format!("kpid-layer-absent-{}.sock", std::process::id()));
    let (layer, guard) = Builder::default().socket(&path).app("unit").build();
    let t0 = std::time::Instant::now();
    while guard.connecting() {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "first attempt never ended"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    let sub = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(sub, || {
        for _ in 0..10 {
            let s = tracing::warn_span!(target: "app", "work").entered();
            assert!(!s.is_disabled(), "not a sole layer: spans stay for others");
            tracing::debug!(target: "app", "x");
        }
    });
    let st = guard.stats();
    assert!(!st.connected);
    assert_eq!(st.dropped, [0, 10, 0, 10, 0]);
    assert_eq!(st.sent, 0);
}

fn absent_layer(name: &str, sole: bool) -> (KpidLayer, FlushGuard) {
    let path = std::env::temp_dir().join(format!("kpid-layer-{name}-{}.sock", std::process::id()));
    let (layer, guard) = Builder::default()
        .socket(&path)
        .app("unit")
        .sole_layer(sole)
        .build();
    let t0 = std::time::Instant::now();
    while guard.connecting() {
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "first attempt never ended"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    (layer, guard)
}

#[test]
fn sole_layer_disables_spans_while_absent_and_counts_them() {
    let (layer, guard) = absent_layer("sole", true);
    let sub = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(sub, || {
        for _ in 0..10 {
            let s = tracing::warn_span!(target: "app", "work").entered();
            assert!(s.is_disabled(), "the registry never made the span");
            tracing::debug!(target: "app", "x");
            tracing::info!(target: "kpid_layer::x", "own: neither sent nor counted");
        }
    });
    assert_eq!(guard.stats().dropped, [0, 10, 0, 10, 0]);
}

#[test]
fn sole_layer_above_another_layer_disables_nothing() {
    let (layer, guard) = absent_layer("sole-above", true);
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::sink);
    let sub = tracing_subscriber::registry().with(fmt).with(layer);
    tracing::subscriber::with_default(sub, || {
        for _ in 0..10 {
            let s = tracing::warn_span!(target: "app", "work").entered();
            assert!(!s.is_disabled(), "fmt still gets its spans");
        }
    });
    assert_eq!(guard.stats().dropped, [0, 0, 0, 10, 0]);
}

#[test]
fn long_debug_values_are_clipped_without_breaking_the_frame() {
    let mut buf = Vec::new();
    let mut w = record_test_writer(&mut buf);
    w.put_fmt_pub("k", &"é".repeat(5000));
    let f = wire::Fields::from_parts(1, &buf);
    let (k, v) = f.into_iter().next().unwrap();
    match v {
        wire::Value::Str(s) => assert!(k == "k" && s.len() <= wire::MAX_STR_LEN && s.len() > 4000),
        other => panic!("{other:?}"),
    }
}

fn record_test_writer(buf: &mut Vec<u8>) -> fields::TestWriter<'_> {
    fields::TestWriter::new(buf)
}

#[allow(dead_code)]
fn _assert_send_sync() {
    fn f<T: Send + Sync>() {}
    f::<KpidLayer>();
    f::<FlushGuard>();
    let _ = std::io::sink().flush();
}

#[test]
fn sole_layer_reports_again_once_the_daemon_comes() {
    let dir = std::env::temp_dir().join(format!("kpid-layer-back-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("a.sock");
    let _ = std::fs::remove_file(&path);
    let (layer, guard) = Builder::default()
        .socket(&path)
        .app("unit")
        .sole_layer(true)
        .max_backoff(Duration::from_millis(50))
        .build();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    let t0 = std::time::Instant::now();
    while guard.connecting() {
        assert!(t0.elapsed() < Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(1));
    }
    let work = || {
        for _ in 0..5 {
            let _s = tracing::info_span!(target: "app", "back").entered();
        }
    };
    tracing::dispatcher::with_default(&dispatch, work);
    assert_eq!(guard.stats().dropped, [0, 0, 5, 0, 0]);
    let rx = listener(&path);
    while !guard.stats().connected {
        assert!(t0.elapsed() < Duration::from_secs(10), "never reconnected");
        std::thread::sleep(Duration::from_millis(5));
    }
    tracing::dispatcher::with_default(&dispatch, work);
    assert!(guard.flush(Duration::from_secs(5)));
    let mut spans = 0;
    while let Ok((t, body)) = rx.recv_timeout(Duration::from_secs(2)) {
        if let Some((_, s)) = any_span(t, &body) {
            assert_eq!(s.name, "back");
            spans += 1;
            if spans == 5 {
                break;
            }
            continue;
        }
        match wire::FrameType::from_u8(t) {
            Some(wire::FrameType::Drops) => {
                assert_eq!(wire::decode_drops(&body).unwrap(), [0, 0, 5, 0, 0]);
            }
            other => panic!("{other:?}"),
        }
        if spans == 5 {
            break;
        }
    }
    assert_eq!(
        spans,
        5,
        "spans flow again: interest was rebuilt {:?}",
        guard.stats()
    );
    assert_eq!(guard.stats().dropped, [0, 0, 5, 0, 0]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// More spans open at once than the table holds (the rest go to the registry's
/// extensions), each entered and marked in error on another thread and closed on a third:
/// every span arrives once, with its fields and its error flag.
#[test]
fn spans_closed_on_other_threads_past_the_table_arrive_exactly() {
    let dir = std::env::temp_dir().join(format!("kpid-layer-many-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("a.sock");
    let _ = std::fs::remove_file(&path);
    let rx = listener(&path);
    let (layer, guard) = Builder::default().socket(&path).app("unit").build();
    let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
    let n = crate::open::SLOTS as u64 + 1000;
    let spans: Vec<_> = tracing::dispatcher::with_default(&dispatch, || {
        (0..n)
            .map(|i| tracing::info_span!(target: "app", "many", i))
            .collect()
    });
    let d = dispatch.clone();
    let spans = std::thread::spawn(move || {
        tracing::dispatcher::with_default(&d, || {
            for (i, s) in spans.iter().enumerate() {
                if i % 2 == 1 {
                    s.in_scope(|| tracing::error!(target: "app", "bad"));
                }
            }
        });
        spans
    })
    .join()
    .unwrap();
    std::thread::spawn(move || drop(spans)).join().unwrap();
    assert!(guard.flush(Duration::from_secs(5)));
    let (mut seen, mut errors) = (vec![false; n as usize], 0);
    let mut got = 0;
    while got < n {
        let (t, body) = rx.recv_timeout(Duration::from_secs(5)).expect("frame");
        match wire::FrameType::from_u8(t) {
            Some(wire::FrameType::Span | wire::FrameType::TracedSpan) => {
                let s = any_span(t, &body).unwrap().1;
                let f: Vec<_> = s.fields.collect();
                let [("i", wire::Value::U64(i))] = f[..] else {
                    panic!("{f:?}")
                };
                assert!(!std::mem::replace(&mut seen[i as usize], true), "twice");
                assert_eq!(s.error, i % 2 == 1, "span {i}");
                errors += s.error as u64;
                got += 1;
            }
            Some(wire::FrameType::Event) => {
                assert_eq!(wire::decode_event(&body).unwrap().span, "many")
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(errors, n / 2);
    assert_eq!(guard.stats().dropped, [0; 5]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Spans sent to a daemon that speaks version 2 carry ids: each child names its parent's id
/// and its root's trace id; two roots start two traces; a span that reuses a closed span's
/// registry id gets another id. An older daemon that refuses version 2 gets plain spans.
#[test]
fn traced_spans_link_children_to_parents_and_fall_back_for_an_older_daemon() {
    for (max, traced) in [(wire::VERSION, true), (wire::MIN_VERSION, false)] {
        let dir = std::env::temp_dir().join(format!("kpid-layer-ids-{}-{max}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("a.sock");
        let _ = std::fs::remove_file(&path);
        let rx = listener_speaking(&path, max);
        let (layer, guard) = Builder::default().socket(&path).app("unit").build();
        let t0 = std::time::Instant::now();
        while !guard.stats().connected {
            assert!(t0.elapsed() < Duration::from_secs(10), "never connected");
            std::thread::sleep(Duration::from_millis(5));
        }
        let sub = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(sub, || {
            for _ in 0..2 {
                let _root = tracing::info_span!(target: "app", "request").entered();
                drop(tracing::info_span!(target: "app", "a").entered());
                let _b = tracing::info_span!(target: "app", "b").entered();
                drop(tracing::info_span!(target: "app", "c").entered());
            }
        });
        assert!(guard.flush(Duration::from_secs(5)));
        let mut got = Vec::new();
        while got.len() < 8 {
            let (t, body) = rx.recv_timeout(Duration::from_secs(5)).expect("frame");
            let (ids, s) = any_span(t, &body).expect("a span");
            assert_eq!(ids.is_some(), traced, "max version {max}");
            got.push((ids.unwrap_or_default(), s.name.to_owned()));
        }
        if traced {
            // Closes arrive a, c, b, request; twice.
            let names: Vec<_> = got.iter().map(|g| g.1.as_str()).collect();
            assert_eq!(names, ["a", "c", "b", "request"].repeat(2));
            for t in got.chunks(4) {
                let (a, c, b, root) = (t[0].0, t[1].0, t[2].0, t[3].0);
                assert_eq!((root.parent, root.trace), (0, root.span));
                assert_eq!(
                    (a.parent, b.parent, c.parent),
                    (root.span, root.span, b.span)
                );
                assert!([a, b, c].iter().all(|x| x.trace == root.span));
                // `a` closed before `b` opened: the registry may reuse its id, ours differ.
                assert!(a.span != b.span && b.span != c.span && a.span != c.span);
            }
            assert_ne!(got[3].0.trace, got[7].0.trace, "two roots, two traces");
        }
        drop(guard);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
