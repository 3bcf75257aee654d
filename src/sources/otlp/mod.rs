//! The OTLP/HTTP source: apps instrumented with any OpenTelemetry SDK export spans, log
//! records and metrics to `http://127.0.0.1:4318/v1/{traces,logs,metrics}` (the SDKs'
//! default), as protobuf or JSON, gzipped or not. Each request is checked (method, path,
//! `Host`, content type, size), inflated within a cap, decoded (`decode`; a trace export is
//! read in place, `spans`) and forwarded whole to the engine as an [`OtlpBatch`]; the engine
//! turns it into records of the same kinds as the socket's and applies its rules
//! (`crate::engine`): spans feed `span_total`, `span_duration_seconds` and
//! `span_errors_total{app,span}`, log records `log_lines_total` and the automatic field
//! gauges, metrics KPIs of their own name. The resource's `service.name` is the `app` (or
//! `source`) label.
//!
//! Bounded like the socket: a body cap (compressed and inflated), a memory budget that every
//! request in flight is charged to until the engine has applied it (full: 429), a wait of at
//! most [`OtlpConfig::engine_wait`] for room in the engine's channel (then 503), connection
//! limits and timeouts (`crate::server`'s listener). Every refusal is counted by reason in
//! [`OtlpStats`], which `/api/health` shows as `otlp`.

pub mod check;
mod decode;
mod http;
mod json;
pub mod proto;
pub mod proto_metrics;
pub(crate) mod size;
pub mod spans;
mod stats;
mod wire;

pub use decode::{decode, decode_within, gunzip, DecodeError, Encoding, Request, Signal};
pub use stats::{OtlpStats, Rejected};

use crate::server::Limits;
use crate::sources::socket::budget::{Budget, Charge};
use crate::sources::Input;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The OTLP/HTTP port every SDK tries first.
pub const DEFAULT_ADDR: &str = "127.0.0.1:4318";

/// Settings of the receiver.
#[derive(Debug, Clone)]
pub struct OtlpConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Largest body, as sent and once inflated.
    pub max_body: usize,
    /// Bytes all requests in flight may hold together (bodies and decoded messages).
    pub memory_budget: usize,
    /// Longest wait for room in the engine's channel before answering 503.
    pub engine_wait: Duration,
    /// Connection limits and timeouts.
    pub limits: Limits,
    /// Bound beyond loopback: requests need the API token (`Authorization: Bearer`).
    pub token: Option<Arc<str>>,
}

impl Default for OtlpConfig {
    fn default() -> Self {
        OtlpConfig {
            listen: DEFAULT_ADDR.parse().expect("a valid address"),
            max_body: 4 << 20,
            memory_budget: 64 << 20,
            engine_wait: Duration::from_secs(2),
            limits: Limits {
                max_connections: 256,
                per_peer: 256,
                header_timeout: Duration::from_secs(10),
                idle_timeout: Duration::from_secs(60),
                max_header_bytes: 16 << 10,
            },
            token: None,
        }
    }
}

/// A decoded export request on its way to the engine. The memory it holds stays charged to
/// the receiver's budget until the engine drops it.
#[derive(Debug)]
pub struct OtlpBatch {
    /// The request.
    pub request: Request,
    /// The receiver's counters (the engine counts what it applied there).
    pub stats: Arc<OtlpStats>,
    _charge: Charge,
}

impl OtlpBatch {
    /// A request charged to no budget (the fuzz target's, and tests').
    pub(crate) fn unbudgeted(request: Request, stats: Arc<OtlpStats>) -> OtlpBatch {
        OtlpBatch {
            request,
            stats,
            _charge: Charge::new(Budget::new(0)),
        }
    }
}

/// The running receiver: dropping it stops accepting.
#[derive(Debug)]
pub struct OtlpHandle {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl OtlpHandle {
    /// The address bound (the real port when 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for OtlpHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds `cfg.listen` and serves OTLP/HTTP on the current runtime. A bind error (the port is
/// taken) is returned and also kept in `stats`, so that `/api/health` shows it.
pub async fn spawn(
    cfg: OtlpConfig,
    tx: tokio::sync::mpsc::Sender<Input>,
    stats: Arc<OtlpStats>,
) -> std::io::Result<OtlpHandle> {
    stats.set_config(&cfg);
    let listener = match tokio::net::TcpListener::bind(cfg.listen).await {
        Ok(l) => l,
        Err(e) => {
            let msg = format!("cannot listen on {}: {e}", cfg.listen);
            stats.set_error(msg.clone());
            return Err(std::io::Error::new(e.kind(), msg));
        }
    };
    let addr = listener.local_addr()?;
    stats.set_listening(addr);
    let budget = Budget::new(cfg.memory_budget);
    stats.set_budget(budget.clone());
    let svc = http::Service::new(cfg.clone(), addr, tx, stats.clone(), budget);
    let task = tokio::spawn(crate::server::serve_service(
        listener,
        svc,
        cfg.limits,
        stats.http.clone(),
        std::future::pending(),
    ));
    Ok(OtlpHandle { addr, task })
}
