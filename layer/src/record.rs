//! The tracing side: each span close and each event is encoded at once into a thread-local
//! buffer and queued. An open span keeps only a fixed-size start record (its metadata, start
//! time, error flag and up to [`SPAN_FIELD_BYTES`] of encoded fields) in a slot of the
//! layer's table (`open.rs`: no allocation, no registry lookup at close), or in its registry
//! extensions when the table has no room. Events find their span on the layer's own
//! per-thread stack of entered spans.

use crate::clock::Clock;
use crate::open::{self, Table};
use crate::queue::Shared;
use kpid_wire::{self as wire, FrameType, FrameWriter, Value};
use std::cell::RefCell;
use std::fmt;
use std::mem::MaybeUninit;
use std::ptr::{addr_of, addr_of_mut};
use std::sync::atomic::{AtomicBool, Ordering};
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
    /// The start records of open spans, made in `on_layer` (one table per registry: span
    /// ids are per registry). Without one, records live in the registry's extensions.
    pub(crate) open: Option<Arc<Table>>,
}

/// The fixed-size start record of an open span, in a slot of the layer's table (see
/// `open.rs`) or, when the table has no room, in the span's registry extensions.
pub(crate) struct SpanStart {
    pub(crate) meta: &'static Metadata<'static>,
    parent: &'static str,
    start_ns: u64,
    /// Set by ERROR events inside the span, from any thread.
    error: AtomicBool,
    /// Held by `on_record` (a span may be recorded on from several threads at once).
    busy: AtomicBool,
    count: u8,
    len: u16,
    /// The first `len` bytes are initialized (left uninitialized past them: no memset).
    fields: [MaybeUninit<u8>; SPAN_FIELD_BYTES],
}

impl SpanStart {
    /// Initializes the record at `p` (all but the field bytes past `len`) and adds `attrs`.
    ///
    /// # Safety
    /// `p` is valid for writes and nobody else uses it yet.
    #[inline]
    unsafe fn init(
        p: *mut SpanStart,
        meta: &'static Metadata<'static>,
        parent: &'static str,
        start_ns: u64,
        attrs: &Attributes<'_>,
    ) {
        // SAFETY: the caller's.
        unsafe {
            addr_of_mut!((*p).meta).write(meta);
            addr_of_mut!((*p).parent).write(parent);
            addr_of_mut!((*p).start_ns).write(start_ns);
            addr_of_mut!((*p).error).write(AtomicBool::new(false));
            addr_of_mut!((*p).busy).write(AtomicBool::new(false));
            addr_of_mut!((*p).count).write(0);
            addr_of_mut!((*p).len).write(0);
            if !attrs.fields().is_empty() {
                Self::add(p, attrs);
            }
        }
    }

    /// The encoded fields.
    ///
    /// # Safety
    /// `p` is an initialized record that nobody writes to meanwhile.
    #[inline]
    unsafe fn fields<'a>(p: *const SpanStart) -> &'a [u8] {
        // SAFETY: the caller's; the first `len` bytes were written by `add`;
        // `MaybeUninit<u8>` has the layout of `u8`.
        unsafe { std::slice::from_raw_parts(addr_of!((*p).fields).cast::<u8>(), (*p).len as usize) }
    }

    /// Appends `values` (those that fit).
    ///
    /// # Safety
    /// `p` is an initialized record whose fields nobody else writes meanwhile (its error flag
    /// may be set concurrently).
    unsafe fn add(p: *mut SpanStart, values: &impl RecordFields) {
        // SAFETY: the caller's; `n` bytes fit in the field area (`FieldWriter`'s limit).
        with_scratch(|buf| unsafe {
            let at = (*p).len as usize;
            let mut v = FieldWriter::new(buf, (*p).count, SPAN_FIELD_BYTES - at);
            values.record(&mut v);
            let (n, error, count) = (v.fit_len, v.error, v.fit_count);
            if error {
                (*p).error.store(true, Ordering::Relaxed);
            }
            let dst = addr_of_mut!((*p).fields).cast::<u8>().add(at);
            std::ptr::copy_nonoverlapping(buf.as_ptr(), dst, n);
            (*p).len = (at + n) as u16;
            (*p).count = count;
        });
    }

    /// `add` under the record's lock (spans are `Send` and `Clone`: two threads may record
    /// on one at once).
    ///
    /// # Safety
    /// `p` is the initialized record of an open span.
    unsafe fn add_locked(p: *mut SpanStart, values: &impl RecordFields) {
        // SAFETY: the caller's; the lock keeps other writers of the fields out.
        unsafe {
            let busy = &(*p).busy;
            while busy
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {
                std::hint::spin_loop();
            }
            Self::add(p, values);
            busy.store(false, Ordering::Release);
        }
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
        self.open = Some(Arc::new(Table::new()));
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
        let meta = attrs.metadata();
        if !self.shared.accepting() || own(meta) {
            return;
        }
        // The parent's name: the thread's current span for a contextual span.
        let parent = if attrs.is_contextual() {
            self.current(&ctx).0
        } else {
            attrs
                .parent()
                .and_then(|p| ctx.metadata(p))
                .map_or("", |m| m.name())
        };
        let start_ns = self.clock.now_ns();
        if let Some(t) = &self.open {
            // SAFETY: a claimed slot is this span's alone until its id is published.
            let fill = |p| unsafe { SpanStart::init(p, meta, parent, start_ns, attrs) };
            if t.claim(id.into_u64(), fill).is_some() {
                return;
            }
        }
        // No table, or no room in it: the record goes to the registry's extensions.
        let Some(span) = ctx.span(id) else { return };
        let mut start = MaybeUninit::<SpanStart>::uninit();
        // SAFETY: `start` is ours; `init` initializes every field but the field bytes past
        // `len`, which are `MaybeUninit`.
        let start = unsafe {
            SpanStart::init(start.as_mut_ptr(), meta, parent, start_ns, attrs);
            start.assume_init()
        };
        span.extensions_mut().insert(start);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(t) = &self.open {
            if let Some(slot) = t.find(id.into_u64()) {
                // SAFETY: the slot is held by this open span (a handle to it is held here).
                unsafe { SpanStart::add_locked(t.rec(slot), values) };
                return;
            }
        }
        let Some(span) = ctx.span(id) else { return };
        let mut ext = span.extensions_mut();
        if let Some(start) = ext.get_mut::<SpanStart>() {
            // SAFETY: the extensions' write lock is held.
            unsafe { SpanStart::add(start, values) };
        }
    }

    fn on_enter(&self, id: &Id, _ctx: Context<'_, S>) {
        let Some(t) = self.open.as_deref() else {
            return;
        };
        let raw = id.into_u64();
        // While records are dropped, the name is looked up only if an event needs it.
        let found = if self.shared.accepting() {
            t.find(raw)
        } else {
            None
        };
        let (slot, name) = match found {
            // SAFETY: the slot is held by this span, open while entered.
            Some(s) => (s, unsafe { (*t.rec(s)).meta.name() }),
            None => (u32::MAX, ""),
        };
        open::enter(open::Entered {
            table: t,
            id: raw,
            slot,
            name,
        });
    }

    fn on_exit(&self, id: &Id, _ctx: Context<'_, S>) {
        if let Some(t) = self.open.as_deref() {
            open::exit(t, id.into_u64());
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
        let error = level == 4;
        // The enclosing span: an explicit parent, else the thread's current span (from the
        // layer's own stack: no registry lookup). An ERROR event marks it.
        let span_name = if let Some(p) = event.parent() {
            self.span_of(p, &ctx, error)
        } else if event.is_contextual() {
            let (name, slot, id) = self.current(&ctx);
            match (slot, id) {
                (Some(s), _) if error => {
                    if let Some(t) = &self.open {
                        // SAFETY: the slot is held by this span, open while entered.
                        unsafe { (*t.rec(s)).error.store(true, Ordering::Relaxed) };
                    }
                    name
                }
                (None, Some(id)) if error => self.span_of(&id, &ctx, true),
                _ => name,
            }
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
        if let Some(t) = &self.open {
            if let Some(slot) = t.find(id.into_u64()) {
                let p = t.rec(slot);
                // SAFETY: the span is closing: no handle to it is left, so nobody else
                // touches its record until the slot is freed below.
                unsafe { self.send_span(&*p) };
                t.free(slot);
                return;
            }
        }
        let Some(span) = ctx.span(&id) else { return };
        let meta = span.metadata();
        if own(meta) {
            return;
        }
        // Read in place (the registry frees the extension when it releases the span).
        let ext = span.extensions();
        match ext.get::<SpanStart>() {
            Some(start) => self.send_span(start),
            // Opened while the daemon was absent (or the layer closed): not encoded.
            None => self.shared.drop_records(level_index(meta), 1),
        }
    }
}

impl KpidLayer {
    /// The name of the thread's current span, its slot in the table and its id (from the
    /// layer's stack when it has a table, else from the registry).
    #[inline]
    fn current<S>(&self, ctx: &Context<'_, S>) -> (&'static str, Option<u32>, Option<Id>)
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        match &self.open {
            Some(t) => match open::current(&**t) {
                Some(e) if e.slot != u32::MAX => (e.name, Some(e.slot), None),
                Some(e) => {
                    let id = Id::from_u64(e.id);
                    (ctx.metadata(&id).map_or("", |m| m.name()), None, Some(id))
                }
                None => ("", None, None),
            },
            None => {
                let c = ctx.current_span();
                (c.metadata().map_or("", |m| m.name()), None, c.id().cloned())
            }
        }
    }

    /// The name of span `id`; marks it in error when `error`.
    fn span_of<S>(&self, id: &Id, ctx: &Context<'_, S>, error: bool) -> &'static str
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        if let Some(t) = &self.open {
            if let Some(slot) = t.find(id.into_u64()) {
                let p = t.rec(slot);
                // SAFETY: the slot is held by this span, open while an event names it.
                unsafe {
                    if error {
                        (*p).error.store(true, Ordering::Relaxed);
                    }
                    return (*p).meta.name();
                }
            }
        }
        let Some(span) = ctx.span(id) else { return "" };
        if error {
            if let Some(start) = span.extensions().get::<SpanStart>() {
                start.error.store(true, Ordering::Relaxed);
            }
        }
        span.metadata().name()
    }

    /// Encodes and queues the close of the span whose start record is `start`.
    fn send_span(&self, start: &SpanStart) {
        let meta = start.meta;
        let level = level_index(meta);
        if !self.shared.accepting() {
            // Opened while connected, closing while the daemon is absent.
            self.shared.drop_records(level, 1);
            return;
        }
        let end = self.clock.now_ns();
        // SAFETY: `start` is borrowed: nobody writes its fields meanwhile.
        let fields = unsafe { SpanStart::fields(start) };
        self.shared.push_with(level, |buf| {
            let mut w = FrameWriter::begin(buf, FrameType::Span);
            w.str(meta.name()).str(meta.target()).str(start.parent);
            w.varint(self.clock.base_unix_ns + start.start_ns);
            w.varint(end.saturating_sub(start.start_ns));
            w.u8(level as u8)
                .u8(start.error.load(Ordering::Relaxed) as u8);
            w.u8(start.count).raw(fields);
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
