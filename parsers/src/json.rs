//! `json`: one JSON object per line, read by a hand-written byte scanner.
//!
//! - Strings borrow from the line; only a string with escapes is unescaped into an owned
//!   buffer. Invalid UTF-8 inside strings is kept as bytes.
//! - Nested objects are flattened with dotted keys (`{"a":{"b":1}}` gives `a.b`); such keys
//!   are built, so they are owned. Nesting deeper than 32 is an error.
//! - Arrays are skipped (scanned for well-formedness), `null` members are dropped.
//! - Numbers become [`Value::Int`] (no fraction or exponent and within `i64`) or
//!   [`Value::Float`]; `true` / `false` become [`Value::Bool`].
//! - Level, message, timestamp and target keys fill the record's slots (see `slots`);
//!   numeric levels follow pino/bunyan (30 info, 40 warn, 50 error…).
//! - Anything but whitespace after the closing `}` is an error.

use crate::slots::{assign, slot_of};
use crate::value::{number_len, parse_f64, parse_int, trim_cr};
use crate::{ParseError, Parser, Record, Value};
use std::borrow::Cow;

const MAX_DEPTH: usize = 32;

/// The `json` parser. Stateless; see the module docs for the mapping.
#[derive(Debug, Default, Clone)]
pub struct JsonParser;

impl JsonParser {
    /// A JSON parser.
    pub fn new() -> Self {
        JsonParser
    }
}

impl Parser for JsonParser {
    fn name(&self) -> &str {
        "json"
    }

    fn parse<'a>(&mut self, line: &'a [u8], out: &mut Record<'a>) -> Result<(), ParseError> {
        let mut s = Scanner {
            b: trim_cr(line),
            i: 0,
        };
        s.ws();
        if s.peek() != Some(b'{') {
            return Err(s.err("expected `{`"));
        }
        s.i += 1;
        s.object(out, None, 1)?;
        s.ws();
        if s.i < s.b.len() {
            return Err(s.err("trailing bytes after the object"));
        }
        Ok(())
    }
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

fn err_at(what: &str, at: usize) -> ParseError {
    ParseError::Invalid(format!("json: {what} at byte {at}"))
}

impl<'a> Scanner<'a> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    #[inline]
    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.i += 1;
        }
    }

    fn err(&self, what: &str) -> ParseError {
        match self.peek() {
            None => err_at(&format!("{what}, found end of line"), self.i),
            Some(c) if c.is_ascii_graphic() => {
                err_at(&format!("{what}, found `{}`", c as char), self.i)
            }
            Some(c) => err_at(&format!("{what}, found byte 0x{c:02x}"), self.i),
        }
    }

    fn expect(&mut self, c: u8, what: &str) -> Result<(), ParseError> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(self.err(what))
        }
    }

    /// Members of an object whose `{` was consumed, through its `}`.
    fn object(
        &mut self,
        out: &mut Record<'a>,
        prefix: Option<&[u8]>,
        depth: usize,
    ) -> Result<(), ParseError> {
        self.ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
            return Ok(());
        }
        loop {
            self.ws();
            if self.peek() != Some(b'"') {
                return Err(self.err("expected a string key"));
            }
            let key = self.string()?;
            self.ws();
            self.expect(b':', "expected `:` after a key")?;
            self.ws();
            let key: Cow<'a, [u8]> = match prefix {
                None => key,
                Some(p) => {
                    let mut k = Vec::with_capacity(p.len() + 1 + key.len());
                    k.extend_from_slice(p);
                    k.push(b'.');
                    k.extend_from_slice(&key);
                    Cow::Owned(k)
                }
            };
            self.member(out, key, depth)?;
            self.ws();
            match self.peek() {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(());
                }
                _ => return Err(self.err("expected `,` or `}`")),
            }
        }
    }

    fn member(
        &mut self,
        out: &mut Record<'a>,
        key: Cow<'a, [u8]>,
        depth: usize,
    ) -> Result<(), ParseError> {
        let start = self.i;
        let value = match self.peek() {
            Some(b'"') => {
                let s = self.string()?;
                assign(out, slot_of(&key), key, Value::Str(s), b"");
                return Ok(());
            }
            Some(b'{') => {
                if depth >= MAX_DEPTH {
                    return Err(err_at("nesting deeper than 32", self.i));
                }
                self.i += 1;
                return self.object(out, Some(&key), depth + 1);
            }
            Some(b'[') => return self.skip_array(depth),
            Some(b't') => self.word(b"true", Value::Bool(true))?,
            Some(b'f') => self.word(b"false", Value::Bool(false))?,
            Some(b'n') => {
                self.word(b"null", Value::Bool(false))?;
                return Ok(());
            }
            Some(b'-' | b'0'..=b'9') => self.number()?,
            _ => return Err(self.err("expected a value")),
        };
        // Numbers and booleans keep their token as written (`007`, `1.10`) for labels.
        let raw = &self.b[start..self.i];
        assign(out, slot_of(&key), key, value, raw);
        Ok(())
    }

    fn word(&mut self, w: &[u8], v: Value<'a>) -> Result<Value<'a>, ParseError> {
        if self.b[self.i..].starts_with(w) {
            self.i += w.len();
            Ok(v)
        } else {
            Err(self.err("invalid literal"))
        }
    }

    fn number(&mut self) -> Result<Value<'a>, ParseError> {
        let start = self.i;
        let n = number_len(&self.b[start..], true);
        if n == 0 {
            return Err(self.err("invalid number"));
        }
        let text = &self.b[start..start + n];
        self.i += n;
        if let Some(v) = parse_int(text) {
            return Ok(Value::Int(v));
        }
        parse_f64(text)
            .map(Value::Float)
            .ok_or_else(|| err_at("invalid number", start))
    }

    /// A string starting at the current `"`; borrowed unless it has escapes.
    fn string(&mut self) -> Result<Cow<'a, [u8]>, ParseError> {
        let open = self.i;
        let start = open + 1;
        let mut i = start;
        let mut owned: Option<Vec<u8>> = None;
        loop {
            let Some(off) = memchr::memchr2(b'"', b'\\', &self.b[i..]) else {
                return Err(err_at("unterminated string", open));
            };
            let at = i + off;
            if self.b[at] == b'"' {
                self.i = at + 1;
                return Ok(match owned {
                    None => Cow::Borrowed(&self.b[start..at]),
                    Some(mut v) => {
                        v.extend_from_slice(&self.b[i..at]);
                        Cow::Owned(v)
                    }
                });
            }
            let buf = owned.get_or_insert_with(|| Vec::with_capacity(at - start + 16));
            buf.extend_from_slice(&self.b[i..at]);
            i = self.escape(at, buf)?;
        }
    }

    /// Decodes the escape at `at` (a backslash) into `buf`; returns the index after it.
    fn escape(&self, at: usize, buf: &mut Vec<u8>) -> Result<usize, ParseError> {
        let c = *self
            .b
            .get(at + 1)
            .ok_or_else(|| err_at("unterminated string", at))?;
        let simple = match c {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 8,
            b'f' => 12,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let (ch, next) = self.unicode(at)?;
                let mut tmp = [0u8; 4];
                buf.extend_from_slice(ch.encode_utf8(&mut tmp).as_bytes());
                return Ok(next);
            }
            _ => return Err(err_at("invalid escape", at)),
        };
        buf.push(simple);
        Ok(at + 2)
    }

    /// `\uXXXX`, with surrogate pairs; lone surrogates become U+FFFD.
    fn unicode(&self, at: usize) -> Result<(char, usize), ParseError> {
        let hex4 = |p: usize| -> Option<u32> {
            let h = self.b.get(p..p + 4)?;
            let s = std::str::from_utf8(h).ok()?;
            u32::from_str_radix(s, 16).ok()
        };
        let hi = hex4(at + 2).ok_or_else(|| err_at("invalid \\u escape", at))?;
        let next = at + 6;
        if (0xD800..0xDC00).contains(&hi) && self.b.get(next..next + 2) == Some(b"\\u") {
            if let Some(lo @ 0xDC00..=0xDFFF) = hex4(next + 2) {
                let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                return Ok((char::from_u32(c).unwrap_or('\u{FFFD}'), next + 6));
            }
        }
        Ok((char::from_u32(hi).unwrap_or('\u{FFFD}'), next))
    }

    /// Skips an array (its `[` is current), checking brackets and strings.
    fn skip_array(&mut self, depth: usize) -> Result<(), ParseError> {
        let open = self.i;
        let mut stack = depth;
        while let Some(off) = memchr::memchr3(b'"', b'[', b']', &self.b[self.i..]) {
            let at = self.i + off;
            match self.b[at] {
                b'"' => {
                    self.i = at;
                    self.string()?;
                    continue;
                }
                b'[' => {
                    stack += 1;
                    if stack > MAX_DEPTH {
                        return Err(err_at("nesting deeper than 32", at));
                    }
                }
                _ => {
                    stack -= 1;
                    if stack == depth {
                        self.i = at + 1;
                        return Ok(());
                    }
                }
            }
            self.i = at + 1;
        }
        Err(err_at("unterminated array", open))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Level;

    fn parse(line: &[u8]) -> Result<Record<'_>, ParseError> {
        let mut r = Record::new();
        JsonParser.parse(line, &mut r).map(|()| r)
    }

    fn s(v: &str) -> Value<'_> {
        Value::Str(Cow::Borrowed(v.as_bytes()))
    }

    #[test]
    fn flat_object_with_slots() {
        let r = parse(
            br#"{"ts":"2026-11-23T10:00:00Z","level":"info","msg":"stats","target":"pipe","fps":95.2,"q":2,"ok":true,"n":null}"#,
        )
        .unwrap();
        assert_eq!(r.timestamp, Some(1_795_428_000.0));
        assert_eq!(r.level, Some(Level::Info));
        assert_eq!(r.message.as_deref(), Some(&b"stats"[..]));
        assert_eq!(r.target.as_deref(), Some(&b"pipe"[..]));
        assert_eq!(r.get(b"fps"), Some(&Value::Float(95.2)));
        assert_eq!(r.get(b"q"), Some(&Value::Int(2)));
        assert_eq!(r.get(b"ok"), Some(&Value::Bool(true)));
        assert_eq!(r.fields.len(), 3);
    }

    #[test]
    fn strings_borrow_unless_escaped() {
        let r = parse(br#"{"a":"plain","b":"q\"\\\n\u00e9\ud83d\ude00"}"#).unwrap();
        assert!(matches!(r.get(b"a"), Some(Value::Str(Cow::Borrowed(_)))));
        match r.get(b"b") {
            Some(Value::Str(Cow::Owned(v))) => assert_eq!(v, "q\"\\\né😀".as_bytes()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn nested_objects_flatten_and_arrays_are_skipped() {
        let r =
            parse(br#"{"a":{"b":1,"c":{"d":"x"}},"arr":[1,[2,"]"],{"k":3}],"e":-1.5e2}"#).unwrap();
        assert_eq!(r.get(b"a.b"), Some(&Value::Int(1)));
        assert_eq!(r.get(b"a.c.d"), Some(&s("x")));
        assert_eq!(r.get(b"e"), Some(&Value::Float(-150.0)));
        assert_eq!(r.fields.len(), 3);
    }

    #[test]
    fn epoch_and_numeric_levels() {
        let r = parse(br#"{"time":1795428000123,"level":50,"@timestamp":"x"}"#).unwrap();
        assert_eq!(r.timestamp, Some(1_795_428_000.123));
        assert_eq!(r.level, Some(Level::Error));
        assert_eq!(r.get(b"@timestamp"), Some(&s("x")));
    }

    #[test]
    fn errors_name_what_and_where() {
        let e = |l: &[u8]| parse(l).unwrap_err().to_string();
        assert_eq!(e(br#"{"a":"oops}"#), "json: unterminated string at byte 5");
        assert_eq!(
            e(br#"{"a":1} x"#),
            "json: trailing bytes after the object, found `x` at byte 8"
        );
        assert_eq!(
            e(br#"{"a" 1}"#),
            "json: expected `:` after a key, found `1` at byte 5"
        );
        assert_eq!(
            e(br#"{"a":1,}"#),
            "json: expected a string key, found `}` at byte 7"
        );
        assert_eq!(
            e(br#"{"a":tru}"#),
            "json: invalid literal, found `t` at byte 5"
        );
        assert_eq!(e(br#"{"a":[1,2}"#), "json: unterminated array at byte 5");
        assert_eq!(
            e(b"{\"a\":\xff}"),
            "json: expected a value, found byte 0xff at byte 5"
        );
        assert_eq!(e(b"[1]"), "json: expected `{`, found `[` at byte 0");
        let deep = format!("{}{}", "{\"a\":".repeat(40), "1");
        assert!(e(deep.as_bytes()).starts_with("json: nesting deeper than 32"));
    }

    #[test]
    fn crlf_whitespace_and_invalid_utf8() {
        let r = parse(b" { \"m\" : \"\xff\xfe\" } \r").unwrap();
        assert_eq!(r.get(b"m"), Some(&Value::Str(Cow::Borrowed(b"\xff\xfe"))));
        assert!(parse(b"{}").unwrap().fields.is_empty());
    }
}
