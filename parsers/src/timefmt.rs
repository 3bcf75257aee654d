//! A source's timestamp setting ([`TimeSpec`]): which format its lines' times are written in
//! and the zone of times written without one. The daemon asks it for each parsed line's
//! event time ([`TimeSpec::event_time`]).
//!
//! Formats (`[[source]] timestamp = ...`):
//!
//! - `auto` (default): what the parser found: a time key (`ts`, `time`, `timestamp`,
//!   `@timestamp`) or capture, or a line that starts with RFC 3339 / ISO 8601, Apache's
//!   common log format time, or syslog (RFC 3164 `Oct 11 22:14:15`, RFC 5424 `<165>1
//!   2026-11-23T10:00:00Z`). Epoch numbers are told apart by magnitude: below 1e11 seconds,
//!   below 1e14 milliseconds, below 1e17 microseconds, else nanoseconds.
//! - `rfc3339`, `clf`, `syslog`: only that format.
//! - `unix`: a number of seconds, or of ms / µs / ns told apart by magnitude as above;
//!   `unix_ms`: always milliseconds.
//! - `none`: lines carry no event time (arrival time is used).
//! - anything with a `%`: a strftime pattern ([`crate::strftime`]'s directives).
//!
//! With an explicit format the time is read from the parser's time field (key, capture, or
//! the time it recognised at the line's start) when there is one, else from the start of the
//! line (after an optional `[` or syslog `<PRI>` / `<PRI>1 `). A line where it is not found is
//! [`EventTime::Unmatched`]: the daemon uses its arrival time and counts it.
//!
//! `timezone` (`+02:00`, `-0500`, `Z`, `UTC`; default UTC) applies to times written without a
//! zone; written zones and epoch numbers are kept as they are.

use crate::strftime::Strftime;
use crate::timestamp::{self, Zoned};
use crate::{BuildError, Record, Value};

#[derive(Debug, Clone, PartialEq)]
enum Format {
    Auto,
    Rfc3339,
    Clf,
    Syslog,
    Unix,
    UnixMs,
    Never,
    Pattern(Strftime),
}

/// A source's timestamp format and default zone.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeSpec {
    format: Format,
    /// Seconds east of UTC of times written without a zone.
    offset: i64,
}

impl Default for TimeSpec {
    fn default() -> Self {
        TimeSpec {
            format: Format::Auto,
            offset: 0,
        }
    }
}

/// A line's event time, as its source's [`TimeSpec`] reads it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EventTime {
    /// Unix seconds.
    Found(f64),
    /// The line carries no time (or the source's format is `none`).
    Absent,
    /// The source's explicit format did not match the line.
    Unmatched,
}

/// Keys of a record's time slot (see the crate docs).
const TIME_KEYS: [&[u8]; 4] = [b"ts", b"time", b"timestamp", b"@timestamp"];

impl TimeSpec {
    /// The setting for `format` (see the module docs) and `timezone`; the error names the
    /// setting that is wrong and why.
    pub fn new(format: &str, timezone: Option<&str>) -> Result<TimeSpec, BuildError> {
        let format = match format {
            "auto" => Format::Auto,
            "rfc3339" => Format::Rfc3339,
            "clf" => Format::Clf,
            "syslog" => Format::Syslog,
            "unix" => Format::Unix,
            "unix_ms" => Format::UnixMs,
            "none" => Format::Never,
            p if p.contains('%') => Format::Pattern(Strftime::new(p).map_err(BuildError::Timestamp)?),
            other => {
                return Err(BuildError::Timestamp(format!(
                    "unknown timestamp format `{other}` (auto, rfc3339, clf, syslog, unix, unix_ms, none, or a strftime pattern such as `%Y-%m-%d %H:%M:%S`)"
                )))
            }
        };
        let offset = match timezone {
            None => 0,
            Some(z) => parse_offset(z).ok_or_else(|| {
                BuildError::Timezone(format!(
                    "`{z}` is not a UTC offset (write `+02:00`, `-0500`, `Z` or `UTC`)"
                ))
            })?,
        };
        Ok(TimeSpec { format, offset })
    }

    /// The event time of `line`, parsed into `rec` by the source's parser.
    #[inline]
    pub fn event_time(&self, line: &[u8], rec: &Record<'_>) -> EventTime {
        match (&self.format, self.offset) {
            (Format::Auto, 0) => rec.timestamp.map_or(EventTime::Absent, EventTime::Found),
            (Format::Auto, _) => match rec.timestamp {
                None => EventTime::Absent,
                Some(t) => {
                    let zoned = rec
                        .time_text
                        .as_deref()
                        .and_then(timestamp::parse_full_zoned)
                        .is_none_or(|(_, z)| z);
                    EventTime::Found(if zoned { t } else { t - self.offset as f64 })
                }
            },
            (Format::Never, _) => EventTime::Absent,
            _ => self.explicit(line, rec),
        }
    }

    fn explicit(&self, line: &[u8], rec: &Record<'_>) -> EventTime {
        let field = rec.time_text.as_deref().or_else(|| {
            rec.fields
                .iter()
                .find(|f| TIME_KEYS.contains(&f.key.as_ref()))
                .map(|f| match &f.value {
                    Value::Str(s) => s.as_ref(),
                    _ => f.raw,
                })
        });
        let found = field
            .and_then(|t| self.read(t))
            .or_else(|| self.read(line_start(line)))
            .or_else(|| line.strip_prefix(b"[").and_then(|l| self.read(l)));
        match found {
            Some((t, true)) => EventTime::Found(t),
            Some((t, false)) => EventTime::Found(t - self.offset as f64),
            None => EventTime::Unmatched,
        }
    }

    /// The time at the start of `s` in this format.
    fn read(&self, s: &[u8]) -> Option<Zoned> {
        let ok = |r: nom::IResult<&[u8], Zoned>| r.ok().map(|(_, z)| z);
        match &self.format {
            Format::Rfc3339 => ok(timestamp::iso(s)),
            Format::Clf => ok(timestamp::clf(s)),
            Format::Syslog => ok(timestamp::syslog(s)).or_else(|| ok(timestamp::iso(s))),
            Format::Unix | Format::UnixMs => {
                let n = crate::value::number_len(s, false);
                let v = crate::value::parse_f64(&s[..n])?;
                let t = if matches!(self.format, Format::UnixMs) {
                    (v >= 0.0).then_some(v / 1e3)?
                } else {
                    timestamp::epoch(v)?
                };
                Some((t, true))
            }
            Format::Pattern(p) => p.parse_prefix(s).map(|(z, _)| z),
            Format::Auto | Format::Never => None,
        }
    }
}

/// The line without a syslog `<PRI>` and RFC 5424 version (`<165>1 `) in front.
pub(crate) fn line_start(line: &[u8]) -> &[u8] {
    if line.first() != Some(&b'<') {
        return line;
    }
    let digits = line[1..]
        .iter()
        .take(3)
        .take_while(|c| c.is_ascii_digit())
        .count();
    if digits == 0 || line.get(1 + digits) != Some(&b'>') {
        return line;
    }
    let rest = &line[2 + digits..];
    rest.strip_prefix(b"1 ").unwrap_or(rest)
}

/// `+02:00`, `-0500`, `+02`, `Z` or `UTC`: seconds east of UTC.
fn parse_offset(z: &str) -> Option<i64> {
    if z.eq_ignore_ascii_case("utc") || z.eq_ignore_ascii_case("z") {
        return Some(0);
    }
    match timestamp::zone(z.as_bytes()) {
        Ok((rest, off)) if rest.is_empty() && off.abs() <= 18 * 3600 => Some(off),
        _ => None,
    }
}

#[cfg(test)]
#[path = "timefmt_tests.rs"]
mod tests;
