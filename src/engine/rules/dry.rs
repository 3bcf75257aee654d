//! What a line would produce, without a store: `kpid parse` shows it.

use super::{auto, label_value, RecordKind, Rules};
use crate::kpi::Obs;
use kpid_parsers::Record;

/// One sample a record would produce (for `kpid parse`).
#[derive(Debug, Clone, PartialEq)]
pub struct DrySample {
    /// KPI id.
    pub id: String,
    /// Observation.
    pub obs: Obs,
}

impl Rules {
    /// The samples a line would produce, without touching a store (for `kpid parse`).
    pub fn dry_run(&self, source: &str, rec: &Record<'_>) -> Vec<DrySample> {
        let mut out = vec![DrySample {
            id: format!(
                "log_lines_total{{level=\"{}\",source=\"{source}\"}}",
                rec.level.map_or("none", |l| l.as_str())
            ),
            obs: Obs::Add(1.0),
        }];
        for f in &rec.fields {
            if self.auto_gauge(&f.key, &f.value) {
                let exposed = auto::auto_gauge_unit(&f.key, &f.value);
                if let Some(v) = f.value.as_f64() {
                    out.push(DrySample {
                        id: format!("{}{{source=\"{source}\"}}", exposed.name),
                        obs: Obs::Set(exposed.apply(v)),
                    });
                }
            }
        }
        for &i in &self.by_input[RecordKind::Line as usize] {
            let rule = &self.rules[i];
            if !Self::applies(rule, source, rec) {
                continue;
            }
            if let Some(obs) = Self::obs(rule, rec) {
                let mut labels: Vec<(String, String)> = rule
                    .labels
                    .iter()
                    .map(|l| (l.clone(), label_value(l, source, rec)))
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
