//! kpid's record vocabulary and its built-in log parsers.
//!
//! A [`Parser`] turns the bytes of one log line into a [`Record`]: an optional timestamp,
//! [`Level`], target and message, plus typed [`Field`]s whose [`Value`]s borrow from the line.
//! The daemon keeps one record per source and [`Record::recycle`]s it between lines, so the
//! common case allocates nothing per line.
//!
//! Built-in parsers are made by [`builtin`] from a name and options: `json` (one object per
//! line), `logfmt` (`key=value` pairs), `regex` (named captures), `plain` (level and message
//! only) and `auto` (per line: JSON, else `key=value`, else plain). Parser plugins loaded by
//! the daemon implement the same trait.

mod record;

pub use record::{Field, Level, Record, Value};

/// Why a line did not parse. Messages are lowercase and name what was wrong.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum ParseError {
    /// The line is not valid for this format; the string says where and why.
    #[error("{0}")]
    Invalid(String),
    /// The line did not match the parser's pattern.
    #[error("line does not match the pattern")]
    NoMatch,
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
}

/// Turns one line into a record.
pub trait Parser: Send {
    /// The parser's name as used in configuration (`json`, `auto`, a plugin's name...).
    fn name(&self) -> &str;

    /// Parses `line` (without its line terminator) into `out`, which arrives empty.
    fn parse<'a>(&mut self, line: &'a [u8], out: &mut Record<'a>) -> Result<(), ParseError>;
}
