//! What the HTTP side refused, timed out or could not accept, by reason, and its open
//! connections: shown by `/api/health` (`http`) and `/metrics` (`kpid_http_*`).

use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// HTTP counters, each written where it happens and read by anyone.
#[derive(Debug, Default)]
pub struct HttpCounters {
    /// Connections open now (WebSockets included).
    pub open: AtomicU64,
    /// Connections accepted since start.
    pub accepted: AtomicU64,
    /// `Host` not allowed (421).
    pub host: AtomicU64,
    /// `Origin` not allowed (403).
    pub origin: AtomicU64,
    /// Token missing or wrong (401).
    pub token: AtomicU64,
    /// Request target too long (414).
    pub uri_too_long: AtomicU64,
    /// Request body too large (413).
    pub body_too_large: AtomicU64,
    /// Request head too large (431), or unreadable (400).
    pub bad_head: AtomicU64,
    /// Over the connection cap (503).
    pub busy: AtomicU64,
    /// Over the per-address connection cap (503).
    pub peer_busy: AtomicU64,
    /// Request headers not received in time (408 when part of a request had come).
    pub header_timeout: AtomicU64,
    /// Connections closed for doing nothing.
    pub idle_timeout: AtomicU64,
    /// Accept failures (out of file descriptors, ...): the accept loop backs off.
    pub accept_errors: AtomicU64,
    /// WebSocket messages over the size limit (close 1009).
    pub ws_too_large: AtomicU64,
}

/// A copy of [`HttpCounters`], as `/api/health` shows it.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct HttpSnapshot {
    /// Open connections.
    pub connections_open: u64,
    /// Accepted since start.
    pub connections_accepted: u64,
    /// 421.
    pub refused_host: u64,
    /// 403.
    pub refused_origin: u64,
    /// 401.
    pub refused_token: u64,
    /// 414.
    pub refused_uri_too_long: u64,
    /// 413.
    pub refused_body_too_large: u64,
    /// 431 or 400.
    pub refused_bad_head: u64,
    /// 503 (total cap).
    pub refused_busy: u64,
    /// 503 (per-address cap).
    pub refused_peer_busy: u64,
    /// 408 or silent close while waiting for headers.
    pub header_timeouts: u64,
    /// Closed idle.
    pub idle_timeouts: u64,
    /// Accept failures.
    pub accept_errors: u64,
    /// WebSocket close 1009.
    pub ws_too_large: u64,
}

impl HttpCounters {
    /// Counts one.
    pub fn bump(c: &AtomicU64) {
        c.fetch_add(1, Relaxed);
    }

    /// A copy.
    pub fn snapshot(&self) -> HttpSnapshot {
        let g = |c: &AtomicU64| c.load(Relaxed);
        HttpSnapshot {
            connections_open: g(&self.open),
            connections_accepted: g(&self.accepted),
            refused_host: g(&self.host),
            refused_origin: g(&self.origin),
            refused_token: g(&self.token),
            refused_uri_too_long: g(&self.uri_too_long),
            refused_body_too_large: g(&self.body_too_large),
            refused_bad_head: g(&self.bad_head),
            refused_busy: g(&self.busy),
            refused_peer_busy: g(&self.peer_busy),
            header_timeouts: g(&self.header_timeout),
            idle_timeouts: g(&self.idle_timeout),
            accept_errors: g(&self.accept_errors),
            ws_too_large: g(&self.ws_too_large),
        }
    }
}

impl HttpSnapshot {
    /// `(reason, count)` of every refusal, for `kpid_http_refused_total{reason}`.
    pub fn refusals(&self) -> [(&'static str, u64); 11] {
        [
            ("host", self.refused_host),
            ("origin", self.refused_origin),
            ("token", self.refused_token),
            ("uri_too_long", self.refused_uri_too_long),
            ("body_too_large", self.refused_body_too_large),
            ("bad_head", self.refused_bad_head),
            ("busy", self.refused_busy),
            ("peer_busy", self.refused_peer_busy),
            ("header_timeout", self.header_timeouts),
            ("idle_timeout", self.idle_timeouts),
            ("ws_too_large", self.ws_too_large),
        ]
    }
}
