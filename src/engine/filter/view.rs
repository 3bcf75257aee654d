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

    /// The text a capture named `key` took; `None` when no such capture took part.
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
        if let Some(t) = self.caps.get(key) {
            return Some(typed(t));
        }
        match key {
            b"level" => self
                .rec
                .level
                .map(|l| Value::Str(Cow::Borrowed(l.as_str().as_bytes()))),
            b"source" | b"app" => Some(Value::Str(Cow::Borrowed(self.source.as_bytes()))),
            b"_file" if !self.file.is_empty() => Some(Value::Str(Cow::Borrowed(self.file))),
            _ => self.rec.lookup(key),
        }
    }

    /// Appends the text of `key` as written (a capture's or field's raw text); false when
    /// the record has no such key. `source`, `app` and `level` are not keys here.
    pub fn text_into(&self, key: &[u8], out: &mut Vec<u8>) -> bool {
        if let Some(t) = self.caps.get(key) {
            out.extend_from_slice(t);
            return true;
        }
        if key == b"_file" && !self.file.is_empty() {
            out.extend_from_slice(self.file);
            return true;
        }
        self.rec.text_into(key, out)
    }
}
