//! Health: how each component reports its state, for `/api/health` and `/metrics`.
//!
//! A component with something to report (the socket source, the plugin host, and every one to
//! come) implements [`HealthSection`]; the daemon hands its sections to the server, which
//! merges them with the engine's published figures into one status.

use serde_json::Value;

/// Overall status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// All good.
    Ok,
    /// Something was dropped, folded, truncated or rejected in the last minute.
    Warn,
    /// A source is failing.
    Error,
}

impl Status {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Error => "error",
        }
    }
}

/// A subsystem's part of `/api/health` and `/metrics`.
pub trait HealthSection: Send + Sync {
    /// Key in the health object (`socket`, `plugins`...).
    fn name(&self) -> &'static str;
    /// Its JSON.
    fn snapshot(&self) -> Value;
    /// Its worst status.
    fn status(&self) -> Status {
        Status::Ok
    }
    /// A number that grows whenever this section drops or rejects something.
    fn losses(&self) -> u64 {
        0
    }
    /// Its own lines of Prometheus exposition.
    fn prometheus(&self, _out: &mut String) {}
}
