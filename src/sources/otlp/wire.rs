//! A protobuf reader over one body: varints, keys, length-delimited runs and skipped fields,
//! with the same accept and refuse rules as `prost` (10-byte varints at most, field number 0
//! refused, wire types 6 and 7 refused, groups skipped to their matching end within a depth
//! of 100), so that [`super::spans::Traces::decode`] accepts exactly what the `prost`
//! messages do. Positions are offsets into the body, kept as [`Str`]s.

/// A run of the body: `at..at + len`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Str {
    pub(super) at: u32,
    pub(super) len: u32,
}

impl Str {
    pub(super) fn new(at: usize, len: usize) -> Str {
        Str {
            at: at as u32,
            len: len as u32,
        }
    }

    #[inline]
    pub(super) fn of(self, b: &[u8]) -> &[u8] {
        &b[self.at as usize..(self.at + self.len) as usize]
    }
}

/// Varint.
pub(super) const VARINT: u8 = 0;
/// Eight bytes, little-endian.
const I64: u8 = 1;
/// A length, then that many bytes.
pub(super) const LEN: u8 = 2;
const START_GROUP: u8 = 3;
const END_GROUP: u8 = 4;
const I32: u8 = 5;

/// Nesting a message may reach, as `prost` counts it.
pub(super) const DEPTH: u32 = 100;

/// Why a protobuf body does not decode, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{why} in {field} at byte {at}")]
pub struct WireError {
    /// What was wrong.
    pub why: &'static str,
    /// The field being read (`span.name`, ...), or the message.
    pub field: &'static str,
    /// Offset in the body.
    pub at: usize,
}

/// A cursor over `b[pos..end]`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Rd<'a> {
    pub(super) b: &'a [u8],
    pos: usize,
    end: usize,
    /// What is being read (for errors).
    pub(super) what: &'static str,
}

impl<'a> Rd<'a> {
    /// All of `b`.
    pub(super) fn new(b: &'a [u8], what: &'static str) -> Rd<'a> {
        Rd {
            b,
            pos: 0,
            end: b.len(),
            what,
        }
    }

    /// What is left to read.
    pub(super) fn rest(&self) -> Str {
        Str::new(self.pos, self.end - self.pos)
    }

    fn err(&self, why: &'static str, field: &'static str) -> WireError {
        WireError {
            why,
            field,
            at: self.pos,
        }
    }

    #[inline]
    fn varint(&mut self, field: &'static str) -> Result<u64, WireError> {
        let mut v = 0u64;
        for i in 0..10 {
            let Some(&byte) = self.b[..self.end].get(self.pos) else {
                return Err(self.err("truncated varint", field));
            };
            self.pos += 1;
            v |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                if i == 9 && byte > 1 {
                    return Err(self.err("varint overflows 64 bits", field));
                }
                return Ok(v);
            }
        }
        Err(self.err("varint longer than 10 bytes", field))
    }

    /// The next field's number and wire type, or `None` at the end.
    #[inline]
    pub(super) fn key(&mut self) -> Result<Option<(u32, u8)>, WireError> {
        if self.pos >= self.end {
            return Ok(None);
        }
        let what = self.what;
        let k = self.varint(what)?;
        if k > u64::from(u32::MAX) {
            return Err(self.err("field key past 32 bits", what));
        }
        let wt = (k & 7) as u8;
        if wt > I32 {
            return Err(self.err("invalid wire type", what));
        }
        if k >> 3 == 0 {
            return Err(self.err("field number 0", what));
        }
        Ok(Some(((k >> 3) as u32, wt)))
    }

    fn want(&self, wt: u8, want: u8, field: &'static str) -> Result<(), WireError> {
        if wt == want {
            Ok(())
        } else {
            Err(self.err("wrong wire type", field))
        }
    }

    /// A varint field.
    #[inline]
    pub(super) fn uint(&mut self, wt: u8, field: &'static str) -> Result<u64, WireError> {
        self.want(wt, VARINT, field)?;
        self.varint(field)
    }

    /// A `fixed64` or `double` field.
    #[inline]
    pub(super) fn fixed64(&mut self, wt: u8, field: &'static str) -> Result<u64, WireError> {
        self.want(wt, I64, field)?;
        match self.b[..self.end].get(self.pos..self.pos + 8) {
            Some(x) => {
                self.pos += 8;
                Ok(u64::from_le_bytes(x.try_into().expect("8 bytes")))
            }
            None => Err(self.err("truncated fixed64", field)),
        }
    }

    fn run(&mut self, field: &'static str) -> Result<Str, WireError> {
        let n = self.varint(field)?;
        if n > (self.end - self.pos) as u64 {
            return Err(self.err("length past the end", field));
        }
        let s = Str::new(self.pos, n as usize);
        self.pos += n as usize;
        Ok(s)
    }

    /// A `bytes` field.
    #[inline]
    pub(super) fn bytes(&mut self, wt: u8, field: &'static str) -> Result<Str, WireError> {
        self.want(wt, LEN, field)?;
        self.run(field)
    }

    /// A `string` field (checked to be UTF-8).
    #[inline]
    pub(super) fn string(&mut self, wt: u8, field: &'static str) -> Result<Str, WireError> {
        let s = self.bytes(wt, field)?;
        if std::str::from_utf8(s.of(self.b)).is_err() {
            return Err(WireError {
                why: "string is not utf-8",
                field,
                at: s.at as usize,
            });
        }
        Ok(s)
    }

    /// A nested message at depth `left` (what remains of [`DEPTH`]): its reader.
    #[inline]
    pub(super) fn message(
        &mut self,
        wt: u8,
        left: u32,
        what: &'static str,
    ) -> Result<Rd<'a>, WireError> {
        self.want(wt, LEN, what)?;
        if left == 0 {
            return Err(self.err("messages nested too deep", what));
        }
        let s = self.run(what)?;
        Ok(Rd {
            b: self.b,
            pos: s.at as usize,
            end: (s.at + s.len) as usize,
            what,
        })
    }

    /// Skips a field kpid does not read (groups to their matching end).
    pub(super) fn skip(&mut self, tag: u32, wt: u8, left: u32) -> Result<(), WireError> {
        let what = self.what;
        if left == 0 {
            return Err(self.err("groups nested too deep", what));
        }
        let n = match wt {
            VARINT => {
                self.varint(what)?;
                0
            }
            I32 => 4,
            I64 => 8,
            LEN => return self.run(what).map(drop),
            START_GROUP => loop {
                match self.key()? {
                    None => return Err(self.err("group without its end", what)),
                    Some((t, END_GROUP)) if t == tag => break 0,
                    Some((_, END_GROUP)) => return Err(self.err("unmatched group end", what)),
                    Some((t, w)) => self.skip(t, w, left - 1)?,
                }
            },
            _ => return Err(self.err("unmatched group end", what)),
        };
        if n > self.end - self.pos {
            return Err(self.err("field past the end", what));
        }
        self.pos += n;
        Ok(())
    }
}
