//! The tracing side: each span close and each event is encoded at once into a thread-local
//! buffer and queued. An open span keeps only a fixed-size start record (its start time, its
//! error flag and up to [`SPAN_FIELD_BYTES`] of encoded fields) in its registry extensions.

use crate::clock::Clock;
use crate::queue::Shared;
use kpid_wire::{self as wire, FrameType, FrameWriter, Value};
use std::cell::RefCell;
use std::fmt;
use std::mem::MaybeUninit;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::{LookupSpan, Registry};

/// Bytes of encoded fields an open span keeps; fields past it are not sent.
pub const SPAN_FIELD_BYTES: usize = 192;

/// Targets under this prefix are the layer's own and never reported.
const OWN_TARGET: &str = "kpid_layer";

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(1024));
}

/// Runs `f` with this thread's scratch buffer (a fresh one if it is in use: a `Debug` impl
/// that logs while being formatted).
fn with_scratch<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    SCRATCH.with(|s| match s.try_borrow_mut() {
        Ok(mut b) => {
            b.clear();
            f(&mut b)
        }
        Err(_) => f(&mut Vec::new()),
    })
}

/// The `tracing_subscriber::Layer` that reports to kpid. Build it with [`crate::layer`] or
/// [`crate::Builder`].
#[derive(Debug, Clone)]
pub struct KpidLayer {
    pub(crate) shared: Arc<Shared>,
    pub(crate) clock: Clock,
    /// Asked for with [`crate::Builder::sole_layer`].
    pub(crate) sole: bool,
    /// `sole`, and added straight onto a `Registry`: while the daemon is absent the layer
    /// disables spans and events (counted as dropped) so the registry never creates them.
    pub(crate) gate: bool,
}

/// The fixed-size start record of an open span.
struct SpanStart {
    parent: &'static str,
    start_ns: u64,
    error: bool,
    count: u8,
    len: u16,
    /// The first `len` bytes are initialized (left uninitialized past them: no memset).
    fields: [MaybeUninit<u8>; SPAN_FIELD_BYTES],
}

impl SpanStart {
    #[inline]
    fn fields(&self) -> &[u8] {
        // SAFETY: the first `len` bytes were written by `add`; `MaybeUninit<u8>` has the
        // layout of `u8`.
        unsafe { std::slice::from_raw_parts(self.fields.as_ptr().cast::<u8>(), self.len as usize) }
    }

    fn add(&mut self, values: &impl RecordFields) {
        with_scratch(|buf| {
            let mut v = FieldWriter::new(buf, self.count, SPAN_FIELD_BYTES - self.len as usize);
            values.record(&mut v);
            let (n, error, count) = (v.fit_len, v.error, v.fit_count);
            self.error |= error;
            let at = self.len as usize;
            for (d, &b) in self.fields[at..at + n].iter_mut().zip(&buf[..n]) {
                d.write(b);
            }
            self.len += n as u16;
            self.count = count;
        });
    }
}

/// Attributes and records both hand their values to a visitor.
trait RecordFields {
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

/// Encodes visited fields into `out`, remembering how many fit in `limit` bytes.
struct FieldWriter<'a> {
    out: &'a mut Vec<u8>,
    start: usize,
    limit: usize,
    fit_len: usize,
    fit_count: u8,
    error: bool,
}

impl<'a> FieldWriter<'a> {
    fn new(out: &'a mut Vec<u8>, count: u8, limit: usize) -> Self {
        let start = out.len();
        FieldWriter {
            out,
            start,
            limit,
            fit_len: 0,
            fit_count: count,
            error: false,
        }
    }

    #[inline]
    fn put(&mut self, key: &str, v: Value<'_>) {
        if key == "error" && v != Value::Bool(false) {
            self.error = true;
        }
        if self.fit_count as usize >= wire::MAX_FIELDS {
            return;
        }
        wire::put_field(self.out, key, v);
        self.commit();
    }

    #[inline]
    fn commit(&mut self) {
        let len = self.out.len() - self.start;
        if len <= self.limit {
            self.fit_len = len;
            self.fit_count += 1;
        } else {
            self.out.truncate(self.start + self.fit_len);
        }
    }

    /// A `Debug`/`Display` value written straight into the buffer: a two-byte length is
    /// reserved (a valid, non-minimal varint) and patched, so nothing is allocated.
    fn put_fmt(&mut self, key: &str, v: fmt::Arguments<'_>) {
        if key == "error" {
            self.error = true;
        }
        if self.fit_count as usize >= wire::MAX_FIELDS {
            return;
        }
        wire::put_str(self.out, key);
        self.out.extend_from_slice(&[4, 0x80, 0]);
        let at = self.out.len();
        let mut w = Clipped {
            out: self.out,
            room: wire::MAX_STR_LEN,
        };
        let _ = fmt::write(&mut w, v);
        let n = self.out.len() - at;
        self.out[at - 2] = (n as u8 & 0x7f) | 0x80;
        self.out[at - 1] = (n >> 7) as u8;
        self.commit();
    }
}

/// Writes at most `room` bytes, cutting at a character boundary.
struct Clipped<'a> {
    out: &'a mut Vec<u8>,
    room: usize,
}

impl fmt::Write for Clipped<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let s = wire::clip_to(s, self.room);
        self.out.extend_from_slice(s.as_bytes());
        self.room -= s.len();
        Ok(())
    }
}

impl Visit for FieldWriter<'_> {
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

#[inline]
fn level_index(m: &Metadata<'_>) -> usize {
    let l = *m.level();
    if l == tracing::Level::INFO {
        2
    } else if l == tracing::Level::ERROR {
        4
    } else if l == tracing::Level::WARN {
        3
    } else if l == tracing::Level::DEBUG {
        1
    } else {
        0
    }
}

#[inline]
fn own(m: &Metadata<'_>) -> bool {
    m.target().starts_with(OWN_TARGET)
}

impl<S> tracing_subscriber::Layer<S> for KpidLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_layer(&mut self, _inner: &mut S) {
        // Only directly on a bare registry can the layer know nobody else shares the stack
        // below it; layers stacked above it are the caller's promise (`sole_layer`).
        self.gate = self.sole && std::any::TypeId::of::<S>() == std::any::TypeId::of::<Registry>();
        if self.gate {
            self.shared.gated.store(true, Ordering::Relaxed);
        }
    }

    fn on_register_dispatch(&self, dispatch: &tracing::Dispatch) {
        if self.gate {
            // The exporter rebuilds interest as this dispatcher (see `export::set_state`).
            *crate::queue::lock(&self.shared.dispatch) = Some(dispatch.downgrade());
        }
    }

    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        if !self.gate {
            Interest::always()
        } else if own(meta) {
            Interest::never()
        } else if self.shared.accepting() {
            // Connected (or connecting): nothing to ask per span. The exporter rebuilds the
            // interest cache when the daemon goes away or comes back.
            Interest::always()
        } else {
            // Daemon absent: asked per span and event, so that `enabled` can refuse them.
            Interest::sometimes()
        }
    }

    #[inline]
    fn enabled(&self, meta: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        if !self.gate || self.shared.accepting() {
            return true;
        }
        // Daemon absent (or layer closed): the record is counted as dropped here, and the
        // registry never creates the span.
        if !own(meta) {
            self.shared.drop_records(level_index(meta), 1);
        }
        false
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if !self.shared.accepting() || own(attrs.metadata()) {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        // The parent's name: the thread's current span for a contextual span (no lookup).
        let parent = if attrs.is_contextual() {
            ctx.current_span().metadata().map_or("", |m| m.name())
        } else {
            attrs
                .parent()
                .and_then(|p| ctx.metadata(p))
                .map_or("", |m| m.name())
        };
        let mut start = SpanStart {
            parent,
            start_ns: self.clock.now_ns(),
            error: false,
            count: 0,
            len: 0,
            fields: [MaybeUninit::uninit(); SPAN_FIELD_BYTES],
        };
        if !attrs.fields().is_empty() {
            start.add(attrs);
        }
        span.extensions_mut().insert(start);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut ext = span.extensions_mut();
        if let Some(start) = ext.get_mut::<SpanStart>() {
            start.add(values);
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        let level = level_index(meta);
        if own(meta) {
            return;
        }
        if !self.shared.accepting() {
            self.shared.drop_records(level, 1);
            return;
        }
        // The enclosing span's name comes from the thread's current span (no registry
        // lookup), except for an explicit parent or an ERROR event, which marks the span.
        let span_name = if level == 4 || event.parent().is_some() {
            let span = ctx.event_span(event);
            if level == 4 {
                if let Some(s) = &span {
                    if let Some(start) = s.extensions_mut().get_mut::<SpanStart>() {
                        start.error = true;
                    }
                }
            }
            span.map_or("", |s| s.metadata().name())
        } else if event.is_contextual() {
            ctx.current_span().metadata().map_or("", |m| m.name())
        } else {
            ""
        };
        let now = self.clock.base_unix_ns + self.clock.now_ns();
        self.shared.push_with(level, |buf| {
            let mut w = FrameWriter::begin(buf, FrameType::Event);
            w.varint(now).u8(level as u8).str(meta.target());
            w.str(span_name);
            let at = w.pos();
            w.u8(0);
            let mut v = FieldWriter::new(w.buf(), 0, usize::MAX);
            event.record(&mut v);
            let n = v.fit_count;
            w.patch(at, n);
            w.finish();
        });
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let meta = span.metadata();
        if own(meta) {
            return;
        }
        let level = level_index(meta);
        // Read in place (the registry frees the extension when it releases the span).
        let ext = span.extensions();
        let Some(start) = ext.get::<SpanStart>() else {
            // Opened while the daemon was absent (or the layer closed): not encoded.
            self.shared.drop_records(level, 1);
            return;
        };
        if !self.shared.accepting() {
            // Opened while connected, closing while the daemon is absent.
            self.shared.drop_records(level, 1);
            return;
        }
        let end = self.clock.now_ns();
        self.shared.push_with(level, |buf| {
            let mut w = FrameWriter::begin(buf, FrameType::Span);
            w.str(meta.name()).str(meta.target()).str(start.parent);
            w.varint(self.clock.base_unix_ns + start.start_ns);
            w.varint(end.saturating_sub(start.start_ns));
            w.u8(level as u8).u8(start.error as u8);
            w.u8(start.count).raw(start.fields());
            w.finish();
        });
    }
}

/// Test access to the field writer.
#[cfg(test)]
pub(crate) struct TestWriter<'a>(FieldWriter<'a>);

#[cfg(test)]
impl<'a> TestWriter<'a> {
    pub(crate) fn new(buf: &'a mut Vec<u8>) -> Self {
        TestWriter(FieldWriter::new(buf, 0, usize::MAX))
    }
    pub(crate) fn put_fmt_pub(&mut self, key: &str, v: &str) {
        self.0.put_fmt(key, format_args!("{v}"));
    }
}
