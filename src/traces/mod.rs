//! A bounded sample of recent traces, for the dashboard's waterfalls (`/api/traces`).
//!
//! The engine assembles the spans of OTLP traces by trace id as it applies them
//! ([`Sampler`]): a trace is complete when its root span (no parent) comes, and is then kept
//! if it is among the [`SLOWEST`] slowest of its root span name (per app) or among the
//! [`FAILED`] most recent that failed (root or any span in error). Everything is capped:
//! spans per trace, traces and spans still in assembly, root names; what falls out is counted
//! ([`TraceStats`], in `/api/health` → `traces`). At each publication the engine hands
//! readers an immutable [`TracesView`] with the snapshot; readers never touch the sampler.
//!
//! OTLP spans carry their ids; spans from the Unix socket carry them in `TracedSpan` frames
//! (protocol version 2, sent by `kpid-layer` and the Python client): both are sampled alike
//! ([`socket`] keys a socket trace by its connection). Version 1 span frames name their
//! parent only, and are not sampled. A child span waits in assembly as the bytes it came in
//! and is decoded only if its trace is kept, which few are.

mod sample;
pub mod socket;
#[cfg(test)]
mod tests;

pub use sample::Sampler;

use serde::Serialize;
use std::sync::Arc;

/// Slowest traces kept per root span name.
pub const SLOWEST: usize = 5;
/// Most recent failed traces kept per root span name.
pub const FAILED: usize = 5;
/// Most spans kept per trace (the rest counted in `spans_dropped`).
pub const MAX_SPANS: usize = 256;
/// Most root span names (app, name) with a sample; further names are counted, not kept.
pub const MAX_NAMES: usize = 256;
/// Most traces in assembly (waiting for their root span); the oldest goes first, counted.
pub const MAX_PENDING: usize = 2048;
/// Most spans in assembly, all traces together; the oldest trace goes first, counted.
pub const MAX_PENDING_SPANS: usize = 65_536;
/// Most bytes of spans kept as they came in assembly (socket frames, OTLP `Span` messages),
/// all traces together (each at most [`MAX_FRAME_KEPT`]); the oldest trace goes first,
/// counted.
pub const MAX_PENDING_BYTES: usize = 16 << 20;
/// Longest span (socket frame body, OTLP `Span` message) kept as it came until its trace's
/// root comes; a longer one is decoded at once (its attributes cut as every span's are).
pub const MAX_FRAME_KEPT: usize = 1024;
/// Seconds a trace waits for its root span before it is given up (counted).
pub const PENDING_TTL_S: f64 = 60.0;
/// Seconds a sampled trace is kept after it ended ("recent").
pub const KEEP_S: f64 = 900.0;
/// Most attributes kept per span.
pub const MAX_ATTRS: usize = 16;
/// Longest attribute value kept, bytes (longer ones are cut, with `…`).
pub const MAX_ATTR_LEN: usize = 256;

/// One span of a sampled trace.
#[derive(Debug, Clone)]
pub struct TraceSpan {
    /// Span id.
    pub id: u64,
    /// Parent span id (0: none).
    pub parent: u64,
    /// Span name.
    pub name: Arc<str>,
    /// Start and end, Unix ns.
    pub start_ns: u64,
    /// End, Unix ns.
    pub end_ns: u64,
    /// Status ERROR.
    pub error: bool,
    /// Attributes (at most [`MAX_ATTRS`], values cut at [`MAX_ATTR_LEN`]).
    pub attrs: Box<[(Arc<str>, AttrValue)]>,
}

/// An attribute's value, kept as it came (formatted only when served).
#[derive(Debug, Clone)]
pub enum AttrValue {
    /// A string (or bytes, lossily), cut at [`MAX_ATTR_LEN`].
    Str(Box<str>),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
}

impl std::fmt::Display for AttrValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AttrValue::Str(s) => f.write_str(s),
            AttrValue::Int(i) => write!(f, "{i}"),
            AttrValue::Float(x) => write!(f, "{x}"),
            AttrValue::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// One sampled trace.
#[derive(Debug)]
pub struct Trace {
    /// Trace id.
    pub id: u128,
    /// The app (`service.name`) of its root span.
    pub app: Arc<str>,
    /// Its root span, first in `spans`.
    pub root: Arc<str>,
    /// Root start and end, Unix ns.
    pub start_ns: u64,
    /// Root end, Unix ns.
    pub end_ns: u64,
    /// Some span ended in error.
    pub error: bool,
    /// Its spans, root first, then by start.
    pub spans: Box<[TraceSpan]>,
    /// Spans past [`MAX_SPANS`], not kept.
    pub spans_dropped: u32,
}

/// A trace in the sample, and why it is there.
#[derive(Debug, Clone)]
pub struct Kept {
    /// The trace.
    pub trace: Arc<Trace>,
    /// One of the slowest of its root name now (else kept only as a failed one).
    pub slow: bool,
}

impl Trace {
    /// Root duration, seconds.
    pub fn duration(&self) -> f64 {
        self.end_ns.saturating_sub(self.start_ns) as f64 * 1e-9
    }

    /// The trace id as 32 hex digits.
    pub fn hex_id(&self) -> String {
        format!("{:032x}", self.id)
    }
}

/// What the sampler kept, refused and dropped since start.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TraceStats {
    /// Traces kept in the sample (as slowest or failed) since start.
    pub sampled: u64,
    /// Complete traces neither slow nor failed enough to be kept (sampling, not loss).
    pub not_sampled: u64,
    /// Traces given up in assembly to make room ([`MAX_PENDING`], [`MAX_PENDING_SPANS`]).
    pub pending_evicted: u64,
    /// Traces given up whose root span did not come within [`PENDING_TTL_S`].
    pub pending_expired: u64,
    /// Spans not kept past [`MAX_SPANS`] of their trace.
    pub spans_dropped: u64,
    /// Complete traces of a root name past [`MAX_NAMES`], not kept.
    pub names_refused: u64,
    /// Traces in assembly now.
    pub pending_traces: u64,
    /// Spans in assembly now.
    pub pending_spans: u64,
    /// Traces in the sample now.
    pub kept: u64,
}

/// What readers see: the sampled traces, most recent first, and the counters.
#[derive(Debug, Default)]
pub struct TracesView {
    /// Sampled traces, by root end, most recent first.
    pub traces: Vec<Kept>,
    /// Counters.
    pub stats: TraceStats,
}

impl TracesView {
    /// The sampled trace with this hex id.
    pub fn get(&self, hex: &str) -> Option<&Kept> {
        let id = u128::from_str_radix(hex, 16).ok()?;
        self.traces.iter().find(|k| k.trace.id == id)
    }
}
