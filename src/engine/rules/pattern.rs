//! The `match` patterns of rules: each distinct pattern is compiled once and run at most once
//! per line, whatever the number of rules that share it; its capture locations are kept for
//! the rules that read them.
//!
//! Like the `regex` parser, patterns run on bytes with Unicode classes off (`\w`, `\d`, `\s`
//! are ASCII; `(?u)` turns them back on), and match anywhere in the line unless anchored.

use crate::engine::filter::Caps;
use regex::bytes::{CaptureLocations, Regex, RegexBuilder};

#[derive(Debug)]
struct Pattern {
    text: String,
    re: Regex,
    locs: CaptureLocations,
    names: Vec<(Box<[u8]>, usize)>,
    /// The record this pattern last ran on, and whether it matched it.
    seen: u64,
    hit: bool,
}

/// Every distinct `match` pattern of the rules.
#[derive(Debug, Default)]
pub(super) struct Patterns {
    all: Vec<Pattern>,
    /// Counts records: a pattern whose `seen` is behind has not run on this one.
    record: u64,
}

impl Patterns {
    /// The index of `text`'s pattern, compiled on first use; the error says why it is invalid.
    pub fn add(&mut self, text: &str) -> Result<usize, String> {
        if let Some(i) = self.all.iter().position(|p| p.text == text) {
            return Ok(i);
        }
        let re = RegexBuilder::new(text)
            .unicode(false)
            .size_limit(16 << 20)
            .build()
            .map_err(|e| format!("invalid pattern: {e}"))?;
        let names = re
            .capture_names()
            .enumerate()
            .filter_map(|(i, n)| n.map(|n| (Box::from(n.as_bytes()), i)))
            .collect();
        self.all.push(Pattern {
            text: text.to_owned(),
            locs: re.capture_locations(),
            re,
            names,
            seen: 0,
            hit: false,
        });
        Ok(self.all.len() - 1)
    }

    /// A new record: every pattern runs again, once, when a rule asks.
    #[inline]
    pub fn next_record(&mut self) {
        self.record += 1;
    }

    /// Whether pattern `i` matches `line` (run once per record).
    pub fn test(&mut self, i: usize, line: &[u8]) -> bool {
        let p = &mut self.all[i];
        if p.seen != self.record {
            p.seen = self.record;
            p.hit = p.re.captures_read(&mut p.locs, line).is_some();
        }
        p.hit
    }

    /// The captures of pattern `i` on `line`, after a [`Patterns::test`] that matched.
    pub fn caps<'a>(&'a self, i: usize, line: &'a [u8]) -> Caps<'a> {
        let p = &self.all[i];
        Caps::new(line, &p.locs, &p.names)
    }
}
