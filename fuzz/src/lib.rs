//! Checks the fuzz targets share: what every parsed record must satisfy, whatever the line.

pub mod wire;

use kpid_parsers::{ParseError, Parser, Record, Value};
use std::borrow::Cow;

/// True when `part` lies inside `whole` (same allocation, in bounds).
pub fn inside(whole: &[u8], part: &[u8]) -> bool {
    let (w, p) = (whole.as_ptr() as usize, part.as_ptr() as usize);
    part.is_empty() || (p >= w && p + part.len() <= w + whole.len())
}

fn borrowed_inside(line: &[u8], c: &Option<Cow<'_, [u8]>>, what: &str) {
    if let Some(Cow::Borrowed(b)) = c {
        assert!(inside(line, b), "{what} borrows outside the line");
    }
}

/// Parses `line` twice with `parser` (the second time into a recycled record, as the daemon
/// does) and checks the record: borrowed text and every field's raw token lie inside the
/// line, both parses agree, and an `Invalid` error names the parser and a byte in the line.
/// Returns the record rendered with `{:?}` (or the error), for differential targets.
pub fn check_parser(parser: &mut dyn Parser, line: &[u8]) -> String {
    let mut rec = Record::new();
    let first = parser.parse(line, &mut rec);
    let shown = render(&first, &rec);
    if first.is_ok() {
        check_record(line, &rec);
    }
    if let Err(ParseError::Invalid(msg)) = &first {
        check_error(parser.name(), line, msg);
    }
    let mut again = rec.recycle();
    let second = parser.parse(line, &mut again);
    // `auto` joins multi-line records: the same indented line, right after the record it
    // started, continues that record.
    if second != Err(ParseError::Continuation) {
        assert_eq!(
            shown,
            render(&second, &again),
            "a second parse of the line differs"
        );
    }
    shown
}

fn render(r: &Result<(), ParseError>, rec: &Record<'_>) -> String {
    match r {
        Ok(()) => format!("{rec:?}"),
        Err(e) => format!("error: {e}"),
    }
}

/// The borrowing invariants of a parsed record. (Keys are not checked: the regex parser's
/// are its pattern's group names.)
pub fn check_record(line: &[u8], rec: &Record<'_>) {
    borrowed_inside(line, &rec.target, "target");
    borrowed_inside(line, &rec.message, "message");
    borrowed_inside(line, &rec.time_text, "time text");
    for f in &rec.fields {
        assert!(
            inside(line, f.raw),
            "a field's raw token lies outside the line"
        );
        if let Value::Str(Cow::Borrowed(s)) = &f.value {
            assert!(inside(line, s), "a field's text borrows outside the line");
        }
    }
}

/// An `Invalid` error reads `NAME: what at byte N` (or without the byte), N inside the line,
/// lowercase after the parser's name.
pub fn check_error(name: &str, line: &[u8], msg: &str) {
    let what = msg.strip_prefix(name).and_then(|m| m.strip_prefix(": "));
    let Some(what) = what else {
        // `auto` reports the JSON parser's own errors.
        assert!(
            msg.starts_with("json: "),
            "error `{msg}` does not name its parser `{name}`"
        );
        return;
    };
    assert!(
        !what.starts_with(|c: char| c.is_ascii_uppercase()),
        "error `{msg}` is not lowercase"
    );
    if let Some((_, at)) = what.rsplit_once(" at byte ") {
        if let Ok(at) = at.parse::<usize>() {
            assert!(
                at <= line.len(),
                "error `{msg}` points past the line ({} bytes)",
                line.len()
            );
        }
    }
}
