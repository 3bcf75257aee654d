use super::*;
use crate::{Level, Value};

fn parse(line: &[u8]) -> Result<Record<'_>, ParseError> {
    let mut r = Record::new();
    AutoParser::new().parse(line, &mut r).map(|()| r)
}

#[test]
fn picks_the_format_per_line() {
    let r = parse(br#"  {"level":"error","n":1}"#).unwrap();
    assert_eq!(
        (r.level, r.get(b"n")),
        (Some(Level::Error), Some(&Value::Int(1)))
    );
    let r = parse(b"WARN queue full depth=12\r").unwrap();
    assert_eq!(
        (r.level, r.get(b"depth")),
        (Some(Level::Warn), Some(&Value::Int(12)))
    );
    let r = parse(b"2026-11-23 10:00:00 ERROR boom").unwrap();
    assert_eq!(r.level, Some(Level::Error));
    assert_eq!(r.message.as_deref(), Some(&b"boom"[..]));
}

#[test]
fn broken_json_is_an_error() {
    let e = parse(br#"{"level":"error""#).unwrap_err();
    assert!(e.to_string().starts_with("json: "), "{e}");
}

#[test]
fn broken_logfmt_falls_back_to_plain() {
    let r = parse(br#"ERROR user said msg="hi"#).unwrap();
    assert_eq!(r.level, Some(Level::Error));
    assert_eq!(r.message.as_deref(), Some(&br#"user said msg="hi"#[..]));
    assert!(r.fields.is_empty());
}

#[test]
fn the_format_is_sticky_and_switches_are_counted() {
    let mut p = AutoParser::new();
    let lines: [&[u8]; 4] = [
        b"1.2.3.4 - - [30/Nov/2026:09:12:33 +0000] \"GET / HTTP/1.1\" 200 5 \"-\" \"c\"",
        b"1.2.3.4 - - [30/Nov/2026:09:12:34 +0000] \"POST /x HTTP/1.1\" 502 0 \"-\" \"c\"",
        b"level=info msg=hi n=3",
        b"level=info msg=hi n=4",
    ];
    let mut formats = Vec::new();
    for l in lines {
        let mut r = Record::new();
        p.parse(l, &mut r).unwrap();
        formats.push(p.format().unwrap().format);
    }
    assert_eq!(formats, ["access", "access", "logfmt", "logfmt"]);
    assert_eq!(p.format().unwrap().switches, 1);
}

#[test]
fn a_traceback_joins_the_error_line_before_it() {
    let log = "2026-11-30 09:12:33,123 - app - ERROR - failed\n\
               Traceback (most recent call last):\n  File \"x.py\", line 3, in <module>\n    f()\n\
               ValueError: boom\n\n\
               During handling of the above exception, another exception occurred:\n\n\
               Traceback (most recent call last):\n  File \"x.py\", line 5, in <module>\n\
               KeyError: 'k'\n\
               2026-11-30 09:12:34,000 - app - INFO - next";
    let mut p = AutoParser::new();
    let mut got = Vec::new();
    for l in log.lines() {
        let mut r = Record::new();
        match p.parse(l.as_bytes(), &mut r) {
            Ok(()) => got.push(r.level),
            Err(ParseError::Continuation) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(got, [Some(Level::Error), Some(Level::Info)]);
    assert_eq!(p.format().unwrap().joined, 10);
}

#[test]
fn a_bare_traceback_is_an_error_record() {
    let mut p = AutoParser::new();
    let mut r = Record::new();
    p.parse(b"INFO:root:starting", &mut r).unwrap();
    let mut r = Record::new();
    p.parse(b"Traceback (most recent call last):", &mut r)
        .unwrap();
    assert_eq!(r.level, Some(Level::Error));
    let mut r = Record::new();
    assert_eq!(
        p.parse(b"  File \"x.py\", line 1", &mut r),
        Err(ParseError::Continuation)
    );
    assert_eq!(
        p.parse(b"RuntimeError: no", &mut r),
        Err(ParseError::Continuation)
    );
}

#[test]
fn continuations_are_bounded() {
    let mut p = AutoParser::new();
    let mut r = Record::new();
    p.parse(b"ERROR start", &mut r).unwrap();
    let mut records = 0;
    for _ in 0..(crate::formats::multiline::MAX_LINES + 10) {
        let mut r = Record::new();
        if p.parse(b"  more", &mut r).is_ok() {
            records += 1;
        }
    }
    assert_eq!(records, 1, "the line past the cap starts a record");
    assert_eq!(p.format().unwrap().overflows, 1);
}

#[test]
fn syslog_lines_stay_syslog() {
    let mut p = AutoParser::new();
    for l in [
        &b"<11>Nov 30 09:44:43 vm app: db down latency_ms=12"[..],
        b"<12>Nov 30 09:44:43 vm app ok latency_ms=3",
    ] {
        let mut r = Record::new();
        p.parse(l, &mut r).unwrap();
        assert_eq!(p.format().unwrap().format, "syslog", "{r:?}");
    }
}
