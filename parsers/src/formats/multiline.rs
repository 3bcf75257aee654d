//! Multi-line records: the lines of a Python traceback, a Java or Go stack trace and indented
//! continuation lines belong to the record that started them.
//!
//! The record is applied when its first line arrives (nothing is held back, so there is no
//! timeout to wait for, the last record of a file is never stuck, and a file checkpoint
//! never covers half a record); the lines that continue it are recognised here and reported
//! as continuations ([`crate::ParseError::Continuation`]), so they are counted as joined
//! lines instead of records of their own, whatever batch they arrive in (the state lives
//! in the source's parser). A record takes at most [`MAX_LINES`] continuation lines and
//! [`MAX_BYTES`] bytes; past either, lines are records again and the overflow is counted.
//!
//! A line continues the record before it when it is indented; when it is a traceback's
//! `Traceback (most recent call last):` right after an ERROR record; a Python exception line
//! (`ValueError: boom`) ending a traceback, or the `During handling of the above exception`
//! chaining; Java's `Caused by:`; Go's `goroutine 1 [running]:` and its frames. A traceback,
//! `panic:` or `Exception in thread` that starts a record on its own gives it level ERROR.

use crate::Level;

/// Most continuation lines one record takes.
pub const MAX_LINES: u32 = 500;
/// Most bytes of continuation lines one record takes.
pub const MAX_BYTES: usize = 256 << 10;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum State {
    #[default]
    Line,
    /// Inside a Python traceback's frames.
    Traceback,
    /// After a Python exception line: a chained traceback may follow.
    Raised,
    /// Inside a Go goroutine dump.
    Goroutine,
}

/// The continuation state of one source.
#[derive(Debug, Default, Clone)]
pub struct Joiner {
    state: State,
    started: bool,
    error: bool,
    lines: u32,
    bytes: usize,
    /// Lines joined to the record before them.
    pub joined: u64,
    /// Lines that would have continued a record already at its cap.
    pub overflows: u64,
}

fn starts(line: &[u8], p: &[u8]) -> bool {
    line.starts_with(p)
}

/// `ValueError: boom`, `KeyboardInterrupt`, `json.decoder.JSONDecodeError: ...`.
fn exception_line(line: &[u8]) -> bool {
    let name_end = line
        .iter()
        .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_' || *c == b'.'))
        .unwrap_or(line.len());
    let name = &line[..name_end];
    name.first().is_some_and(u8::is_ascii_alphabetic)
        && (name_end == line.len() || line[name_end] == b':')
        && Level::from_bytes(name).is_none()
}

impl Joiner {
    /// True when `line` continues the record before it (and counts it as joined).
    pub fn continues(&mut self, line: &[u8]) -> bool {
        if !self.started {
            return false;
        }
        let first = line.first().copied();
        let blank = line.iter().all(u8::is_ascii_whitespace);
        let (yes, next) = match (self.state, first) {
            (State::Traceback | State::Raised, _) if blank => (true, self.state),
            (_, _) if blank => (false, self.state),
            (_, Some(b' ' | b'\t')) => (true, self.state),
            (State::Traceback, _) if exception_line(line) => (true, State::Raised),
            (_, Some(b'T')) if starts(line, b"Traceback (most recent call last):") => {
                let follows = (self.error && self.lines == 0) || self.state == State::Raised;
                (follows, State::Traceback)
            }
            (State::Traceback | State::Raised, Some(b'D' | b'T'))
                if starts(line, b"During handling of the above exception")
                    || starts(line, b"The above exception was the direct cause") =>
            {
                (true, State::Raised)
            }
            (_, Some(b'C')) if starts(line, b"Caused by: ") => (true, self.state),
            (_, Some(b'g')) if starts(line, b"goroutine ") && line.ends_with(b"]:") => {
                (true, State::Goroutine)
            }
            (State::Goroutine, _) if line.ends_with(b")") || starts(line, b"created by ") => {
                (true, State::Goroutine)
            }
            (State::Goroutine, Some(b'e')) if starts(line, b"exit status ") => (true, State::Line),
            _ => (false, self.state),
        };
        if !yes {
            return false;
        }
        if self.lines >= MAX_LINES || self.bytes + line.len() > MAX_BYTES {
            self.overflows += 1;
            return false;
        }
        self.state = next;
        self.lines += 1;
        self.bytes += line.len();
        self.joined += 1;
        true
    }

    /// A record starts with `line`, parsed with `level`; returns the level it should have
    /// (ERROR for a traceback, `panic:` or Java exception that starts a record on its own).
    pub fn start(&mut self, line: &[u8], level: Option<Level>) -> Option<Level> {
        self.started = true;
        self.lines = 0;
        self.bytes = 0;
        let (state, error) = if starts(line, b"Traceback (most recent call last):") {
            (State::Traceback, true)
        } else if starts(line, b"panic: ") || starts(line, b"fatal error: ") {
            (State::Goroutine, true)
        } else if starts(line, b"Exception in thread ") {
            (State::Line, true)
        } else {
            (State::Line, false)
        };
        self.state = state;
        let level = if error { Some(Level::Error) } else { level };
        self.error = level == Some(Level::Error);
        level
    }
}
