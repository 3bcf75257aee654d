//! Cutting raw bytes into whole lines: the hot path.
//!
//! Bytes are read straight into the buffer that becomes a batch's data; newlines are found with
//! `memchr`; a line over the cap is cut out in place; the incomplete tail is kept for the next
//! read. Nothing is allocated per line.

use memchr::{memchr, memrchr};
use std::time::Instant;

/// Whole lines cut from a read, ready to become a batch.
#[derive(Debug, Default)]
pub(crate) struct Lines {
    /// Whole lines, each ending with `\n`.
    pub data: Vec<u8>,
    /// Lines in `data`.
    pub lines: u64,
    /// Lines over the cap, discarded.
    pub long: u64,
    /// Lines in `data` that are not valid UTF-8.
    pub invalid_utf8: u64,
    /// File offset just after the last line emitted or discarded.
    pub end_offset: u64,
}

/// Line state of one open file: where the next read starts and the incomplete line so far.
#[derive(Debug)]
pub(crate) struct LineAssembler {
    /// File offset of the next byte to read.
    pub pos: u64,
    /// Bytes of the line being assembled (no `\n` yet).
    partial: Vec<u8>,
    /// When the partial line last grew.
    partial_since: Option<Instant>,
    /// Inside a line over the cap: skip up to its `\n`.
    discarding: bool,
}

impl LineAssembler {
    /// Starts reading at `pos`, at a line boundary.
    pub fn new(pos: u64) -> Self {
        Self {
            pos,
            partial: Vec::new(),
            partial_since: None,
            discarding: false,
        }
    }

    /// File offset where the incomplete line starts (the resume point).
    pub fn line_start(&self) -> u64 {
        self.pos - self.partial.len() as u64
    }

    /// When the held partial line last grew, if one is held.
    pub fn partial_since(&self) -> Option<Instant> {
        self.partial_since
    }

    /// A buffer holding the partial line (its length, `start`), with capacity for `room` more
    /// bytes after it, not zeroed: append what is read, then pass it to [`Self::split`].
    pub fn buffer(&mut self, room: usize) -> (Vec<u8>, usize) {
        let start = self.partial.len();
        let mut buf = Vec::with_capacity(start + room);
        buf.extend_from_slice(&self.partial);
        (buf, start)
    }

    /// Takes `buf` (the partial line followed by `fresh` newly read bytes) and returns the whole
    /// lines in it; the new incomplete tail is kept.
    pub fn split(&mut self, mut buf: Vec<u8>, fresh: usize, max_line: usize) -> Lines {
        self.pos += fresh as u64;
        let mut out = Lines::default();
        let mut start = 0;
        if self.discarding {
            match memchr(b'\n', &buf) {
                None => {
                    self.partial.clear();
                    self.partial_since = None;
                    out.end_offset = self.pos;
                    return out;
                }
                Some(i) => {
                    start = i + 1;
                    self.discarding = false;
                    out.long += 1;
                }
            }
        }
        let complete_end = memrchr(b'\n', &buf[start..]).map_or(start, |i| start + i + 1);
        // Copy lines down only once something was cut out (a long line or the discarded tail).
        let mut write = 0;
        let mut line = start;
        while let Some(i) = memchr(b'\n', &buf[line..complete_end]) {
            let nl = line + i;
            if nl - line > max_line {
                out.long += 1;
            } else {
                if write != line {
                    buf.copy_within(line..=nl, write);
                }
                write += nl + 1 - line;
                out.lines += 1;
            }
            line = nl + 1;
        }
        let tail = &buf[complete_end..];
        self.partial.clear();
        if tail.len() > max_line {
            self.discarding = true;
            self.partial_since = None;
        } else if !tail.is_empty() {
            self.partial.extend_from_slice(tail);
            if fresh > 0 {
                self.partial_since = Some(Instant::now());
            }
        } else {
            self.partial_since = None;
        }
        out.end_offset = self.pos - (buf.len() - complete_end) as u64;
        buf.truncate(write);
        out.invalid_utf8 = count_invalid(&buf);
        out.data = buf;
        out
    }

    /// Emits the held partial line as a line (a `\n` is appended), e.g. after the flush timeout
    /// or when its file is left for good. A line being discarded is counted instead.
    pub fn flush(&mut self) -> Lines {
        let mut out = Lines::default();
        if self.discarding {
            self.discarding = false;
            out.long = 1;
        } else if !self.partial.is_empty() {
            let mut data = std::mem::take(&mut self.partial);
            data.push(b'\n');
            out.lines = 1;
            out.invalid_utf8 = count_invalid(&data);
            out.data = data;
        }
        self.partial_since = None;
        out.end_offset = self.pos;
        out
    }

    /// Forgets the partial line and restarts at `pos` (after a truncation). Returns the bytes
    /// forgotten.
    pub fn reset(&mut self, pos: u64) -> u64 {
        let lost = self.partial.len() as u64;
        *self = Self::new(pos);
        lost
    }
}

/// Lines of `data` (whole lines) that are not valid UTF-8; the whole buffer is checked first so
/// the common case is one pass.
fn count_invalid(data: &[u8]) -> u64 {
    if std::str::from_utf8(data).is_ok() {
        return 0;
    }
    data.split_inclusive(|&b| b == b'\n')
        .filter(|l| std::str::from_utf8(l).is_err())
        .count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(a: &mut LineAssembler, bytes: &[u8], max: usize) -> Lines {
        let (mut buf, start) = a.buffer(bytes.len());
        assert_eq!(buf.len(), start);
        buf.extend_from_slice(bytes);
        a.split(buf, bytes.len(), max)
    }

    #[test]
    fn whole_lines_and_partial_tail() {
        let mut a = LineAssembler::new(0);
        let l = feed(&mut a, b"one\ntwo\nthr", 100);
        assert_eq!(l.data, b"one\ntwo\n");
        assert_eq!(
            (l.lines, l.end_offset, a.pos, a.line_start()),
            (2, 8, 11, 8)
        );
        assert!(a.partial_since().is_some());
        let l = feed(&mut a, b"ee\r\n", 100);
        assert_eq!(l.data, b"three\r\n");
        assert_eq!((l.lines, l.end_offset), (1, 15));
        assert!(a.partial_since().is_none());
    }

    #[test]
    fn long_lines_are_cut_out_and_next_is_intact() {
        let mut a = LineAssembler::new(0);
        let l = feed(&mut a, b"ok\n0123456789\nfine\n12345", 5);
        assert_eq!(l.data, b"ok\nfine\n");
        assert_eq!((l.lines, l.long, l.end_offset), (2, 1, 19));
        // The tail "12345" is at the cap: still held.
        let l = feed(&mut a, b"6789", 5);
        assert_eq!((l.lines, l.long, l.data.len()), (0, 0, 0));
        let l = feed(&mut a, b"more\nafter\n", 5);
        assert_eq!(l.data, b"after\n");
        assert_eq!((l.lines, l.long, l.end_offset), (1, 1, 39));
        let l = feed(&mut a, b"12345\n", 5);
        assert_eq!(l.data, b"12345\n");
    }

    #[test]
    fn flush_emits_partial_and_invalid_utf8_is_kept() {
        let mut a = LineAssembler::new(10);
        let l = feed(&mut a, b"\xff\xfebad\ngood\nend", 100);
        assert_eq!(l.data, b"\xff\xfebad\ngood\n");
        assert_eq!((l.lines, l.invalid_utf8), (2, 1));
        let l = a.flush();
        assert_eq!(l.data, b"end\n");
        assert_eq!((l.lines, l.end_offset, a.line_start()), (1, 24, 24));
        assert!(a.flush().data.is_empty());
    }
}
