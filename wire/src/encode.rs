//! Encoders: append whole frames to a `Vec<u8>`; strings longer than [`MAX_STR_LEN`] are
//! cut at a character boundary and field/label lists are capped, so an encoded record never
//! exceeds [`crate::MAX_FRAME_LEN`].

use crate::decode::{Event, Fields, Hello, SpanClose, SpanIds};
use crate::{FrameType, MetricKind, Value, MAGIC, MAX_LABELS, MAX_STR_LEN};

/// Appends `v` as a LEB128 varint.
#[inline]
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// `s` cut to at most [`MAX_STR_LEN`] bytes at a character boundary.
#[inline]
pub fn clip(s: &str) -> &str {
    clip_to(s, MAX_STR_LEN)
}

/// `s` cut to at most `max` bytes at a character boundary.
#[inline]
pub fn clip_to(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Appends a string (varint length, bytes), clipped to [`MAX_STR_LEN`].
#[inline]
pub(crate) fn put_str(out: &mut Vec<u8>, s: &str) {
    let s = clip(s);
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// Appends one field (key, tag, value) in the layout [`Fields`] reads.
#[inline]
pub fn put_field(out: &mut Vec<u8>, key: &str, v: Value<'_>) {
    put_str(out, key);
    match v {
        Value::I64(x) => {
            out.push(0);
            put_varint(out, ((x << 1) ^ (x >> 63)) as u64);
        }
        Value::U64(x) => {
            out.push(1);
            put_varint(out, x);
        }
        Value::F64(x) => {
            out.push(2);
            out.extend_from_slice(&x.to_le_bytes());
        }
        Value::Bool(x) => {
            out.push(3);
            out.push(x as u8);
        }
        Value::Str(s) => {
            out.push(4);
            put_str(out, s);
        }
    }
}

/// Writes one frame in place: [`FrameWriter::begin`] reserves the header, the methods append
/// body items, [`FrameWriter::finish`] patches the length.
#[derive(Debug)]
pub struct FrameWriter<'a> {
    buf: &'a mut Vec<u8>,
    start: usize,
}

impl<'a> FrameWriter<'a> {
    /// Starts a frame of type `ty` at the end of `buf`.
    #[inline]
    pub fn begin(buf: &'a mut Vec<u8>, ty: FrameType) -> Self {
        let start = buf.len();
        buf.extend_from_slice(&[0, 0, 0, 0, ty as u8]);
        FrameWriter { buf, start }
    }

    /// One byte.
    #[inline]
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.buf.push(v);
        self
    }

    /// A varint.
    #[inline]
    pub fn varint(&mut self, v: u64) -> &mut Self {
        put_varint(self.buf, v);
        self
    }

    /// A float.
    #[inline]
    pub fn f64(&mut self, v: f64) -> &mut Self {
        self.buf.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// A string (clipped).
    #[inline]
    pub fn str(&mut self, s: &str) -> &mut Self {
        put_str(self.buf, s);
        self
    }

    /// Raw bytes (already encoded items).
    #[inline]
    pub fn raw(&mut self, b: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(b);
        self
    }

    /// The buffer, to append fields with [`put_field`] (count them yourself).
    #[inline]
    pub fn buf(&mut self) -> &mut Vec<u8> {
        self.buf
    }

    /// Position of the next byte (to patch a count written earlier).
    #[inline]
    pub fn pos(&self) -> usize {
        self.buf.len()
    }

    /// Overwrites the byte at `pos` (a count placeholder).
    #[inline]
    pub fn patch(&mut self, pos: usize, v: u8) {
        self.buf[pos] = v;
    }

    /// Patches the length; returns the frame's total size in bytes.
    #[inline]
    pub fn finish(self) -> usize {
        let len = (self.buf.len() - self.start - 4) as u32;
        self.buf[self.start..self.start + 4].copy_from_slice(&len.to_le_bytes());
        self.buf.len() - self.start
    }
}

/// Appends a `Hello` frame.
pub fn encode_hello(buf: &mut Vec<u8>, h: &Hello<'_>) -> usize {
    let mut w = FrameWriter::begin(buf, FrameType::Hello);
    w.raw(&MAGIC).raw(&h.version.to_le_bytes());
    w.str(h.app).varint(h.pid as u64).str(h.host);
    w.finish()
}

/// Appends a `Welcome` frame (daemon's version and its frame limit).
pub fn encode_welcome(buf: &mut Vec<u8>, version: u16, max_frame_len: u32) -> usize {
    let mut w = FrameWriter::begin(buf, FrameType::Welcome);
    w.raw(&version.to_le_bytes())
        .raw(&max_frame_len.to_le_bytes());
    w.finish()
}

/// Appends an `Error` frame.
pub fn encode_error(buf: &mut Vec<u8>, code: u16, message: &str) -> usize {
    let mut w = FrameWriter::begin(buf, FrameType::Error);
    w.raw(&code.to_le_bytes()).str(message);
    w.finish()
}

/// Appends a `Span` frame.
pub fn encode_span(buf: &mut Vec<u8>, s: &SpanClose<'_>) -> usize {
    let mut w = FrameWriter::begin(buf, FrameType::Span);
    span_body(&mut w, s);
    w.finish()
}

fn span_body(w: &mut FrameWriter<'_>, s: &SpanClose<'_>) {
    w.str(s.name).str(s.target).str(s.parent);
    w.varint(s.start_unix_ns).varint(s.duration_ns);
    w.u8(s.level as u8).u8(s.error as u8);
    w.u8(s.fields.len() as u8).raw(s.fields.raw());
}

/// Appends a `TracedSpan` frame: `ids`, then the span as [`encode_span`] writes it.
pub fn encode_traced_span(buf: &mut Vec<u8>, ids: SpanIds, s: &SpanClose<'_>) -> usize {
    let mut w = FrameWriter::begin(buf, FrameType::TracedSpan);
    w.raw(&ids.trace.to_le_bytes())
        .raw(&ids.span.to_le_bytes())
        .raw(&ids.parent.to_le_bytes());
    span_body(&mut w, s);
    w.finish()
}

/// Appends an `Event` frame.
pub fn encode_event(buf: &mut Vec<u8>, e: &Event<'_>) -> usize {
    let mut w = FrameWriter::begin(buf, FrameType::Event);
    w.varint(e.time_unix_ns)
        .u8(e.level as u8)
        .str(e.target)
        .str(e.span);
    w.u8(e.fields.len() as u8).raw(e.fields.raw());
    w.finish()
}

/// Appends a `Metric` frame; labels past [`MAX_LABELS`] are dropped.
pub fn encode_metric(
    buf: &mut Vec<u8>,
    kind: MetricKind,
    name: &str,
    labels: &[(&str, &str)],
    value: f64,
) -> usize {
    let mut w = FrameWriter::begin(buf, FrameType::Metric);
    w.u8(kind as u8).str(name);
    let n = labels.len().min(MAX_LABELS);
    w.u8(n as u8);
    for (k, v) in &labels[..n] {
        w.str(k).str(v);
    }
    w.f64(value);
    w.finish()
}

/// Appends a `Drops` frame: records dropped since the last report, per level.
pub fn encode_drops(buf: &mut Vec<u8>, per_level: &[u64; 5]) -> usize {
    let mut w = FrameWriter::begin(buf, FrameType::Drops);
    for &n in per_level {
        w.varint(n);
    }
    w.finish()
}

impl<'a> Fields<'a> {
    /// Encodes `fields` (at most [`crate::MAX_FIELDS`]) into `scratch` and views them.
    pub fn encode(scratch: &'a mut Vec<u8>, fields: &[(&str, Value<'_>)]) -> Fields<'a> {
        scratch.clear();
        let n = fields.len().min(crate::MAX_FIELDS);
        for (k, v) in &fields[..n] {
            put_field(scratch, k, *v);
        }
        Fields::from_parts(n as u8, scratch)
    }
}
