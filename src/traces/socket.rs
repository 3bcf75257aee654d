//! Spans from the Unix socket into the sample: a `TracedSpan` frame (protocol version 2)
//! carries the sender's trace, span and parent ids, unique within its connection. The trace
//! key is the connection's number (mixed, so that ids do not start with 16 zeros) in the high
//! 64 bits and the sender's trace id in the low ones, so two apps (or two runs of one) never
//! share a trace.

use super::sample::{cut, Raw};
#[cfg(test)]
use super::MAX_PENDING_BYTES;
use super::{AttrValue, Sampler, TraceSpan, MAX_ATTRS, MAX_FRAME_KEPT};
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
    pub(super) fn wire_span(&mut self, ids: SpanIds, s: &SpanClose<'_>) -> TraceSpan {
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

    /// A span closed on connection `conn` of `app`, decoded from the `TracedSpan` frame
    /// `body`: a root completes its trace; any other waits in assembly for its root, as the
    /// frame came (decoded only if its trace is kept), or decoded now when the frame is
    /// longer than [`MAX_FRAME_KEPT`].
    pub fn socket_span(
        &mut self,
        app: &Arc<str>,
        conn: u64,
        (ids, s): (SpanIds, &SpanClose<'_>),
        body: &[u8],
        now: f64,
    ) {
        let key = trace_key(conn, ids.trace);
        if ids.parent == 0 {
            let times = (
                s.start_unix_ns,
                s.start_unix_ns.saturating_add(s.duration_ns),
            );
            let root = (s.name, times, s.error);
            self.root_with(app, key, root, |me| me.wire_span(ids, s));
        } else if body.len() <= MAX_FRAME_KEPT {
            self.child_frame(key, now, Raw::Socket, body, s.error);
        } else {
            self.child_with(key, now, |me| me.wire_span(ids, s));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kpid_wire::{decode_traced_span, encode_traced_span, Fields, Level, HEADER_LEN};

    /// A `TracedSpan` body.
    fn frame(ids: SpanIds, name: &str, dur: u64, fields: &[(&str, Value<'_>)]) -> Vec<u8> {
        let mut scratch = Vec::new();
        let s = SpanClose {
            name,
            target: "t",
            parent: "",
            start_unix_ns: 1_000 + ids.span,
            duration_ns: dur,
            level: Level::Info,
            error: false,
            fields: Fields::encode(&mut scratch, fields),
        };
        let mut buf = Vec::new();
        encode_traced_span(&mut buf, ids, &s);
        buf[HEADER_LEN..].to_vec()
    }

    fn feed(s: &mut Sampler, conn: u64, body: &[u8]) {
        let (ids, span) = decode_traced_span(body).unwrap();
        s.socket_span(&Arc::from("a"), conn, (ids, &span), body, 1.0);
    }

    fn ids(trace: u64, span: u64, parent: u64) -> SpanIds {
        SpanIds {
            trace,
            span,
            parent,
        }
    }

    #[test]
    fn one_app_trace_id_on_two_connections_makes_two_traces() {
        let mut s = Sampler::default();
        for conn in [1, 2] {
            let model = [("model", Value::Str("yolo"))];
            feed(&mut s, conn, &frame(ids(5, 6, 5), "c", 5, &model));
            feed(&mut s, conn, &frame(ids(5, 5, 0), "r", 100 * conn, &[]));
        }
        let v = s.publish(2.0).expect("a view");
        assert_eq!(v.traces.len(), 2);
        assert_ne!(v.traces[0].trace.id, v.traces[1].trace.id);
        for k in &v.traces {
            let names: Vec<_> = k.trace.spans.iter().map(|x| &*x.name).collect();
            assert_eq!(names, ["r", "c"]);
            let c = &k.trace.spans[1];
            assert_eq!(c.parent, k.trace.spans[0].id);
            // Kept as its frame in assembly, decoded with its attributes once kept.
            assert_eq!(c.attrs.len(), 1);
            assert_eq!(
                (&*c.attrs[0].0, c.attrs[0].1.to_string()),
                ("model", "yolo".into())
            );
            assert_eq!(k.trace.id as u64, 5);
        }
        assert_eq!((v.stats.pending_traces, v.stats.pending_spans), (0, 0));
    }

    #[test]
    fn frames_in_assembly_are_capped_in_bytes_and_long_ones_decoded_at_once() {
        let mut s = Sampler::default();
        let long = "x".repeat(MAX_FRAME_KEPT);
        let body = frame(ids(1, 2, 1), "big", 1, &[("k", Value::Str(&long))]);
        feed(&mut s, 1, &body);
        assert_eq!(s.pending_bytes(), 0, "decoded at once");
        // Frames of distinct traces, never completed, past the byte cap: the oldest go.
        let small = frame(ids(1, 2, 1), "small", 1, &[("k", Value::Str(&long[..900]))]);
        let n = MAX_PENDING_BYTES / small.len() + 10;
        for t in 0..n as u64 {
            let mut b = small.clone();
            b[..8].copy_from_slice(&(t + 10).to_le_bytes());
            feed(&mut s, 1, &b);
        }
        assert!(s.pending_bytes() <= MAX_PENDING_BYTES);
        let v = s.publish(2.0).expect("a view");
        assert!(v.stats.pending_evicted >= 10, "{:?}", v.stats);
    }
}
