//! `kpid-layer`: a `tracing` layer that sends an app's span closes and events to the kpid
//! daemon over its Unix socket, where they become live KPIs (`span_duration_seconds`,
//! `span_total`, `span_errors_total`, `events_total`, and the `counter.X` / `gauge.X` /
//! `histogram.X` field convention), and whose spans the daemon assembles into traces for its
//! waterfalls (each span carries its own, its parent's and its trace's ids, protocol
//! version 2; an older daemon gets version 1's plain spans). One line next to the app's
//! subscriber:
//!
//! ```no_run
//! use tracing_subscriber::prelude::*;
//! let (kpid, _guard) = kpid_layer::layer();
//! tracing_subscriber::registry().with(kpid).init();
//! ```
//!
//! How it behaves: each span close and event is encoded at once (an open span keeps only a
//! fixed-size start record) and queued in a queue bounded in records and bytes; the app never
//! waits for I/O: when the queue is full, or the daemon is absent, records are dropped and
//! counted per level, and the counts travel to the daemon in the next batch. A std thread
//! exports batches (about [`DEFAULT_BATCH_BYTES`] or every [`DEFAULT_BATCH_INTERVAL`]) and
//! reconnects with backoff capped at [`DEFAULT_MAX_BACKOFF`] when the daemon is absent or
//! restarts. The returned [`FlushGuard`] flushes on drop, waiting at most
//! [`DEFAULT_FLUSH_TIMEOUT`]. A layer that is the subscriber's only one ([`init`], or
//! [`Builder::sole_layer`]) goes further while the daemon is absent: it disables spans and
//! events (counted as dropped), so the registry never creates them. The wire format is `docs/protocol.md` (crate `kpid-wire`).

mod clock;
mod export;
mod fields;
mod frame;
mod open;
mod out;
mod queue;
mod record;

pub use kpid_wire::{default_socket_path, SOCKET_ENV};
pub use open::SPAN_FIELD_BYTES;
pub use record::KpidLayer;

use queue::{Limits, Shared, CLOSED, CONNECTED, CONNECTING};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// Most records queued at once.
pub const DEFAULT_QUEUE_RECORDS: usize = 65_536;
/// Most bytes queued at once.
pub const DEFAULT_QUEUE_BYTES: usize = 8 << 20;
/// A batch is written once this many bytes are queued...
pub const DEFAULT_BATCH_BYTES: usize = 64 << 10;
/// ...or this long after the previous one.
pub const DEFAULT_BATCH_INTERVAL: Duration = Duration::from_millis(100);
/// Longest wait between two connection attempts.
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(1);
/// Longest the guard waits on drop for the last batch to be written.
pub const DEFAULT_FLUSH_TIMEOUT: Duration = Duration::from_millis(100);

/// The layer with default settings and its guard (socket from `KPID_SOCKET`, else the
/// default path: see [`default_socket_path`]).
pub fn layer() -> (KpidLayer, FlushGuard) {
    Builder::default().build()
}

/// Installs `registry().with(layer())` as the global default subscriber and returns the
/// guard. Apps with their own subscriber add [`layer`] to it instead.
pub fn init() -> FlushGuard {
    use tracing_subscriber::prelude::*;
    let (l, guard) = Builder::default().sole_layer(true).build();
    tracing_subscriber::registry().with(l).init();
    guard
}

/// Settings of the layer.
#[derive(Debug, Clone)]
pub struct Builder {
    socket: Option<PathBuf>,
    app: Option<String>,
    queue_records: usize,
    queue_bytes: usize,
    batch_bytes: usize,
    batch_interval: Duration,
    max_backoff: Duration,
    flush_timeout: Duration,
    sole: bool,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            socket: None,
            app: None,
            queue_records: DEFAULT_QUEUE_RECORDS,
            queue_bytes: DEFAULT_QUEUE_BYTES,
            batch_bytes: DEFAULT_BATCH_BYTES,
            batch_interval: DEFAULT_BATCH_INTERVAL,
            max_backoff: DEFAULT_MAX_BACKOFF,
            flush_timeout: DEFAULT_FLUSH_TIMEOUT,
            sole: false,
        }
    }
}

impl Builder {
    /// Socket path (default: [`default_socket_path`]).
    pub fn socket(mut self, path: impl Into<PathBuf>) -> Self {
        self.socket = Some(path.into());
        self
    }
    /// App name, the `app` label of its KPIs (default: the executable's name).
    pub fn app(mut self, name: impl Into<String>) -> Self {
        self.app = Some(name.into());
        self
    }
    /// Queue bounds: records and bytes.
    pub fn queue(mut self, records: usize, bytes: usize) -> Self {
        self.queue_records = records.max(1);
        self.queue_bytes = bytes.max(wire_max_record());
        self
    }
    /// Batch size and interval.
    pub fn batch(mut self, bytes: usize, interval: Duration) -> Self {
        self.batch_bytes = bytes.max(1);
        self.batch_interval = interval.max(Duration::from_millis(1));
        self
    }
    /// Longest wait between connection attempts.
    pub fn max_backoff(mut self, d: Duration) -> Self {
        self.max_backoff = d.max(export::MIN_BACKOFF);
        self
    }
    /// Longest the guard waits on drop.
    pub fn flush_timeout(mut self, d: Duration) -> Self {
        self.flush_timeout = d;
        self
    }

    /// Promises that this layer is the subscriber's only layer (`registry().with(kpid)`,
    /// nothing else; [`init`] sets it). While the daemon is absent the layer then disables
    /// spans and events for the whole subscriber (each counted as dropped, per level), so
    /// they cost a few ns instead of the registry's span work (about 100 ns a span). It
    /// has effect only when the layer is added straight onto a `Registry`; do not set it
    /// when other layers are stacked above the layer: they would miss spans and events
    /// while the daemon is absent. Without it (the default) the layer never disables
    /// anything, and with the daemon absent a span costs what the registry and the other
    /// layers make it cost.
    pub fn sole_layer(mut self, yes: bool) -> Self {
        self.sole = yes;
        self
    }

    /// Builds the layer and starts its exporter thread. If the thread cannot be started
    /// the layer counts every record as dropped.
    pub fn build(self) -> (KpidLayer, FlushGuard) {
        let limits = Limits {
            records: self.queue_records,
            bytes: self.queue_bytes,
            batch_bytes: self.batch_bytes.min(self.queue_bytes),
        };
        let shared = Arc::new(Shared::new(limits));
        let clock = clock::Clock::new();
        let cfg = export::Config {
            clock: clock.clone(),
            socket: self.socket.unwrap_or_else(default_socket_path),
            app: self.app.unwrap_or_else(default_app_name),
            host: host_name(),
            interval: self.batch_interval,
            max_backoff: self.max_backoff,
        };
        if export::spawn(shared.clone(), cfg).is_err() {
            shared.state.store(CLOSED, Ordering::Release);
        }
        let layer = KpidLayer {
            shared: shared.clone(),
            clock,
            sole: self.sole,
            gate: false,
            open: None,
        };
        (
            layer,
            FlushGuard {
                shared,
                timeout: self.flush_timeout,
            },
        )
    }
}

fn wire_max_record() -> usize {
    kpid_wire::MAX_FRAME_LEN + 4
}

fn default_app_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "app".into())
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Counters of a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerStats {
    /// Connected to the daemon now.
    pub connected: bool,
    /// Successful connections (1 + reconnects).
    pub connects: u64,
    /// Records written to the daemon.
    pub sent: u64,
    /// Records dropped since start, per level (trace, debug, info, warn, error).
    pub dropped: [u64; 5],
}

fn stats(shared: &Shared) -> LayerStats {
    LayerStats {
        connected: shared.state.load(Ordering::Relaxed) == CONNECTED,
        connects: shared.connects.load(Ordering::Relaxed),
        sent: shared.sent_records.load(Ordering::Relaxed),
        dropped: std::array::from_fn(|i| shared.dropped[i].load(Ordering::Relaxed)),
    }
}

impl KpidLayer {
    /// Its counters.
    pub fn stats(&self) -> LayerStats {
        stats(&self.shared)
    }
}

/// Flushes the queue when dropped (waiting at most the flush timeout) and stops the
/// exporter; records after that are counted as dropped.
#[derive(Debug)]
#[must_use = "dropping the guard stops the exporter"]
pub struct FlushGuard {
    shared: Arc<Shared>,
    timeout: Duration,
}

impl FlushGuard {
    /// Writes what is queued now; waits at most `timeout`. True when it was written (or
    /// counted as dropped because the daemon is absent).
    pub fn flush(&self, timeout: Duration) -> bool {
        self.shared.flush(timeout)
    }

    /// The layer's counters.
    pub fn stats(&self) -> LayerStats {
        stats(&self.shared)
    }

    /// True while records are still queued before the first connection attempt ended.
    pub fn connecting(&self) -> bool {
        self.shared.state.load(Ordering::Relaxed) == CONNECTING
    }
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        self.shared.flush(self.timeout);
        self.shared.close();
    }
}

#[cfg(test)]
mod tests;
