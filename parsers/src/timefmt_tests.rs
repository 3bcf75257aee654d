use super::*;
use crate::{builtin, ParserOptions};

const T0: f64 = 1_795_428_000.0; // 2026-11-23T10:00:00Z

fn time_of(parser: &str, format: &str, tz: Option<&str>, line: &str) -> EventTime {
    let spec = TimeSpec::new(format, tz).unwrap();
    let opts = ParserOptions::default();
    let mut p = builtin(parser, &opts).unwrap();
    let mut r = Record::new();
    p.parse(line.as_bytes(), &mut r).unwrap();
    spec.event_time(line.as_bytes(), &r)
}

#[test]
fn auto_reads_what_each_builtin_parser_found() {
    let f = EventTime::Found(T0);
    for (parser, line) in [
        ("json", r#"{"ts":"2026-11-23T10:00:00Z","v":1}"#),
        ("json", r#"{"time":1795428000000,"v":1}"#),
        ("logfmt", "time=2026-11-23T10:00:00Z v=1"),
        ("logfmt", "2026-11-23 10:00:00 INFO v=1"),
        ("plain", "[2026-11-23T10:00:00Z] INFO started"),
        ("plain", "23/Nov/2026:11:00:00 +0100 hello"),
        ("plain", "<165>1 2026-11-23T10:00:00Z host app - - - hi"),
        ("auto", r#"{"@timestamp":"2026-11-23T10:00:00Z"}"#),
        ("auto", "ts=1795428000 x=1"),
        ("auto", "2026-11-23T10:00:00Z ERROR boom"),
    ] {
        assert_eq!(time_of(parser, "auto", None, line), f, "{parser}: {line}");
    }
    assert_eq!(
        time_of("auto", "auto", None, "no time here"),
        EventTime::Absent
    );
    let opts = ParserOptions {
        pattern: Some(r"^\[(?P<time>[^\]]+)\] (?P<msg>.*)$".into()),
    };
    let mut p = builtin("regex", &opts).unwrap();
    let mut r = Record::new();
    let line = b"[23/Nov/2026:10:00:00 +0000] hi";
    p.parse(line, &mut r).unwrap();
    assert_eq!(TimeSpec::default().event_time(line, &r), f);
}

#[test]
fn timezone_applies_to_zone_less_times_only() {
    let tz = Some("+02:00");
    let local = time_of("plain", "auto", tz, "2026-11-23 12:00:00 INFO x");
    assert_eq!(local, EventTime::Found(T0));
    let zoned = time_of("plain", "auto", tz, "2026-11-23T10:00:00Z INFO x");
    assert_eq!(zoned, EventTime::Found(T0));
    let epoch = time_of("logfmt", "auto", tz, "ts=1795428000 x=1");
    assert_eq!(epoch, EventTime::Found(T0));
    let pat = time_of(
        "plain",
        "%d.%m.%Y %H:%M",
        Some("-0500"),
        "23.11.2026 05:00 x",
    );
    assert_eq!(pat, EventTime::Found(T0));
}

#[test]
fn explicit_formats() {
    let f = EventTime::Found(T0);
    let cases = [
        ("plain", "rfc3339", "2026-11-23T10:00:00Z hi"),
        ("plain", "clf", "23/Nov/2026:10:00:00 +0000 hi"),
        ("plain", "unix", "1795428000 hi"),
        ("plain", "unix", "1795428000000 hi"),
        ("plain", "unix_ms", "1795428000000 hi"),
        ("logfmt", "unix_ms", "ts=1795428000000 x=1"),
        ("logfmt", "unix", "x=1 time=1795428000"),
        (
            "json",
            "%d.%m.%Y %H:%M:%S",
            r#"{"time":"23.11.2026 10:00:00","x":1}"#,
        ),
        (
            "plain",
            "%d.%m.%Y %H:%M:%S%.f",
            "23.11.2026 10:00:00 INFO hi",
        ),
        ("plain", "%d.%m.%Y %H:%M:%S", "[23.11.2026 10:00:00] hi"),
        (
            "plain",
            "syslog",
            "<165>1 2026-11-23T10:00:00Z host app - - - hi",
        ),
    ];
    for (parser, format, line) in cases {
        assert_eq!(time_of(parser, format, None, line), f, "{format}: {line}");
    }
    let sys = time_of("plain", "syslog", None, "<34>Nov 23 10:00:00 host su: x");
    assert!(matches!(sys, EventTime::Found(t) if (t - 36000.0).rem_euclid(86400.0) == 0.0));
    assert_eq!(
        time_of("plain", "none", None, "2026-11-23T10:00:00Z hi"),
        EventTime::Absent
    );
    for (format, line) in [
        ("rfc3339", "23/Nov/2026:10:00:00 +0000 hi"),
        ("clf", "2026-11-23T10:00:00Z hi"),
        ("unix", "hello"),
        ("syslog", "hello world, not a time"),
        ("%d.%m.%Y %H:%M:%S", "2026-11-23 10:00:00 hi"),
    ] {
        assert_eq!(
            time_of("plain", format, None, line),
            EventTime::Unmatched,
            "{format}: {line}"
        );
    }
}

#[test]
fn bad_settings_name_the_field() {
    let e = |f: &str, z: Option<&str>| TimeSpec::new(f, z).unwrap_err().to_string();
    assert!(e("iso", None).starts_with("field `timestamp`: unknown timestamp format `iso`"));
    assert!(e("%Y %Q", None).contains("unknown directive `%Q`"));
    assert!(e("auto", Some("CET")).starts_with("field `timezone`: `CET` is not a UTC offset"));
    assert!(e("auto", Some("+25:00")).contains("not a UTC offset"));
    assert!(TimeSpec::new("auto", Some("UTC")).is_ok());
}
