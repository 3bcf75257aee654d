//! Field encoding: a `tracing` visitor that writes each field in the wire's layout
//! (`kpid_wire::put_field`) straight into its destination, the queue's buffer for an event or
//! an open span's fixed field area, with no scratch buffer and no copy. The common value
//! types (integers, floats, booleans, strings) are written with one bounds check and no
//! `fmt` machinery; `Debug`/`Display` values are formatted in place.

use crate::out::{field, max_len, string};
pub(crate) use crate::out::{Fixed, Out};
use kpid_wire::{self as wire, Value};
use std::fmt;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Record};

/// Attributes and records both hand their values to a visitor.
pub(crate) trait RecordFields {
    fn record(&self, v: &mut dyn Visit);
}
impl RecordFields for Attributes<'_> {
    fn record(&self, v: &mut dyn Visit) {
        Attributes::record(self, v)
    }
}
impl RecordFields for Record<'_> {
    fn record(&self, v: &mut dyn Visit) {
        Record::record(self, v)
    }
}

/// Encodes visited fields into `out`; fields that do not fit (a fixed area) are left out.
pub(crate) struct FieldWriter<'a, O: Out> {
    out: &'a mut O,
    /// Fields in `out`.
    pub(crate) count: u8,
    /// An `error` field was seen.
    pub(crate) error: bool,
}

impl<'a, O: Out> FieldWriter<'a, O> {
    pub(crate) fn new(out: &'a mut O, count: u8) -> Self {
        FieldWriter {
            out,
            count,
            error: false,
        }
    }

    /// Inlined into each `record_*`, where the value's type is known: no `match` on it.
    #[inline(always)]
    fn put(&mut self, key: &str, v: Value<'_>) {
        if key == "error" && v != Value::Bool(false) {
            self.error = true;
        }
        if self.count as usize >= wire::MAX_FIELDS {
            return;
        }
        if let Some(p) = self.out.room(max_len(key, &v)) {
            // SAFETY: `room` granted the most the field can take.
            unsafe {
                let n = field(p, key, v);
                self.out.advance(n);
            }
            self.count += 1;
        } else {
            self.put_tight(key, v);
        }
    }

    /// Near the end of a fixed area: the field may still fit exactly.
    #[cold]
    #[inline(never)]
    fn put_tight(&mut self, key: &str, v: Value<'_>) {
        let mut b = Vec::new();
        wire::put_field(&mut b, key, v);
        if self.out.extend(&b) {
            self.count += 1;
        }
    }

    /// A `Debug`/`Display` value written straight into the destination: a two-byte length
    /// is reserved (a valid, non-minimal varint) and patched, so nothing is allocated.
    fn put_fmt(&mut self, key: &str, v: fmt::Arguments<'_>) {
        if key == "error" {
            self.error = true;
        }
        if self.count as usize >= wire::MAX_FIELDS {
            return;
        }
        let start = self.out.len();
        let key = wire::clip(key);
        let Some(p) = self.out.room(2 + key.len() + 3) else {
            return;
        };
        // SAFETY: `room` granted the key (at most 2 length bytes) and 3 more.
        unsafe {
            let n = string(p, key);
            std::ptr::copy_nonoverlapping([4u8, 0x80, 0].as_ptr(), p.add(n), 3);
            self.out.advance(n + 3);
        }
        let at = self.out.len();
        let mut w = Clipped {
            out: &mut *self.out,
            room: wire::MAX_STR_LEN,
            full: false,
        };
        let _ = fmt::write(&mut w, v);
        if w.full {
            self.out.truncate(start);
            return;
        }
        let n = self.out.len() - at;
        self.out
            .patch2(at - 2, [(n as u8 & 0x7f) | 0x80, (n >> 7) as u8]);
        self.count += 1;
    }
}

/// Writes at most `room` bytes, cutting at a character boundary.
struct Clipped<'a, O: Out> {
    out: &'a mut O,
    room: usize,
    /// The destination had no room left.
    full: bool,
}

impl<O: Out> fmt::Write for Clipped<'_, O> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let s = wire::clip_to(s, self.room);
        if !self.out.extend(s.as_bytes()) {
            self.full = true;
            return Err(fmt::Error);
        }
        self.room -= s.len();
        Ok(())
    }
}

impl<O: Out> Visit for FieldWriter<'_, O> {
    fn record_i64(&mut self, f: &Field, v: i64) {
        self.put(f.name(), Value::I64(v));
    }
    fn record_u64(&mut self, f: &Field, v: u64) {
        self.put(f.name(), Value::U64(v));
    }
    fn record_f64(&mut self, f: &Field, v: f64) {
        self.put(f.name(), Value::F64(v));
    }
    fn record_bool(&mut self, f: &Field, v: bool) {
        self.put(f.name(), Value::Bool(v));
    }
    fn record_str(&mut self, f: &Field, v: &str) {
        self.put(f.name(), Value::Str(v));
    }
    fn record_error(&mut self, f: &Field, v: &(dyn std::error::Error + 'static)) {
        self.error = true;
        self.put_fmt(f.name(), format_args!("{v}"));
    }
    fn record_debug(&mut self, f: &Field, v: &dyn fmt::Debug) {
        self.put_fmt(f.name(), format_args!("{v:?}"));
    }
}

/// Test access to the field writer.
#[cfg(test)]
pub(crate) struct TestWriter<'a>(FieldWriter<'a, Vec<u8>>);

#[cfg(test)]
impl<'a> TestWriter<'a> {
    pub(crate) fn new(buf: &'a mut Vec<u8>) -> Self {
        TestWriter(FieldWriter::new(buf, 0))
    }
    pub(crate) fn put_fmt_pub(&mut self, key: &str, v: &str) {
        self.0.put_fmt(key, format_args!("{v}"));
    }
}

#[cfg(test)]
#[path = "fields_tests.rs"]
mod tests;
