//! The frames between the daemon and a plugin worker (docs/plugin-worker.md). All integers
//! little-endian.
//!
//! - request (daemon → worker): `u32 lines, u32 bytes, lines × u32 length, bytes`.
//! - hello (worker → daemon, once): `u32 status (0: ready), u32 length, message`.
//! - reply (worker → daemon, one per request): `u32 length`, then per line `u32 length` and
//!   an entry: `u8 tag` (0 record, 1 no match, 2 invalid, 3 output refused); a record is
//!   `f64 timestamp (NaN: none), u8 level (0: none), u16 fields`, the fields, each `u8 kind,
//!   key, value` (kind 0 i64, 1 f64, 2 u8 bool, 3 text, 4 f64 seconds), then `text
//!   target, text message`; an error is a text message.
//!   A field's key is `u16 id`, or `KEY_TEXT` and a text. After the entries, the key ids the
//!   reply defines: `u16 count`, each `u16 length, bytes` (ids count up from 0 per worker).
//! - doorbells: with `IN_AREA` set in a request's `bytes` or a reply's `length`, the frame
//!   is in the shared area (module `area`), not in the pipe.
//! - text: `u32 x`; `NONE` is absent; with the top bit set, `x & !TOP` inline bytes follow;
//!   otherwise `x` is an offset into the line and a `u32` length follows.
//!
//! Decoding never trusts the worker: every offset is checked against the line, every length
//! against what is left, and a malformed entry is an error (the worker is then restarted).

pub(super) const NONE: u32 = u32::MAX;
pub(super) const TOP: u32 = 1 << 31;

/// In a doorbell (a request's `bytes`, a reply's `length`): the frame is in the shared area
/// (module `area`), not in the pipe.
pub const IN_AREA: u32 = 1 << 31;
/// A key that is not an id: a text follows.
pub const KEY_TEXT: u16 = u16::MAX;
/// Most key ids one worker defines (the daemon refuses more).
pub const MAX_KEY_IDS: usize = 1024;

/// Entry tags.
pub const OK: u8 = 0;
/// The line is not in the plugin's format.
pub const NO_MATCH: u8 = 1;
/// The plugin rejected the line.
pub const INVALID: u8 = 2;
/// The plugin's output for the line was out of bounds.
pub const REFUSED: u8 = 3;

/// Appends a request for `lines` to `out`.
pub fn request(lines: &[&[u8]], out: &mut Vec<u8>) {
    out.clear();
    let total: usize = lines.iter().map(|l| l.len()).sum();
    out.extend_from_slice(&(lines.len() as u32).to_le_bytes());
    out.extend_from_slice(&(total as u32).to_le_bytes());
    for l in lines {
        out.extend_from_slice(&(l.len() as u32).to_le_bytes());
    }
    for l in lines {
        out.extend_from_slice(l);
    }
}

/// Field kinds.
pub const KIND_INT: u8 = 0;
/// A float.
pub const KIND_FLOAT: u8 = 1;
/// A boolean (one byte).
pub const KIND_BOOL: u8 = 2;
/// A text.
pub const KIND_STR: u8 = 3;
/// A duration in seconds.
pub const KIND_DURATION: u8 = 4;

/// A checked text to encode: a range of the line, or bytes elsewhere (copied inline).
#[derive(Debug, Clone, Copy)]
pub enum Put {
    /// Offset and length in the line.
    Line(usize, usize),
    /// Pointer and length of bytes outside the line.
    Bytes(*const u8, usize),
}

/// Appends a text.
///
/// # Safety
/// A `Put::Bytes` must describe readable bytes.
#[inline(always)]
pub unsafe fn put_text(out: &mut Vec<u8>, t: Put) {
    match t {
        Put::Line(at, n) if n < TOP as usize && at < TOP as usize => {
            out.extend_from_slice(&(at as u32).to_le_bytes());
            out.extend_from_slice(&(n as u32).to_le_bytes());
        }
        Put::Line(..) => out.extend_from_slice(&NONE.to_le_bytes()),
        Put::Bytes(p, n) => {
            let n = n.min(TOP as usize - 1);
            out.extend_from_slice(&(n as u32 | TOP).to_le_bytes());
            if n > 0 {
                // SAFETY: per this function's contract.
                out.extend_from_slice(unsafe { std::slice::from_raw_parts(p, n) });
            }
        }
    }
}

/// A checked key to encode: an id (defined in this reply or an earlier one of the same
/// worker), or a text.
#[derive(Debug, Clone, Copy)]
pub enum Key {
    /// A key id.
    Id(u16),
    /// A text (a slice of the line, or bytes copied inline).
    Text(Put),
}

/// Appends a key.
///
/// # Safety
/// As [`put_text`].
#[inline(always)]
pub unsafe fn put_key(out: &mut Vec<u8>, k: Key) {
    match k {
        Key::Id(id) => out.extend_from_slice(&id.to_le_bytes()),
        Key::Text(t) => {
            out.extend_from_slice(&KEY_TEXT.to_le_bytes());
            // SAFETY: per this function's contract.
            unsafe { put_text(out, t) }
        }
    }
}

/// Appends the entry for a rejected line.
pub fn error(out: &mut Vec<u8>, tag: u8, message: &str) {
    out.push(tag);
    match tag {
        NO_MATCH => out.extend_from_slice(&NONE.to_le_bytes()),
        // SAFETY: the bytes of a str.
        _ => unsafe { put_text(out, Put::Bytes(message.as_ptr(), message.len())) },
    }
}

/// A decoded text: a slice of the line (`Ok`), or bytes of the reply (`Err`), to copy or
/// intern.
pub(super) type Text<'a, 'b> = Result<&'a [u8], &'b [u8]>;

/// A cursor over bytes the worker sent.
#[derive(Debug)]
pub struct Reader<'b> {
    pub(super) b: &'b [u8],
}

/// A malformed reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed reply from the plugin worker")]
pub struct Malformed;

impl<'b> Reader<'b> {
    pub(super) fn take(&mut self, n: usize) -> Result<&'b [u8], Malformed> {
        if n > self.b.len() {
            return Err(Malformed);
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Ok(h)
    }
    pub(super) fn u8(&mut self) -> Result<u8, Malformed> {
        Ok(self.take(1)?[0])
    }
    pub(super) fn u32(&mut self) -> Result<u32, Malformed> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().unwrap_or_default(),
        ))
    }
    pub(super) fn u16(&mut self) -> Result<u16, Malformed> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    pub(super) fn u64(&mut self) -> Result<[u8; 8], Malformed> {
        self.take(8)?.try_into().map_err(|_| Malformed)
    }

    /// A text: a slice of `line`, or bytes of the reply (`Err` for one, to copy or intern).
    pub(super) fn text<'a>(&mut self, line: &'a [u8]) -> Result<Option<Text<'a, 'b>>, Malformed> {
        let x = self.u32()?;
        if x == NONE {
            return Ok(None);
        }
        if x & TOP != 0 {
            return Ok(Some(Err(self.take((x & !TOP) as usize)?)));
        }
        let (at, n) = (x as usize, self.u32()? as usize);
        match line.get(at..at.checked_add(n).ok_or(Malformed)?) {
            Some(s) => Ok(Some(Ok(s))),
            None => Err(Malformed),
        }
    }
}
