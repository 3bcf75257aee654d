//! `auto`, the default: picks a format per line.
//!
//! 1. A line whose first non-blank byte is `{` is JSON. If it is broken JSON, the line is a
//!    [`ParseError`] (the daemon counts it): a line that starts like JSON and is not is a
//!    writer bug worth seeing, not a plain message.
//! 2. Else, a line with at least one `key=value` pair is logfmt. A broken quoted value falls
//!    back to step 3: in free text a stray quote is common, and the line keeps its level and
//!    message.
//! 3. Else the line is plain text; this never fails.

use crate::json::JsonParser;
use crate::logfmt::LogfmtParser;
use crate::plain::PlainParser;
use crate::value::trim_cr;
use crate::{ParseError, Parser, Record};

/// The `auto` parser.
#[derive(Debug, Default, Clone)]
pub struct AutoParser {
    json: JsonParser,
    logfmt: LogfmtParser,
    plain: PlainParser,
}

impl AutoParser {
    /// An auto-detecting parser.
    pub fn new() -> Self {
        AutoParser::default()
    }
}

impl Parser for AutoParser {
    fn name(&self) -> &str {
        "auto"
    }

    fn parse<'a>(&mut self, line: &'a [u8], out: &mut Record<'a>) -> Result<(), ParseError> {
        let line = trim_cr(line);
        let start = line.iter().position(|&c| c != b' ' && c != b'\t');
        if start.is_some_and(|s| line[s] == b'{') {
            return self.json.parse(line, out);
        }
        match self.logfmt.parse_pairs(line, out) {
            Ok(n) if n > 0 => return Ok(()),
            _ => {}
        }
        out.timestamp = None;
        out.level = None;
        out.target = None;
        out.message = None;
        out.time_text = None;
        out.fields.clear();
        self.plain.parse(line, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Level, Value};

    fn parse(line: &[u8]) -> Result<Record<'_>, ParseError> {
        let mut r = Record::new();
        AutoParser::new().parse(line, &mut r).map(|()| r)
    }

    #[test]
    fn picks_the_format_per_line() {
        let r = parse(br#"  {"level":"error","n":1}"#).unwrap();
        assert_eq!(
            (r.level, r.get(b"n")),
            (Some(Level::Error), Some(&Value::Int(1)))
        );
        let r = parse(b"WARN queue full depth=12\r").unwrap();
        assert_eq!(
            (r.level, r.get(b"depth")),
            (Some(Level::Warn), Some(&Value::Int(12)))
        );
        let r = parse(b"2026-11-23 10:00:00 ERROR boom").unwrap();
        assert_eq!(r.level, Some(Level::Error));
        assert_eq!(r.message.as_deref(), Some(&b"boom"[..]));
    }

    #[test]
    fn broken_json_is_an_error() {
        let e = parse(br#"{"level":"error""#).unwrap_err();
        assert!(e.to_string().starts_with("json: "), "{e}");
    }

    #[test]
    fn broken_logfmt_falls_back_to_plain() {
        let r = parse(br#"ERROR user said msg="hi"#).unwrap();
        assert_eq!(r.level, Some(Level::Error));
        assert_eq!(r.message.as_deref(), Some(&br#"user said msg="hi"#[..]));
        assert!(r.fields.is_empty());
    }
}
