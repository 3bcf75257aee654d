//! A new configuration for the running engine: the rules and the parsers of the sources a
//! reload added or changed. It travels down the engine's one input channel
//! ([`Input::Reconfigure`](crate::sources::Input)), so the engine stays the only writer: the
//! store, its counters and histories are kept; only how records become samples changes.

use super::rules::Rules;
use kpid_parsers::Parser;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::oneshot;

/// What a reload changes in the engine.
pub struct Reconfigure {
    /// The new rules (their caches start empty and find the existing series again by id).
    pub rules: Rules,
    /// Parsers of the sources added or changed, by source name.
    pub parsers: HashMap<Arc<str>, Box<dyn Parser>>,
    /// Sources removed: their parsers are dropped.
    pub removed: Vec<Arc<str>>,
    /// Told once the engine has switched (before it applies the next input).
    pub done: Option<oneshot::Sender<()>>,
}

impl std::fmt::Debug for Reconfigure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reconfigure")
            .field("parsers", &self.parsers.keys().collect::<Vec<_>>())
            .field("removed", &self.removed)
            .finish_non_exhaustive()
    }
}

impl Reconfigure {
    /// Switches `rules` and `parsers` to this configuration.
    pub fn apply(self, rules: &mut Rules, parsers: &mut HashMap<Arc<str>, Box<dyn Parser>>) {
        *rules = self.rules;
        for name in &self.removed {
            parsers.remove(name);
        }
        parsers.extend(self.parsers);
        if let Some(d) = self.done {
            let _ = d.send(());
        }
    }
}
