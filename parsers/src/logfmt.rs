//! `logfmt`: `key=value` pairs, with an optional plain prefix.
//!
//! `2026-11-23T10:00:00.123Z INFO pipeline stats fps_in=95.2 queue_rt=2 lat=12ms`
//!
//! - The prefix (everything before the first pair) is read like a `plain` line: a leading
//!   timestamp, a level word, and the remaining words as the message.
//! - A key is ASCII letters, digits, `_`, `.`, `-`, `/`, `@`, directly followed by `=`.
//! - Bare values are typed: integer, float, `true`/`false`, duration with units (`12ms`,
//!   `1.5s`, `1h2m`) in seconds, else text. A quoted value (`k="a \" b"`) is always text:
//!   the writer chose to quote it; it borrows from the line unless it has escapes
//!   (`\"`, `\\`, `\n`, `\t`, `\r`; any other backslash is kept as is).
//! - After the first pair, a bare word made of key characters is a flag (`Bool(true)`), as in
//!   logfmt; other stray words are ignored.
//! - `level`, `msg`, `ts`, `target`… fill the record's slots (see `slots`).
//! - An unterminated quoted value is an error naming the key.

use crate::plain::{scan_prefix, trim_end};
use crate::slots::{assign, assign_raw, slot_of};
use crate::value::trim_cr;
use crate::{ParseError, Parser, Record, Value};
use std::borrow::Cow;

/// The `logfmt` parser.
#[derive(Debug, Default, Clone)]
pub struct LogfmtParser;

impl LogfmtParser {
    /// A logfmt / `key=value` parser.
    pub fn new() -> Self {
        LogfmtParser
    }

    /// Parses `line` and returns how many `key=value` pairs it had (the `auto` parser falls
    /// back to `plain` for lines without any).
    pub fn parse_pairs<'a>(
        &self,
        line: &'a [u8],
        out: &mut Record<'a>,
    ) -> Result<usize, ParseError> {
        let line = trim_cr(line);
        let first = first_pair(line);
        let prefix = &line[..first];
        if !prefix.is_empty() {
            let p = scan_prefix(prefix);
            out.timestamp = p.timestamp;
            out.level = p.level;
            if p.time.1 > p.time.0 {
                out.time_text = Some(Cow::Borrowed(&prefix[p.time.0..p.time.1]));
            }
            let msg = trim_end(&prefix[p.body..]);
            if !msg.is_empty() {
                out.message = Some(Cow::Borrowed(msg));
            }
        }
        let mut pairs = 0;
        let mut i = first;
        while i < line.len() {
            if is_blank(line[i]) {
                i += 1;
                continue;
            }
            let k = key_len(&line[i..]);
            let key = &line[i..i + k];
            let after = i + k;
            if k > 0 && line.get(after) == Some(&b'=') {
                pairs += 1;
                i = self.value(line, key, after + 1, out)?;
            } else {
                let end = token_end(line, i);
                if k > 0 && k == end - i {
                    out.push(Cow::Borrowed(key), Value::Bool(true));
                }
                i = end;
            }
        }
        Ok(pairs)
    }

    /// Reads the value starting at `v` for `key`; returns the index after it.
    fn value<'a>(
        &self,
        line: &'a [u8],
        key: &'a [u8],
        v: usize,
        out: &mut Record<'a>,
    ) -> Result<usize, ParseError> {
        let slot = slot_of(key);
        if line.get(v) != Some(&b'"') {
            let end = token_end(line, v);
            assign_raw(out, slot, Cow::Borrowed(key), &line[v..end]);
            return Ok(end);
        }
        let start = v + 1;
        let mut i = start;
        let mut owned: Option<Vec<u8>> = None;
        loop {
            let Some(off) = memchr::memchr2(b'"', b'\\', &line[i..]) else {
                return Err(ParseError::Invalid(format!(
                    "logfmt: unterminated quoted value of `{}` at byte {v}",
                    String::from_utf8_lossy(key)
                )));
            };
            let at = i + off;
            if line[at] == b'"' {
                let text = match owned {
                    None => Cow::Borrowed(&line[start..at]),
                    Some(mut buf) => {
                        buf.extend_from_slice(&line[i..at]);
                        Cow::Owned(buf)
                    }
                };
                assign(out, slot, Cow::Borrowed(key), Value::Str(text), b"");
                return Ok(at + 1);
            }
            let buf = owned.get_or_insert_with(Vec::new);
            buf.extend_from_slice(&line[i..at]);
            match line.get(at + 1) {
                Some(b'"') => buf.push(b'"'),
                Some(b'\\') => buf.push(b'\\'),
                Some(b'n') => buf.push(b'\n'),
                Some(b't') => buf.push(b'\t'),
                Some(b'r') => buf.push(b'\r'),
                Some(&c) => buf.extend_from_slice(&[b'\\', c]),
                None => buf.push(b'\\'),
            }
            i = (at + 2).min(line.len());
        }
    }
}

impl Parser for LogfmtParser {
    fn name(&self) -> &str {
        "logfmt"
    }

    fn parse<'a>(&mut self, line: &'a [u8], out: &mut Record<'a>) -> Result<(), ParseError> {
        self.parse_pairs(line, out).map(drop)
    }
}

#[inline]
fn is_blank(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

#[inline]
fn is_key_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-' | b'/' | b'@')
}

fn key_len(s: &[u8]) -> usize {
    s.iter().position(|&c| !is_key_byte(c)).unwrap_or(s.len())
}

fn token_end(line: &[u8], i: usize) -> usize {
    i + memchr::memchr2(b' ', b'\t', &line[i..]).unwrap_or(line.len() - i)
}

/// Index of the first token that is a `key=` pair (the line's length if none).
fn first_pair(line: &[u8]) -> usize {
    let mut i = 0;
    while i < line.len() {
        if is_blank(line[i]) {
            i += 1;
            continue;
        }
        let k = key_len(&line[i..]);
        if k > 0 && line.get(i + k) == Some(&b'=') {
            return i;
        }
        i = token_end(line, i);
    }
    line.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Level;

    fn parse(line: &[u8]) -> Result<(Record<'_>, usize), ParseError> {
        let mut r = Record::new();
        LogfmtParser.parse_pairs(line, &mut r).map(|n| (r, n))
    }

    fn s(v: &str) -> Value<'_> {
        Value::Str(Cow::Borrowed(v.as_bytes()))
    }

    #[test]
    fn prefix_and_typed_pairs() {
        let (r, n) = parse(
            b"2026-11-23T10:00:00.123Z INFO pipeline stats fps_in=95.2 queue_rt=2 lat=12ms ok=true name=cam1\r",
        )
        .unwrap();
        assert_eq!(n, 5);
        assert_eq!(r.timestamp, Some(1_795_428_000.123));
        assert_eq!(r.level, Some(Level::Info));
        assert_eq!(r.message.as_deref(), Some(&b"pipeline stats"[..]));
        assert_eq!(r.get(b"fps_in"), Some(&Value::Float(95.2)));
        assert_eq!(r.get(b"queue_rt"), Some(&Value::Int(2)));
        assert_eq!(r.get(b"lat"), Some(&Value::Duration(0.012)));
        assert_eq!(r.get(b"ok"), Some(&Value::Bool(true)));
        assert_eq!(r.get(b"name"), Some(&s("cam1")));
    }

    #[test]
    fn quoted_values_and_slots() {
        let (r, _) = parse(
            br#"level=warn msg="queue \"rt\" full" k2="quoted \" value" q="12" path="C:\dir" e="""#,
        )
        .unwrap();
        assert_eq!(r.level, Some(Level::Warn));
        assert_eq!(r.message.as_deref(), Some(&b"queue \"rt\" full"[..]));
        assert_eq!(r.get(b"k2"), Some(&s("quoted \" value")));
        assert_eq!(r.get(b"q"), Some(&s("12")));
        assert_eq!(r.get(b"path"), Some(&s("C:\\dir")));
        assert_eq!(r.get(b"e"), Some(&s("")));
        assert!(matches!(r.get(b"q"), Some(Value::Str(Cow::Borrowed(_)))));
    }

    #[test]
    fn flags_empty_values_and_stray_words() {
        let (r, n) = parse(b"a=1 debug b= c=x=y ?? x").unwrap();
        assert_eq!(n, 3);
        assert_eq!(r.get(b"debug"), Some(&Value::Bool(true)));
        assert_eq!(r.get(b"b"), Some(&s("")));
        assert_eq!(r.get(b"c"), Some(&s("x=y")));
        assert_eq!(r.get(b"x"), Some(&Value::Bool(true)));
        assert_eq!(r.fields.len(), 5);
    }

    #[test]
    fn no_pairs_is_not_an_error() {
        let (r, n) = parse(b"GET /x?a=b HTTP/1.1").unwrap();
        assert_eq!(n, 0);
        assert_eq!(r.message.as_deref(), Some(&b"GET /x?a=b HTTP/1.1"[..]));
    }

    #[test]
    fn unterminated_quote_names_the_key() {
        let e = parse(br#"a=1 msg="oops"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            "logfmt: unterminated quoted value of `msg` at byte 8"
        );
    }

    #[test]
    fn timestamps_in_pairs() {
        let (r, _) = parse(b"ts=2026-11-23T10:00:00Z time=5").unwrap();
        assert_eq!(r.timestamp, Some(1_795_428_000.0));
        assert_eq!(r.get(b"time"), Some(&Value::Int(5)));
    }
}
