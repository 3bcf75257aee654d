use super::*;

const T0: f64 = 1_795_428_000.0; // 2026-11-23T10:00:00Z

fn at(pat: &str, s: &str) -> Option<(f64, bool, usize)> {
    let p = Strftime::new(pat).unwrap();
    p.parse_prefix(s.as_bytes()).map(|((t, z), n)| (t, z, n))
}

#[test]
fn common_patterns() {
    assert_eq!(
        at("%Y-%m-%d %H:%M:%S", "2026-11-23 10:00:00 x"),
        Some((T0, false, 19))
    );
    assert_eq!(
        at("%Y-%m-%d %H:%M:%S%.f", "2026-11-23 10:00:00.250 x"),
        Some((T0 + 0.25, false, 23))
    );
    assert_eq!(
        at("%Y-%m-%d %H:%M:%S%.f", "2026-11-23 10:00:00 x").map(|v| v.0),
        Some(T0)
    );
    assert_eq!(
        at("%d.%m.%Y %T", "23.11.2026 10:00:00"),
        Some((T0, false, 19))
    );
    assert_eq!(
        at("%d/%b/%Y:%T %z", "23/Nov/2026:11:00:00 +0100]"),
        Some((T0, true, 26))
    );
    assert_eq!(
        at("%D %I:%M %p", "11/23/26 10:00 AM").map(|v| v.0),
        Some(T0)
    );
    assert_eq!(
        at("%D %I:%M %p", "11/23/26 12:00 am").map(|v| v.0),
        Some(T0 - 36000.0)
    );
    assert_eq!(
        at("%a, %d %B %Y %T %Z", "Mon, 23 November 2026 10:00:00 GMT").map(|v| (v.0, v.1)),
        Some((T0, true))
    );
    assert_eq!(
        at("%FT%T%3f", "2026-11-23T10:00:00123").map(|v| v.0),
        Some(T0 + 0.123)
    );
    assert_eq!(at("%Y%j %H", "2026327 10").map(|v| v.0), Some(T0));
    assert_eq!(at("[%s]", "[1795428000.5] x"), Some((T0 + 0.5, true, 14)));
    assert_eq!(
        at("%Y-%m-%d%t%H:%M", "2026-11-23 \t10:00").map(|v| v.0),
        Some(T0)
    );
    assert_eq!(at("%%%F", "%2026-11-23").map(|v| v.0), Some(T0 - 36000.0));
}

#[test]
fn non_matching_text_is_none() {
    for (pat, s) in [
        ("%Y-%m-%d %H:%M:%S", "2026/11/23 10:00:00"),
        ("%Y-%m-%d %H:%M:%S", "2026-13-23 10:00:00"),
        ("%Y-%m-%d %H:%M:%S", "2026-11-23 25:00:00"),
        ("%Y-%m-%d %H:%M:%S", "hello"),
        ("%Y-%m-%d %H:%M:%S", ""),
        ("%D %I:%M %p", "11/23/26 13:00 PM"),
        ("%b %d %T", "Foo 23 10:00:00"),
        ("%F %T %Z", "2026-11-23 10:00:00 CET"),
        ("%F %3f", "2026-11-23 12"),
    ] {
        assert_eq!(at(pat, s), None, "{pat} on {s}");
    }
}

#[test]
fn no_year_takes_a_recent_one() {
    let (t, z, n) = at("%b %e %T", "Nov  3 10:00:00 host").unwrap();
    assert!(!z);
    assert_eq!(n, 15);
    assert_eq!(t.rem_euclid(86400.0), 36000.0);
}

#[test]
fn bad_patterns_name_the_problem() {
    let e = |p: &str| Strftime::new(p).unwrap_err();
    assert!(
        e("%Y-%m-%d %Q").contains("unknown directive `%Q`"),
        "{}",
        e("%Y-%m-%d %Q")
    );
    assert!(e("%F %").contains("lone `%`"));
    assert!(e("%H:%M:%S").contains("has no date"));
    assert!(e("%F %.x").contains("`%.` must be followed by `f`"));
}
