//! Where open spans keep their start records, without the registry: a fixed table of
//! [`SLOTS`] records keyed by span id (claimed with one compare-and-swap at open, found by
//! id from any thread, freed with a store at close), so opening a span allocates nothing and
//! closing it needs no registry lookup. A span that finds no free slot keeps its record in
//! the registry's extensions instead (see `record.rs`).
//!
//! And a thread-local stack of the spans entered on each thread (tracing exits a span on the
//! thread that entered it), so that an event finds its span's name and start record without
//! a registry lookup.

use crate::fields::{FieldWriter, Fixed, RecordFields};
use std::cell::{RefCell, UnsafeCell};
use std::mem::MaybeUninit;
use std::ptr::{addr_of, addr_of_mut};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use tracing::span::Attributes;
use tracing::Metadata;

/// Bytes of encoded fields an open span keeps; fields past it are not sent.
pub const SPAN_FIELD_BYTES: usize = 192;

/// Start records in a table (about 256 bytes each, touched only when used).
pub(crate) const SLOTS: usize = 4096;
/// Slots tried from a span id's hash.
const PROBE: usize = 8;
/// A slot being filled by the span that claimed it.
const RESERVED: u64 = u64::MAX;

/// The table of one layer (one registry: span ids are unique among its open spans).
pub(crate) struct Table {
    /// The id of the span holding each slot; 0 when free.
    keys: Box<[AtomicU64]>,
    recs: Box<[UnsafeCell<MaybeUninit<SpanStart>>]>,
    /// Start records of open spans kept in the registry's extensions (the table had no
    /// room): while there are none, a span missing from the table needs no lookup at close.
    pub(crate) spilled: AtomicUsize,
}

// SAFETY: a record is written only by the span that claimed its slot (before its id is
// published, in `on_record` under the record's own lock, and at close, when no handle to
// the span is left); other threads touch only its atomic error flag.
unsafe impl Sync for Table {}
unsafe impl Send for Table {}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table").field("slots", &SLOTS).finish()
    }
}

#[inline]
fn home(id: u64) -> usize {
    (id.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 52) as usize % SLOTS
}

impl Table {
    pub(crate) fn new() -> Self {
        Table {
            keys: (0..SLOTS).map(|_| AtomicU64::new(0)).collect(),
            // SAFETY: the elements are themselves `MaybeUninit` (valid uninitialized); the
            // memory is not touched until a slot is claimed.
            recs: unsafe { Box::new_uninit_slice(SLOTS).assume_init() },
            spilled: AtomicUsize::new(0),
        }
    }

    /// Claims a slot for span `id` and fills it with `fill` (given the record's uninitialized
    /// memory; it must initialize every field). None when the span's slots are all taken.
    #[inline]
    pub(crate) fn claim(&self, id: u64, fill: impl FnOnce(*mut SpanStart)) -> Option<u32> {
        let h = home(id);
        for i in 0..PROBE {
            let at = (h + i) % SLOTS;
            let k = &self.keys[at];
            if k.load(Ordering::Relaxed) == 0
                && k.compare_exchange(0, RESERVED, Ordering::Acquire, Ordering::Relaxed)
                    .is_ok()
            {
                fill(self.recs[at].get().cast());
                k.store(id, Ordering::Release);
                return Some(at as u32);
            }
        }
        None
    }

    /// The slot of open span `id`.
    #[inline]
    pub(crate) fn find(&self, id: u64) -> Option<u32> {
        let h = home(id);
        (0..PROBE)
            .map(|i| (h + i) % SLOTS)
            .find(|&at| self.keys[at].load(Ordering::Acquire) == id)
            .map(|at| at as u32)
    }

    /// The record in `slot`, which the caller's span holds.
    #[inline]
    pub(crate) fn rec(&self, slot: u32) -> *mut SpanStart {
        self.recs[slot as usize].get().cast()
    }

    /// Frees `slot` (its span closed).
    #[inline]
    pub(crate) fn free(&self, slot: u32) {
        self.keys[slot as usize].store(0, Ordering::Release);
    }
}

/// A span's ids as sent in a traced span: its own, unique in this process while the layer
/// runs (made from the registry's id, which is unique among open spans, and the start time,
/// which tells apart two spans that reused one registry id); its parent's (0 for a root);
/// and its trace's, the id of its root span.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Ids {
    pub(crate) trace: u64,
    pub(crate) span: u64,
    pub(crate) parent: u64,
}

impl Ids {
    /// The ids of a span with registry id `raw` opened at `start_ns`, under a parent with
    /// ids `parent` (None for a root span).
    #[inline]
    pub(crate) fn new(raw: u64, start_ns: u64, parent: Option<Ids>) -> Ids {
        // A bijective mix (splitmix64's finaliser) of two values that never repeat together.
        let mut z = raw ^ start_ns.rotate_left(32);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        let span = (z ^ (z >> 31)).max(1);
        match parent {
            Some(p) => Ids {
                trace: p.trace,
                span,
                parent: p.span,
            },
            None => Ids {
                trace: span,
                span,
                parent: 0,
            },
        }
    }
}

/// The fixed-size start record of an open span, in a slot of the layer's table (see
/// `open.rs`) or, when the table has no room, in the span's registry extensions.
pub(crate) struct SpanStart {
    pub(crate) meta: &'static Metadata<'static>,
    pub(crate) parent: &'static str,
    pub(crate) start_ns: u64,
    /// Its trace, own and parent ids (see [`Ids`]).
    pub(crate) ids: Ids,
    /// Set by ERROR events inside the span, from any thread.
    pub(crate) error: AtomicBool,
    /// Held by `on_record` (a span may be recorded on from several threads at once).
    busy: AtomicBool,
    pub(crate) count: u8,
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
    pub(crate) unsafe fn init(
        p: *mut SpanStart,
        meta: &'static Metadata<'static>,
        parent: &'static str,
        start_ns: u64,
        ids: Ids,
        attrs: &Attributes<'_>,
    ) {
        // SAFETY: the caller's.
        unsafe {
            addr_of_mut!((*p).meta).write(meta);
            addr_of_mut!((*p).parent).write(parent);
            addr_of_mut!((*p).start_ns).write(start_ns);
            addr_of_mut!((*p).ids).write(ids);
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
    pub(crate) unsafe fn fields<'a>(p: *const SpanStart) -> &'a [u8] {
        // SAFETY: the caller's; the first `len` bytes were written by `add`;
        // `MaybeUninit<u8>` has the layout of `u8`.
        unsafe { std::slice::from_raw_parts(addr_of!((*p).fields).cast::<u8>(), (*p).len as usize) }
    }

    /// Appends `values` (those that fit), encoded straight into the field area.
    ///
    /// # Safety
    /// `p` is an initialized record whose fields nobody else writes meanwhile (its error flag
    /// may be set concurrently).
    pub(crate) unsafe fn add(p: *mut SpanStart, values: &impl RecordFields) {
        // SAFETY: the caller's; only the field area, `len` and `count` are written.
        unsafe {
            let mut out = Fixed {
                buf: &mut *addr_of_mut!((*p).fields),
                len: (*p).len as usize,
            };
            let mut v = FieldWriter::new(&mut out, (*p).count);
            values.record(&mut v);
            let (error, count) = (v.error, v.count);
            if error {
                (*p).error.store(true, Ordering::Relaxed);
            }
            (*p).len = out.len as u16;
            (*p).count = count;
        }
    }

    /// `add` under the record's lock (spans are `Send` and `Clone`: two threads may record
    /// on one at once).
    ///
    /// # Safety
    /// `p` is the initialized record of an open span.
    pub(crate) unsafe fn add_locked(p: *mut SpanStart, values: &impl RecordFields) {
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

/// A span entered on this thread.
#[derive(Clone, Copy)]
pub(crate) struct Entered {
    /// The table of the layer that saw it entered (several subscribers share a thread).
    pub(crate) table: *const Table,
    pub(crate) id: u64,
    /// Its record's slot; `u32::MAX` when it has none (opened while the daemon was absent,
    /// or its record is in the registry's extensions).
    pub(crate) slot: u32,
    /// Its name, when it has a slot.
    pub(crate) name: &'static str,
}

thread_local! {
    static STACK: RefCell<Vec<Entered>> = const { RefCell::new(Vec::new()) };
}

/// Pushes a span entered on this thread.
#[inline]
pub(crate) fn enter(e: Entered) {
    STACK.with(|s| {
        if let Ok(mut s) = s.try_borrow_mut() {
            s.push(e);
        }
    });
}

/// Pops span `id` of `table` (the last entry: exits may come out of order).
#[inline]
pub(crate) fn exit(table: *const Table, id: u64) {
    STACK.with(|s| {
        if let Ok(mut s) = s.try_borrow_mut() {
            match s.last() {
                // The usual case: the last span entered is the one exited.
                Some(e) if e.id == id && e.table == table => {
                    s.pop();
                }
                _ => {
                    if let Some(at) = s.iter().rposition(|e| e.id == id && e.table == table) {
                        s.remove(at);
                    }
                }
            }
        }
    });
}

/// The span of `table` entered last on this thread.
#[inline]
pub(crate) fn current(table: *const Table) -> Option<Entered> {
    STACK.with(|s| {
        s.try_borrow()
            .ok()?
            .iter()
            .rev()
            .find(|e| e.table == table)
            .copied()
    })
}
