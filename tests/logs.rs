//! The log viewer's API against the built binary: the recent lines of real files, filtered by
//! level and regex, paged back and followed, across a rotation, and bounded by `[logs]`.

mod common;

use common::{append, wait_for, Kpid};
use serde_json::Value;

fn texts(v: &Value) -> Vec<String> {
    v["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["text"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn recent_lines_are_served_filtered_paged_and_followed() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    append(&log, "");
    std::fs::write(
        dir.path().join("kpid.toml"),
        "[logs]\nlines_per_source = 50\n",
    )
    .unwrap();
    let k = Kpid::start(
        dir.path(),
        &[
            "--config",
            "kpid.toml",
            "--log",
            "app.log",
            "--no-state",
            "--from-start",
        ],
    );
    let mut body = String::new();
    for i in 0..40 {
        let level = if i % 10 == 3 { "ERROR" } else { "INFO" };
        body += &format!("2026-11-23T10:00:{i:02}Z {level} frame {i} done latency_ms={i}\n");
    }
    append(&log, &body);
    let all = wait_for(10, "40 lines kept", || {
        let v = k.json("/api/logs?source=app&limit=100");
        (v["lines"].as_array()?.len() == 40).then_some(v)
    });
    assert_eq!(all["lines"][0]["level"], "info");
    assert_eq!(all["lines"][0]["t"], 1_795_428_000.0, "the line's own time");
    let errors = k.json("/api/logs?level=error");
    assert_eq!(
        texts(&errors),
        [
            "2026-11-23T10:00:03Z ERROR frame 3 done latency_ms=3",
            "2026-11-23T10:00:13Z ERROR frame 13 done latency_ms=13",
            "2026-11-23T10:00:23Z ERROR frame 23 done latency_ms=23",
            "2026-11-23T10:00:33Z ERROR frame 33 done latency_ms=33"
        ]
    );
    let re = k.json("/api/logs?q=frame%20(7|17)%20&limit=10");
    assert_eq!(re["lines"].as_array().unwrap().len(), 2);
    assert_eq!(re["lines"][0]["hl"], serde_json::json!([[26, 34]]));
    let newest = k.json("/api/logs?limit=5");
    assert_eq!(newest["more"], true);
    let first = newest["lines"][0]["seq"].as_u64().unwrap();
    let older = k.json(&format!("/api/logs?limit=5&before={first}"));
    assert!(texts(&older)[4].contains("frame 34 "), "{older}");

    // Follow: what comes after the last line seen, across a rotation.
    let last = newest["lines"][4]["seq"].as_u64().unwrap();
    std::fs::rename(&log, dir.path().join("app.log.1")).unwrap();
    append(&log, "2026-11-23T10:01:00Z WARN after rotation\n");
    let follow = wait_for(10, "the line after rotation", || {
        let v = k.json(&format!("/api/logs?after={last}"));
        (!v["lines"].as_array()?.is_empty()).then_some(v)
    });
    assert_eq!(texts(&follow), ["2026-11-23T10:01:00Z WARN after rotation"]);

    // The ring holds 50 lines per source: the rest fall out, counted.
    let mut more = String::new();
    for i in 0..30 {
        more += &format!("line {i}\n");
    }
    append(&log, &more);
    let v = wait_for(10, "the ring trimmed", || {
        let v = k.json("/api/logs?limit=5000");
        (v["sources"][0]["total"] == 71).then_some(v)
    });
    assert_eq!(v["lines"].as_array().unwrap().len(), 50);
    assert_eq!(v["sources"][0]["evicted"], 21);
    assert_eq!(v["sources"][0]["kept"], 50);
}

#[test]
fn bad_queries_get_a_400_naming_the_parameter() {
    let dir = tempfile::tempdir().unwrap();
    append(&dir.path().join("a.log"), "x\n");
    let k = Kpid::start(dir.path(), &["--log", "a.log", "--no-state"]);
    for (q, want) in [
        ("level=loud", "level"),
        ("q=(", "q: "),
        ("from=yesterday", "from"),
        ("limit=-1", "limit"),
        ("nope=1", "unknown parameter"),
    ] {
        let (status, body) = k.get(&format!("/api/logs?{q}"));
        assert_eq!(status, 400, "{q}: {body}");
        assert!(body.contains(want), "{q}: {body}");
    }
}

/// Reads text frames until `n` lines came (or 10 s passed); returns the lines' texts.
fn stream_lines(
    ws: &mut tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<std::net::TcpStream>>,
    n: usize,
) -> Vec<String> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut got = Vec::new();
    while got.len() < n && std::time::Instant::now() < deadline {
        match ws.read() {
            Ok(tungstenite::Message::Text(t)) => {
                let v: Value = serde_json::from_str(t.as_str()).unwrap();
                got.extend(texts(&v));
            }
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => panic!("log stream: {e}"),
        }
    }
    got
}

/// `/ws/logs` streams new lines as they are applied, filtered like `/api/logs`, in order and
/// each once; with `after` it first sends what the client missed.
#[test]
fn the_log_stream_sends_new_matching_lines_once_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    append(&log, "level=info msg=before\n");
    let k = Kpid::start(
        dir.path(),
        &["--log", "app.log", "--no-state", "--from-start"],
    );
    let first = wait_for(10, "the first line kept", || {
        let v = k.json("/api/logs");
        v["lines"].as_array()?.first()?["seq"].as_u64()
    });
    let url = format!("ws://127.0.0.1:{}/ws/logs?level=warn,error&q=gpu", k.port);
    let (mut ws, _) = tungstenite::connect(&url).expect("connect /ws/logs");
    if let tungstenite::stream::MaybeTlsStream::Plain(s) = ws.get_mut() {
        s.set_read_timeout(Some(std::time::Duration::from_millis(200)))
            .unwrap();
    }
    let mut want = Vec::new();
    let mut text = String::new();
    for i in 0..3000 {
        let (lv, what) = match i % 4 {
            0 => ("warn", "gpu hot"),
            1 => ("info", "gpu fine"),
            2 => ("error", "disk full"),
            _ => ("error", "gpu lost"),
        };
        let line = format!("level={lv} msg=\"{what} {i}\"");
        if what.starts_with("gpu") && lv != "info" {
            want.push(line.clone());
        }
        text += &line;
        text.push('\n');
    }
    append(&log, &text);
    let got = stream_lines(&mut ws, want.len());
    assert_eq!(got.len(), want.len(), "every matching line, once");
    assert_eq!(got, want, "in order");
    // Reconnecting after the first line: the backlog first, in frames of at most 1,000.
    let url = format!("ws://127.0.0.1:{}/ws/logs?after={first}", k.port);
    let (mut again, _) = tungstenite::connect(&url).expect("reconnect");
    let all = stream_lines(&mut again, 3000);
    assert_eq!(all.len(), 3000);
    assert!(all[0].contains("gpu hot 0"), "{}", all[0]);
    let (status, body) = k.get("/ws/logs?level=loud");
    assert_eq!(status, 400, "{body}");
}
