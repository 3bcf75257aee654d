//! The tracing side: each span close and each event is encoded at once, straight into the
//! queue (`queue.rs`), and queued. An open span keeps only a fixed-size start record (its
//! metadata, start time, error flag and up to [`crate::SPAN_FIELD_BYTES`] of encoded fields)
//! in a slot of the layer's table (`open.rs`: no allocation, no registry lookup at close), or
//! in its registry extensions when the table has no room. Events find their span on the
//! layer's own per-thread stack of entered spans.

use crate::clock::Clock;
use crate::fields::FieldWriter;
use crate::frame::{self, str_max};
use crate::open::{self, Ids, SpanStart, Table};
use crate::queue::Shared;
use kpid_wire::FrameType;
use std::mem::MaybeUninit;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::{LookupSpan, Registry};

/// Targets under this prefix are the layer's own and never reported.
const OWN_TARGET: &str = "kpid_layer";

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
            self.opened_unsent(meta);
            return;
        }
        // The parent's name and ids: the thread's current span for a contextual span.
        let (parent, parent_ids) = if attrs.is_contextual() {
            let (name, slot, id) = self.current(&ctx);
            (name, self.ids_of(slot, id.as_ref(), &ctx))
        } else {
            match attrs.parent() {
                Some(p) => (
                    ctx.metadata(p).map_or("", |m| m.name()),
                    self.ids_of(None, Some(p), &ctx),
                ),
                None => ("", None),
            }
        };
        let start_ns = self.clock.now_ns();
        let ids = Ids::new(id.into_u64(), start_ns, parent_ids);
        if let Some(t) = &self.open {
            // SAFETY: a claimed slot is this span's alone until its id is published.
            let fill = |p| unsafe { SpanStart::init(p, meta, parent, start_ns, ids, attrs) };
            if t.claim(id.into_u64(), fill).is_some() {
                return;
            }
        }
        // No table, or no room in it: the record goes to the registry's extensions.
        let Some(span) = ctx.span(id) else { return };
        if let Some(t) = &self.open {
            t.spilled.fetch_add(1, Ordering::Relaxed);
        }
        let mut start = MaybeUninit::<SpanStart>::uninit();
        // SAFETY: `start` is ours; `init` initializes every field but the field bytes past
        // `len`, which are `MaybeUninit`.
        let start = unsafe {
            SpanStart::init(start.as_mut_ptr(), meta, parent, start_ns, ids, attrs);
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
            if t.spilled.load(Ordering::Relaxed) == 0 {
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
            let target = meta.target();
            let max = 10 + 1 + str_max(target) + str_max(span_name) + 1;
            // SAFETY: `max` counts every item the head writes.
            let start = unsafe {
                frame::begin(buf, FrameType::Event, max, |c| {
                    c.varint(now)
                        .u8(level as u8)
                        .str(target)
                        .str(span_name)
                        .u8(0);
                })
            };
            let at = buf.len() - 1;
            let mut v = FieldWriter::new(buf, 0);
            event.record(&mut v);
            buf[at] = v.count;
            frame::finish(buf, start);
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
        // Not in the table: opened while the daemon was absent (counted as dropped then), or
        // the layer's own, or its record is in the registry's extensions (only looked up
        // while some are).
        if self
            .open
            .as_ref()
            .is_some_and(|t| t.spilled.load(Ordering::Relaxed) == 0)
        {
            return;
        }
        let Some(span) = ctx.span(&id) else { return };
        // Read in place (the registry frees the extension when it releases the span).
        let ext = span.extensions();
        if let Some(start) = ext.get::<SpanStart>() {
            self.send_span(start);
            if let Some(t) = &self.open {
                t.spilled.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
}

impl KpidLayer {
    /// A span opened while the daemon is absent (or the layer closed) will not be sent: it
    /// is counted as dropped now, so that its close needs no lookup. The layer's own spans
    /// are neither sent nor counted.
    #[cold]
    #[inline(never)]
    fn opened_unsent(&self, meta: &Metadata<'_>) {
        if !own(meta) {
            self.shared.drop_records(level_index(meta), 1);
        }
    }

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

    /// The ids of the open span in table slot `slot`, else of span `id` (in the table or in
    /// its extensions); None for a span opened unsent (its children start their own trace).
    fn ids_of<S>(&self, slot: Option<u32>, id: Option<&Id>, ctx: &Context<'_, S>) -> Option<Ids>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        if let Some(t) = &self.open {
            if let Some(at) = slot.or_else(|| t.find(id?.into_u64())) {
                // SAFETY: the slot is held by this span, open while a child opens in it.
                return Some(unsafe { (*t.rec(at)).ids });
            }
            if t.spilled.load(Ordering::Relaxed) == 0 {
                return None;
            }
        }
        let span = ctx.span(id?)?;
        let ext = span.extensions();
        ext.get::<SpanStart>().map(|s| s.ids)
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
        let (name, target, parent) = (meta.name(), meta.target(), start.parent);
        let error = start.error.load(Ordering::Relaxed) as u8;
        // Ids go in front when the daemon takes them (protocol version 2).
        let traced = self.shared.traced.load(Ordering::Relaxed);
        let (ty, ids_len) = if traced {
            (FrameType::TracedSpan, kpid_wire::SPAN_IDS_LEN)
        } else {
            (FrameType::Span, 0)
        };
        let ids = start.ids;
        self.shared.push_with(level, |buf| {
            let max =
                ids_len + str_max(name) + str_max(target) + str_max(parent) + 20 + 3 + fields.len();
            // SAFETY: `max` counts every item written.
            let at = unsafe {
                frame::begin(buf, ty, max, |c| {
                    if traced {
                        c.bytes(&ids.trace.to_le_bytes())
                            .bytes(&ids.span.to_le_bytes())
                            .bytes(&ids.parent.to_le_bytes());
                    }
                    c.str(name).str(target).str(parent);
                    c.varint(self.clock.base_unix_ns + start.start_ns);
                    c.varint(end.saturating_sub(start.start_ns));
                    c.u8(level as u8).u8(error).u8(start.count).bytes(fields);
                })
            };
            frame::finish(buf, at);
        });
    }
}
