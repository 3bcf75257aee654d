//! A parser made by a plugin, behind the same [`Parser`] trait as the built-in ones, and the
//! per-parser counters it keeps.
//!
//! Each line crosses the boundary once: the host hands the plugin the line and a sink of
//! callbacks that write straight into the caller's [`Record`]. A key or text the plugin passes
//! is kept without copying when it lies inside the line or inside the plugin's read-only data
//! (string literals; plugins are never unloaded), and copied otherwise.

use super::load::Plugin;
use kpid_parsers::{Level, ParseError, Parser, Record, Value};
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
}

fn bump(counter: &AtomicU64, by: u64) {
    counter.store(counter.load(Relaxed).wrapping_add(by), Relaxed);
}

impl Slot {
    pub(crate) fn read(&self) -> Stats {
        Stats {
            lines: self.lines.load(Relaxed),
            errors: self.errors.load(Relaxed),
            timed_lines: self.timed_lines.load(Relaxed),
            timed_ns: self.timed_ns.load(Relaxed),
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
}

impl Stats {
    pub(crate) fn add(&mut self, o: &Stats) {
        self.lines += o.lines;
        self.errors += o.errors;
        self.timed_lines += o.timed_lines;
        self.timed_ns += o.timed_ns;
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
}

// SAFETY: the ABI requires a parser state to be usable from any thread, one at a time; the
// host only uses it through `&mut self`.
unsafe impl Send for PluginParser {}

impl PluginParser {
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
    out: &'r mut Record<'static>,
    read_only: &'r [Range<usize>],
    error: Option<String>,
    null: bool,
}

impl Ctx<'_> {
    /// The bytes at (p, n): a slice of the line or of read-only plugin data when they lie
    /// there, else a copy. Inlined into each callback, so that the field is built in place
    /// (passing it by value through calls cost store-forwarding stalls).
    #[inline(always)]
    unsafe fn bytes(&mut self, p: *const u8, n: usize) -> Option<Cow<'static, [u8]>> {
        if n == 0 {
            return Some(Cow::Borrowed(&[]));
        }
        if p.is_null() {
            self.null = true;
            return None;
        }
        let (addr, line) = (p as usize, self.line.as_ptr() as usize);
        if addr >= line && addr - line <= self.line.len() && n <= self.line.len() - (addr - line) {
            let at = addr - line;
            return Some(Cow::Borrowed(&self.line[at..at + n]));
        }
        // SAFETY: the plugin passes (pointer, length) of readable bytes for this call.
        let bytes: &'static [u8] = unsafe { std::slice::from_raw_parts(p, n) };
        let end = addr.saturating_add(n);
        if self
            .read_only
            .iter()
            .any(|r| r.start <= addr && end <= r.end)
        {
            Some(Cow::Borrowed(bytes))
        } else {
            Some(Cow::Owned(bytes.to_vec()))
        }
    }

    #[inline(always)]
    unsafe fn field(&mut self, k: *const u8, kl: usize, value: Value<'static>) {
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
        let mut cx = Ctx {
            // SAFETY: lifetimes erased for the callbacks; see `Ctx`. The record is only used
            // as Record<'a> again once this call returns.
            line: unsafe { std::mem::transmute::<&'a [u8], &'static [u8]>(line) },
            out: unsafe { std::mem::transmute::<&mut Record<'a>, &mut Record<'static>>(out) },
            read_only: &self.plugin.read_only,
            error: None,
            null: false,
        };
        // The callbacks never change: only the context is set per line.
        self.sink.ctx = (&mut cx as *mut Ctx<'_>).cast();
        // SAFETY: a state from this plugin's create, the line's bytes, and a sink that
        // outlives the call.
        let status =
            unsafe { (self.plugin.parse)(self.state, line.as_ptr(), line.len(), &self.sink) };
        self.sink.ctx = std::ptr::null_mut();
        let result = match (status, cx.null) {
            (abi::STATUS_OK, false) => Ok(()),
            (abi::STATUS_OK, true) => Err(ParseError::Invalid(format!(
                "plugin `{}` passed a null pointer for a field",
                self.plugin.name()
            ))),
            (abi::STATUS_NO_MATCH, _) => Err(ParseError::NoMatch),
            (abi::STATUS_INVALID, _) => {
                Err(ParseError::Invalid(cx.error.take().unwrap_or_else(|| {
                    format!("rejected by plugin `{}`", self.plugin.name())
                })))
            }
            (abi::STATUS_PANIC, _) => Err(ParseError::Invalid(format!(
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
}
