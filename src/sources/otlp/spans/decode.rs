//! The walk from a body to [`Traces`]' tables: one function per message, each reading its
//! fields in whatever order they come and merging repeats as protobuf says. Every table's
//! growth is asked of `room` first (a request's memory is charged to the receiver's budget
//! as it is decoded, so a body of many tiny spans cannot decode past it).

use super::super::wire::{Rd, Str, WireError, DEPTH};
use super::{Attr, Res, Scope, SpanRec, SpansError, Traces, Val};

pub(super) struct Dec<'r> {
    pub(super) t: Traces,
    /// Asked for the table bytes in all before each growth; false: no more.
    pub(super) room: &'r mut dyn FnMut(usize) -> bool,
    held: usize,
}

/// Pushes `x` onto `v`, growing it by doubling once `room` allows the new total.
fn push<T>(
    v: &mut Vec<T>,
    x: T,
    held: &mut usize,
    room: &mut dyn FnMut(usize) -> bool,
) -> Result<(), SpansError> {
    if v.len() == v.capacity() {
        let more = v.capacity().max(8) * std::mem::size_of::<T>();
        if !room(*held + more) {
            return Err(SpansError::Budget(*held + more));
        }
        *held += more;
        v.reserve_exact(v.capacity().max(8));
    }
    v.push(x);
    Ok(())
}

impl<'r> Dec<'r> {
    pub(super) fn new(room: &'r mut dyn FnMut(usize) -> bool) -> Dec<'r> {
        Dec {
            t: Traces::default(),
            room,
            held: 0,
        }
    }

    /// `ExportTraceServiceRequest`.
    pub(super) fn request(&mut self, body: &[u8]) -> Result<(), SpansError> {
        if body.len() > u32::MAX as usize {
            let why = "body past 4 GiB";
            let (field, at) = ("request", 0);
            return Err(WireError { why, field, at }.into());
        }
        let mut rd = Rd::new(body, "request");
        while let Some((tag, wt)) = rd.key()? {
            match tag {
                1 => {
                    let m = rd.message(wt, DEPTH, "resource_spans")?;
                    self.resource_spans(m, DEPTH - 1)?;
                }
                _ => rd.skip(tag, wt, DEPTH)?,
            }
        }
        Ok(())
    }

    fn resource_spans(&mut self, mut rd: Rd<'_>, left: u32) -> Result<(), SpansError> {
        let t = &self.t;
        let mut r = Res {
            present: false,
            attrs: t.res_attrs.len() as u32..0,
            scopes: t.scopes.len() as u32..0,
        };
        while let Some((tag, wt)) = rd.key()? {
            match tag {
                1 => {
                    let mut m = rd.message(wt, left, "resource")?;
                    r.present = true;
                    while let Some((tag, wt)) = m.key()? {
                        match tag {
                            1 => {
                                let kv = m.message(wt, left - 1, "resource.attributes")?;
                                let a = key_value(kv, left - 2)?;
                                push(&mut self.t.res_attrs, a, &mut self.held, self.room)?;
                            }
                            _ => m.skip(tag, wt, left - 1)?,
                        }
                    }
                }
                2 => {
                    let m = rd.message(wt, left, "scope_spans")?;
                    self.scope_spans(m, left - 1)?;
                }
                _ => rd.skip(tag, wt, left)?,
            }
        }
        r.attrs.end = self.t.res_attrs.len() as u32;
        r.scopes.end = self.t.scopes.len() as u32;
        push(&mut self.t.resources, r, &mut self.held, self.room)
    }

    fn scope_spans(&mut self, mut rd: Rd<'_>, left: u32) -> Result<(), SpansError> {
        let mut s = Scope {
            present: false,
            name: Str::default(),
            spans: self.t.spans.len() as u32..0,
        };
        while let Some((tag, wt)) = rd.key()? {
            match tag {
                1 => {
                    let mut m = rd.message(wt, left, "scope")?;
                    s.present = true;
                    while let Some((tag, wt)) = m.key()? {
                        match tag {
                            1 => s.name = m.string(wt, "scope.name")?,
                            _ => m.skip(tag, wt, left - 1)?,
                        }
                    }
                }
                2 => {
                    let m = rd.message(wt, left, "span")?;
                    self.span(m, left - 1)?;
                }
                _ => rd.skip(tag, wt, left)?,
            }
        }
        s.spans.end = self.t.spans.len() as u32;
        push(&mut self.t.scopes, s, &mut self.held, self.room)
    }

    pub(super) fn span(&mut self, mut rd: Rd<'_>, left: u32) -> Result<(), SpansError> {
        let mut s = SpanRec {
            attrs: self.t.attrs.len() as u32..0,
            raw: rd.rest(),
            ..SpanRec::default()
        };
        while let Some((tag, wt)) = rd.key()? {
            match tag {
                1 => s.trace_id = rd.bytes(wt, "span.trace_id")?,
                2 => s.span_id = rd.bytes(wt, "span.span_id")?,
                4 => s.parent_span_id = rd.bytes(wt, "span.parent_span_id")?,
                5 => s.name = rd.string(wt, "span.name")?,
                6 => s.kind = rd.uint(wt, "span.kind")? as i32,
                7 => s.start = rd.fixed64(wt, "span.start_time_unix_nano")?,
                8 => s.end = rd.fixed64(wt, "span.end_time_unix_nano")?,
                9 => {
                    let kv = rd.message(wt, left, "span.attributes")?;
                    let a = key_value(kv, left - 1)?;
                    push(&mut self.t.attrs, a, &mut self.held, self.room)?;
                }
                15 => {
                    let mut m = rd.message(wt, left, "span.status")?;
                    let (msg, code) = s.status.get_or_insert((Str::default(), 0));
                    while let Some((tag, wt)) = m.key()? {
                        match tag {
                            2 => *msg = m.string(wt, "span.status.message")?,
                            3 => *code = m.uint(wt, "span.status.code")? as i32,
                            _ => m.skip(tag, wt, left - 1)?,
                        }
                    }
                }
                _ => rd.skip(tag, wt, left)?,
            }
        }
        s.attrs.end = self.t.attrs.len() as u32;
        push(&mut self.t.spans, s, &mut self.held, self.room)
    }
}

/// `KeyValue`: its `value` merged as protobuf merges a message given twice (a later scalar
/// replaces an earlier one; an empty one changes nothing).
fn key_value(mut rd: Rd<'_>, left: u32) -> Result<Attr, WireError> {
    let mut a = Attr::default();
    while let Some((tag, wt)) = rd.key()? {
        match tag {
            1 => a.key = rd.string(wt, "attribute key")?,
            2 => {
                let mut m = rd.message(wt, left, "attribute value")?;
                if a.value == Val::Absent {
                    a.value = Val::Empty;
                }
                while let Some((tag, wt)) = m.key()? {
                    a.value = match tag {
                        1 => Val::Str(m.string(wt, "string_value")?),
                        2 => Val::Bool(m.uint(wt, "bool_value")? != 0),
                        3 => Val::Int(m.uint(wt, "int_value")? as i64),
                        4 => Val::Double(f64::from_bits(m.fixed64(wt, "double_value")?)),
                        7 => Val::Bytes(m.bytes(wt, "bytes_value")?),
                        _ => {
                            m.skip(tag, wt, left - 1)?;
                            continue;
                        }
                    };
                }
            }
            _ => rd.skip(tag, wt, left)?,
        }
    }
    Ok(a)
}
