//! The receiver's counters, as `/api/health` shows them (`otlp`): requests and bytes
//! received, spans, log records and data points applied, every refusal by reason, the
//! memory in flight, and the address or why there is none.

use super::OtlpConfig;
use crate::health::{HealthSection, Status};
use crate::server::HttpCounters;
use crate::sources::socket::budget::Budget;
use parking_lot::Mutex;
use serde_json::json;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

/// Requests refused, by reason (each answered with its status).
#[derive(Debug, Default)]
pub struct Rejected {
    /// Body that did not decode, or broken gzip (400).
    pub malformed: AtomicU64,
    /// Body over `max_body`, as sent or inflated (413).
    pub too_large: AtomicU64,
    /// Content type or encoding not read (415).
    pub unsupported_media_type: AtomicU64,
    /// Path other than `/v1/{traces,logs,metrics}` (404).
    pub not_found: AtomicU64,
    /// Method other than POST (405).
    pub method: AtomicU64,
    /// `Host` not served here (421), or a browser's `Origin` (403).
    pub host: AtomicU64,
    /// Missing or wrong token, bound beyond loopback (401).
    pub token: AtomicU64,
    /// Memory budget spent (429).
    pub memory: AtomicU64,
    /// The engine had no room in time (503).
    pub busy: AtomicU64,
    /// The body stopped arriving (408 after 10 s), or the client went away mid-body.
    pub truncated: AtomicU64,
}

/// Counters of the receiver, shared by its connections, the engine and the server.
#[derive(Debug, Default)]
pub struct OtlpStats {
    listen: Mutex<String>,
    error: Mutex<Option<String>>,
    last_error: Mutex<Option<String>>,
    /// Requests received (whole heads).
    pub requests: AtomicU64,
    /// Body bytes received, as sent.
    pub bytes: AtomicU64,
    /// Body bytes once inflated.
    pub bytes_inflated: AtomicU64,
    /// Spans applied.
    pub spans: AtomicU64,
    /// Log records applied.
    pub log_records: AtomicU64,
    /// Metric data points applied.
    pub data_points: AtomicU64,
    /// Requests refused, by reason.
    pub rejected: Rejected,
    /// Spans, log records or data points inside requests refused after decoding.
    pub rejected_items: AtomicU64,
    /// Cumulative data points of series beyond the tracked-series cap (not applied).
    pub untracked_points: AtomicU64,
    /// Histogram observations left out to keep one data point's cost bounded.
    pub observations_sampled: AtomicU64,
    /// Connection-level counters (accepted, busy, timeouts).
    pub http: Arc<HttpCounters>,
    budget: Mutex<Option<Arc<Budget>>>,
    memory_budget: AtomicU64,
    max_body: AtomicU64,
}

impl OtlpStats {
    /// New shared counters.
    pub fn shared() -> Arc<Self> {
        Arc::new(Self::default())
    }

    pub(super) fn set_config(&self, cfg: &OtlpConfig) {
        *self.listen.lock() = cfg.listen.to_string();
        self.memory_budget.store(cfg.memory_budget as u64, Relaxed);
        self.max_body.store(cfg.max_body as u64, Relaxed);
    }

    pub(super) fn set_listening(&self, addr: SocketAddr) {
        *self.listen.lock() = addr.to_string();
        *self.error.lock() = None;
    }

    pub(super) fn set_error(&self, msg: String) {
        *self.error.lock() = Some(msg);
    }

    pub(super) fn set_budget(&self, b: Arc<Budget>) {
        *self.budget.lock() = Some(b);
    }

    /// Counts one refusal and remembers its message.
    pub(crate) fn refuse(&self, counter: &AtomicU64, msg: &str) {
        counter.fetch_add(1, Relaxed);
        *self.last_error.lock() = Some(msg.to_owned());
    }

    fn rejected_map(&self) -> BTreeMap<&'static str, u64> {
        let r = &self.rejected;
        [
            ("malformed", &r.malformed),
            ("too_large", &r.too_large),
            ("unsupported_media_type", &r.unsupported_media_type),
            ("not_found", &r.not_found),
            ("method", &r.method),
            ("host", &r.host),
            ("token", &r.token),
            ("memory", &r.memory),
            ("busy", &r.busy),
            ("truncated", &r.truncated),
        ]
        .into_iter()
        .map(|(k, v)| (k, v.load(Relaxed)))
        .collect()
    }
}

impl HealthSection for OtlpStats {
    fn name(&self) -> &'static str {
        "otlp"
    }

    fn snapshot(&self) -> serde_json::Value {
        let rejected = self.rejected_map();
        let error = self.error.lock().clone();
        json!({
            "listen": *self.listen.lock(),
            "state": if error.is_some() { "error" } else { "listening" },
            "error": error,
            "requests": self.requests.load(Relaxed),
            "bytes": self.bytes.load(Relaxed),
            "bytes_inflated": self.bytes_inflated.load(Relaxed),
            "spans": self.spans.load(Relaxed),
            "log_records": self.log_records.load(Relaxed),
            "data_points": self.data_points.load(Relaxed),
            "rejected_total": rejected.values().sum::<u64>(),
            "rejected": rejected,
            "rejected_items": self.rejected_items.load(Relaxed),
            "untracked_points": self.untracked_points.load(Relaxed),
            "observations_sampled": self.observations_sampled.load(Relaxed),
            "last_error": *self.last_error.lock(),
            "in_flight_bytes": self.budget.lock().as_ref().map_or(0, |b| b.used() as u64),
            "memory_budget": self.memory_budget.load(Relaxed),
            "max_body": self.max_body.load(Relaxed),
            "connections": self.http.snapshot(),
        })
    }

    /// Not listening (the port was taken) is a warning: the rest of kpid works.
    fn status(&self) -> Status {
        if self.error.lock().is_some() {
            Status::Warn
        } else {
            Status::Ok
        }
    }

    /// Refusals, items left out, and connections refused (idle keep-alive closes are not
    /// losses: SDKs keep connections open between exports).
    fn losses(&self) -> u64 {
        let h = self.http.snapshot();
        self.rejected_map().values().sum::<u64>()
            + self.rejected_items.load(Relaxed)
            + self.untracked_points.load(Relaxed)
            + self.observations_sampled.load(Relaxed)
            + h.refused_bad_head
            + h.refused_busy
            + h.refused_peer_busy
    }

    fn prometheus(&self, out: &mut String) {
        use std::fmt::Write;
        let _ = writeln!(
            out,
            "# HELP kpid_otlp_items_total spans, log records and data points applied from OTLP exports\n# TYPE kpid_otlp_items_total counter"
        );
        for (signal, n) in [
            ("traces", &self.spans),
            ("logs", &self.log_records),
            ("metrics", &self.data_points),
        ] {
            let _ = writeln!(
                out,
                "kpid_otlp_items_total{{signal=\"{signal}\"}} {}",
                n.load(Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP kpid_otlp_rejected_total OTLP requests refused, by reason\n# TYPE kpid_otlp_rejected_total counter"
        );
        for (reason, n) in self.rejected_map() {
            let _ = writeln!(out, "kpid_otlp_rejected_total{{reason=\"{reason}\"}} {n}");
        }
    }
}
