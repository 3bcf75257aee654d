//! HTTP access lines: nginx's and Apache's common and combined formats (gunicorn writes the
//! same), with or without a trailing request time, and the request part of uvicorn's.
//!
//! `host ident user [time] "METHOD path proto" status bytes ["referer" "agent"] [extra] [time]`
//!
//! Fields: `client`, `method`, `path`, `protocol`, `status` (integer), `bytes` (integer, `-`
//! is 0), `referer`, `user_agent`, and `request_time` (a duration) when the last token is a
//! number: with a `.` it is seconds (nginx's `$request_time`, Apache's `%T` with `%{ms}T`
//! written as a fraction), without one microseconds (Apache's `%D`). The level follows the
//! status: 5xx error, 4xx warn, else info.

use crate::timestamp::parse_prefix;
use crate::value::parse_int;
use crate::{Level, Record, Value};
use std::borrow::Cow;

/// Parses a common / combined access line.
pub(super) fn parse<'a>(line: &'a [u8], out: &mut Record<'a>) -> bool {
    // host ident user [
    let Some((host, i)) = super::token(line, 0) else {
        return false;
    };
    if host.first().is_none_or(|c| *c == b'[' || *c == b'"') {
        return false;
    }
    let Some((_, i)) = super::token(line, i) else {
        return false;
    };
    // The user may hold spaces only in odd setups; keep it short.
    let window = &line[i..line.len().min(i + 66)];
    let Some(open) = memchr::memchr(b'[', window).map(|o| i + o) else {
        return false;
    };
    let Some(close) = memchr::memchr(b']', &line[open..]).map(|c| open + c) else {
        return false;
    };
    let time = &line[open + 1..close];
    let Some((ts, n)) = parse_prefix(time) else {
        return false;
    };
    if n != time.len() || line.get(close + 1) != Some(&b' ') {
        return false;
    }
    let Some(after) = request(line, close + 2, out) else {
        return false;
    };
    let Some((status, j)) = super::token(line, after) else {
        return false;
    };
    let (Some(code), Some((bytes, mut j))) = (status_code(status), super::token(line, j)) else {
        out.fields.clear();
        return false;
    };
    let size = if bytes == b"-" {
        Some(0)
    } else {
        parse_int(bytes)
    };
    let Some(size) = size else {
        out.fields.clear();
        return false;
    };
    out.timestamp = Some(ts);
    out.time_text = Some(Cow::Borrowed(time));
    out.push_raw(&b"client"[..], Value::Str(Cow::Borrowed(host)), b"");
    out.push_raw(&b"status"[..], Value::Int(code), status);
    out.push_raw(&b"bytes"[..], Value::Int(size), bytes);
    // Optional quoted fields (referer, agent, anything a custom format adds), then a time.
    let mut quoted = 0;
    while j < line.len() {
        if line[j] == b'"' {
            let Some(end) = closing_quote(line, j + 1) else {
                break;
            };
            let text = &line[j + 1..end];
            match quoted {
                0 => out.push(&b"referer"[..], Value::Str(Cow::Borrowed(text))),
                1 => out.push(&b"user_agent"[..], Value::Str(Cow::Borrowed(text))),
                _ => {}
            }
            quoted += 1;
            j = end + 2;
        } else {
            let Some((tok, next)) = super::token(line, j) else {
                break;
            };
            if next >= line.len() {
                if let Some(t) = request_time(tok) {
                    out.push_raw(&b"request_time"[..], Value::Duration(t), tok);
                }
            }
            j = next;
        }
    }
    out.level = Some(level_of(code));
    true
}

/// The level an HTTP status says: 5xx error, 4xx warn, else info.
pub(super) fn level_of(code: i64) -> Level {
    match code {
        500.. => Level::Error,
        400..=499 => Level::Warn,
        _ => Level::Info,
    }
}

/// A three-digit HTTP status.
pub(super) fn status_code(s: &[u8]) -> Option<i64> {
    (s.len() == 3 && s.iter().all(u8::is_ascii_digit) && (b'1'..=b'5').contains(&s[0]))
        .then(|| parse_int(s))
        .flatten()
}

/// `"METHOD path proto"` starting at `i` (on the quote): pushes `method`, `path`,
/// `protocol`; returns the index after the closing quote and its space.
pub(super) fn request<'a>(line: &'a [u8], i: usize, out: &mut Record<'a>) -> Option<usize> {
    if line.get(i) != Some(&b'"') {
        return None;
    }
    let end = closing_quote(line, i + 1)?;
    let req = &line[i + 1..end];
    let mut parts = req.splitn(3, |c| *c == b' ');
    let method = parts
        .next()
        .filter(|m| !m.is_empty() && m.len() <= 16 && m.iter().all(|c| c.is_ascii_uppercase()));
    if let Some(m) = method {
        out.push(&b"method"[..], Value::Str(Cow::Borrowed(m)));
        if let Some(p) = parts.next() {
            out.push(&b"path"[..], Value::Str(Cow::Borrowed(p)));
        }
        if let Some(p) = parts.next() {
            out.push(&b"protocol"[..], Value::Str(Cow::Borrowed(p)));
        }
    }
    (line.get(end + 1) == Some(&b' ')).then_some(end + 2)
}

/// The index of the `"` closing a quoted text that starts at `i` (`\"` does not close it).
fn closing_quote(line: &[u8], mut i: usize) -> Option<usize> {
    loop {
        let q = i + memchr::memchr(b'"', &line[i..])?;
        if q > 0 && line[q - 1] == b'\\' {
            i = q + 1;
            continue;
        }
        return Some(q);
    }
}

/// A trailing request time in seconds: `0.004` (seconds) or `4012` (microseconds).
fn request_time(tok: &[u8]) -> Option<f64> {
    if !tok.first()?.is_ascii_digit() {
        return None;
    }
    if tok.contains(&b'.') {
        std::str::from_utf8(tok).ok()?.parse().ok()
    } else {
        parse_int(tok).map(|us| us as f64 / 1e6)
    }
}
