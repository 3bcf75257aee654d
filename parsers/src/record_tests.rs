use super::*;

#[test]
fn recycle_keeps_capacity() {
    let line = b"a=1".to_vec();
    let mut r = Record::new();
    for _ in 0..16 {
        r.push(&line[..1], Value::Int(1));
    }
    let cap = r.fields.capacity();
    let r2: Record<'static> = r.recycle();
    assert!(r2.fields.is_empty());
    assert_eq!(r2.fields.capacity(), cap);
}

#[test]
fn levels_are_case_insensitive() {
    assert_eq!(Level::from_bytes(b"warning"), Some(Level::Warn));
    assert_eq!(Level::from_bytes(b"ERROR"), Some(Level::Error));
    assert_eq!(Level::from_bytes(b"verbose"), None);
    assert_eq!(Level::from_bytes(b""), None);
    // Go slog's levels between its named ones.
    assert_eq!(Level::from_bytes(b"INFO+2"), Some(Level::Info));
    assert_eq!(Level::from_bytes(b"ERROR+4"), Some(Level::Error));
    assert_eq!(Level::from_bytes(b"DEBUG-4"), Some(Level::Debug));
    assert_eq!(Level::from_bytes(b"WARN-1"), Some(Level::Warn));
    assert_eq!(Level::from_bytes(b"info+2"), Some(Level::Info));
    for not in [&b"INFO+"[..], b"INFO+x", b"INFO+123", b"E-1", b"NOTE+1"] {
        assert_eq!(
            Level::from_bytes(not),
            None,
            "{}",
            String::from_utf8_lossy(not)
        );
    }
}

fn text(r: &Record<'_>, key: &str) -> String {
    let mut out = Vec::new();
    assert!(r.text_into(key.as_bytes(), &mut out), "{key} missing");
    String::from_utf8(out).unwrap()
}

fn parse_with<'a>(parser: &str, pattern: Option<&str>, line: &'a [u8]) -> Record<'a> {
    let opts = crate::ParserOptions {
        pattern: pattern.map(str::to_owned),
    };
    let mut p = crate::builtin(parser, &opts).unwrap();
    let mut r = Record::new();
    p.parse(line, &mut r).unwrap();
    r
}

/// Issue 8.6: label values were re-rendered through number parsing (`007` → `7`,
/// `1.10` → `1.1`, `10ms` → `0.01s`, two 20-digit ids → one `1e20`).
#[test]
fn label_text_is_as_written_007_1_10_10ms_and_20_digit_ids() {
    let logfmt = b"code=007 ver=1.10 took=10ms id=12345678901234567891 flag ok=true e=1e3";
    let r = parse_with("logfmt", None, logfmt);
    assert_eq!(r.get(b"code"), Some(&Value::Int(7)), "typing is unchanged");
    assert_eq!(r.get(b"took"), Some(&Value::Duration(0.01)));
    for (k, want) in [
        ("code", "007"),
        ("ver", "1.10"),
        ("took", "10ms"),
        ("id", "12345678901234567891"),
        ("flag", "true"),
        ("ok", "true"),
        ("e", "1e3"),
    ] {
        assert_eq!(text(&r, k), want, "logfmt {k}");
    }
    let json =
        br#"{"code":007,"ver":1.10,"took":"10ms","id":12345678901234567891,"s":"a\"b","n":-0.50}"#;
    let r = parse_with("json", None, json);
    for (k, want) in [
        ("code", "007"),
        ("ver", "1.10"),
        ("took", "10ms"),
        ("id", "12345678901234567891"),
        ("s", "a\"b"),
        ("n", "-0.50"),
    ] {
        assert_eq!(text(&r, k), want, "json {k}");
    }
    let r = parse_with(
        "regex",
        Some(r"^(?P<code>\S+) (?P<ver>\S+) (?P<took>\S+) (?P<id>\S+)$"),
        b"007 1.10 10ms 12345678901234567891",
    );
    for (k, want) in [
        ("code", "007"),
        ("ver", "1.10"),
        ("took", "10ms"),
        ("id", "12345678901234567891"),
    ] {
        assert_eq!(text(&r, k), want, "regex {k}");
    }
}

/// Issue 8.6: two distinct 20-digit ids both type to the float 1e20; their texts differ.
#[test]
fn two_20_digit_ids_keep_distinct_label_text() {
    let a = parse_with("logfmt", None, b"id=99999999999999999998");
    let b = parse_with("logfmt", None, b"id=99999999999999999999");
    assert_eq!(a.get(b"id"), b.get(b"id"));
    assert_ne!(text(&a, "id"), text(&b, "id"));
}

/// Issue 8.6: keys that fill slots (`module`, `time`, `ts`, `level`, `msg`...) were
/// unreachable by name; they read the slot's text.
#[test]
fn slot_keys_read_by_name_module_target_time_ts_level_msg() {
    let r = parse_with(
        "json",
        None,
        br#"{"ts":1795428000,"lvl":"WARN","msg":"slow","module":"db::pool"}"#,
    );
    assert_eq!(text(&r, "ts"), "1795428000");
    assert_eq!(text(&r, "lvl"), "warn");
    assert_eq!(text(&r, "level"), "warn");
    assert_eq!(text(&r, "msg"), "slow");
    assert_eq!(text(&r, "message"), "slow");
    assert_eq!(text(&r, "module"), "db::pool");
    assert_eq!(text(&r, "target"), "db::pool");
    let r = parse_with(
        "regex",
        Some(r"^(?P<time>\S+) (?P<level>\w+) (?P<target>[\w:]+): (?P<msg>.*)$"),
        b"2026-11-23T10:00:00.5Z INFO app::io: done",
    );
    assert_eq!(text(&r, "time"), "2026-11-23T10:00:00.5Z");
    assert_eq!(text(&r, "level"), "info");
    assert_eq!(text(&r, "target"), "app::io");
    assert_eq!(text(&r, "msg"), "done");
    assert_eq!(
        r.lookup(b"time"),
        Some(Value::Str(Cow::Borrowed(b"2026-11-23T10:00:00.5Z")))
    );
    let r = parse_with("logfmt", None, b"2026-11-23 10:00:00 INFO started x=1");
    assert_eq!(text(&r, "time"), "2026-11-23 10:00:00");
    let mut none = Vec::new();
    assert!(!Record::new().text_into(b"module", &mut none));
}

#[test]
fn lend_and_restore_reuse_one_field_vector() {
    let mut holder: Record<'static> = Record::new();
    holder.fields.reserve(8);
    let cap = holder.fields.capacity();
    for line in [&b"a=1 b=2"[..], &b"c=3"[..]] {
        let mut r = holder.lend();
        assert!(r.fields.is_empty() && r.fields.capacity() == cap);
        r.push(&line[..1], Value::Int(1));
        r.level = Some(Level::Warn);
        holder.restore(r);
        assert!(holder.fields.is_empty() && holder.fields.capacity() == cap);
        assert_eq!(holder.level, None);
    }
}
