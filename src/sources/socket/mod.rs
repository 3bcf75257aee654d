//! The Unix-socket source: instrumented apps (the `kpid-layer` crate, the Python client, any
//! implementation of docs/protocol.md) connect and send span closes, events, metric samples
//! and their drop counts; each connection is one app (its `app` label). A connection checks
//! the framing and forwards whole frames to the engine ([`AppBatch`](crate::sources::AppBatch)),
//! which decodes them into records and applies its rules (`crate::engine`):
//!
//! - `span_total{app,span}`, `span_duration_seconds{app,span}` (distribution, s),
//!   `span_errors_total{app,span}`;
//! - `events_total{app,level}`;
//! - event fields named `counter.X` / `monotonic_counter.X` (add), `gauge.X` (set),
//!   `histogram.X` (observe) → KPI `X{app}`;
//! - explicit metric samples → KPI `name{app,labels...}`;
//! - `app_dropped_total{app,level}`: what apps dropped rather than block, as they report it;
//! - and every `[[rule]]` with `input = "span"`, `"event"` or `"metric"`.
//!
//! The socket is created owner-only before anyone can connect (`listen`), peers of another
//! uid are refused, frames over the limit close their connection, malformed records are
//! skipped; all of it is counted in [`SocketStats`] (shown by `/api/health`).

pub(crate) mod budget;
mod conn;
mod listen;

use crate::sources::Input;
use parking_lot::Mutex;
use serde::Serialize;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

pub use kpid_wire::default_socket_path;

/// Settings of the socket source.
#[derive(Debug, Clone)]
pub struct SocketConfig {
    /// Socket path (default: [`default_socket_path`]).
    pub path: PathBuf,
    /// Largest frame accepted, bytes.
    pub max_frame_len: usize,
    /// Most simultaneous connections; more are refused (`busy`).
    pub max_connections: usize,
    /// How long a new connection may take to send its hello.
    pub handshake_timeout: Duration,
    /// Bytes all connections' read buffers may hold together.
    pub memory_budget: usize,
    /// How long a frame may take to arrive once begun.
    pub frame_timeout: Duration,
}

impl Default for SocketConfig {
    fn default() -> Self {
        SocketConfig {
            path: default_socket_path(),
            max_frame_len: kpid_wire::MAX_FRAME_LEN,
            max_connections: 1024,
            handshake_timeout: Duration::from_secs(5),
            memory_budget: 16 << 20,
            frame_timeout: Duration::from_secs(10),
        }
    }
}

/// Frames and connections refused, by reason.
#[derive(Debug, Default)]
pub struct Rejected {
    /// Length above the limit (connection closed).
    pub oversized: AtomicU64,
    /// Body did not decode (skipped).
    pub malformed: AtomicU64,
    /// Unknown frame type (skipped).
    pub unknown_type: AtomicU64,
    /// First frame not a valid hello (connection closed).
    pub bad_handshake: AtomicU64,
    /// Hello with another protocol version (refused with an error reply).
    pub version_mismatch: AtomicU64,
    /// Peer of another uid (refused).
    pub peer_uid: AtomicU64,
    /// Connection closed in the middle of a frame.
    pub truncated: AtomicU64,
    /// Over the connection limit (refused).
    pub busy: AtomicU64,
    /// No room in the memory budget for the connection or its frame (closed).
    pub memory: AtomicU64,
    /// A frame begun and not completed within the frame timeout (closed).
    pub stalled: AtomicU64,
}

/// A connected app.
#[derive(Debug, Clone, Serialize)]
pub struct AppInfo {
    /// App name (its `app` label).
    pub app: String,
    /// Process id it reported.
    pub pid: u32,
    /// Host it reported.
    pub host: String,
    /// When it connected, Unix seconds.
    pub since: f64,
}

/// Counters of the socket source, shared with the server (`/api/health`: serialize it).
#[derive(Debug, Default)]
pub struct SocketStats {
    /// Socket path in use.
    pub path: Mutex<String>,
    /// Connections accepted since start.
    pub connections: AtomicU64,
    /// Frames received after handshakes.
    pub frames: AtomicU64,
    /// Bytes received.
    pub bytes: AtomicU64,
    /// Span closes applied.
    pub spans: AtomicU64,
    /// Events applied.
    pub events: AtomicU64,
    /// Metric samples applied.
    pub metrics: AtomicU64,
    /// Refusals by reason.
    pub rejected: Rejected,
    /// Records apps reported dropping (queue full or daemon absent).
    pub app_dropped: AtomicU64,
    apps: Mutex<Vec<(u64, AppInfo)>>,
    next_id: AtomicU64,
    budget: Mutex<Option<Arc<budget::Budget>>>,
    memory_budget: AtomicU64,
}

/// A point-in-time copy of [`SocketStats`], as JSON.
#[derive(Debug, Clone, Serialize)]
pub struct SocketStatsSnapshot {
    /// Socket path.
    pub path: String,
    /// Connections accepted since start.
    pub connections: u64,
    /// Apps connected now.
    pub apps: Vec<AppInfo>,
    /// Frames received.
    pub frames: u64,
    /// Bytes received.
    pub bytes: u64,
    /// Span closes.
    pub spans: u64,
    /// Events.
    pub events: u64,
    /// Metric samples.
    pub metrics: u64,
    /// Refusals by reason (`oversized`, `malformed`, ...).
    pub rejected: std::collections::BTreeMap<&'static str, u64>,
    /// Sum of `rejected`.
    pub rejected_total: u64,
    /// Records apps reported dropping.
    pub app_dropped: u64,
    /// Bytes the connections' read buffers hold now (capacity, charged to the budget).
    pub buffered_bytes: u64,
    /// The budget.
    pub memory_budget: u64,
}

impl SocketStats {
    /// New shared counters.
    pub fn shared() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// A copy of the counters.
    pub fn snapshot(&self) -> SocketStatsSnapshot {
        let r = &self.rejected;
        let rejected: std::collections::BTreeMap<_, _> = [
            ("oversized", &r.oversized),
            ("malformed", &r.malformed),
            ("unknown_type", &r.unknown_type),
            ("bad_handshake", &r.bad_handshake),
            ("version_mismatch", &r.version_mismatch),
            ("peer_uid", &r.peer_uid),
            ("truncated", &r.truncated),
            ("busy", &r.busy),
            ("memory", &r.memory),
            ("stalled", &r.stalled),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.load(Relaxed)))
        .collect();
        SocketStatsSnapshot {
            path: self.path.lock().clone(),
            connections: self.connections.load(Relaxed),
            apps: self.apps.lock().iter().map(|(_, a)| a.clone()).collect(),
            frames: self.frames.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
            spans: self.spans.load(Relaxed),
            events: self.events.load(Relaxed),
            metrics: self.metrics.load(Relaxed),
            rejected_total: rejected.values().sum(),
            rejected,
            app_dropped: self.app_dropped.load(Relaxed),
            buffered_bytes: self.budget.lock().as_ref().map_or(0, |b| b.used() as u64),
            memory_budget: self.memory_budget.load(Relaxed),
        }
    }

    fn app_connected(&self, info: AppInfo) -> u64 {
        let id = self.next_id.fetch_add(1, Relaxed);
        self.apps.lock().push((id, info));
        id
    }

    fn app_disconnected(&self, id: u64) {
        self.apps.lock().retain(|(i, _)| *i != id);
    }
}

impl Serialize for SocketStats {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.snapshot().serialize(s)
    }
}

/// What every connection task shares.
struct Ctx {
    cfg: SocketConfig,
    tx: tokio::sync::mpsc::Sender<Input>,
    stats: Arc<SocketStats>,
    own_uid: u32,
    budget: Arc<budget::Budget>,
}

/// The running source. Dropping it stops accepting and removes the socket file (if it is
/// still ours); connected apps are served until they disconnect or the runtime stops.
#[derive(Debug)]
pub struct SocketHandle {
    path: PathBuf,
    id: listen::FileId,
    task: tokio::task::JoinHandle<()>,
}

impl SocketHandle {
    /// The socket path.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

impl Drop for SocketHandle {
    fn drop(&mut self) {
        self.task.abort();
        listen::remove_if_ours(&self.path, self.id);
    }
}

/// Binds the socket (owner-only, see `listen`) and starts accepting apps on the current
/// tokio runtime. Errors name the path and what failed; it must be called inside a runtime.
pub fn spawn(
    cfg: SocketConfig,
    tx: tokio::sync::mpsc::Sender<Input>,
    stats: Arc<SocketStats>,
) -> io::Result<SocketHandle> {
    let rt = tokio::runtime::Handle::try_current().map_err(|_| {
        io::Error::other("the socket source must be started inside a tokio runtime")
    })?;
    let (std_listener, id) = listen::bind(&cfg.path)?;
    std_listener.set_nonblocking(true)?;
    let _enter = rt.enter();
    let listener = tokio::net::UnixListener::from_std(std_listener)?;
    *stats.path.lock() = cfg.path.display().to_string();
    let path = cfg.path.clone();
    let budget = budget::Budget::new(cfg.memory_budget);
    *stats.budget.lock() = Some(budget.clone());
    stats.memory_budget.store(cfg.memory_budget as u64, Relaxed);
    let ctx = Arc::new(Ctx {
        cfg,
        tx,
        stats,
        own_uid: listen::own_uid(),
        budget,
    });
    let open = Arc::new(AtomicU64::new(0));
    let task = rt.spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                // EMFILE and the like: wait instead of spinning.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            ctx.stats.connections.fetch_add(1, Relaxed);
            if open.load(Relaxed) as usize >= ctx.cfg.max_connections {
                ctx.stats.rejected.busy.fetch_add(1, Relaxed);
                tokio::spawn(async move {
                    conn::refuse(&mut stream, kpid_wire::code::BUSY, "too many connections").await;
                });
                continue;
            }
            open.fetch_add(1, Relaxed);
            let (ctx, open) = (ctx.clone(), open.clone());
            tokio::spawn(async move {
                conn::serve(stream, ctx).await;
                open.fetch_sub(1, Relaxed);
            });
        }
    });
    Ok(SocketHandle { path, id, task })
}
