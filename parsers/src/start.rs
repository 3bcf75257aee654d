//! Records that span lines, told by the line that starts each (`[[source]] start`): a MySQL
//! slow-query entry from its `# User@Host:` line, a Java log entry from its timestamp.
//!
//! [`WithStart`] wraps a source's parser with the start pattern; the daemon asks it which
//! lines start a record ([`crate::Parser::starts_record`]), gathers each record's lines,
//! and parses the whole record (its lines joined by `\n`) once it is complete.

use crate::{BatchInfo, BuildError, FormatStats, ParseError, Parser, Record};
use regex::bytes::{Regex, RegexBuilder};

/// A parser whose records start at lines matching a pattern.
pub struct WithStart {
    inner: Box<dyn Parser>,
    start: Regex,
}

impl std::fmt::Debug for WithStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WithStart")
            .field("parser", &self.inner.name())
            .field("start", &self.start.as_str())
            .finish()
    }
}

impl WithStart {
    /// Wraps `inner`; `start` is a regex (bytes, Unicode classes off, like `regex`'s).
    pub fn new(inner: Box<dyn Parser>, start: &str) -> Result<Self, BuildError> {
        let start = RegexBuilder::new(start)
            .unicode(false)
            .size_limit(16 << 20)
            .build()
            .map_err(|e| BuildError::Start(format!("invalid pattern: {e}")))?;
        Ok(WithStart { inner, start })
    }
}

impl Parser for WithStart {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn parse<'a>(&mut self, line: &'a [u8], out: &mut Record<'a>) -> Result<(), ParseError> {
        self.inner.parse(line, out)
    }

    fn prepare(&mut self, batch: &BatchInfo<'_>, lines: &[&[u8]]) {
        self.inner.prepare(batch, lines);
    }

    fn format(&self) -> Option<FormatStats> {
        self.inner.format()
    }

    fn starts_record(&self, line: &[u8]) -> Option<bool> {
        Some(self.start.is_match(crate::value::trim_cr(line)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_start_lines_and_parses_whole_records() {
        let inner = crate::builtin("plain", &Default::default()).unwrap();
        let mut p = WithStart::new(inner, "^# User@Host: ").unwrap();
        assert_eq!(p.starts_record(b"# User@Host: a[a] @ h []"), Some(true));
        assert_eq!(p.starts_record(b"UPDATE t SET x = 1;\r"), Some(false));
        let mut r = Record::new();
        p.parse(b"# User@Host: a\nUPDATE t;", &mut r).unwrap();
        assert!(
            WithStart::new(crate::builtin("plain", &Default::default()).unwrap(), "(").is_err()
        );
    }
}
