//! Bounds on what a plugin may report for one line, and the pure check of every (pointer,
//! length) it passes: [`locate`]. Used by the in-process path on each callback and so, through
//! it, by the worker process; a fuzz target can call [`locate`] and [`OutputLimits`] directly.
//!
//! A range that lies inside the line is kept as a slice of it. A range that overlaps the line
//! without lying inside it, or that lies in the rest of the batch the line came from (the
//! neighbouring lines), is refused: that is a plugin reading past the line it was given. Any
//! other range (the plugin's own memory, its read-only data) is accepted up to
//! [`OutputLimits::max_value_bytes`] and copied, or kept when it is read-only plugin data.

use std::ops::Range;

/// Most a plugin may report for one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputLimits {
    /// Fields per record.
    pub max_fields: usize,
    /// Bytes of a key (a key becomes part of a KPI name).
    pub max_key_bytes: usize,
    /// Bytes of a value, target or message that is not a slice of the line (a slice of the
    /// line is bounded by the line).
    pub max_value_bytes: usize,
}

impl Default for OutputLimits {
    fn default() -> Self {
        OutputLimits {
            max_fields: 128,
            max_key_bytes: 256,
            max_value_bytes: 4096,
        }
    }
}

/// Where a checked range lies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Span {
    /// Inside the line: these bytes of it.
    Line(Range<usize>),
    /// Inside the plugin's read-only data (kept without copying: never unloaded).
    ReadOnly,
    /// Elsewhere in the plugin's memory: copied.
    Copy,
}

/// Why a plugin's output was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    /// A null pointer with a non-zero length.
    #[error("a null pointer with length {0}")]
    Null(usize),
    /// A key longer than the limit.
    #[error("a key of {len} bytes (at most {max})")]
    KeyTooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A value, target or message (not a slice of the line) longer than the limit.
    #[error("a value of {len} bytes (at most {max} outside the line)")]
    ValueTooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// More fields than the limit.
    #[error("more than {0} fields")]
    TooManyFields(usize),
    /// A range that overlaps the line, or starts at its end, without lying inside it.
    #[error(
        "a range of {len} bytes at line offset {offset} that runs past the line ({line} bytes)"
    )]
    PastLine {
        /// Start relative to the line's start (negative: before it).
        offset: i128,
        /// Its length.
        len: usize,
        /// The line's length.
        line: usize,
    },
    /// A range in the batch the line came from, outside the line (a neighbouring line).
    #[error("a range of {0} bytes outside the line, in the lines around it")]
    OutsideLine(usize),
    /// A range wrapping around the address space.
    #[error("a range of {0} bytes that wraps around memory")]
    Wraps(usize),
}

/// Checks the range (`addr`, `len`) a plugin passed: `line` is the line's address range,
/// `around` the address range of the batch holding it (or the line again), `read_only` the
/// plugin's read-only segments, `max` the most bytes accepted outside the line. Pure: reads no
/// memory.
pub fn locate(
    addr: usize,
    len: usize,
    line: Range<usize>,
    around: Range<usize>,
    read_only: &[Range<usize>],
    max: usize,
) -> Result<Span, Violation> {
    if len == 0 {
        return Ok(Span::Line(0..0));
    }
    if addr == 0 {
        return Err(Violation::Null(len));
    }
    let end = addr.checked_add(len).ok_or(Violation::Wraps(len))?;
    if addr >= line.start && end <= line.end {
        let at = addr - line.start;
        return Ok(Span::Line(at..at + len));
    }
    // Starting at the line's end counts as running past it (the bytes after the line).
    if addr <= line.end && end > line.start {
        return Err(Violation::PastLine {
            offset: addr as i128 - line.start as i128,
            len,
            line: line.len(),
        });
    }
    if addr < around.end && end > around.start {
        return Err(Violation::OutsideLine(len));
    }
    if len > max {
        return Err(Violation::ValueTooLong { len, max });
    }
    if read_only.iter().any(|r| r.start <= addr && end <= r.end) {
        Ok(Span::ReadOnly)
    } else {
        Ok(Span::Copy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Range<usize> = 1000..1100;
    const B: Range<usize> = 500..2000;

    fn at(addr: usize, len: usize) -> Result<Span, Violation> {
        let read_only = [5000..6000, 7000..7100];
        locate(addr, len, L, B, &read_only, 64)
    }

    #[test]
    fn inside_the_line_is_a_slice_of_it() {
        assert_eq!(at(1000, 100), Ok(Span::Line(0..100)));
        assert_eq!(at(1050, 10), Ok(Span::Line(50..60)));
        assert_eq!(at(0, 0), Ok(Span::Line(0..0)));
    }

    #[test]
    fn past_the_line_or_around_it_is_refused() {
        assert_eq!(
            at(1090, 64),
            Err(Violation::PastLine {
                offset: 90,
                len: 64,
                line: 100
            })
        );
        assert!(matches!(at(990, 20), Err(Violation::PastLine { .. })));
        assert!(matches!(at(1100, 8), Err(Violation::PastLine { .. })));
        assert_eq!(at(1101, 8), Err(Violation::OutsideLine(8)));
        assert_eq!(at(600, 8), Err(Violation::OutsideLine(8)));
        assert_eq!(at(0, 3), Err(Violation::Null(3)));
        assert_eq!(at(usize::MAX, 2), Err(Violation::Wraps(2)));
    }

    #[test]
    fn elsewhere_is_copied_up_to_the_limit_or_kept_when_read_only() {
        assert_eq!(at(5100, 10), Ok(Span::ReadOnly));
        assert_eq!(at(9000, 64), Ok(Span::Copy));
        assert_eq!(
            at(9000, 65),
            Err(Violation::ValueTooLong { len: 65, max: 64 })
        );
        let s = Violation::PastLine {
            offset: 90,
            len: 64,
            line: 100,
        }
        .to_string();
        assert_eq!(
            s,
            "a range of 64 bytes at line offset 90 that runs past the line (100 bytes)"
        );
    }
}
