//! syslog lines, as a syslog daemon writes them to a file or receives them.
//!
//! - RFC 5424: `<165>1 2026-11-30T09:12:33.003Z host app 42 ID47 [sd] message`.
//! - RFC 3164: `<13>Nov 30 09:12:33 host app[42]: message` (the `<PRI>` is optional: rsyslog's
//!   traditional file format leaves it out).
//! - rsyslog's default file format: `2026-11-30T09:12:33.123456+00:00 host app[42]: message`,
//!   and its forward formats (`<11>` before either date).
//!
//! The priority's severity gives the level (0-3 error, 4 warn, 5-6 info, 7 debug); without
//! one the message's level word does. The app becomes the target, `host` and `pid` fields,
//! and the message's `key=value` pairs fields. An RFC 3164 date has no year: the record
//! keeps it as `time_text` and no timestamp (it lands at its arrival time).

use crate::logfmt::LogfmtParser;
use crate::plain::scan_prefix;
use crate::timestamp::{parse_full, parse_prefix};
use crate::value::parse_int;
use crate::{Level, Record, Value};
use std::borrow::Cow;

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

fn severity(pri: i64) -> Level {
    match pri & 7 {
        0..=3 => Level::Error,
        4 => Level::Warn,
        5 | 6 => Level::Info,
        _ => Level::Debug,
    }
}

/// `Mmm dd hh:mm:ss` (day space-padded), the RFC 3164 date: its length when `s` starts with one.
fn bsd_date(s: &[u8]) -> Option<usize> {
    let d = s.get(..15)?;
    if !MONTHS.iter().any(|m| &d[..3] == *m) || d[3] != b' ' {
        return None;
    }
    let ok = (d[4] == b' ' || d[4].is_ascii_digit())
        && d[5].is_ascii_digit()
        && d[6] == b' '
        && d[9] == b':'
        && d[12] == b':'
        && [7, 8, 10, 11, 13, 14]
            .iter()
            .all(|i| d[*i].is_ascii_digit());
    ok.then_some(15)
}

/// Cheap check of rsyslog's file format without a priority: the third token is a tag
/// ending in `:` (`2026-11-30T09:12:33+00:00 host app[42]: ...`).
fn tag_third(s: &[u8]) -> bool {
    let mut tokens = s.splitn(4, |c| *c == b' ');
    let third = tokens.nth(2);
    tokens.next().is_some() && third.is_some_and(|t| t.last() == Some(&b':'))
}

/// Parses a syslog line.
pub(super) fn parse<'a>(lf: &LogfmtParser, line: &'a [u8], out: &mut Record<'a>) -> bool {
    let mut i = 0;
    let mut pri = None;
    if line.first() == Some(&b'<') {
        let end = match line.iter().take(5).position(|c| *c == b'>') {
            Some(e) if e > 1 => e,
            _ => return false,
        };
        pri = parse_int(&line[1..end]).filter(|p| (0..192).contains(p));
        if pri.is_none() {
            return false;
        }
        i = end + 1;
    }
    if pri.is_some() && line[i..].starts_with(b"1 ") {
        return rfc5424(lf, line, i + 2, pri.unwrap_or(13), out);
    }
    let (ts, n) = if let Some(n) = bsd_date(&line[i..]) {
        (None, n)
    } else if (pri.is_some() || tag_third(&line[i..])) && line.get(i + 10) == Some(&b'T') {
        let Some((t, n)) = parse_prefix(&line[i..]) else {
            return false;
        };
        (Some(t), n)
    } else {
        return false;
    };
    let time = &line[i..i + n];
    let Some((host, j)) = line.get(i + n + 1..).and_then(|r| super::token(r, 0)) else {
        return false;
    };
    let j = i + n + 1 + j;
    // `app[pid]:` or `app:`, and a host that is not a level word (that is a plain line).
    let Some((tag, k)) = super::token(line, j) else {
        return false;
    };
    // rsyslog writes the tag of an RFC 5424 message without its colon: accepted after a
    // priority or a BSD date, where the line cannot be a plain one.
    let colon = tag.last() == Some(&b':');
    if Level::from_bytes(host).is_some() || !(colon || pri.is_some() || ts.is_none()) {
        return false;
    }
    let tag = if colon { &tag[..tag.len() - 1] } else { tag };
    let (app, pid) = match memchr::memchr(b'[', tag) {
        Some(b) if tag.last() == Some(&b']') => (&tag[..b], Some(&tag[b + 1..tag.len() - 1])),
        Some(_) => return false,
        None => (tag, None),
    };
    out.timestamp = ts;
    out.time_text = Some(Cow::Borrowed(time));
    header(host, pid, out);
    finish(lf, &line[k.min(line.len())..], pri, app, out);
    true
}

fn header<'a>(host: &'a [u8], pid: Option<&'a [u8]>, out: &mut Record<'a>) {
    out.push(&b"host"[..], Value::Str(Cow::Borrowed(host)));
    if let Some(p) = pid.and_then(|p| parse_int(p).map(|n| (n, p))) {
        out.push_raw(&b"pid"[..], Value::Int(p.0), p.1);
    }
}

fn finish<'a>(
    lf: &LogfmtParser,
    msg: &'a [u8],
    pri: Option<i64>,
    app: &'a [u8],
    out: &mut Record<'a>,
) {
    let level = match pri {
        Some(p) => Some(severity(p)),
        None => scan_prefix(super::trim(msg)).level,
    };
    out.level = level;
    super::message(lf, msg, out);
    if pri.is_some() {
        out.level = level;
    }
    if app != b"-" && !app.is_empty() {
        out.target = Some(Cow::Borrowed(app));
    }
}

/// `TIMESTAMP HOST APP PROCID MSGID SD MSG` after `<PRI>1 `.
fn rfc5424<'a>(
    lf: &LogfmtParser,
    line: &'a [u8],
    i: usize,
    pri: i64,
    out: &mut Record<'a>,
) -> bool {
    let Some((time, i)) = super::token(line, i) else {
        return false;
    };
    let Some((host, i)) = super::token(line, i) else {
        return false;
    };
    let Some((app, i)) = super::token(line, i) else {
        return false;
    };
    let Some((pid, i)) = super::token(line, i) else {
        return false;
    };
    let Some((_msgid, mut i)) = super::token(line, i) else {
        return false;
    };
    // Structured data: `-` or `[id k="v"]...`; skipped (its pairs are not typed here).
    if line.get(i) == Some(&b'-') {
        i += 2;
    } else {
        while line.get(i) == Some(&b'[') {
            let mut j = i + 1;
            let mut quoted = false;
            while j < line.len() && (quoted || line[j] != b']') {
                match line[j] {
                    b'\\' => j += 1,
                    b'"' => quoted = !quoted,
                    _ => {}
                }
                j += 1;
            }
            i = j + 1;
        }
        i += 1;
    }
    out.timestamp = if time == b"-" { None } else { parse_full(time) };
    out.time_text = (time != b"-").then_some(Cow::Borrowed(time));
    header(host, (pid != b"-").then_some(pid), out);
    let msg = line.get(i.min(line.len())..).unwrap_or_default();
    // A UTF-8 byte order mark may open the message.
    let msg = msg.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(msg);
    finish(lf, msg, Some(pri), app, out);
    true
}
