//! A reloaded `[alerts]`, `[[alert]]` and `[[notify]]`: rules unchanged keep their instances
//! (states, `for` timers, acknowledgements); instances of rules removed or changed end, and
//! those that were firing are sent as resolved; channels unchanged keep running (their queues,
//! groups and counters), others are started or stopped.

use super::eval::{Evaluator, Instance, State};
use super::rules::{self, AlertRule, AlertsSettings, NotifyConfig, RuleError};
use super::{interval_ms, notify, Alerts};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

/// What a reload changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Change {
    /// Rules kept as they were.
    pub rules_kept: usize,
    /// Rules added (or changed).
    pub rules_added: usize,
    /// Rules removed (or changed).
    pub rules_removed: usize,
    /// Channels kept as they were.
    pub channels_kept: usize,
    /// Channels started.
    pub channels_started: usize,
    /// Channels stopped.
    pub channels_stopped: usize,
}

impl Evaluator {
    /// Switches to `rules`; returns the instances that ended while firing (now resolved).
    pub fn reload(&mut self, rules: Vec<AlertRule>, now: f64) -> Vec<Instance> {
        let map: Vec<Option<usize>> = self
            .rules
            .iter()
            .map(|r| rules.iter().position(|n| n == r))
            .collect();
        let mut ended = Vec::new();
        for ((ri, kpi), mut i) in std::mem::take(&mut self.instances) {
            match map.get(ri).copied().flatten() {
                Some(n) => {
                    self.instances.insert((n, kpi), i);
                }
                None if matches!(i.state, State::Firing | State::Nodata) => {
                    let from = i.state;
                    i.state = State::Resolved;
                    i.since = now;
                    self.recent.push(&i, from, now);
                    ended.push(i);
                }
                None => {}
            }
        }
        self.rules = rules;
        ended
    }
}

impl Alerts {
    /// Applies reloaded alert tables (validated again here).
    pub fn reload(
        &self,
        settings: &AlertsSettings,
        rules: Vec<AlertRule>,
        channels: Vec<NotifyConfig>,
    ) -> Result<Change, RuleError> {
        rules::validate(&rules, &channels)?;
        let now = crate::kpi::now();
        let mut change = Change::default();
        let ended = {
            let mut e = self.eval.lock();
            change.rules_kept = rules.iter().filter(|r| e.rules.contains(r)).count();
            change.rules_added = rules.len() - change.rules_kept;
            change.rules_removed = e.rules.len() - change.rules_kept;
            e.max = settings.max_instances;
            e.reload(rules, now)
        };
        self.interval_ms.store(interval_ms(settings), Relaxed);
        {
            let mut running = self.channels.write();
            let mut old = std::mem::take(&mut *running);
            for c in channels {
                match old.iter().position(|(o, _)| *o == c) {
                    Some(p) => {
                        running.push(old.swap_remove(p));
                        change.channels_kept += 1;
                    }
                    None => {
                        let ch =
                            notify::spawn(c.clone(), self.external_url.clone(), self.acked.clone());
                        running.push((c, Arc::new(ch)));
                        change.channels_started += 1;
                    }
                }
            }
            // Dropping a channel closes its queue: its task ends.
            change.channels_stopped = old.len();
        }
        self.dispatch(ended, now);
        Ok(change)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::payload::Labels;

    fn rule(name: &str, warn: f64) -> AlertRule {
        toml::from_str(&format!("name='{name}'\nkpi='x'\nwarn={warn}")).unwrap()
    }

    #[test]
    fn unchanged_rules_keep_their_instances_and_changed_ones_resolve() {
        let mut e = Evaluator::new(vec![rule("a", 1.0), rule("b", 2.0)], 100, 0.0);
        for (ri, name) in [(0, "a"), (1, "b")] {
            let mut i = Instance::new(name, "x".into(), Labels::new(), 0.0);
            i.state = State::Firing;
            e.instances.insert((ri, "x".into()), i);
        }
        // `b` changes its threshold, `c` is new and comes first: `a` moves to index 1.
        let ended = e.reload(vec![rule("c", 3.0), rule("a", 1.0), rule("b", 5.0)], 10.0);
        assert_eq!(ended.len(), 1);
        assert_eq!(
            (ended[0].rule.as_str(), ended[0].state),
            ("b", State::Resolved)
        );
        let kept = &e.instances[&(1, "x".to_string())];
        assert_eq!((kept.rule.as_str(), kept.state), ("a", State::Firing));
        assert_eq!(e.instances.len(), 1);
        assert_eq!(e.recent.last(1)[0].to, State::Resolved);
    }
}
