//! What the daemon plugs together besides the pipeline: the socket source's health section,
//! and the OTLP receiver.

use crate::health::{HealthSection, Status};
use crate::sources::otlp::{self, OtlpConfig, OtlpHandle, OtlpStats};
use crate::sources::socket::SocketStats;
use std::sync::Arc;

/// The socket source's part of `/api/health`.
pub(super) struct SocketSection(pub(super) Arc<SocketStats>);

impl HealthSection for SocketSection {
    fn name(&self) -> &'static str {
        "socket"
    }

    fn snapshot(&self) -> serde_json::Value {
        serde_json::to_value(&*self.0).unwrap_or_default()
    }

    fn status(&self) -> Status {
        Status::Ok
    }

    /// Frames refused and records apps dropped.
    fn losses(&self) -> u64 {
        let v = self.snapshot();
        let rejected: u64 = v["rejected"]
            .as_object()
            .map(|o| o.values().filter_map(|x| x.as_u64()).sum())
            .unwrap_or(0);
        rejected + v["app_dropped"].as_u64().unwrap_or(0)
    }
}

/// Starts the OTLP/HTTP receiver of `[otlp]` (unless off), its health section pushed onto
/// `sections`. A port already taken is reported there (and logged); the daemon goes on.
pub(super) async fn otlp(
    cfg: &crate::config::OtlpSettings,
    tx: tokio::sync::mpsc::Sender<crate::sources::Input>,
    fds: u64,
    token: Option<Arc<str>>,
    sections: &mut Vec<Arc<dyn HealthSection>>,
) -> anyhow::Result<Option<OtlpHandle>> {
    if !cfg.enabled {
        return Ok(None);
    }
    let listen: std::net::SocketAddr = cfg.listen.parse().map_err(|e| {
        anyhow::anyhow!(
            "invalid otlp address `{}` (want IP:PORT, e.g. 127.0.0.1:4318): {e}",
            cfg.listen
        )
    })?;
    let token = token.filter(|_| !listen.ip().is_loopback());
    if token.is_some() {
        tracing::warn!("otlp: bound to {listen}, beyond loopback: every export needs the API token (Authorization: Bearer)");
    }
    let defaults = OtlpConfig::default();
    let ocfg = OtlpConfig {
        listen,
        max_body: cfg.max_body.max(1024),
        memory_budget: cfg.memory_budget.max(64 << 10),
        limits: crate::server::Limits {
            max_connections: cfg.max_connections.min(fds as usize / 4).max(8),
            per_peer: cfg.max_connections.max(8),
            ..defaults.limits
        },
        token,
        ..defaults
    };
    let stats = OtlpStats::shared();
    sections.push(stats.clone());
    match otlp::spawn(ocfg, tx, stats).await {
        Ok(h) => Ok(Some(h)),
        Err(e) => {
            tracing::warn!("otlp: {e}; OpenTelemetry exports are not received (give --otlp ADDR to choose another, --no-otlp to turn it off)");
            Ok(None)
        }
    }
}

/// The checkpoint to resume from when history has one: history's (committed with the deltas
/// it includes), plus the files only `checkpoint.json` knows (registered by the tailer, none
/// of their lines applied yet, so history's counter totals agree with them).
pub(super) fn resume_from_history(
    history: crate::state::Checkpoint,
    file: crate::state::Checkpoint,
) -> crate::state::Checkpoint {
    let mut cp = history;
    let known: std::collections::HashSet<(u64, u64)> = cp
        .files
        .iter()
        .map(|f| (f.identity.dev, f.identity.ino))
        .collect();
    cp.files.extend(
        file.files
            .into_iter()
            .filter(|f| !known.contains(&(f.identity.dev, f.identity.ino))),
    );
    cp
}
