//! What the daemon plugs together besides the pipeline: the socket source's health section.

use crate::health::{HealthSection, Status};
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
