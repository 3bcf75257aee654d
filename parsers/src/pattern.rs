//! `regex`: named captures of a configured pattern.
//!
//! - Built on `regex::bytes` with one reusable set of capture locations: parsing allocates
//!   nothing per line. Lines that are not valid UTF-8 are matched as bytes.
//! - Unicode classes are **off** by default (`\d`, `\w`, `\s`, `\S` are ASCII, `.` is any
//!   byte): log formats are ASCII-delimited, invalid UTF-8 then still matches `\S` and `.`,
//!   and the engine runs several times faster. Write `(?u)` in the pattern to turn Unicode
//!   classes back on.
//! - Anchored patterns of literals and delimited class runs (`^(?P<host>\S+) \S+ \[…`, the
//!   usual access-log shape) run on a dedicated single-pass matcher that gives the same
//!   result as the regex crate several times faster (see `delimited`); other patterns run on
//!   the regex crate (one-pass DFA, backtracker or PikeVM as it sees fit).
//! - Each named capture that took part in the match becomes a field typed like a logfmt bare
//!   value (`200` → int, `0.25` → float, `12ms` → duration…). Unnamed groups are ignored.
//! - Captures named `level`, `message`/`msg`, `timestamp`/`ts`/`time` and `target` fill the
//!   record's slots (see `slots`); Apache's `10/Oct/2000:13:55:36 -0700` is understood.
//! - A line that does not match is [`ParseError::NoMatch`].

use crate::delimited::Delimited;
use crate::slots::{assign_raw, slot_of, Slot};
use crate::value::{trim_cr, typed};
use crate::{BuildError, ParseError, Parser, Record};
use regex::bytes::{CaptureLocations, Regex, RegexBuilder};
use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Mutex;

/// The `regex` parser.
#[derive(Debug)]
pub struct RegexParser {
    re: Regex,
    locs: CaptureLocations,
    fast: Option<Delimited>,
    slots: Vec<usize>,
    /// The last time text parsed and its value: access logs repeat the same second.
    last_time: (Vec<u8>, f64),
    /// (group index, name, slot) of every named group.
    names: Vec<(usize, &'static [u8], Option<Slot>)>,
}

impl RegexParser {
    /// Compiles `pattern`; fails naming the problem.
    pub fn new(pattern: &str) -> Result<Self, BuildError> {
        Self::with_fast_path(pattern, true)
    }

    /// Like [`RegexParser::new`]; `fast_path: false` always uses the regex crate (to compare
    /// the two engines).
    pub fn with_fast_path(pattern: &str, fast_path: bool) -> Result<Self, BuildError> {
        let re = RegexBuilder::new(pattern)
            .unicode(false)
            .size_limit(64 << 20)
            .build()
            .map_err(|e| BuildError::Pattern(format!("invalid pattern: {e}")))?;
        let names = re
            .capture_names()
            .enumerate()
            .filter_map(|(i, n)| n.map(|n| (i, intern(n), slot_of(n.as_bytes()))))
            .collect();
        let fast = if fast_path {
            regex_syntax::ParserBuilder::new()
                .unicode(false)
                .utf8(false)
                .build()
                .parse(pattern)
                .ok()
                .and_then(|hir| Delimited::new(&hir, re.captures_len()))
        } else {
            None
        };
        Ok(RegexParser {
            locs: re.capture_locations(),
            slots: vec![0; fast.as_ref().map_or(0, Delimited::slot_len)],
            fast,
            re,
            names,
            last_time: (Vec::new(), 0.0),
        })
    }

    /// Which engine runs the pattern: `"delimited"` (the single-pass fast path) or `"regex"`.
    pub fn engine(&self) -> &'static str {
        if self.fast.is_some() {
            "delimited"
        } else {
            "regex"
        }
    }

    /// The compiled pattern.
    pub fn regex(&self) -> &Regex {
        &self.re
    }
}

impl Parser for RegexParser {
    fn name(&self) -> &str {
        "regex"
    }

    fn parse<'a>(&mut self, line: &'a [u8], out: &mut Record<'a>) -> Result<(), ParseError> {
        let line = trim_cr(line);
        if let Some(fast) = &self.fast {
            if !fast.matches(line, &mut self.slots) {
                return Err(ParseError::NoMatch);
            }
            for &(group, name, slot) in &self.names {
                let raw = &line[self.slots[2 * group]..self.slots[2 * group + 1]];
                field(&mut self.last_time, out, name, slot, raw);
            }
            return Ok(());
        }
        if self.re.captures_read(&mut self.locs, line).is_none() {
            return Err(ParseError::NoMatch);
        }
        for &(group, name, slot) in &self.names {
            if let Some((s, e)) = self.locs.get(group) {
                field(&mut self.last_time, out, name, slot, &line[s..e]);
            }
        }
        Ok(())
    }
}

/// Stores one capture: typed field, or record slot (times through a one-entry cache).
#[inline]
fn field<'a>(
    last_time: &mut (Vec<u8>, f64),
    out: &mut Record<'a>,
    name: &'static [u8],
    slot: Option<Slot>,
    raw: &'a [u8],
) {
    match slot {
        None => out.push_raw(name, typed(raw), raw),
        Some(Slot::Time) if out.timestamp.is_none() => {
            if !raw.is_empty() && last_time.0 == raw {
                out.timestamp = Some(last_time.1);
                out.time_text = Some(Cow::Borrowed(raw));
                return;
            }
            assign_raw(out, slot, Cow::Borrowed(name), raw);
            if let Some(t) = out.timestamp {
                last_time.0.clear();
                last_time.0.extend_from_slice(raw);
                last_time.1 = t;
            }
        }
        Some(_) => assign_raw(out, slot, Cow::Borrowed(name), raw),
    }
}

/// Capture names live as long as the program so that fields can borrow them for any line's
/// lifetime. Each distinct name is leaked once, however many parsers are built.
fn intern(name: &str) -> &'static [u8] {
    static NAMES: Mutex<Option<HashSet<&'static [u8]>>> = Mutex::new(None);
    let mut guard = NAMES.lock().unwrap_or_else(|e| e.into_inner());
    let set = guard.get_or_insert_with(HashSet::new);
    if let Some(&n) = set.get(name.as_bytes()) {
        return n;
    }
    let leaked: &'static [u8] = Box::leak(name.as_bytes().to_vec().into_boxed_slice());
    set.insert(leaked);
    leaked
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Level, Value};

    pub(crate) const APACHE: &str = r#"^(?P<host>\S+) \S+ (?P<user>\S+) \[(?P<time>[^\]]+)\] "(?P<method>[A-Z]+) (?P<path>\S+) [^"]*" (?P<status>\d{3}) (?P<bytes>\d+|-) "[^"]*" "[^"]*" (?P<duration_us>\d+)$"#;

    #[test]
    fn apache_line() {
        let mut p = RegexParser::new(APACHE).unwrap();
        let line = b"10.0.0.1 - frank [23/Nov/2026:10:00:00 +0000] \"GET /a?b=1 HTTP/1.1\" 200 2326 \"-\" \"curl/8\" 1234\r";
        let mut r = Record::new();
        p.parse(line, &mut r).unwrap();
        assert_eq!(r.timestamp, Some(1_795_428_000.0));
        assert_eq!(r.get(b"status"), Some(&Value::Int(200)));
        assert_eq!(r.get(b"bytes"), Some(&Value::Int(2326)));
        assert_eq!(r.get(b"duration_us"), Some(&Value::Int(1234)));
        assert_eq!(r.get(b"path"), Some(&Value::Str(Cow::Borrowed(b"/a?b=1"))));
        assert_eq!(r.fields.len(), 7);
    }

    #[test]
    fn slots_optional_groups_and_no_match() {
        let mut p =
            RegexParser::new(r"^(?P<level>\w+) (?P<target>[\w:]+)(?: (?P<n>\d+))?: (?P<msg>.*)$")
                .unwrap();
        let mut r = Record::new();
        p.parse(b"WARN app::db: 12 \xff slow", &mut r).unwrap();
        assert_eq!(r.level, Some(Level::Warn));
        assert_eq!(r.target.as_deref(), Some(&b"app::db"[..]));
        assert_eq!(r.message.as_deref(), Some(&b"12 \xff slow"[..]));
        assert!(r.fields.is_empty());
        let mut r = Record::new();
        assert_eq!(p.parse(b"nothing to see", &mut r), Err(ParseError::NoMatch));
    }

    #[test]
    fn repeated_times_come_from_the_cache_and_bad_ones_stay_fields() {
        let mut p = RegexParser::new(r"^(?P<time>\S+) (?P<n>\d+)$").unwrap();
        for (line, ts) in [
            (&b"2026-11-23T10:00:00Z 1"[..], Some(1_795_428_000.0)),
            (b"2026-11-23T10:00:00Z 2", Some(1_795_428_000.0)),
            (b"2026-11-23T10:00:01Z 3", Some(1_795_428_001.0)),
            (b"soon 4", None),
            (b"soon 5", None),
        ] {
            let mut r = Record::new();
            p.parse(line, &mut r).unwrap();
            assert_eq!(r.timestamp, ts);
            assert_eq!(r.get(b"time").is_some(), ts.is_none());
        }
    }

    #[test]
    fn bad_patterns_are_build_errors() {
        let e = RegexParser::new("(?P<x>[a-").unwrap_err();
        assert!(
            e.to_string().starts_with("regex parser: invalid pattern"),
            "{e}"
        );
    }

    #[test]
    fn names_are_interned_once() {
        assert!(std::ptr::eq(intern("status"), intern("status")));
    }
}
