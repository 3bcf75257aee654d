//! The parsed form of one line: [`Record`], its typed [`Value`]s and [`Level`].

use crate::slots::{slot_of, Slot};
use std::borrow::Cow;

/// Severity of a record, from the most to the least severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// `ERROR`, `ERR`, `FATAL`, `CRITICAL`, `PANIC`.
    Error,
    /// `WARN`, `WARNING`.
    Warn,
    /// `INFO`, `NOTICE`.
    Info,
    /// `DEBUG`.
    Debug,
    /// `TRACE`.
    Trace,
}

impl Level {
    /// Lowercase name, as used in KPI labels (`level="error"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        }
    }

    /// Recognises a level word, ASCII case-insensitively, without allocating.
    pub fn from_bytes(word: &[u8]) -> Option<Level> {
        let mut buf = [0u8; 8];
        if word.is_empty() || word.len() > buf.len() {
            return None;
        }
        for (d, s) in buf.iter_mut().zip(word) {
            *d = s.to_ascii_uppercase();
        }
        Some(match &buf[..word.len()] {
            b"ERROR" | b"ERR" | b"FATAL" | b"CRITICAL" | b"CRIT" | b"PANIC" | b"E" => Level::Error,
            b"WARN" | b"WARNING" | b"W" => Level::Warn,
            b"INFO" | b"NOTICE" | b"I" => Level::Info,
            b"DEBUG" | b"D" => Level::Debug,
            b"TRACE" | b"T" => Level::Trace,
            up => return Level::offset(up),
        })
    }

    /// Go's `slog` writes a level between its named ones as the name below it and an offset
    /// (`INFO+2`, `ERROR+4`, `DEBUG-4`): the named level's. `word` is upper case.
    fn offset(word: &[u8]) -> Option<Level> {
        let at = word.iter().position(|&b| b == b'+' || b == b'-')?;
        let n = &word[at + 1..];
        let named = matches!(&word[..at], b"DEBUG" | b"INFO" | b"WARN" | b"ERROR");
        if !named || n.is_empty() || n.len() > 2 || !n.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Level::from_bytes(&word[..at])
    }
}

/// A typed field value. Strings borrow from the line unless they had to be unescaped.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// A whole number.
    Int(i64),
    /// A number with a fraction or exponent.
    Float(f64),
    /// `true` / `false`.
    Bool(bool),
    /// Any other text, as raw bytes (not necessarily UTF-8).
    Str(Cow<'a, [u8]>),
    /// A duration in seconds (from values such as `12ms`, `1.5s`, `300us`).
    Duration(f64),
}

impl Value<'_> {
    /// The value as a number, when it is one (durations in seconds, booleans as 0/1).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
            Value::Duration(d) => Some(*d),
            Value::Str(_) => None,
        }
    }

    /// True for the numeric variants (those zero-config rules turn into gauges).
    pub fn is_numeric(&self) -> bool {
        matches!(self, Value::Int(_) | Value::Float(_) | Value::Duration(_))
    }
}

impl Value<'_> {
    /// Appends a text rendering of the value to `out`: text as is, numbers in Rust's shortest
    /// form, booleans as `true`/`false`, durations as seconds with an `s`. Used for values
    /// that arrived typed (apps, plugins); a parsed field's label text is its token as
    /// written ([`Field::text_into`]).
    pub fn write_text(&self, out: &mut Vec<u8>) {
        use std::io::Write;
        // Writing into a Vec cannot fail.
        let _ = match self {
            Value::Str(s) => {
                out.extend_from_slice(s);
                Ok(())
            }
            Value::Int(i) => write!(out, "{i}"),
            Value::Float(f) => write!(out, "{f}"),
            Value::Bool(b) => write!(out, "{b}"),
            Value::Duration(d) => write!(out, "{d}s"),
        };
    }

    /// The same value borrowing from `self` (text is not copied).
    pub fn borrowed(&self) -> Value<'_> {
        match self {
            Value::Str(s) => Value::Str(Cow::Borrowed(s.as_ref())),
            Value::Int(i) => Value::Int(*i),
            Value::Float(f) => Value::Float(*f),
            Value::Bool(b) => Value::Bool(*b),
            Value::Duration(d) => Value::Duration(*d),
        }
    }
}

/// One field: a key, its value and the text the value was typed from.
#[derive(Debug, Clone, PartialEq)]
pub struct Field<'a> {
    /// Field name as it appeared in the line.
    pub key: Cow<'a, [u8]>,
    /// Its typed value.
    pub value: Value<'a>,
    /// The token the value was typed from, exactly as written (`007`, `1.10`, `10ms`,
    /// `12345678901234567890`): label values use it, so typing never changes a label. Empty
    /// when the value is text (the text is the value itself, unescaped) or arrived typed
    /// (apps, plugins).
    pub raw: &'a [u8],
}

impl Field<'_> {
    /// Appends the field's text as written to `out` (see [`Field::raw`]).
    #[inline]
    pub fn text_into(&self, out: &mut Vec<u8>) {
        match (&self.value, self.raw) {
            (Value::Str(s), _) => out.extend_from_slice(s),
            (_, raw) if !raw.is_empty() => out.extend_from_slice(raw),
            (v, _) => v.write_text(out),
        }
    }
}

/// A parsed line or received event.
///
/// Records borrow from the line they were parsed from. To parse many lines without allocating,
/// keep one record and pass it through [`Record::recycle`] between lines: the field vector keeps
/// its capacity.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Record<'a> {
    /// Unix time in seconds, when the line carried one the parser understood.
    pub timestamp: Option<f64>,
    /// Severity, when found.
    pub level: Option<Level>,
    /// Emitting module or logger name, when found.
    pub target: Option<Cow<'a, [u8]>>,
    /// Human message, when found (for plain lines: the line without its level and timestamp).
    pub message: Option<Cow<'a, [u8]>>,
    /// The timestamp as written, when it came from a time key (`ts`, `time`...) or a line's
    /// prefix: rules read it for a label named like the key.
    pub time_text: Option<Cow<'a, [u8]>>,
    /// Typed fields, in line order.
    pub fields: Vec<Field<'a>>,
}

/// `v` emptied, as a vector of fields of another lifetime: the in-place collect reuses the
/// allocation (no element is ever produced; the layouts are the same).
#[allow(clippy::unnecessary_filter_map)] // the closure's type change is the point
fn retype<'b>(mut v: Vec<Field<'_>>) -> Vec<Field<'b>> {
    v.clear();
    v.into_iter().filter_map(|_| None).collect()
}

impl<'a> Record<'a> {
    /// An empty record.
    pub fn new() -> Self {
        Record::default()
    }

    /// Empties the record and releases its borrow of the previous line, keeping the
    /// allocation of its field vector for the next one.
    pub fn recycle<'b>(self) -> Record<'b> {
        Record::with_fields(retype(self.fields))
    }

    /// An empty record for another line, made with this record's field vector (its
    /// allocation); this one keeps an empty vector until [`Record::restore`] gives it back.
    /// A per-line loop keeps one record as the holder and pays no record copy or drop.
    pub fn lend<'b>(&mut self) -> Record<'b> {
        Record::with_fields(retype(std::mem::take(&mut self.fields)))
    }

    /// Takes back the field vector of `r` (emptied), as [`Record::lend`] gave it.
    pub fn restore(&mut self, r: Record<'_>) {
        self.fields = retype(r.fields);
    }

    fn with_fields(fields: Vec<Field<'a>>) -> Self {
        Record {
            timestamp: None,
            level: None,
            target: None,
            message: None,
            time_text: None,
            fields,
        }
    }

    /// Adds a field that arrived typed (no text as written).
    pub fn push(&mut self, key: impl Into<Cow<'a, [u8]>>, value: Value<'a>) {
        self.push_raw(key, value, b"");
    }

    /// Adds a field typed from `raw`, the token as written in the line.
    #[inline]
    pub fn push_raw(&mut self, key: impl Into<Cow<'a, [u8]>>, value: Value<'a>, raw: &'a [u8]) {
        self.fields.push(Field {
            key: key.into(),
            value,
            raw,
        });
    }

    /// The first field with this key.
    pub fn get(&self, key: &[u8]) -> Option<&Value<'a>> {
        self.field(key).map(|f| &f.value)
    }

    /// The first field with this key, with its text as written.
    pub fn field(&self, key: &[u8]) -> Option<&Field<'a>> {
        self.fields.iter().find(|f| f.key.as_ref() == key)
    }

    /// The value of `key`: the field of that name, else the slot that key fills (see the
    /// crate docs: `level`/`lvl`/`severity` give the level word, `msg`/`message` the message,
    /// `target`/`logger`/`module` the target, `ts`/`time`/`timestamp` the time as written, or
    /// the timestamp in seconds when no text was kept).
    pub fn lookup(&self, key: &[u8]) -> Option<Value<'_>> {
        if let Some(v) = self.get(key) {
            return Some(v.borrowed());
        }
        Some(match slot_of(key)? {
            Slot::Level => Value::Str(Cow::Borrowed(self.level?.as_str().as_bytes())),
            Slot::Message => Value::Str(Cow::Borrowed(self.message.as_deref()?)),
            Slot::Target => Value::Str(Cow::Borrowed(self.target.as_deref()?)),
            Slot::Time => match self.time_text.as_deref() {
                Some(t) => Value::Str(Cow::Borrowed(t)),
                None => Value::Float(self.timestamp?),
            },
        })
    }

    /// Appends the text of `key` as written (the field's token, else its slot's text, as in
    /// [`Record::lookup`]) to `out`; false when the record has neither. Allocates nothing
    /// once `out` has grown.
    #[inline]
    pub fn text_into(&self, key: &[u8], out: &mut Vec<u8>) -> bool {
        if let Some(f) = self.field(key) {
            f.text_into(out);
            return true;
        }
        match self.lookup(key) {
            Some(v) => {
                v.write_text(out);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
#[path = "record_tests.rs"]
mod tests;
