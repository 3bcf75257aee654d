//! Spans from the Unix socket into the sample: a `TracedSpan` frame (protocol version 2)
//! carries the sender's trace, span and parent ids, unique within its connection. The trace
//! key is the connection's number in the high 64 bits and the sender's trace id in the low
//! ones, so two apps (or two runs of one) never share a trace.

use super::sample::cut;
use super::{AttrValue, Sampler, TraceSpan, MAX_ATTRS};
use kpid_wire::{SpanClose, SpanIds, Value};
use std::sync::Arc;

/// The trace key of the sender's trace `trace` on connection `conn`.
pub fn trace_key(conn: u64, trace: u64) -> u128 {
    ((conn as u128) << 64) | trace as u128
}

fn attr(v: Value<'_>) -> AttrValue {
    match v {
        Value::I64(i) => AttrValue::Int(i),
        Value::U64(u) => i64::try_from(u).map_or(AttrValue::Float(u as f64), AttrValue::Int),
        Value::F64(f) => AttrValue::Float(f),
        Value::Bool(b) => AttrValue::Bool(b),
        Value::Str(s) => AttrValue::Str(cut(s)),
    }
}

impl Sampler {
    fn wire_span(&mut self, ids: SpanIds, s: &SpanClose<'_>) -> TraceSpan {
        let mut attrs = Vec::with_capacity(s.fields.len().min(MAX_ATTRS));
        for (k, v) in s.fields.take(MAX_ATTRS) {
            attrs.push((self.intern(k), attr(v)));
        }
        TraceSpan {
            id: ids.span,
            parent: ids.parent,
            name: self.intern(s.name),
            start_ns: s.start_unix_ns,
            end_ns: s.start_unix_ns.saturating_add(s.duration_ns),
            error: s.error,
            attrs: attrs.into_boxed_slice(),
        }
    }

    /// A span closed on connection `conn` of `app`: a root completes its trace, any other
    /// waits in assembly for its root.
    pub fn socket_span(
        &mut self,
        app: &Arc<str>,
        conn: u64,
        ids: SpanIds,
        s: &SpanClose<'_>,
        now: f64,
    ) {
        let key = trace_key(conn, ids.trace);
        if ids.parent == 0 {
            let root = self.wire_span(ids, s);
            self.root_span(app, key, root);
        } else {
            self.child_with(key, now, |me| me.wire_span(ids, s));
        }
    }
}
