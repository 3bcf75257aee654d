//! `plain`: free text. Yields a timestamp (when the line starts with one), a level and the
//! message; never fails.
//!
//! - Timestamp at the start, optionally in brackets: RFC 3339 / ISO 8601,
//!   `YYYY-MM-DD HH:MM:SS[.fff]`, `YYYY/MM/DD HH:MM:SS`, Apache's `10/Oct/2000:13:55:36 -0700`.
//! - Level: a level word (`ERROR`, `WARNING`, `INFO`, `DEBUG`, `TRACE`, `FATAL`, `CRITICAL`,
//!   `ERR`, `NOTICE`) among the tokens that start in the first 64 bytes after the timestamp.
//!   Uppercase words count anywhere there; any case counts when the word is the first token,
//!   in brackets (`[warn]`, `<info>`, `(debug)`) or written `level=info` / `lvl=` /
//!   `severity=`. A trailing `:` or `,` is ignored (`Error:`). glog's `W1123 10:00:00.123 …]`
//!   prefix gives the level from its first letter.
//! - Message: the rest of the line after the level word when only header tokens (bracketed
//!   like `[main]`, or numbers like a pid) come before it; otherwise everything after the
//!   timestamp, so a level word in the middle of a sentence does not cut it.

use crate::timestamp::parse_prefix;
use crate::value::trim_cr;
use crate::{Level, ParseError, Parser, Record};
use std::borrow::Cow;

/// How far past the timestamp a level word may start.
const LEVEL_WINDOW: usize = 64;

/// The `plain` parser.
#[derive(Debug, Default, Clone)]
pub struct PlainParser;

impl PlainParser {
    /// A plain-text parser.
    pub fn new() -> Self {
        PlainParser
    }
}

impl Parser for PlainParser {
    fn name(&self) -> &str {
        "plain"
    }

    fn parse<'a>(&mut self, line: &'a [u8], out: &mut Record<'a>) -> Result<(), ParseError> {
        let line = trim_cr(line);
        let p = scan_prefix(line);
        out.timestamp = p.timestamp;
        out.level = p.level;
        if p.time.1 > p.time.0 {
            out.time_text = Some(Cow::Borrowed(&line[p.time.0..p.time.1]));
        }
        let msg = trim_end(&line[p.body..]);
        if !msg.is_empty() {
            out.message = Some(Cow::Borrowed(msg));
        }
        Ok(())
    }
}

/// What the start of a line says: its timestamp, its level and where the message starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Prefix {
    pub timestamp: Option<f64>,
    pub level: Option<Level>,
    pub body: usize,
    /// Where the timestamp's text is (`time.0..time.1`), empty when none.
    pub time: (usize, usize),
}

pub(crate) fn scan_prefix(line: &[u8]) -> Prefix {
    if let Some(p) = glog(line) {
        return p;
    }
    let mut p = Prefix {
        timestamp: None,
        level: None,
        body: 0,
        time: (0, 0),
    };
    let start = line.len() - crate::timefmt::line_start(line).len();
    if start > 0 {
        // Syslog `<PRI>` (RFC 3164) or `<PRI>1 ` (RFC 5424): the severity is the level.
        p.level = syslog_severity(&line[1..]);
        p.body = start;
    }
    if let Some((t, n)) = parse_prefix(&line[start..]) {
        p.timestamp = Some(t);
        p.body = start + n;
        p.time = (start, start + n);
    } else if start == 0 && line.first() == Some(&b'[') {
        if let Some((t, n)) = parse_prefix(&line[1..]) {
            if line.get(n + 1) == Some(&b']') {
                p.timestamp = Some(t);
                p.body = n + 2;
                p.time = (1, n + 1);
            }
        }
    }
    p.body = skip_ws(line, p.body);
    if p.level.is_some() {
        return p;
    }
    let limit = (p.body + LEVEL_WINDOW).min(line.len());
    let mut i = p.body;
    let mut header = true;
    let mut first = true;
    while i < limit {
        let end = i + memchr::memchr2(b' ', b'\t', &line[i..]).unwrap_or(line.len() - i);
        let tok = &line[i..end];
        let (word, marked) = strip(tok);
        if let Some(level) = level_word(word, marked || first) {
            p.level = Some(level);
            if header {
                p.body = skip_seps(line, end);
            }
            break;
        }
        header &= is_header(tok);
        first = false;
        i = skip_ws(line, end);
    }
    p
}

/// The level of a syslog priority (`165>`): severity 0-3 error, 4 warn, 5-6 info, 7 debug.
fn syslog_severity(s: &[u8]) -> Option<Level> {
    let end = memchr::memchr(b'>', s)?;
    let pri: u32 = std::str::from_utf8(&s[..end]).ok()?.parse().ok()?;
    Some(match pri % 8 {
        0..=3 => Level::Error,
        4 => Level::Warn,
        5 | 6 => Level::Info,
        _ => Level::Debug,
    })
}

/// `I1123 10:00:00.123456 1234 file.go:42] message`.
fn glog(line: &[u8]) -> Option<Prefix> {
    let level = match line.first()? {
        b'I' => Level::Info,
        b'W' => Level::Warn,
        b'E' | b'F' => Level::Error,
        _ => return None,
    };
    if line.len() < 6 || !line[1..5].iter().all(u8::is_ascii_digit) || line[5] != b' ' {
        return None;
    }
    let head = &line[..line.len().min(LEVEL_WINDOW + 16)];
    let body = memchr::memmem::find(head, b"] ").map_or(6, |at| skip_ws(line, at + 2));
    Some(Prefix {
        timestamp: None,
        level: Some(level),
        body,
        time: (0, 0),
    })
}

/// Strips brackets, a `level=` style key and a trailing `:` / `,`; says if the word was
/// marked as a level by brackets or key.
fn strip(tok: &[u8]) -> (&[u8], bool) {
    let mut w = tok;
    while let [rest @ .., b':' | b',' | b';'] = w {
        w = rest;
    }
    if let [b'[' | b'(' | b'<', inner @ .., b']' | b')' | b'>'] = w {
        return (inner, true);
    }
    for key in [&b"level="[..], b"lvl=", b"severity="] {
        if w.len() > key.len() && w[..key.len()].eq_ignore_ascii_case(key) {
            let v = &w[key.len()..];
            let v = v.strip_prefix(b"\"").unwrap_or(v);
            return (v.strip_suffix(b"\"").unwrap_or(v), true);
        }
    }
    (w, false)
}

fn level_word(word: &[u8], any_case: bool) -> Option<Level> {
    if word.len() < 3 || !(any_case || word.iter().all(u8::is_ascii_uppercase)) {
        return None;
    }
    Level::from_bytes(word)
}

/// Tokens that may come before a level word without being part of the message.
fn is_header(tok: &[u8]) -> bool {
    matches!(tok, [b'[', .., b']'] | [b'(', .., b')'] | [b'<', .., b'>'])
        || tok.iter().all(|c| c.is_ascii_digit() || *c == b':')
        || tok == b"-"
        || tok == b"|"
}

fn skip_ws(line: &[u8], mut i: usize) -> usize {
    while i < line.len() && (line[i] == b' ' || line[i] == b'\t') {
        i += 1;
    }
    i
}

/// Skips blanks and separators (`-`, `:`, `|`) between the level word and the message.
fn skip_seps(line: &[u8], mut i: usize) -> usize {
    while i < line.len() && matches!(line[i], b' ' | b'\t' | b'-' | b':' | b'|') {
        i += 1;
    }
    i
}

pub(crate) fn trim_end(s: &[u8]) -> &[u8] {
    let mut e = s.len();
    while e > 0 && (s[e - 1] == b' ' || s[e - 1] == b'\t') {
        e -= 1;
    }
    &s[..e]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &[u8]) -> Record<'_> {
        let mut r = Record::new();
        PlainParser.parse(line, &mut r).unwrap();
        r
    }

    fn check(line: &str, ts: Option<f64>, level: Option<Level>, msg: &str) {
        let r = parse(line.as_bytes());
        assert_eq!(r.timestamp, ts, "{line}");
        assert_eq!(r.level, level, "{line}");
        assert_eq!(
            r.message.as_deref().unwrap_or(b""),
            msg.as_bytes(),
            "{line}"
        );
        assert!(r.fields.is_empty());
    }

    const T0: Option<f64> = Some(1_795_428_000.0);

    #[test]
    fn timestamp_level_message() {
        use Level::*;
        check(
            "2026-11-23T10:00:00Z ERROR disk full",
            T0,
            Some(Error),
            "disk full",
        );
        check(
            "2026-11-23 10:00:00 [WARN] slow: 3 s\r",
            T0,
            Some(Warn),
            "slow: 3 s",
        );
        check("[2026-11-23 10:00:00] info: ready", T0, Some(Info), "ready");
        check(
            "2026-11-23 10:00:00 [main] 1234 DEBUG - tick",
            T0,
            Some(Debug),
            "tick",
        );
        check("level=warning queue full", None, Some(Warn), "queue full");
        check("Error: no such file", None, Some(Error), "no such file");
        check("<trace> x", None, Some(Trace), "x");
    }

    #[test]
    fn level_inside_a_sentence_keeps_the_sentence() {
        check(
            "connection ERROR on socket 3",
            None,
            Some(Level::Error),
            "connection ERROR on socket 3",
        );
        check("no error was found", None, None, "no error was found");
        check("I think so", None, None, "I think so");
    }

    #[test]
    fn level_beyond_the_window_is_ignored() {
        let line = format!("{} ERROR late", "word ".repeat(14));
        check(&line, None, None, line.trim_end());
    }

    #[test]
    fn syslog_lines() {
        let t = crate::timestamp::parse_prefix(b"Oct 11 22:14:15")
            .unwrap()
            .0;
        check(
            "<34>Oct 11 22:14:15 mymachine su: 'su root' failed",
            Some(t),
            Some(Level::Error),
            "mymachine su: 'su root' failed",
        );
        check(
            "<165>1 2026-11-23T10:00:00.003Z host app - ID47 - hello",
            Some(1_795_428_000.003),
            Some(Level::Info),
            "host app - ID47 - hello",
        );
        check(
            "Oct 11 22:14:15 host app[12]: WARN disk low",
            Some(t),
            Some(Level::Warn),
            "host app[12]: WARN disk low",
        );
    }

    #[test]
    fn glog_prefix() {
        check(
            "W1123 10:00:00.123456    1234 main.go:42] queue slow",
            None,
            Some(Level::Warn),
            "queue slow",
        );
        check("E1123 boom", None, Some(Level::Error), "boom");
    }

    #[test]
    fn empty_and_invalid_utf8() {
        check("", None, None, "");
        let r = parse(b"\xff\xfe WARN \xc3");
        assert_eq!(r.level, Some(Level::Warn));
    }
}
