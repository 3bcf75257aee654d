//! The alerts' parts of `/api/health` and `/metrics`: `alerts` (evaluation and every
//! channel's deliveries, retries and failures) and `pipeline` (OK / WARNING / CRITICAL per
//! KPI, per source and overall, from the firing alerts).

use super::eval::{Severity, State};
use super::rules::ValueKind;
use super::Alerts;
use crate::health::HealthSection;
use crate::kpi::Kind;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

/// State changes carried by the `pipeline` section (the dashboard's toasts and panel).
const RECENT_IN_HEALTH: usize = 20;
/// Most KPIs given thresholds in the `pipeline` section.
const MAX_THRESHOLD_KPIS: usize = 1000;

/// Health level of the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Nothing firing.
    Ok,
    /// A warning fires (or a KPI has no data).
    Warning,
    /// A critical alert fires.
    Critical,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Ok => "OK",
            Level::Warning => "WARNING",
            Level::Critical => "CRITICAL",
        }
    }
}

impl Alerts {
    /// The pipeline's health: overall, per KPI and per source.
    pub fn pipeline(&self) -> Value {
        let mut kpis = BTreeMap::<String, Level>::new();
        let mut sources = BTreeMap::<String, Level>::new();
        let mut overall = Level::Ok;
        for i in self.instances() {
            let l = match (i.state, i.severity) {
                (State::Firing, Some(Severity::Critical)) => Level::Critical,
                (State::Firing, _) | (State::Nodata, _) => Level::Warning,
                _ => continue,
            };
            overall = overall.max(l);
            let key = if i.kpi.is_empty() {
                i.rule.clone()
            } else {
                i.kpi.clone()
            };
            let e = kpis.entry(key).or_insert(Level::Ok);
            *e = (*e).max(l);
            if let Some(s) = i.labels.get("source") {
                let e = sources.entry(s.clone()).or_insert(Level::Ok);
                *e = (*e).max(l);
            }
        }
        let m = |m: BTreeMap<String, Level>| -> BTreeMap<String, &'static str> {
            m.into_iter().map(|(k, v)| (k, v.as_str())).collect()
        };
        let (rules, recent, seq) = {
            let e = self.eval.lock();
            (
                e.rules.len(),
                e.recent.last(RECENT_IN_HEALTH),
                e.recent.seq(),
            )
        };
        json!({
            "status": overall.as_str(), "kpis": m(kpis), "sources": m(sources),
            "rules": rules, "thresholds": self.thresholds(), "recent": recent, "recent_seq": seq,
        })
    }

    /// The thresholds to draw on each KPI's chart, by KPI id: rules whose compared value is
    /// what the chart plots (a gauge's value or average, a counter's rate, a distribution's
    /// quantile), resolved against the last snapshot evaluated.
    fn thresholds(&self) -> BTreeMap<String, Vec<Value>> {
        let mut out = BTreeMap::<String, Vec<Value>>::new();
        let Some(snap) = self.last.lock().clone() else {
            return out;
        };
        let mut by_name = rustc_hash::FxHashMap::<&str, Vec<&crate::kpi::KpiView>>::default();
        for k in &snap.kpis {
            by_name.entry(k.desc.name.as_str()).or_default().push(k);
        }
        let e = self.eval.lock();
        for r in &e.rules {
            if r.warn.is_none() && r.crit.is_none() {
                continue;
            }
            for k in by_name.get(r.kpi.as_str()).into_iter().flatten() {
                let charted = matches!(
                    (k.desc.kind, r.value),
                    (
                        Kind::Gauge,
                        ValueKind::Last | ValueKind::Avg | ValueKind::Rate
                    ) | (Kind::Counter, ValueKind::Rate)
                        | (
                            Kind::Distribution,
                            ValueKind::P50 | ValueKind::P95 | ValueKind::P99
                        )
                );
                let selected = r
                    .selector
                    .iter()
                    .all(|(n, v)| k.desc.labels.iter().any(|(a, b)| a == n && b == v));
                if !charted || !selected || out.len() >= MAX_THRESHOLD_KPIS {
                    continue;
                }
                out.entry(k.desc.id.clone()).or_default().push(json!({
                    "rule": r.name, "value": r.value, "warn": r.warn, "crit": r.crit,
                    "above": r.above,
                }));
            }
        }
        out
    }
}

impl HealthSection for Alerts {
    fn name(&self) -> &'static str {
        "alerts"
    }

    fn snapshot(&self) -> Value {
        let (instances, refused) = {
            let e = self.eval.lock();
            (e.instances.len(), e.refused)
        };
        let channels: Vec<Value> = self
            .channels
            .read()
            .iter()
            .map(|(_, c)| json!({ "name": c.name, "kind": c.kind.as_str(), "stats": &*c.stats }))
            .collect();
        let evals = self.stats.evaluations.load(Relaxed);
        json!({
            "rules": self.eval.lock().rules.len(),
            "instances": instances,
            "instances_refused": refused,
            "evaluations": evals,
            "eval_seconds_total": self.stats.eval_ns.load(Relaxed) as f64 / 1e9,
            "notified": self.stats.notified.load(Relaxed),
            "silenced": self.stats.silenced.load(Relaxed),
            "channels": channels,
        })
    }

    fn losses(&self) -> u64 {
        let e = self.eval.lock().refused;
        e + self
            .channels
            .read()
            .iter()
            .map(|(_, c)| c.stats.failed.load(Relaxed) + c.stats.dropped.load(Relaxed))
            .sum::<u64>()
    }

    fn prometheus(&self, out: &mut String) {
        let _ = writeln!(out, "# HELP kpid_alert_notifications_total alert notifications by channel and result\n# TYPE kpid_alert_notifications_total counter");
        for (_, c) in self.channels.read().iter() {
            for (r, v) in c.stats.results() {
                let _ = writeln!(
                    out,
                    "kpid_alert_notifications_total{{channel=\"{}\",result=\"{r}\"}} {v}",
                    c.kind.as_str()
                );
            }
        }
        let refused = self.eval.lock().refused;
        let _ = writeln!(out, "# HELP kpid_alert_instances_refused_total alert instances refused by the cap\n# TYPE kpid_alert_instances_refused_total counter\nkpid_alert_instances_refused_total {refused}");
        let _ = writeln!(out, "# HELP kpid_alert_evaluations_total rule evaluations\n# TYPE kpid_alert_evaluations_total counter\nkpid_alert_evaluations_total {}", self.stats.evaluations.load(Relaxed));
        let _ = writeln!(
            out,
            "# HELP ALERTS alerts pending or firing\n# TYPE ALERTS gauge"
        );
        for i in self.instances() {
            let state = match i.state {
                State::Pending => "pending",
                State::Firing | State::Nodata => "firing",
                _ => continue,
            };
            let mut labels = i.labels.clone();
            labels.insert("alertstate".into(), state.into());
            let sev = match (i.state, i.severity) {
                (State::Nodata, _) => "warning",
                (_, Some(s)) => s.as_str(),
                _ => "",
            };
            labels.insert("severity".into(), sev.into());
            out.push_str("ALERTS");
            crate::kpi::write_labels(out, labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            out.push_str(" 1\n");
        }
    }
}

/// The pipeline's health as its own `/api/health` section.
#[derive(Debug)]
pub struct PipelineSection(pub Arc<Alerts>);

impl HealthSection for PipelineSection {
    fn name(&self) -> &'static str {
        "pipeline"
    }

    fn snapshot(&self) -> Value {
        self.0.pipeline()
    }
}
