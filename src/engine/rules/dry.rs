//! What a line would produce, without a store: `kpid parse` shows it.

use super::natural::{Ctx, Out};
use super::{observe, RecordKind, Rules};
use crate::engine::filter::View;
use crate::kpi::Obs;
use kpid_parsers::Record;
use std::sync::Arc;

/// One sample a record would produce (for `kpid parse`).
#[derive(Debug, Clone, PartialEq)]
pub struct DrySample {
    /// KPI id.
    pub id: String,
    /// Observation.
    pub obs: Obs,
}

impl Rules {
    /// The samples a line would produce, without touching a store (for `kpid parse`). The
    /// natural KPIs' inference state (labels, sequences, ratios) advances as in the daemon.
    pub fn dry_run(&mut self, source: &str, rec: &Record<'_>) -> Vec<DrySample> {
        self.dry_run_line(source, rec, &[])
    }

    /// Like [`Rules::dry_run`], with the line the record was parsed from (what rules'
    /// `match` patterns run on).
    pub fn dry_run_line(&mut self, source: &str, rec: &Record<'_>, line: &[u8]) -> Vec<DrySample> {
        let mut out = vec![DrySample {
            id: format!(
                "log_lines_total{{level=\"{}\",source=\"{source}\"}}",
                rec.level.map_or("none", |l| l.as_str())
            ),
            obs: Obs::Add(1.0),
        }];
        if self.auto_gauges {
            let origin: Arc<str> = Arc::from(source);
            let cache = self.caches.of(&origin, self.rules.len());
            let ctx = Ctx {
                source,
                cap: self.auto_cap,
                consumed: &self.consumed,
                overrides: self.overrides.get(source),
                now: crate::kpi::now(),
            };
            cache.fields.apply(&mut Out::Dry(&mut out), &ctx, rec);
        }
        self.patterns.next_record();
        for &i in &self.by_input[RecordKind::Line as usize] {
            let rule = &self.rules[i];
            if rule.session.is_some() {
                continue; // its value is the state of sessions, which a dry run keeps none of
            }
            let plain = View::new(source, rec);
            if let Some((view, obs)) = observe(rule, &mut self.patterns, plain, line) {
                let mut labels: Vec<(String, String)> = rule
                    .labels
                    .iter()
                    .map(|l| (l.name.clone(), l.value(&view)))
                    .collect();
                labels.sort();
                let body: Vec<String> =
                    labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
                let id = if body.is_empty() {
                    rule.name.clone()
                } else {
                    format!("{}{{{}}}", rule.name, body.join(","))
                };
                out.push(DrySample { id, obs });
            }
        }
        out
    }
}

impl Rules {
    /// What the natural KPIs inferred about `source`'s fields since the last call
    /// (`field latency_ms: distribution (latency-like) -> latency_seconds`), for `kpid parse`.
    pub fn take_inferences(&mut self, source: &str) -> Vec<String> {
        let origin: Arc<str> = Arc::from(source);
        std::mem::take(&mut self.caches.of(&origin, self.rules.len()).fields.fresh)
    }
}
