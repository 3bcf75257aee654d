//! Python's `logging` formats.
//!
//! - `%(asctime)s - %(name)s - %(levelname)s - %(message)s` (the format of the `logging`
//!   cookbook): `2026-11-30 09:12:33,123 - app.worker - INFO - done latency_ms=12`.
//! - `%(levelname)s:%(name)s:%(message)s`, what `logging.basicConfig()` writes:
//!   `WARNING:root:disk almost full`.
//! - uvicorn's `%(levelprefix)s %(message)s`: `INFO:     Started server process [42]`, and its
//!   access lines `INFO:     127.0.0.1:5000 - "GET /items HTTP/1.1" 200 OK`, which give
//!   `client`, `method`, `path`, `protocol` and `status` like an access log.
//!
//! The message's `key=value` pairs become fields.

use super::access;
use crate::logfmt::LogfmtParser;
use crate::timestamp::parse_prefix;
use crate::{Level, Record, Value};
use std::borrow::Cow;

/// Python's level names, as `logging` writes them.
fn level(word: &[u8]) -> Option<Level> {
    Some(match word {
        b"CRITICAL" | b"ERROR" | b"FATAL" => Level::Error,
        b"WARNING" | b"WARN" => Level::Warn,
        b"INFO" => Level::Info,
        b"DEBUG" => Level::Debug,
        _ => return None,
    })
}

/// `asctime - name - LEVEL - message`.
pub(super) fn asctime<'a>(lf: &LogfmtParser, line: &'a [u8], out: &mut Record<'a>) -> bool {
    // Cheap refusal first: ` - ` right after a date-time of 19 to 35 bytes.
    let head = &line[..line.len().min(40)];
    if memchr::memmem::find(head, b" - ").is_none_or(|at| at < 19) {
        return false;
    }
    let Some((ts, n)) = parse_prefix(line) else {
        return false;
    };
    let rest = &line[n..];
    let Some(rest) = rest.strip_prefix(b" - ") else {
        return false;
    };
    let Some(a) = memchr::memmem::find(rest, b" - ") else {
        return false;
    };
    let name = &rest[..a];
    let rest = &rest[a + 3..];
    let end = memchr::memchr(b' ', rest).unwrap_or(rest.len());
    let Some(lvl) = level(&rest[..end]) else {
        return false;
    };
    let msg = rest[end..].strip_prefix(b" - ").unwrap_or(&rest[end..]);
    out.timestamp = Some(ts);
    out.time_text = Some(Cow::Borrowed(&line[..n]));
    out.level = Some(lvl);
    super::message(lf, msg, out);
    out.target = Some(Cow::Borrowed(name));
    true
}

/// `LEVEL:name:message` and uvicorn's `LEVEL:     message`.
pub(super) fn basic<'a>(lf: &LogfmtParser, line: &'a [u8], out: &mut Record<'a>) -> bool {
    let Some(colon) = line.iter().take(9).position(|c| *c == b':') else {
        return false;
    };
    let Some(lvl) = level(&line[..colon]) else {
        return false;
    };
    let rest = &line[colon + 1..];
    out.level = Some(lvl);
    if rest.first() == Some(&b' ') {
        // uvicorn: the level padded to a column, then the message.
        let msg = super::trim(rest);
        if !uvicorn_access(msg, out) {
            super::message(lf, msg, out);
        }
        return true;
    }
    let Some(c) = memchr::memchr(b':', rest) else {
        return false;
    };
    let name = &rest[..c];
    if name.is_empty() || name.contains(&b' ') {
        return false;
    }
    super::message(lf, &rest[c + 1..], out);
    out.target = Some(Cow::Borrowed(name));
    true
}

/// `127.0.0.1:5000 - "GET /items HTTP/1.1" 200 [OK]`.
fn uvicorn_access<'a>(msg: &'a [u8], out: &mut Record<'a>) -> bool {
    let Some((client, i)) = super::token(msg, 0) else {
        return false;
    };
    if !msg[i..].starts_with(b"- \"") {
        return false;
    }
    let Some(after) = access::request(msg, i + 2, out) else {
        out.fields.clear();
        return false;
    };
    let Some((status, _)) = super::token(msg, after) else {
        out.fields.clear();
        return false;
    };
    let Some(code) = access::status_code(status) else {
        out.fields.clear();
        return false;
    };
    out.fields.insert(
        0,
        crate::Field {
            key: Cow::Borrowed(b"client"),
            value: Value::Str(Cow::Borrowed(client)),
            raw: b"",
        },
    );
    out.push_raw(&b"status"[..], Value::Int(code), status);
    out.message = Some(Cow::Borrowed(msg));
    true
}
