//! Wire format of the kpid app protocol: what an instrumented app sends the daemon over its
//! Unix socket. No I/O here: both ends (the `kpid-layer` crate, the daemon's socket source)
//! and the tests use these encoders and decoders; `docs/protocol.md` is the same text for
//! implementers in other languages.
//!
//! A connection is a byte stream of **frames**: `len: u32 LE` (bytes that follow, type byte
//! included), `type: u8`, body. The app opens with a [`FrameType::Hello`] (magic, version,
//! app identity); the daemon answers [`FrameType::Welcome`] or [`FrameType::Error`] (then
//! closes). After that the app sends records: span closes, events, metric samples and its
//! drop counters. Integers are LEB128 varints unless said otherwise, floats are `f64` LE,
//! strings are a varint length then UTF-8 bytes.
//!
//! Decoding borrows from the input and allocates nothing: [`split_frame`] cuts one frame off
//! a buffer, `decode_*` validate a body and return views whose fields iterate lazily.

mod decode;
mod encode;

pub use decode::{
    decode_drops, decode_error, decode_event, decode_hello, decode_metric, decode_span,
    decode_traced_span, decode_welcome, split_frame, Event, Fields, Hello, Metric, SpanClose,
    SpanIds,
};
pub use encode::{
    clip, clip_to, encode_drops, encode_error, encode_event, encode_hello, encode_metric,
    encode_span, encode_traced_span, encode_welcome, put_field, put_varint, FrameWriter,
};

#[cfg(test)]
mod tests;

/// Newest protocol version this crate speaks. Version 2 added [`FrameType::TracedSpan`];
/// a daemon answers a `Hello` of any version from [`MIN_VERSION`] to this one with the lower
/// of the two, and a sender sends traced spans only when that answer is 2 or more.
pub const VERSION: u16 = 2;
/// Oldest protocol version this crate still speaks.
pub const MIN_VERSION: u16 = 1;
/// Bytes of the ids in front of a [`FrameType::TracedSpan`] body (three `u64` LE).
pub const SPAN_IDS_LEN: usize = 24;
/// First bytes of a `Hello` body.
pub const MAGIC: [u8; 4] = *b"KPID";
/// Largest frame (type byte plus body) a daemon accepts; larger ones close the connection.
pub const MAX_FRAME_LEN: usize = 1 << 20;
/// Longest string; encoders truncate longer ones at a character boundary.
pub const MAX_STR_LEN: usize = 4096;
/// Most fields in one span or event; encoders drop the rest.
pub const MAX_FIELDS: usize = 64;
/// Most labels on one metric sample.
pub const MAX_LABELS: usize = 16;
/// Bytes of the frame header (length and type).
pub const HEADER_LEN: usize = 5;

/// Environment variable naming the socket path (both ends read it).
pub const SOCKET_ENV: &str = "KPID_SOCKET";
/// Socket path under `$XDG_RUNTIME_DIR` when that is set.
pub const DEFAULT_RUNTIME_SUBPATH: &str = "kpid/kpid.sock";
/// Socket path (relative to the working directory) when `$XDG_RUNTIME_DIR` is not set.
pub const DEFAULT_FALLBACK_PATH: &str = "run/kpid.sock";

/// The default socket path: `$KPID_SOCKET`, else `$XDG_RUNTIME_DIR/kpid/kpid.sock`, else
/// `./run/kpid.sock`. (Reads the environment, nothing else.)
pub fn default_socket_path() -> std::path::PathBuf {
    if let Some(p) = std::env::var_os(SOCKET_ENV).filter(|p| !p.is_empty()) {
        return p.into();
    }
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|p| !p.is_empty()) {
        Some(dir) => std::path::Path::new(&dir).join(DEFAULT_RUNTIME_SUBPATH),
        None => DEFAULT_FALLBACK_PATH.into(),
    }
}

/// Frame types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum FrameType {
    /// App → daemon, first frame: magic, version, identity.
    Hello = 1,
    /// Daemon → app: handshake accepted.
    Welcome = 2,
    /// Daemon → app: refusal (code, message); the daemon closes after it.
    Error = 3,
    /// A span closed.
    Span = 16,
    /// An event.
    Event = 17,
    /// An explicit metric sample.
    Metric = 18,
    /// Records the app dropped since its previous report, per level.
    Drops = 19,
    /// A span closed, with its trace, span and parent ids in front (version 2).
    TracedSpan = 20,
}

impl FrameType {
    /// The type for a byte, if known.
    pub fn from_u8(b: u8) -> Option<Self> {
        Some(match b {
            1 => Self::Hello,
            2 => Self::Welcome,
            3 => Self::Error,
            16 => Self::Span,
            17 => Self::Event,
            18 => Self::Metric,
            19 => Self::Drops,
            20 => Self::TracedSpan,
            _ => return None,
        })
    }
}

/// Severity, as tracing has it (index into per-level arrays).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Level {
    /// Finest.
    Trace = 0,
    /// Debug.
    Debug = 1,
    /// Info.
    Info = 2,
    /// Warning.
    Warn = 3,
    /// Error.
    Error = 4,
}

impl Level {
    /// All levels, by index.
    pub const ALL: [Level; 5] = [
        Level::Trace,
        Level::Debug,
        Level::Info,
        Level::Warn,
        Level::Error,
    ];

    /// Level for a byte.
    pub fn from_u8(b: u8) -> Option<Self> {
        Self::ALL.get(b as usize).copied()
    }

    /// Lowercase name (`info`, ...).
    pub fn as_str(self) -> &'static str {
        ["trace", "debug", "info", "warn", "error"][self as usize]
    }
}

/// Kind of an explicit metric sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum MetricKind {
    /// Add the value.
    Counter = 0,
    /// Set the value.
    Gauge = 1,
    /// Observe the value (distribution).
    Histogram = 2,
}

impl MetricKind {
    /// Kind for a byte.
    pub fn from_u8(b: u8) -> Option<Self> {
        Some(match b {
            0 => Self::Counter,
            1 => Self::Gauge,
            2 => Self::Histogram,
            _ => return None,
        })
    }
}

/// A field value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
    /// Signed integer (tag 0, zigzag varint).
    I64(i64),
    /// Unsigned integer (tag 1, varint).
    U64(u64),
    /// Float (tag 2, 8 bytes LE).
    F64(f64),
    /// Boolean (tag 3, one byte 0/1).
    Bool(bool),
    /// Text (tag 4, string).
    Str(&'a str),
}

impl Value<'_> {
    /// The value as a number, when it is one.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::I64(v) => Some(v as f64),
            Value::U64(v) => Some(v as f64),
            Value::F64(v) => Some(v),
            Value::Bool(_) | Value::Str(_) => None,
        }
    }
}

/// Error codes of an `Error` frame.
pub mod code {
    /// The app speaks a protocol version the daemon does not.
    pub const VERSION_MISMATCH: u16 = 1;
    /// The first frame was not a valid `Hello`.
    pub const BAD_HANDSHAKE: u16 = 2;
    /// The peer's uid is not allowed to report.
    pub const PEER_UID: u16 = 3;
    /// A frame exceeded [`crate::MAX_FRAME_LEN`].
    pub const OVERSIZED: u16 = 4;
    /// The daemon has too many connections, or no memory left for this one's frame.
    pub const BUSY: u16 = 5;
    /// A frame was started and not completed in time.
    pub const STALLED: u16 = 6;
}

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// A frame's length is zero or above the limit.
    #[error("frame length {len} out of range (1..={max})")]
    BadLength {
        /// Declared length.
        len: usize,
        /// Limit in force.
        max: usize,
    },
    /// The body ended before the named item.
    #[error("frame body truncated in {0}")]
    Truncated(&'static str),
    /// The named item is invalid.
    #[error("invalid {0}")]
    Invalid(&'static str),
    /// A string is not UTF-8 or too long.
    #[error("bad string in {0}")]
    BadString(&'static str),
    /// Bytes left after the last item.
    #[error("{0} trailing bytes after the record")]
    Trailing(usize),
    /// The `Hello` did not start with the magic bytes.
    #[error("not a kpid hello (bad magic)")]
    BadMagic,
}
