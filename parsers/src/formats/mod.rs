//! The log formats the `auto` parser recognises by their shape, with no configuration.
//!
//! | [`Format`] | example |
//! | --- | --- |
//! | `access` (nginx / Apache / gunicorn, common or combined, optional request time) | `1.2.3.4 - - [30/Nov/2026:09:12:33 +0000] "GET / HTTP/1.1" 200 612 "-" "curl/8" 0.004` |
//! | `python` (`%(asctime)s - %(name)s - %(levelname)s - %(message)s`) | `2026-11-30 09:12:33,123 - app - INFO - done latency_ms=12` |
//! | `python-basic` (`LEVEL:name:message`, and uvicorn's `INFO:     ...` with its access lines) | `INFO:     127.0.0.1:5000 - "GET / HTTP/1.1" 200 OK` |
//! | `syslog` (RFC 3164, RFC 5424, rsyslog's file formats) | `<13>Nov 30 09:12:33 host app[42]: started` |
//! | `klog` (Kubernetes / glog) | `I1130 09:12:33.123456    1234 main.go:42] "started" port=80` |
//!
//! JSON, logfmt (Go's `slog` text handler is logfmt) and plain text are the parsers of the
//! same names. Each recogniser either fills the record and returns true, or returns false
//! having touched nothing the caller keeps (the caller clears the record before trying the
//! next format). Recognisers look at a few leading bytes first, so a line of another format
//! is refused in a handful of comparisons.

mod access;
mod klog;
pub(crate) mod multiline;
pub use multiline::{MAX_BYTES, MAX_LINES};
mod python;
mod syslog;

use crate::logfmt::LogfmtParser;
use crate::Record;
use std::borrow::Cow;

/// A recognised log format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line.
    Json,
    /// An HTTP access log: nginx / Apache / gunicorn, common or combined.
    Access,
    /// Python's `logging` with `%(asctime)s - %(name)s - %(levelname)s - %(message)s`.
    Python,
    /// Python's `logging.basicConfig()` default `LEVEL:name:message`, and uvicorn's
    /// `INFO:     message` (with its access lines).
    PythonBasic,
    /// syslog: RFC 3164, RFC 5424, rsyslog's traditional and high-precision file formats.
    Syslog,
    /// klog / glog: `I1130 09:12:33.123456 1234 file.go:42] message`.
    Klog,
    /// `key=value` pairs (Go's `slog` text handler writes these).
    Logfmt,
    /// Anything else: timestamp, level and message.
    Plain,
}

impl Format {
    /// The format's name, as `kpid parse` shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Access => "access",
            Format::Python => "python",
            Format::PythonBasic => "python-basic",
            Format::Syslog => "syslog",
            Format::Klog => "klog",
            Format::Logfmt => "logfmt",
            Format::Plain => "plain",
        }
    }

    /// The formats recognised by shape, in the order they are tried.
    pub(crate) const SHAPED: [Format; 5] = [
        Format::Access,
        Format::Python,
        Format::PythonBasic,
        Format::Klog,
        Format::Syslog,
    ];

    /// Parses `line` as this shaped format; false (with `out` to be cleared) when it is not.
    pub(crate) fn parse<'a>(self, lf: &LogfmtParser, line: &'a [u8], out: &mut Record<'a>) -> bool {
        match self {
            Format::Access => access::parse(line, out),
            Format::Python => python::asctime(lf, line, out),
            Format::PythonBasic => python::basic(lf, line, out),
            Format::Syslog => syslog::parse(lf, line, out),
            Format::Klog => klog::parse(lf, line, out),
            Format::Json | Format::Logfmt | Format::Plain => false,
        }
    }
}

/// Reads `msg`, the free part of a line whose header was already read into `out`, as logfmt
/// pairs (`done latency_ms=12 model=a`): the pairs become fields and the words before them
/// the message. The header's timestamp and level win over anything the message says.
pub(crate) fn message<'a>(lf: &LogfmtParser, msg: &'a [u8], out: &mut Record<'a>) {
    let msg = trim(msg);
    let (ts, level, time) = (out.timestamp, out.level, out.time_text.take());
    let n = out.fields.len();
    match lf.parse_pairs(msg, out) {
        Ok(pairs) if pairs > 0 => {}
        _ => {
            out.fields.truncate(n);
            out.message = (!msg.is_empty()).then_some(Cow::Borrowed(msg));
        }
    }
    out.timestamp = ts.or(out.timestamp);
    out.level = level.or(out.level);
    if time.is_some() {
        out.time_text = time;
    }
}

/// `s` without leading and trailing blanks.
pub(crate) fn trim(s: &[u8]) -> &[u8] {
    let a = s
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(s.len());
    let b = s
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(a, |b| b + 1);
    &s[a..b.max(a)]
}

/// The token of `s` from `i` to the next space, and the index after that space.
pub(crate) fn token(s: &[u8], i: usize) -> Option<(&[u8], usize)> {
    if i >= s.len() {
        return None;
    }
    let end = memchr::memchr(b' ', &s[i..]).map_or(s.len(), |e| i + e);
    (end > i).then(|| (&s[i..end], (end + 1).min(s.len())))
}

#[cfg(test)]
mod tests;
