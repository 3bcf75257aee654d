//! A parser made by a plugin, behind the same [`Parser`] trait as the built-in ones, and the
//! per-parser counters it keeps.
//!
//! Each line crosses the boundary once: the host hands the plugin the line and a sink of
//! callbacks that write straight into the caller's [`Record`]. A key or text the plugin passes
//! is kept without copying when it lies inside the line or inside the plugin's read-only data
//! (string literals; plugins are never unloaded), and copied otherwise.

use super::bounds::{self, OutputLimits, Span, Violation};
use super::load::Plugin;
use kpid_parsers::{BatchInfo, Level, ParseError, Parser, Record, Value};
use kpid_plugin::abi::{self, Sink};
use std::borrow::Cow;
use std::ffi::c_void;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

/// One line in this many is timed (reading the clock costs about as much as a small parser).
const TIME_EVERY: u64 = 64;

/// Counters of one parser. Written by that parser only (plain loads and stores), read by
/// anyone.
#[derive(Debug, Default)]
pub(crate) struct Slot {
    lines: AtomicU64,
    errors: AtomicU64,
    timed_lines: AtomicU64,
    timed_ns: AtomicU64,
    refused: AtomicU64,
}

fn bump(counter: &AtomicU64, by: u64) {
    counter.store(counter.load(Relaxed).wrapping_add(by), Relaxed);
}

impl Slot {
    /// A batch of `lines` parsed in a worker in `ns` nanoseconds.
    pub(crate) fn count_batch(&self, lines: u64, ns: u64) {
        bump(&self.lines, lines);
        bump(&self.timed_lines, lines);
        bump(&self.timed_ns, ns);
    }

    /// A line rejected.
    pub(crate) fn count_error(&self) {
        bump(&self.errors, 1);
    }

    /// A line whose output was refused.
    pub(crate) fn count_refused(&self) {
        bump(&self.refused, 1);
    }

    pub(crate) fn read(&self) -> Stats {
        Stats {
            lines: self.lines.load(Relaxed),
            errors: self.errors.load(Relaxed),
            timed_lines: self.timed_lines.load(Relaxed),
            timed_ns: self.timed_ns.load(Relaxed),
            refused: self.refused.load(Relaxed),
        }
    }
}

/// Figures of a plugin version.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Lines parsed.
    pub lines: u64,
    /// Lines rejected.
    pub errors: u64,
    /// Lines timed.
    pub timed_lines: u64,
    /// Nanoseconds the timed lines took.
    pub timed_ns: u64,
    /// Lines whose output was refused (out of bounds: see [`bounds`]).
    pub refused: u64,
}

impl Stats {
    pub(crate) fn add(&mut self, o: &Stats) {
        self.lines += o.lines;
        self.errors += o.errors;
        self.timed_lines += o.timed_lines;
        self.timed_ns += o.timed_ns;
        self.refused += o.refused;
    }

    /// Mean nanoseconds per line, once a line was timed.
    pub fn ns_per_line(&self) -> Option<f64> {
        (self.timed_lines > 0).then(|| self.timed_ns as f64 / self.timed_lines as f64)
    }
}

/// A parser made by a plugin.
#[derive(Debug)]
pub struct PluginParser {
    plugin: Arc<Plugin>,
    state: *mut c_void,
    slot: Arc<Slot>,
    seen: u64,
    sink: Sink,
    limits: OutputLimits,
    /// Address range of the batch the coming lines are slices of (see [`Parser::prepare`]).
    around: Range<usize>,
}

// SAFETY: the ABI requires a parser state to be usable from any thread, one at a time; the
// host only uses it through `&mut self`.
unsafe impl Send for PluginParser {}

impl PluginParser {
    /// The plugin and the parser state, for a sink of another kind (the worker's encoder).
    pub(crate) fn parts(&self) -> (&Plugin, *mut c_void) {
        (&self.plugin, self.state)
    }

    pub(crate) fn new(plugin: Arc<Plugin>, state: *mut c_void, slot: Arc<Slot>) -> Self {
        let sink = Sink {
            size: std::mem::size_of::<Sink>() as u32,
            reserved: 0,
            ctx: std::ptr::null_mut(),
            int_field,
            float_field,
            bool_field,
            str_field,
            duration_field,
            timestamp,
            level,
            target,
            message,
            error,
        };
        PluginParser {
            plugin,
            state,
            slot,
            seen: 0,
            sink,
            limits: OutputLimits::default(),
            around: 0..0,
        }
    }
}

impl Drop for PluginParser {
    fn drop(&mut self) {
        // SAFETY: the state came from this plugin's create and is not used again.
        unsafe { (self.plugin.destroy)(self.state) }
    }
}

/// What the callbacks see. The lifetime is erased to cross `extern "C"`; every borrow put in
/// `out` is of the line (valid for the record's lifetime) or of never-unloaded plugin data.
struct Ctx<'r> {
    line: &'static [u8],
    around: Range<usize>,
    out: &'r mut Record<'static>,
    read_only: &'r [Range<usize>],
    limits: OutputLimits,
    error: Option<String>,
    refused: Option<Violation>,
}

impl Ctx<'_> {
    /// The bytes at (p, n): a slice of the line or of read-only plugin data when they lie
    /// there, else a bounded copy; `None` (and the line refused) when [`bounds::locate`]
    /// refuses them. Inlined into each callback, so that the field is built in place
    /// (passing it by value through calls cost store-forwarding stalls).
    #[inline(always)]
    unsafe fn bytes(&mut self, p: *const u8, n: usize) -> Option<Cow<'static, [u8]>> {
        let (addr, line) = (p as usize, self.line.as_ptr() as usize);
        if addr >= line && addr - line <= self.line.len() && n <= self.line.len() - (addr - line) {
            let at = addr - line;
            return Some(Cow::Borrowed(&self.line[at..at + n]));
        }
        let span = bounds::locate(
            addr,
            n,
            line..line + self.line.len(),
            self.around.clone(),
            self.read_only,
            self.limits.max_value_bytes,
        );
        match span {
            Ok(Span::Line(r)) => Some(Cow::Borrowed(&self.line[r])),
            // SAFETY: the plugin passes (pointer, length) of readable bytes for this call; the
            // range is outside the line and its batch, and at most max_value_bytes long.
            Ok(Span::ReadOnly) => Some(Cow::Borrowed(unsafe { std::slice::from_raw_parts(p, n) })),
            Ok(Span::Copy) => Some(Cow::Owned(
                unsafe { std::slice::from_raw_parts(p, n) }.to_vec(),
            )),
            Err(v) => {
                self.refuse(v);
                None
            }
        }
    }

    #[cold]
    fn refuse(&mut self, v: Violation) {
        self.refused.get_or_insert(v);
    }

    #[inline(always)]
    unsafe fn field(&mut self, k: *const u8, kl: usize, value: Value<'static>) {
        if kl > self.limits.max_key_bytes {
            let max = self.limits.max_key_bytes;
            return self.refuse(Violation::KeyTooLong { len: kl, max });
        }
        if self.out.fields.len() >= self.limits.max_fields {
            return self.refuse(Violation::TooManyFields(self.limits.max_fields));
        }
        // SAFETY: forwarded from the callback's contract.
        if let Some(key) = unsafe { self.bytes(k, kl) } {
            self.out.push(key, value);
        }
    }
}

#[inline(always)]
unsafe fn ctx<'r>(c: *mut c_void) -> &'r mut Ctx<'r> {
    // SAFETY: `c` is the Ctx `parse` put in the sink, alive for the whole call.
    unsafe { &mut *c.cast::<Ctx<'r>>() }
}

unsafe extern "C" fn int_field(c: *mut c_void, k: *const u8, kl: usize, v: i64) {
    unsafe { ctx(c).field(k, kl, Value::Int(v)) }
}
unsafe extern "C" fn float_field(c: *mut c_void, k: *const u8, kl: usize, v: f64) {
    unsafe { ctx(c).field(k, kl, Value::Float(v)) }
}
unsafe extern "C" fn bool_field(c: *mut c_void, k: *const u8, kl: usize, v: i32) {
    unsafe { ctx(c).field(k, kl, Value::Bool(v != 0)) }
}
unsafe extern "C" fn str_field(c: *mut c_void, k: *const u8, kl: usize, v: *const u8, vl: usize) {
    let c = unsafe { ctx(c) };
    if let Some(v) = unsafe { c.bytes(v, vl) } {
        unsafe { c.field(k, kl, Value::Str(v)) }
    }
}
unsafe extern "C" fn duration_field(c: *mut c_void, k: *const u8, kl: usize, v: f64) {
    unsafe { ctx(c).field(k, kl, Value::Duration(v)) }
}
unsafe extern "C" fn timestamp(c: *mut c_void, t: f64) {
    unsafe { ctx(c).out.timestamp = t.is_finite().then_some(t) }
}
unsafe extern "C" fn level(c: *mut c_void, l: u32) {
    let level = match l {
        abi::LEVEL_ERROR => Level::Error,
        abi::LEVEL_WARN => Level::Warn,
        abi::LEVEL_INFO => Level::Info,
        abi::LEVEL_DEBUG => Level::Debug,
        abi::LEVEL_TRACE => Level::Trace,
        _ => return,
    };
    unsafe { ctx(c).out.level = Some(level) }
}
unsafe extern "C" fn target(c: *mut c_void, p: *const u8, n: usize) {
    let c = unsafe { ctx(c) };
    c.out.target = unsafe { c.bytes(p, n) };
}
unsafe extern "C" fn message(c: *mut c_void, p: *const u8, n: usize) {
    let c = unsafe { ctx(c) };
    c.out.message = unsafe { c.bytes(p, n) };
}
unsafe extern "C" fn error(c: *mut c_void, p: *const u8, n: usize) {
    let c = unsafe { ctx(c) };
    // An error message is bounded like a value; a longer one is cut.
    let n = n.min(c.limits.max_value_bytes);
    let msg = if p.is_null() {
        &[][..]
    } else {
        unsafe { std::slice::from_raw_parts(p, n) }
    };
    c.error = Some(String::from_utf8_lossy(msg).into_owned());
}

fn clear(out: &mut Record<'_>) {
    out.fields.clear();
    (out.timestamp, out.level, out.target, out.message) = (None, None, None, None);
}

impl Parser for PluginParser {
    fn name(&self) -> &str {
        self.plugin.name()
    }

    fn parse<'a>(&mut self, line: &'a [u8], out: &mut Record<'a>) -> Result<(), ParseError> {
        let timed = self.seen % TIME_EVERY == 0;
        self.seen += 1;
        let start = timed.then(Instant::now);
        let (start_addr, len) = (line.as_ptr() as usize, line.len());
        let around = if self.around.start <= start_addr && start_addr + len <= self.around.end {
            self.around.clone()
        } else {
            start_addr..start_addr + len
        };
        let mut cx = Ctx {
            // SAFETY: lifetimes erased for the callbacks; see `Ctx`. The record is only used
            // as Record<'a> again once this call returns.
            line: unsafe { std::mem::transmute::<&'a [u8], &'static [u8]>(line) },
            around,
            out: unsafe { std::mem::transmute::<&mut Record<'a>, &mut Record<'static>>(out) },
            read_only: &self.plugin.read_only,
            limits: self.limits,
            error: None,
            refused: None,
        };
        // The callbacks never change: only the context is set per line.
        self.sink.ctx = (&mut cx as *mut Ctx<'_>).cast();
        // SAFETY: a state from this plugin's create, the line's bytes, and a sink that
        // outlives the call.
        let status =
            unsafe { (self.plugin.parse)(self.state, line.as_ptr(), line.len(), &self.sink) };
        self.sink.ctx = std::ptr::null_mut();
        let refused = cx.refused.take();
        let result = match (status, refused) {
            (_, Some(v)) => {
                bump(&self.slot.refused, 1);
                Err(ParseError::Invalid(format!(
                    "plugin `{}`: output refused: {v}",
                    self.plugin.name()
                )))
            }
            (abi::STATUS_OK, None) => Ok(()),
            (abi::STATUS_NO_MATCH, _) => Err(ParseError::NoMatch),
            (abi::STATUS_INVALID, _) => {
                Err(ParseError::Invalid(cx.error.take().unwrap_or_else(|| {
                    format!("rejected by plugin `{}`", self.plugin.name())
                })))
            }
            (abi::STATUS_PANIC, None) => Err(ParseError::Invalid(format!(
                "plugin `{}` {}",
                self.plugin.name(),
                cx.error.take().unwrap_or_else(|| "panicked".into())
            ))),
            (s, _) => Err(ParseError::Invalid(format!(
                "plugin `{}` returned unknown status {s}",
                self.plugin.name()
            ))),
        };
        if result.is_err() {
            clear(cx.out);
        }
        let slot = &self.slot;
        bump(&slot.lines, 1);
        if result.is_err() {
            bump(&slot.errors, 1);
        }
        if let Some(start) = start {
            bump(&slot.timed_lines, 1);
            bump(&slot.timed_ns, start.elapsed().as_nanos() as u64);
        }
        result
    }

    fn prepare(&mut self, batch: &BatchInfo<'_>, _lines: &[&[u8]]) {
        let start = batch.data.as_ptr() as usize;
        self.around = start..start + batch.data.len();
    }
}
