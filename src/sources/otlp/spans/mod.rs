//! An OTLP `ExportTraceServiceRequest` decoded in place: the body is kept whole and the
//! decoder writes flat tables of offsets into it (resources, scopes, spans, attributes), so a
//! request of 512 spans costs a handful of allocations instead of eight or more per span, and
//! the engine frees a handful too. Strings are checked to be UTF-8 once, when decoded.
//!
//! What is read is what `proto`'s messages declare, with protobuf's merge rules (a scalar
//! given twice: the last one; a message given twice: merged; unknown fields skipped), and
//! [`Traces::to_message`] gives the `prost` message back: the tests and the fuzz target check
//! that both decoders agree on every input.

mod decode;
#[cfg(test)]
mod tests;

pub use super::wire::WireError;

use super::wire::{self, Str};

/// Why a trace export was not decoded.
#[derive(Debug, thiserror::Error)]
pub enum SpansError {
    /// The body is no `ExportTraceServiceRequest`.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// Its tables would take more than the memory budget allows (bytes asked for).
    #[error("decoded spans need {0} bytes, past the memory budget")]
    Budget(usize),
}

use super::proto::{
    any_value, AnyValue, ExportTraceServiceRequest, InstrumentationScope, KeyValue, Resource,
    ResourceSpans, ScopeSpans, Span, Status, STATUS_CODE_ERROR,
};
use std::ops::Range;

/// An attribute value as decoded.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
enum Val {
    /// No `value` field.
    #[default]
    Absent,
    /// An `AnyValue` of none of the scalar kinds (an array, a key list, nothing).
    Empty,
    Str(Str),
    Bool(bool),
    Int(i64),
    Double(f64),
    Bytes(Str),
}

#[derive(Debug, Clone, Copy, Default)]
struct Attr {
    key: Str,
    value: Val,
}

#[derive(Debug, Clone, Default)]
struct Res {
    present: bool,
    attrs: Range<u32>,
    scopes: Range<u32>,
}

#[derive(Debug, Clone, Default)]
struct Scope {
    present: bool,
    name: Str,
    spans: Range<u32>,
}

#[derive(Debug, Clone, Default)]
struct SpanRec {
    trace_id: Str,
    span_id: Str,
    parent_span_id: Str,
    name: Str,
    kind: i32,
    start: u64,
    end: u64,
    attrs: Range<u32>,
    status: Option<(Str, i32)>,
    /// The span's whole message.
    raw: Str,
}

/// A decoded trace export (see the module overview).
#[derive(Debug, Clone, Default)]
pub struct Traces {
    body: Vec<u8>,
    resources: Vec<Res>,
    scopes: Vec<Scope>,
    spans: Vec<SpanRec>,
    /// Span attributes.
    attrs: Vec<Attr>,
    /// Resource attributes.
    res_attrs: Vec<Attr>,
}

/// An attribute's scalar value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AnyRef<'a> {
    /// `string_value`.
    Str(&'a str),
    /// `bool_value`.
    Bool(bool),
    /// `int_value`.
    Int(i64),
    /// `double_value`.
    Double(f64),
    /// `bytes_value`.
    Bytes(&'a [u8]),
}

impl<'a> AnyRef<'a> {
    /// A decoded message's value (logs and metrics keep `prost`'s), when a scalar.
    pub fn of(v: &'a Option<AnyValue>) -> Option<AnyRef<'a>> {
        use any_value::Value as V;
        Some(match v.as_ref()?.value.as_ref()? {
            V::StringValue(s) => AnyRef::Str(s),
            V::BoolValue(b) => AnyRef::Bool(*b),
            V::IntValue(i) => AnyRef::Int(*i),
            V::DoubleValue(d) => AnyRef::Double(*d),
            V::BytesValue(b) => AnyRef::Bytes(b),
        })
    }
}

impl Traces {
    /// Decodes a protobuf `ExportTraceServiceRequest`, keeping `body`.
    pub fn decode(body: Vec<u8>) -> Result<Traces, WireError> {
        Traces::decode_within(body, &mut |_| true).map_err(|e| match e {
            SpansError::Wire(e) => e,
            SpansError::Budget(_) => unreachable!("no budget"),
        })
    }

    /// Decodes `body`, asking `room` for the bytes its tables take in all (not counting the
    /// body) before each growth: refused as soon as `room` says false.
    pub fn decode_within(
        body: Vec<u8>,
        room: &mut dyn FnMut(usize) -> bool,
    ) -> Result<Traces, SpansError> {
        let mut d = decode::Dec::new(room);
        d.request(&body)?;
        let mut t = d.t;
        t.body = body;
        Ok(t)
    }

    /// The same request decoded from a message (for JSON bodies, tests and benchmarks).
    pub fn from_message(m: &ExportTraceServiceRequest) -> Traces {
        use prost::Message;
        Traces::decode(m.encode_to_vec()).expect("an encoded message decodes")
    }

    /// One `Span` message (as [`SpanRef::raw`] gives it) as a request of that span alone;
    /// `None` when it does not decode.
    pub fn decode_span(message: &[u8]) -> Option<Traces> {
        let mut room = |_| true;
        let mut d = decode::Dec::new(&mut room);
        d.span(wire::Rd::new(message, "span"), wire::DEPTH - 3)
            .ok()?;
        let mut t = d.t;
        t.body = message.to_vec();
        Some(t)
    }

    /// `spans` as one export of one resource with no attributes (tests and benchmarks).
    pub fn from_spans(spans: Vec<Span>) -> Traces {
        Traces::from_message(&ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: None,
                scope_spans: vec![ScopeSpans { scope: None, spans }],
            }],
        })
    }

    /// Spans in the request.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// No spans.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Bytes held on the heap.
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of;
        self.body.capacity()
            + self.resources.capacity() * size_of::<Res>()
            + self.scopes.capacity() * size_of::<Scope>()
            + self.spans.capacity() * size_of::<SpanRec>()
            + (self.attrs.capacity() + self.res_attrs.capacity()) * size_of::<Attr>()
    }

    /// The request's resources, in order.
    pub fn resources(&self) -> impl Iterator<Item = ResourceRef<'_>> {
        self.resources
            .iter()
            .map(move |r| ResourceRef { t: self, r })
    }

    /// Every span, in order.
    pub fn spans(&self) -> impl Iterator<Item = SpanRef<'_>> {
        self.spans.iter().map(move |s| SpanRef { t: self, s })
    }

    fn text(&self, s: Str) -> &str {
        let b = s.of(&self.body);
        debug_assert!(std::str::from_utf8(b).is_ok());
        // SAFETY: a `Str` that is read as text is only made by `wire::Rd::string`, which
        // checked those bytes of this body to be UTF-8; the body is never changed after.
        unsafe { std::str::from_utf8_unchecked(b) }
    }

    fn attributes<'a>(
        &'a self,
        table: &'a [Attr],
        r: &Range<u32>,
    ) -> impl Iterator<Item = (&'a str, Option<AnyRef<'a>>)> {
        table[r.start as usize..r.end as usize]
            .iter()
            .map(move |a| (self.text(a.key), self.value(a.value)))
    }

    fn value(&self, v: Val) -> Option<AnyRef<'_>> {
        Some(match v {
            Val::Absent | Val::Empty => return None,
            Val::Str(s) => AnyRef::Str(self.text(s)),
            Val::Bool(b) => AnyRef::Bool(b),
            Val::Int(i) => AnyRef::Int(i),
            Val::Double(d) => AnyRef::Double(d),
            Val::Bytes(s) => AnyRef::Bytes(s.of(&self.body)),
        })
    }
}

/// One `ResourceSpans`.
#[derive(Debug, Clone, Copy)]
pub struct ResourceRef<'a> {
    t: &'a Traces,
    r: &'a Res,
}

impl<'a> ResourceRef<'a> {
    /// The resource's attributes (a value that is no scalar: `None`).
    pub fn attributes(&self) -> impl Iterator<Item = (&'a str, Option<AnyRef<'a>>)> {
        self.t.attributes(&self.t.res_attrs, &self.r.attrs)
    }

    /// Its `service.name` (the first such attribute), when a string.
    pub fn service_name(&self) -> Option<&'a str> {
        match self.attributes().find(|(k, _)| *k == "service.name")?.1 {
            Some(AnyRef::Str(s)) => Some(s),
            _ => None,
        }
    }

    /// Its scopes, in order.
    pub fn scopes(&self) -> impl Iterator<Item = ScopeRef<'a>> {
        let t = self.t;
        t.scopes[self.r.scopes.start as usize..self.r.scopes.end as usize]
            .iter()
            .map(move |s| ScopeRef { t, s })
    }
}

/// One `ScopeSpans`.
#[derive(Debug, Clone, Copy)]
pub struct ScopeRef<'a> {
    t: &'a Traces,
    s: &'a Scope,
}

impl<'a> ScopeRef<'a> {
    /// The scope's name ("" when there is no scope).
    pub fn name(&self) -> &'a str {
        self.t.text(self.s.name)
    }

    /// Its spans, in order.
    pub fn spans(&self) -> impl Iterator<Item = SpanRef<'a>> {
        let t = self.t;
        t.spans[self.s.spans.start as usize..self.s.spans.end as usize]
            .iter()
            .map(move |s| SpanRef { t, s })
    }
}

/// One span.
#[derive(Debug, Clone, Copy)]
pub struct SpanRef<'a> {
    t: &'a Traces,
    s: &'a SpanRec,
}

impl<'a> SpanRef<'a> {
    /// Trace id (16 bytes when well formed).
    pub fn trace_id(&self) -> &'a [u8] {
        self.s.trace_id.of(&self.t.body)
    }

    /// Span id (8 bytes when well formed).
    pub fn span_id(&self) -> &'a [u8] {
        self.s.span_id.of(&self.t.body)
    }

    /// Parent span id (empty for a root span).
    pub fn parent_span_id(&self) -> &'a [u8] {
        self.s.parent_span_id.of(&self.t.body)
    }

    /// Operation name.
    pub fn name(&self) -> &'a str {
        self.t.text(self.s.name)
    }

    /// Start, Unix ns.
    pub fn start_ns(&self) -> u64 {
        self.s.start
    }

    /// End, Unix ns.
    pub fn end_ns(&self) -> u64 {
        self.s.end
    }

    /// Status ERROR.
    pub fn error(&self) -> bool {
        self.s.status.is_some_and(|(_, c)| c == STATUS_CODE_ERROR)
    }

    /// Its attributes (a value that is no scalar: `None`).
    pub fn attributes(&self) -> impl Iterator<Item = (&'a str, Option<AnyRef<'a>>)> {
        self.t.attributes(&self.t.attrs, &self.s.attrs)
    }

    /// The span's whole `Span` message, as it came.
    pub fn raw(&self) -> &'a [u8] {
        self.s.raw.of(&self.t.body)
    }

    /// Attributes given.
    pub fn attribute_count(&self) -> usize {
        self.s.attrs.len()
    }
}

impl Traces {
    /// The request as `prost`'s message (what `ExportTraceServiceRequest::decode` gives for
    /// the same body): for tests and the fuzz target, which check the two decoders agree.
    pub fn to_message(&self) -> ExportTraceServiceRequest {
        let b = &self.body;
        let bytes = |s: Str| s.of(b).to_vec();
        let text = |s: Str| self.text(s).to_string();
        let kv = |a: &Attr| KeyValue {
            key: text(a.key),
            value: match a.value {
                Val::Absent => None,
                v => Some(AnyValue {
                    value: match v {
                        Val::Absent | Val::Empty => None,
                        Val::Str(s) => Some(any_value::Value::StringValue(text(s))),
                        Val::Bool(x) => Some(any_value::Value::BoolValue(x)),
                        Val::Int(x) => Some(any_value::Value::IntValue(x)),
                        Val::Double(x) => Some(any_value::Value::DoubleValue(x)),
                        Val::Bytes(s) => Some(any_value::Value::BytesValue(bytes(s))),
                    },
                }),
            },
        };
        let kvs = |t: &[Attr], r: &Range<u32>| -> Vec<KeyValue> {
            t[r.start as usize..r.end as usize].iter().map(kv).collect()
        };
        let span = |s: &SpanRec| Span {
            trace_id: bytes(s.trace_id),
            span_id: bytes(s.span_id),
            parent_span_id: bytes(s.parent_span_id),
            name: text(s.name),
            kind: s.kind,
            start_time_unix_nano: s.start,
            end_time_unix_nano: s.end,
            attributes: kvs(&self.attrs, &s.attrs),
            status: s.status.map(|(m, code)| Status {
                message: text(m),
                code,
            }),
        };
        let scope = |s: &Scope| ScopeSpans {
            scope: s
                .present
                .then(|| InstrumentationScope { name: text(s.name) }),
            spans: self.spans[s.spans.start as usize..s.spans.end as usize]
                .iter()
                .map(span)
                .collect(),
        };
        ExportTraceServiceRequest {
            resource_spans: self
                .resources
                .iter()
                .map(|r| ResourceSpans {
                    resource: r.present.then(|| Resource {
                        attributes: kvs(&self.res_attrs, &r.attrs),
                    }),
                    scope_spans: self.scopes[r.scopes.start as usize..r.scopes.end as usize]
                        .iter()
                        .map(scope)
                        .collect(),
                })
                .collect(),
        }
    }
}
