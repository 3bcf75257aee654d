use super::Format;
use crate::logfmt::LogfmtParser;
use crate::{Level, Record, Value};

fn parse(f: Format, line: &[u8]) -> Option<Record<'_>> {
    let mut r = Record::new();
    f.parse(&LogfmtParser::new(), line, &mut r).then_some(r)
}

fn s(r: &Record<'_>, k: &str) -> String {
    match r.get(k.as_bytes()) {
        Some(Value::Str(s)) => String::from_utf8_lossy(s).into_owned(),
        Some(v) => format!("{v:?}"),
        None => "-".into(),
    }
}

#[test]
fn access_combined_with_and_without_request_time() {
    let l = br#"10.0.0.1 - bob [30/Nov/2026:09:12:33 +0000] "GET /a?b=1 HTTP/1.1" 503 1234 "http://x/" "curl/8.1" 0.250"#;
    let r = parse(Format::Access, l).unwrap();
    assert_eq!(r.timestamp, Some(1_796_029_953.0));
    assert_eq!(r.level, Some(Level::Error));
    let got: Vec<String> = [
        "client",
        "method",
        "path",
        "protocol",
        "status",
        "bytes",
        "user_agent",
    ]
    .iter()
    .map(|k| s(&r, k))
    .collect();
    assert_eq!(
        got,
        [
            "10.0.0.1",
            "GET",
            "/a?b=1",
            "HTTP/1.1",
            "Int(503)",
            "Int(1234)",
            "curl/8.1"
        ]
    );
    assert_eq!(r.get(b"request_time"), Some(&Value::Duration(0.25)));
    // Apache %D: microseconds.
    let l = br#"::1 - - [30/Nov/2026:09:12:33 +0000] "HEAD / HTTP/1.0" 304 - "-" "x" 4000"#;
    let r = parse(Format::Access, l).unwrap();
    assert_eq!(r.get(b"request_time"), Some(&Value::Duration(0.004)));
    assert_eq!(r.get(b"bytes"), Some(&Value::Int(0)));
    // Common: no referer, agent or time.
    let l = br#"1.2.3.4 - - [30/Nov/2026:09:12:33 +0000] "GET / HTTP/1.1" 404 9"#;
    let r = parse(Format::Access, l).unwrap();
    assert_eq!((r.level, r.get(b"request_time")), (Some(Level::Warn), None));
    assert!(parse(
        Format::Access,
        b"2026-11-30 09:12:33 INFO hello [x] \"y\" 200 1"
    )
    .is_none());
}

#[test]
fn python_formats_and_uvicorn() {
    let l = b"2026-11-30 09:12:33,250 - app.worker - WARNING - slow batch=7 latency_ms=12.5";
    let r = parse(Format::Python, l).unwrap();
    assert_eq!(
        (r.level, r.target.as_deref()),
        (Some(Level::Warn), Some(&b"app.worker"[..]))
    );
    assert_eq!(r.timestamp, Some(1_796_029_953.25));
    assert_eq!(r.message.as_deref(), Some(&b"slow"[..]));
    assert_eq!(r.get(b"latency_ms"), Some(&Value::Float(12.5)));
    let r = parse(Format::PythonBasic, b"ERROR:root:it broke").unwrap();
    assert_eq!(
        (r.level, r.target.as_deref()),
        (Some(Level::Error), Some(&b"root"[..]))
    );
    assert_eq!(r.message.as_deref(), Some(&b"it broke"[..]));
    let r = parse(
        Format::PythonBasic,
        br#"INFO:     127.0.0.1:5123 - "POST /items HTTP/1.1" 500 Internal Server Error"#,
    )
    .unwrap();
    assert_eq!(
        (s(&r, "method"), s(&r, "status"), s(&r, "client")),
        ("POST".into(), "Int(500)".into(), "127.0.0.1:5123".into())
    );
    let r = parse(
        Format::PythonBasic,
        b"INFO:     Started server process [42]",
    )
    .unwrap();
    assert_eq!(
        r.message.as_deref(),
        Some(&b"Started server process [42]"[..])
    );
    assert!(parse(Format::PythonBasic, b"Error: something").is_none());
}

#[test]
fn syslog_3164_5424_and_rsyslog_files() {
    let r = parse(
        Format::Syslog,
        b"<11>Nov 30 09:12:33 web1 app[42]: db down retries=3",
    )
    .unwrap();
    assert_eq!(
        (r.level, r.target.as_deref()),
        (Some(Level::Error), Some(&b"app"[..]))
    );
    assert_eq!(
        (s(&r, "host"), s(&r, "pid"), s(&r, "retries")),
        ("web1".into(), "Int(42)".into(), "Int(3)".into())
    );
    let r = parse(Format::Syslog, b"Nov  3 09:12:33 web1 cron: WARNING late").unwrap();
    assert_eq!((r.level, r.timestamp), (Some(Level::Warn), None));
    let l = br#"<165>1 2026-11-30T09:12:33.5Z web1 app 99 ID7 [ex@1 a="]"] hello n=1"#;
    let r = parse(Format::Syslog, l).unwrap();
    assert_eq!(
        (r.level, r.timestamp),
        (Some(Level::Info), Some(1_796_029_953.5))
    );
    assert_eq!(
        (r.message.as_deref(), s(&r, "n")),
        (Some(&b"hello"[..]), "Int(1)".into())
    );
    let r = parse(
        Format::Syslog,
        b"2026-11-30T09:12:33.123456+00:00 web1 app[7]: ERROR x",
    )
    .unwrap();
    assert_eq!(r.level, Some(Level::Error));
    assert!(parse(Format::Syslog, b"2026-11-30 09:12:33 ERROR boom: x").is_none());
}

#[test]
fn klog_lines() {
    let r = parse(
        Format::Klog,
        br#"E1130 09:12:33.123456    1234 main.go:42] "sync failed" pod="a" retries=2"#,
    )
    .unwrap();
    assert_eq!(
        (r.level, r.target.as_deref()),
        (Some(Level::Error), Some(&b"main.go:42"[..]))
    );
    assert_eq!(
        (r.message.as_deref(), s(&r, "retries")),
        (Some(&b"sync failed"[..]), "Int(2)".into())
    );
    assert!(parse(Format::Klog, b"INFO 1130 starting").is_none());
}

#[test]
fn syslog_tag_without_colon_after_a_priority() {
    let r = parse(
        Format::Syslog,
        b"<12>Nov 30 09:44:43 vm app ok latency_ms=3",
    )
    .unwrap();
    assert_eq!(
        (r.level, r.target.as_deref()),
        (Some(Level::Warn), Some(&b"app"[..]))
    );
    assert_eq!(r.message.as_deref(), Some(&b"ok"[..]));
}
