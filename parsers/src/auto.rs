//! `auto`, the default: recognises the format of each source from its lines.
//!
//! The formats: JSON (a line whose first non-blank byte is `{`), the shaped formats of
//! [`crate::formats`] (HTTP access logs, Python's `logging`, uvicorn, syslog, klog), logfmt
//! (Go's `slog` text handler among others) and plain text. The parser of a source keeps the
//! format its lines last matched (sticky): each line is first parsed with it, and only a
//! line it refuses is recognised again, every format tried in turn (counted in
//! [`FormatStats::switches`] when another one matches). A source in logfmt or plain text,
//! which accept anything, still gets each line checked against the shaped formats first,
//! each refusing in a few byte comparisons.
//!
//! - Broken JSON is a [`ParseError`] (the daemon counts it): a line that starts like JSON and
//!   is not is a writer bug worth seeing, not a plain message.
//! - A broken quoted logfmt value falls back to plain text: in free text a stray quote is
//!   common, and the line keeps its level and message.
//! - A line that continues the record before it (a traceback, a stack trace, an indented
//!   line: see [`crate::formats::multiline`]) is [`ParseError::Continuation`].

use crate::formats::multiline::Joiner;
use crate::formats::Format;
use crate::json::JsonParser;
use crate::logfmt::LogfmtParser;
use crate::plain::PlainParser;
use crate::value::trim_cr;
use crate::{FormatStats, ParseError, Parser, Record};

/// The `auto` parser.
#[derive(Debug, Clone)]
pub struct AutoParser {
    json: JsonParser,
    logfmt: LogfmtParser,
    plain: PlainParser,
    format: Option<Format>,
    joiner: Joiner,
    switches: u64,
}

impl Default for AutoParser {
    fn default() -> Self {
        AutoParser::new()
    }
}

impl AutoParser {
    /// An auto-detecting parser.
    pub fn new() -> Self {
        AutoParser {
            json: JsonParser::new(),
            logfmt: LogfmtParser::new(),
            plain: PlainParser::new(),
            format: None,
            joiner: Joiner::default(),
            switches: 0,
        }
    }

    fn set(&mut self, f: Format) {
        if self.format.is_some_and(|old| old != f) {
            self.switches += 1;
        }
        self.format = Some(f);
    }

    fn recognise<'a>(&mut self, line: &'a [u8], out: &mut Record<'a>) -> Result<(), ParseError> {
        let start = line.iter().position(|&c| c != b' ' && c != b'\t');
        if start.is_some_and(|s| line[s] == b'{') {
            self.set(Format::Json);
            return self.json.parse(line, out);
        }
        for f in Format::SHAPED {
            if Some(f) != self.format && f.parse(&self.logfmt, line, out) {
                self.set(f);
                return Ok(());
            }
            clear(out);
        }
        match self.logfmt.parse_pairs(line, out) {
            Ok(n) if n > 0 => {
                self.set(Format::Logfmt);
                return Ok(());
            }
            _ => {}
        }
        clear(out);
        self.set(Format::Plain);
        self.plain.parse(line, out)
    }
}

fn clear(out: &mut Record<'_>) {
    out.timestamp = None;
    out.level = None;
    out.target = None;
    out.message = None;
    out.time_text = None;
    out.fields.clear();
}

impl Parser for AutoParser {
    fn name(&self) -> &str {
        "auto"
    }

    fn parse<'a>(&mut self, line: &'a [u8], out: &mut Record<'a>) -> Result<(), ParseError> {
        let line = trim_cr(line);
        if self.joiner.continues(line) {
            return Err(ParseError::Continuation);
        }
        let sticky = match self.format {
            Some(Format::Json) if line.first() == Some(&b'{') => {
                // Broken JSON in a JSON source: an error, not a reason to re-recognise.
                self.json.parse(line, out)?;
                true
            }
            Some(f) => {
                let ok = f.parse(&self.logfmt, line, out);
                if !ok {
                    clear(out);
                }
                ok
            }
            None => false,
        };
        if !sticky {
            self.recognise(line, out)?;
        }
        out.level = self.joiner.start(line, out.level);
        Ok(())
    }

    fn format(&self) -> Option<FormatStats> {
        Some(FormatStats {
            format: self.format.map_or("", Format::as_str),
            switches: self.switches,
            joined: self.joiner.joined,
            overflows: self.joiner.overflows,
        })
    }
}

#[cfg(test)]
#[path = "auto_tests.rs"]
mod tests;
