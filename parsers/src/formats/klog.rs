//! klog / glog lines: `I1130 09:12:33.123456    1234 file.go:42] message`.
//!
//! The first letter is the level (`I`, `W`, `E`, `F`), then month and day, the time, the
//! thread id and the source location, which becomes the target. klog's structured form
//! (`"message" key="value" n=3`) gives its pairs as fields. The line has no year, so the
//! record keeps no timestamp (it lands at its arrival time).

use crate::{Level, Record};
use std::borrow::Cow;

/// Parses a klog / glog line.
pub(super) fn parse<'a>(
    lf: &crate::logfmt::LogfmtParser,
    line: &'a [u8],
    out: &mut Record<'a>,
) -> bool {
    let level = match line.first() {
        Some(b'I') => Level::Info,
        Some(b'W') => Level::Warn,
        Some(b'E') | Some(b'F') => Level::Error,
        _ => return false,
    };
    // Lmmdd hh:mm:ss
    let head = match line.get(..14) {
        Some(h) => h,
        None => return false,
    };
    let digits = |r: std::ops::Range<usize>| head[r].iter().all(u8::is_ascii_digit);
    if !(digits(1..5) && head[5] == b' ' && digits(6..8) && head[8] == b':' && digits(9..11))
        || head[11] != b':'
        || !digits(12..14)
    {
        return false;
    }
    let Some(close) = memchr::memchr(b']', line).filter(|c| *c < 128) else {
        return false;
    };
    let header = &line[14..close];
    let Some(loc) = header
        .rsplit(|c| *c == b' ')
        .next()
        .filter(|l| l.contains(&b':'))
    else {
        return false;
    };
    out.level = Some(level);
    out.time_text = Some(Cow::Borrowed(&line[1..14]));
    let mut msg = &line[close + 1..];
    // klog's structured form quotes the message: `"started" port=80`.
    let m = super::trim(msg);
    if m.first() == Some(&b'"') {
        if let Some(end) = m[1..].iter().position(|c| *c == b'"') {
            out.message = Some(Cow::Borrowed(&m[1..1 + end]));
            msg = &m[end + 2..];
        }
    }
    let quoted = out.message.take();
    super::message(lf, msg, out);
    if quoted.is_some() {
        out.message = quoted;
    }
    out.target = Some(Cow::Borrowed(loc));
    true
}
