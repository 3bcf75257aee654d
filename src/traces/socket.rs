//! Spans from the Unix socket into the sample: a `TracedSpan` frame (protocol version 2)
//! carries the sender's trace, span and parent ids, unique within its connection. The trace
//! key is the connection's number (mixed, so that ids do not start with 16 zeros) in the high
//! 64 bits and the sender's trace id in the low ones, so two apps (or two runs of one) never
//! share a trace.

use super::sample::cut;
use super::{AttrValue, Sampler, TraceSpan, MAX_ATTRS};
use kpid_wire::{SpanClose, SpanIds, Value};
use std::sync::Arc;

/// The trace key of the sender's trace `trace` on connection `conn`.
pub fn trace_key(conn: u64, trace: u64) -> u128 {
    // splitmix64's finaliser: a bijection, so distinct connections keep distinct keys.
    let mut z = conn.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (((z ^ (z >> 31)) as u128) << 64) | trace as u128
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

#[cfg(test)]
mod tests {
    use super::*;
    use kpid_wire::{Fields, Level};

    fn span(name: &str, start: u64, dur: u64) -> SpanClose<'_> {
        SpanClose {
            name,
            target: "t",
            parent: "",
            start_unix_ns: start,
            duration_ns: dur,
            level: Level::Info,
            error: false,
            fields: Fields::default(),
        }
    }

    #[test]
    fn one_app_trace_id_on_two_connections_makes_two_traces() {
        let mut s = Sampler::default();
        let app: Arc<str> = Arc::from("a");
        for conn in [1, 2] {
            let child = SpanIds {
                trace: 5,
                span: 6,
                parent: 5,
            };
            s.socket_span(&app, conn, child, &span("c", 10, 5), 1.0);
            let root = SpanIds {
                trace: 5,
                span: 5,
                parent: 0,
            };
            s.socket_span(&app, conn, root, &span("r", 0, 100 * conn), 1.0);
        }
        let v = s.publish(2.0).expect("a view");
        assert_eq!(v.traces.len(), 2);
        assert_ne!(v.traces[0].trace.id, v.traces[1].trace.id);
        for k in &v.traces {
            let names: Vec<_> = k.trace.spans.iter().map(|x| &*x.name).collect();
            assert_eq!(names, ["r", "c"]);
            assert_eq!(k.trace.spans[1].parent, k.trace.spans[0].id);
            assert_eq!(k.trace.id as u64, 5);
        }
    }
}
