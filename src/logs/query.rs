//! Filtering and paging a [`LogsSnapshot`]: by source, level, time and a regex, newest lines
//! first (`before` pages back) or, to follow, the lines after a sequence number.

use super::{LogsSnapshot, Segment};
use serde::Serialize;
use std::borrow::Cow;

/// Most lines one answer carries.
pub const MAX_LIMIT: usize = 5000;
/// Longest line text sent; the rest is cut (marked `truncated`).
pub const MAX_TEXT: usize = 8192;
/// Longest regex accepted, in bytes.
const MAX_PATTERN: usize = 1024;
/// Most highlighted matches per line.
const MAX_MATCHES: usize = 32;

/// Level names by number ([`super::LineMeta::level`]).
pub const LEVELS: [&str; 6] = ["none", "trace", "debug", "info", "warn", "error"];

/// A request that cannot be answered.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum QueryError {
    /// A parameter kpid does not know.
    #[error("unknown parameter {0:?} (known: source, level, q, from, to, before, after, limit)")]
    Unknown(String),
    /// A value that does not parse.
    #[error("{name}: {why}")]
    Bad {
        /// Parameter.
        name: &'static str,
        /// What is wrong.
        why: String,
    },
}

/// What `/api/logs` was asked.
#[derive(Debug, Default)]
pub struct LogQuery {
    sources: Vec<String>,
    /// Bit `n` set: level `n` wanted (all when 0).
    levels: u8,
    re: Option<regex::Regex>,
    from: Option<f64>,
    to: Option<f64>,
    before: Option<u64>,
    after: Option<u64>,
    /// Oldest first even without `after` (a stream that starts before any line).
    forward: bool,
    limit: usize,
}

fn bad(name: &'static str, why: impl Into<String>) -> QueryError {
    QueryError::Bad {
        name,
        why: why.into(),
    }
}

fn time(name: &'static str, v: &str) -> Result<f64, QueryError> {
    crate::kpi::time_param(v).ok_or_else(|| {
        bad(
            name,
            format!("{v:?} is not a time (Unix seconds or RFC 3339)"),
        )
    })
}

impl LogQuery {
    /// Reads query parameters; `source` and `level` may repeat or be comma-separated.
    pub fn parse(params: &[(String, String)]) -> Result<Self, QueryError> {
        let mut q = LogQuery {
            limit: 500,
            ..LogQuery::default()
        };
        for (k, v) in params {
            match k.as_str() {
                "source" => q
                    .sources
                    .extend(v.split(',').filter(|s| !s.is_empty()).map(String::from)),
                "level" => {
                    for l in v.split(',').filter(|s| !s.is_empty()) {
                        let i = LEVELS
                            .iter()
                            .position(|n| n.eq_ignore_ascii_case(l))
                            .ok_or_else(|| {
                                bad("level", format!("{l:?} is not one of {LEVELS:?}"))
                            })?;
                        q.levels |= 1 << i;
                    }
                }
                "q" if !v.is_empty() => {
                    if v.len() > MAX_PATTERN {
                        return Err(bad("q", format!("longer than {MAX_PATTERN} bytes")));
                    }
                    let re = regex::RegexBuilder::new(v)
                        .size_limit(1 << 20)
                        .dfa_size_limit(1 << 20)
                        .build()
                        .map_err(|e| {
                            bad(
                                "q",
                                e.to_string().lines().last().unwrap_or("").trim().to_owned(),
                            )
                        })?;
                    q.re = Some(re);
                }
                "q" => {}
                "from" => q.from = Some(time("from", v)?),
                "to" => q.to = Some(time("to", v)?),
                "before" => {
                    q.before = Some(
                        v.parse()
                            .map_err(|_| bad("before", "not a sequence number"))?,
                    )
                }
                "after" => {
                    q.after = Some(
                        v.parse()
                            .map_err(|_| bad("after", "not a sequence number"))?,
                    )
                }
                "limit" => {
                    let n: usize = v.parse().map_err(|_| bad("limit", "not a count"))?;
                    q.limit = n.clamp(1, MAX_LIMIT);
                }
                // The API token may ride in the query string.
                "token" => {}
                other => return Err(QueryError::Unknown(other.to_owned())),
            }
        }
        Ok(q)
    }

    /// The `after` asked for, if any.
    pub fn after(&self) -> Option<u64> {
        self.after
    }

    /// Follows: the lines after `after` (`None`: from the oldest kept), oldest first, at most
    /// `limit` (a stream's next frame).
    pub fn follow(&mut self, after: Option<u64>, limit: usize) {
        self.after = after;
        self.before = None;
        self.forward = true;
        self.limit = limit.clamp(1, MAX_LIMIT);
    }

    fn wants(&self, seg: &Segment, i: usize, text: &str) -> bool {
        let m = &seg.lines[i];
        if self.levels != 0 && self.levels & (1 << m.level.min(5)) == 0 {
            return false;
        }
        let t = if m.ts.is_finite() { m.ts } else { seg.t };
        if self.from.is_some_and(|f| t < f) || self.to.is_some_and(|to| t > to) {
            return false;
        }
        self.re.as_ref().is_none_or(|re| re.is_match(text))
    }

    /// The lines asked for, oldest first.
    pub fn run<'a>(&self, snap: &'a LogsSnapshot) -> LogsReply<'a> {
        let mut lines = Vec::new();
        let mut more = false;
        for src in &snap.sources {
            if !self.sources.is_empty() && !self.sources.iter().any(|s| **s == *src.name) {
                continue;
            }
            let mut found = 0;
            let mut visit = |seg: &'a Segment, i: usize| {
                let seq = seg.first_seq + i as u64;
                let ok_seq = match (self.after, self.before) {
                    (Some(a), _) => seq > a,
                    (None, Some(b)) => seq < b,
                    (None, None) => true,
                };
                if !ok_seq {
                    return true;
                }
                let text = String::from_utf8_lossy(seg.text(i));
                if !self.wants(seg, i, &text) {
                    return true;
                }
                if found == self.limit {
                    more = true;
                    return false;
                }
                found += 1;
                lines.push(self.line(&src.name, seg, i, seq, text));
                true
            };
            let starts = src
                .segs
                .iter()
                .enumerate()
                .map(|(k, s)| (s, if k == 0 { src.skip } else { 0 }));
            if self.after.is_some() || self.forward {
                'fwd: for (seg, skip) in starts {
                    for i in skip..seg.lines.len() {
                        if !visit(seg, i) {
                            break 'fwd;
                        }
                    }
                }
            } else {
                'back: for (seg, skip) in starts.rev() {
                    for i in (skip..seg.lines.len()).rev() {
                        if !visit(seg, i) {
                            break 'back;
                        }
                    }
                }
            }
        }
        lines.sort_unstable_by_key(|l| l.seq);
        if lines.len() > self.limit {
            more = true;
            if self.after.is_some() || self.forward {
                lines.truncate(self.limit);
            } else {
                lines.drain(..lines.len() - self.limit);
            }
        }
        LogsReply {
            lines,
            more,
            next_seq: snap.next_seq,
            sources: snap
                .sources
                .iter()
                .map(|s| SourceCount {
                    name: &s.name,
                    total: s.total,
                    kept: s.kept,
                    evicted: s.evicted,
                })
                .collect(),
            untracked: snap.untracked,
        }
    }

    fn line<'a>(
        &self,
        source: &'a str,
        seg: &Segment,
        i: usize,
        seq: u64,
        text: Cow<'a, str>,
    ) -> LogLine<'a> {
        let m = &seg.lines[i];
        let mut text = text.into_owned();
        let truncated = text.len() > MAX_TEXT;
        if truncated {
            let mut cut = MAX_TEXT;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
        }
        let hl = self
            .re
            .as_ref()
            .map(|re| highlights(re, &text))
            .unwrap_or_default();
        LogLine {
            seq,
            t: if m.ts.is_finite() { m.ts } else { seg.t },
            arrived: seg.t,
            source,
            level: LEVELS[m.level.min(5) as usize],
            text,
            truncated,
            hl,
        }
    }
}

/// Match ranges in UTF-16 code units (what a browser's string indexes count).
fn highlights(re: &regex::Regex, text: &str) -> Vec<[usize; 2]> {
    let utf16 = |b: usize| text[..b].encode_utf16().count();
    re.find_iter(text)
        .filter(|m| !m.is_empty())
        .take(MAX_MATCHES)
        .map(|m| [utf16(m.start()), utf16(m.end())])
        .collect()
}

/// One line of an answer.
#[derive(Debug, Serialize)]
pub struct LogLine<'a> {
    /// Sequence number (page with `before`, follow with `after`).
    pub seq: u64,
    /// The line's time: its own timestamp, else when kpid applied it.
    pub t: f64,
    /// When kpid applied it.
    pub arrived: f64,
    /// Source.
    pub source: &'a str,
    /// Level name.
    pub level: &'static str,
    /// Text (invalid UTF-8 replaced), at most [`MAX_TEXT`] bytes.
    pub text: String,
    /// Whether the text was cut.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
    /// Regex matches, `[start, end)` in UTF-16 code units.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hl: Vec<[usize; 2]>,
}

/// A source's counts.
#[derive(Debug, Serialize)]
pub struct SourceCount<'a> {
    /// Source.
    pub name: &'a str,
    /// Lines received.
    pub total: u64,
    /// Lines kept.
    pub kept: usize,
    /// Lines that fell out of the ring.
    pub evicted: u64,
}

/// The answer of `/api/logs`.
#[derive(Debug, Serialize)]
pub struct LogsReply<'a> {
    /// Matching lines, oldest first.
    pub lines: Vec<LogLine<'a>>,
    /// Whether more matching lines exist past `limit` (older ones, or with `after` newer ones).
    pub more: bool,
    /// Sequence number the next line will get (follow from `after=next_seq-1`).
    pub next_seq: u64,
    /// Per source counts.
    pub sources: Vec<SourceCount<'a>>,
    /// Lines not kept because too many sources had a ring.
    pub untracked: u64,
}
