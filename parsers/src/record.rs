//! The parsed form of one line: [`Record`], its typed [`Value`]s and [`Level`].

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
            _ => return None,
        })
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

/// One field: a key and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Field<'a> {
    /// Field name as it appeared in the line.
    pub key: Cow<'a, [u8]>,
    /// Its typed value.
    pub value: Value<'a>,
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
    /// Typed fields, in line order.
    pub fields: Vec<Field<'a>>,
}

impl<'a> Record<'a> {
    /// An empty record.
    pub fn new() -> Self {
        Record::default()
    }

    /// Empties the record and releases its borrow of the previous line, keeping the
    /// allocation of its field vector for the next one.
    #[allow(clippy::unnecessary_filter_map)] // the closure's type change is the point
    pub fn recycle<'b>(mut self) -> Record<'b> {
        self.fields.clear();
        Record {
            timestamp: None,
            level: None,
            target: None,
            message: None,
            // An empty Vec of a type with the same layout: the in-place collect reuses
            // the allocation (no element is ever produced).
            fields: self.fields.into_iter().filter_map(|_| None).collect(),
        }
    }

    /// Adds a field.
    pub fn push(&mut self, key: impl Into<Cow<'a, [u8]>>, value: Value<'a>) {
        self.fields.push(Field {
            key: key.into(),
            value,
        });
    }

    /// The first field with this key.
    pub fn get(&self, key: &[u8]) -> Option<&Value<'a>> {
        self.fields
            .iter()
            .find(|f| f.key.as_ref() == key)
            .map(|f| &f.value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recycle_keeps_capacity() {
        let line = b"a=1".to_vec();
        let mut r = Record::new();
        for _ in 0..16 {
            r.push(&line[..1], Value::Int(1));
        }
        let cap = r.fields.capacity();
        let r2: Record<'static> = r.recycle();
        assert!(r2.fields.is_empty());
        assert_eq!(r2.fields.capacity(), cap);
    }

    #[test]
    fn levels_are_case_insensitive() {
        assert_eq!(Level::from_bytes(b"warning"), Some(Level::Warn));
        assert_eq!(Level::from_bytes(b"ERROR"), Some(Level::Error));
        assert_eq!(Level::from_bytes(b"verbose"), None);
        assert_eq!(Level::from_bytes(b""), None);
    }
}
