//! kpid's record vocabulary and its built-in log parsers.
//!
//! A [`Parser`] turns the bytes of one log line into a [`Record`]: an optional timestamp,
//! [`Level`], target and message, plus typed [`Field`]s whose [`Value`]s borrow from the line.
//! The daemon keeps one record per source and [`Record::recycle`]s it between lines, so the
//! common case allocates nothing per line.
//!
//! Built-in parsers are made by [`builtin`] from a name and options: `json` (one object per
//! line), `logfmt` (`key=value` pairs), `regex` (named captures), `plain` (level and message
//! only) and `auto` (recognises each source's format: JSON, HTTP access logs, Python's
//! `logging`, uvicorn, syslog, klog, logfmt / Go's `slog`, plain; see [`formats`], and joins
//! multi-line records). Parser plugins loaded by the daemon implement the same trait.
//!
//! A source's [`TimeSpec`] (its `timestamp` format and `timezone`) reads each parsed line's
//! event time ([`TimeSpec::event_time`]): what the parser found, or an explicit format
//! (RFC 3339, common log format, syslog, Unix seconds or milliseconds, a strftime pattern).
//!
//! Conventions shared by every built-in parser:
//!
//! - Lines are bytes and may hold invalid UTF-8: no parser panics on any input, text fields
//!   keep the raw bytes, and a rejected line is an error the daemon counts, never a lost line.
//! - One trailing `\r` (CRLF files) is dropped.
//! - Keys naming the level (`level`, `lvl`, `severity`), message (`msg`, `message`),
//!   timestamp (`ts`, `time`, `timestamp`, `@timestamp`) and target (`target`, `logger`,
//!   `module`) fill the record's slots and are not repeated as fields, unless their value
//!   cannot be understood (then they stay fields).
//! - Error messages name the parser and what failed: `json: unterminated string at byte 42`.

mod auto;
mod delimited;
pub mod formats;
mod json;
mod logfmt;
mod pattern;
mod plain;
mod record;
mod slots;
mod start;
mod strftime;
mod timefmt;
mod timestamp;
mod value;

pub use auto::AutoParser;
pub use json::JsonParser;
pub use logfmt::LogfmtParser;
pub use pattern::RegexParser;
pub use plain::PlainParser;
pub use record::{Field, Level, Record, Value};
pub use start::WithStart;
pub use timefmt::{EventTime, TimeSpec};
pub use timestamp::civil_from_days;
pub use value::typed;

/// Reads a whole value as a time, in Unix seconds: an RFC 3339 / ISO 8601 date-time (UTC when
/// it has no zone), Apache's `10/Oct/2000:13:55:36 -0700`, or an epoch number (seconds,
/// milliseconds, microseconds or nanoseconds, told apart by magnitude).
pub fn parse_time(s: &[u8]) -> Option<f64> {
    timestamp::parse_full(s)
}

/// Names accepted by [`builtin`].
pub const BUILTIN_PARSERS: [&str; 5] = ["auto", "json", "logfmt", "regex", "plain"];

/// Why a line did not parse. Messages are lowercase and name what was wrong.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum ParseError {
    /// The line is not valid for this format; the string says where and why.
    #[error("{0}")]
    Invalid(String),
    /// The line did not match the parser's pattern.
    #[error("line does not match the pattern")]
    NoMatch,
    /// The line continues the record before it (a traceback's line, an indented line): it
    /// is counted as joined to that record, not as a record of its own.
    #[error("line continues the record before it")]
    Continuation,
}

/// What the `auto` parser recognised in a source (see [`Parser::format`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FormatStats {
    /// The format of the source's last record (`access`, `python`, `json`...), empty before
    /// the first line.
    pub format: &'static str,
    /// How many times the source's lines changed format.
    pub switches: u64,
    /// Lines joined to the record before them (multi-line records).
    pub joined: u64,
    /// Continuation lines past a record's cap, made records of their own.
    pub overflows: u64,
}

/// Errors building a parser from its configuration.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// No built-in parser has this name.
    #[error("unknown parser `{0}` (built-in parsers: json, logfmt, regex, plain, auto)")]
    Unknown(String),
    /// The regex parser was given no pattern, or a bad one.
    #[error("regex parser: {0}")]
    Pattern(String),
    /// A source's `timestamp` format is not understood.
    #[error("field `timestamp`: {0}")]
    Timestamp(String),
    /// A source's `start` pattern is not a valid regex.
    #[error("field `start`: {0}")]
    Start(String),
    /// A source's `timezone` is not a UTC offset.
    #[error("field `timezone`: {0}")]
    Timezone(String),
    /// An option was given to a parser that does not take it.
    #[error("parser `{parser}` takes no `{option}` option")]
    UnusedOption {
        /// The parser's name.
        parser: String,
        /// The option's name.
        option: &'static str,
    },
}

/// Options of a built-in parser, from the source's configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParserOptions {
    /// The `regex` parser's pattern (named groups become fields). Only `regex` takes it.
    pub pattern: Option<String>,
}

/// Builds the built-in parser called `name` (`auto`, `json`, `logfmt` (alias `kv`),
/// `regex`, `plain`).
///
/// ```
/// use kpid_parsers::{builtin, ParserOptions, Record};
/// let opts = ParserOptions { pattern: Some(r"^(?P<level>\w+) took (?P<t>\S+)$".into()) };
/// let mut p = builtin("regex", &opts).unwrap();
/// let mut r = Record::new();
/// p.parse(b"WARN took 12ms", &mut r).unwrap();
/// assert_eq!(r.get(b"t").and_then(|v| v.as_f64()), Some(0.012));
/// ```
pub fn builtin(name: &str, options: &ParserOptions) -> Result<Box<dyn Parser>, BuildError> {
    if name == "regex" {
        let pattern = options
            .pattern
            .as_deref()
            .ok_or_else(|| BuildError::Pattern("no `pattern` given".into()))?;
        return Ok(Box::new(RegexParser::new(pattern)?));
    }
    let parser: Box<dyn Parser> = match name {
        "auto" => Box::new(AutoParser::new()),
        "json" => Box::new(JsonParser::new()),
        "logfmt" | "kv" => Box::new(LogfmtParser::new()),
        "plain" => Box::new(PlainParser::new()),
        _ => return Err(BuildError::Unknown(name.to_string())),
    };
    if options.pattern.is_some() {
        return Err(BuildError::UnusedOption {
            parser: name.to_string(),
            option: "pattern",
        });
    }
    Ok(parser)
}

/// Turns one line into a record.
pub trait Parser: Send {
    /// The parser's name as used in configuration (`json`, `auto`, a plugin's name...).
    fn name(&self) -> &str;

    /// Parses `line` (without its line terminator) into `out`, which arrives empty.
    fn parse<'a>(&mut self, line: &'a [u8], out: &mut Record<'a>) -> Result<(), ParseError>;

    /// Called with a batch's lines before they are parsed one by one, in that order, with
    /// the same slices. A parser that crosses a process boundary (a plugin in its worker
    /// process) parses them all at once here and hands the results out in [`Parser::parse`];
    /// the others need nothing (the default does nothing).
    fn prepare(&mut self, batch: &BatchInfo<'_>, lines: &[&[u8]]) {
        let _ = (batch, lines);
    }

    /// What the parser recognised so far, for a parser that recognises formats (`auto`).
    fn format(&self) -> Option<FormatStats> {
        None
    }

    /// For a source whose records span lines ([`WithStart`]): whether `line` starts a
    /// record. `None` (the default): every line is a record.
    fn starts_record(&self, line: &[u8]) -> Option<bool> {
        let _ = line;
        None
    }
}

/// Where a batch of lines comes from, for parsers that report a line by source and offset.
#[derive(Debug, Clone, Copy)]
pub struct BatchInfo<'a> {
    /// The source's name.
    pub source: &'a str,
    /// The bytes the lines are slices of.
    pub data: &'a [u8],
    /// File offset of `data[0]`, when the lines come from a file.
    pub offset: Option<u64>,
}

impl BatchInfo<'_> {
    /// File offset where `line` (a slice of `data`) starts, when known.
    pub fn offset_of(&self, line: &[u8]) -> Option<u64> {
        let at = (line.as_ptr() as usize).checked_sub(self.data.as_ptr() as usize)?;
        (at <= self.data.len()).then(|| self.offset.map(|o| o + at as u64))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn factory_builds_every_builtin() {
        let none = ParserOptions::default();
        for name in BUILTIN_PARSERS.iter().filter(|n| **n != "regex") {
            assert_eq!(builtin(name, &none).unwrap().name(), *name);
        }
        assert_eq!(builtin("kv", &none).unwrap().name(), "logfmt");
        let pat = ParserOptions {
            pattern: Some("(?P<a>x)".into()),
        };
        assert_eq!(builtin("regex", &pat).unwrap().name(), "regex");
    }

    #[test]
    fn factory_errors_name_the_problem() {
        let none = ParserOptions::default();
        let err = |n: &str, o: &ParserOptions| builtin(n, o).err().unwrap().to_string();
        assert_eq!(
            err("yaml", &none),
            "unknown parser `yaml` (built-in parsers: json, logfmt, regex, plain, auto)"
        );
        assert_eq!(err("regex", &none), "regex parser: no `pattern` given");
        let pat = ParserOptions {
            pattern: Some("x".into()),
        };
        assert_eq!(err("json", &pat), "parser `json` takes no `pattern` option");
    }
}
