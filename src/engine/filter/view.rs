//! What a rule sees of one record: the record, its origin, the file a line came from, and
//! the named captures of the rule's `match` pattern (which come first).

use kpid_parsers::{typed, Record, Value};
use std::borrow::Cow;

/// The named captures of a `match` pattern on one line: names and group indexes, the
/// locations of the last match and the line they index.
#[derive(Debug, Clone, Copy, Default)]
pub struct Caps<'a> {
    line: &'a [u8],
    locs: Option<&'a regex::bytes::CaptureLocations>,
    names: &'a [(Box<[u8]>, usize)],
}

impl<'a> Caps<'a> {
    /// Captures of a match of `locs` on `line`; `names` maps capture names to groups.
    pub fn new(
        line: &'a [u8],
        locs: &'a regex::bytes::CaptureLocations,
        names: &'a [(Box<[u8]>, usize)],
    ) -> Self {
        Caps {
            line,
            locs: Some(locs),
            names,
        }
    }

    /// The text a capture named `key` took; `None` when no such capture took part (at once
    /// when the rule has no `match`: inlined, that costs a test, not a call).
    #[inline]
    pub fn get(&self, key: &[u8]) -> Option<&'a [u8]> {
        let locs = self.locs?;
        let group = self.names.iter().find(|(n, _)| &**n == key)?.1;
        let (s, e) = locs.get(group)?;
        Some(&self.line[s..e])
    }
}

/// One record as a rule reads it.
#[derive(Debug, Clone, Copy)]
pub struct View<'a, 'r> {
    /// The source's (or app's) name: keys `source` and `app`.
    pub source: &'a str,
    /// The path of the file a line came from (empty otherwise): key `_file`.
    pub file: &'a [u8],
    /// The record.
    pub rec: &'a Record<'r>,
    /// The captures of the rule's `match`, read before the record's fields.
    pub caps: Caps<'a>,
}

impl<'a, 'r> View<'a, 'r> {
    /// A record from `source`, with no file and no captures.
    pub fn new(source: &'a str, rec: &'a Record<'r>) -> Self {
        View {
            source,
            file: &[],
            rec,
            caps: Caps::default(),
        }
    }

    /// The value `key` reads: a capture (typed like a logfmt value: `200` is a number),
    /// `level`, `source`/`app`, `_file`, a field, else the slot the key fills.
    pub fn get(&self, key: &[u8]) -> Option<Value<'a>>
    where
        'r: 'a,
    {
        self.value(&Key::new(key))
    }

    /// The value of a [`Key`] (see [`View::get`]).
    #[inline]
    pub fn value(&self, key: &Key) -> Option<Value<'a>>
    where
        'r: 'a,
    {
        match key {
            Key::Field(f) => match self.caps.get(f) {
                Some(t) => Some(typed(t)),
                None => self.rec.lookup(f),
            },
            Key::Level => self
                .rec
                .level
                .map(|l| Value::Str(Cow::Borrowed(l.as_str().as_bytes()))),
            Key::Source => Some(Value::Str(Cow::Borrowed(self.source.as_bytes()))),
            Key::File => (!self.file.is_empty()).then_some(Value::Str(Cow::Borrowed(self.file))),
        }
    }

    /// Appends the text of a field (a capture's or field's raw text, or `_file`); false when
    /// the record has no such key. `source` and `level` read as fields here.
    #[inline]
    pub fn text(&self, key: &Key, out: &mut Vec<u8>) -> bool {
        match key {
            Key::File if !self.file.is_empty() => {
                out.extend_from_slice(self.file);
                true
            }
            Key::Field(f) => match self.caps.get(f) {
                Some(t) => {
                    out.extend_from_slice(t);
                    true
                }
                None => self.rec.text_into(f, out),
            },
            k => self.rec.text_into(k.name(), out),
        }
    }
}

/// A name a rule reads, told apart once when the rule is compiled: the record's level, its
/// source, the file it came from, or a field (a capture first, else the record's field or
/// slot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    /// `level`.
    Level,
    /// `source` or `app`.
    Source,
    /// `_file`.
    File,
    /// Any other name.
    Field(Box<[u8]>),
}

impl Key {
    /// The key a name reads.
    pub fn new(name: &[u8]) -> Key {
        match name {
            b"level" => Key::Level,
            b"source" | b"app" => Key::Source,
            b"_file" => Key::File,
            f => Key::Field(f.into()),
        }
    }

    /// The name as written (`source` for both `source` and `app`).
    pub fn name(&self) -> &[u8] {
        match self {
            Key::Level => b"level",
            Key::Source => b"source",
            Key::File => b"_file",
            Key::Field(f) => f,
        }
    }
}
