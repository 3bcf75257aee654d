use super::*;
use kpid_parsers::Level;

fn rec() -> Record<'static> {
    let mut r = Record::new();
    r.level = Some(Level::Error);
    r.push(&b"status"[..], Value::Int(503));
    r.push(&b"method"[..], Value::Str(b"GET"[..].into()));
    r.push(&b"path"[..], Value::Str(b"/api/v1/x"[..].into()));
    r
}

#[test]
fn comparisons() {
    let r = rec();
    for (f, want) in [
        ("status >= 500", true),
        ("status < 500", false),
        ("method == \"GET\" and status == 503", true),
        ("method == POST", false),
        ("path =~ \"^/api\"", true),
        ("path !~ \"^/api\"", false),
        ("level == error", true),
        ("missing == 1", false),
        ("missing != 1", true),
        ("source == web", true),
    ] {
        assert_eq!(Filter::parse(f).unwrap().matches("web", &r), want, "{f}");
    }
}

#[test]
fn or_not_and_parentheses() {
    let r = rec();
    for (f, want) in [
        ("method == POST or status == 503", true),
        ("method == POST or status == 200", false),
        ("not method == POST", true),
        ("not (method == GET and status >= 500)", false),
        ("method == POST or method == GET and status < 500", false),
        ("(method == POST or method == GET) and status >= 500", true),
        ("status >= 500 and not path =~ \"^/health\"", true),
        ("not not level == error", true),
        // A missing field: `not x == 1` and `x != 1` agree.
        ("not missing == 1", true),
        ("not missing != 1", false),
        ("path == 5", false),
        ("path != 5", true),
    ] {
        assert_eq!(Filter::parse(f).unwrap().matches("web", &r), want, "{f}");
    }
}

#[test]
fn reads_captures_and_the_file() {
    let r = rec();
    let re = regex::bytes::Regex::new(r"took (?P<ms>\d+)").unwrap();
    let mut locs = re.capture_locations();
    let line = b"GET took 42 ms";
    re.captures_read(&mut locs, line).unwrap();
    let names = [
        (Box::from(&b"ms"[..]), 1usize),
        (Box::from(&b"status"[..]), 0),
    ];
    let view = View {
        source: "web",
        file: b"/var/log/xferlog",
        rec: &r,
        caps: Caps::new(line, &locs, &names),
    };
    for (f, want) in [
        ("ms == 42", true),
        ("ms > 40 and _file =~ \"xferlog$\"", true),
        ("status == \"took 42\"", true), // the capture comes before the field
        ("_file =~ \"vsftpd\"", false),
    ] {
        assert_eq!(Filter::parse(f).unwrap().accepts(&view), want, "{f}");
    }
    assert!(!Filter::parse("_file =~ \".\"").unwrap().matches("web", &r));
}

#[test]
fn each_error_says_what_was_expected() {
    let deep = format!("{}a == 1{}", "(".repeat(40), ")".repeat(40));
    let nots = format!("{}a == 1", "not ".repeat(40));
    for (src, want) in [
        ("", "expected a field name, `not` or `(`, found the end"),
        (
            "status >>= 5",
            "expected a number, a \"string\" or a word, found `>=` at byte 8",
        ),
        (
            "status",
            "expected an operator (== != > >= < <= =~ !~) after the field name, found the end",
        ),
        (
            "status == ",
            "expected a number, a \"string\" or a word, found the end",
        ),
        (
            "a == 1 and",
            "expected a field name, `not` or `(`, found the end",
        ),
        (
            "a == 1 b == 2",
            "expected `and`, `or` or the end, found `b` at byte 7",
        ),
        ("(a == 1", "expected `)`, found the end"),
        (
            "a == 1)",
            "expected `and`, `or` or the end, found `)` at byte 6",
        ),
        (
            "or a == 1",
            "expected a field name, `not` or `(`, found `or` at byte 0",
        ),
        ("a =~ 5", "expected a quoted regex"),
        ("a = 1", "unexpected `=` at byte 2"),
        ("a == \"x", "unterminated string"),
        ("path =~ \"(\"", "invalid regex in filter"),
        (&deep, "at most 32 nested"),
        (&nots, "at most 32 nested"),
    ] {
        let e = Filter::parse(src).unwrap_err();
        assert!(e.starts_with("invalid "), "{e}");
        assert!(e.contains(want), "{src}: {e}");
    }
}
