//! Rule evaluation on a published snapshot: one alert instance per rule and matching label
//! set, its state (inactive, pending, firing, resolved, no-data) with `for`, a clear
//! threshold (hysteresis) and `keep_firing_for`, and the notifications its changes give.

use super::payload::{expand, fingerprint, rfc3339, AmAlert, Labels, ZERO_TIME};
use super::recent::Recent;
use super::rules::AlertRule;
use super::values::{compared, matches};
use crate::kpi::{KpiView, Snapshot};
use rustc_hash::FxHashMap;
use serde::Serialize;
use std::collections::BTreeMap;

/// An inactive or resolved instance is forgotten this long after its last change.
pub const FORGET_AFTER_S: f64 = 300.0;

/// State of an alert instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Condition not met.
    Inactive,
    /// Condition met for less than `for`.
    Pending,
    /// Firing.
    Firing,
    /// Was firing, cleared.
    Resolved,
    /// No data for `no_data`.
    Nodata,
}

/// Severity of a firing alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Beyond `warn`.
    Warning,
    /// Beyond `crit`.
    Critical,
}

impl Severity {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// One alert instance (a rule over one label set).
#[derive(Debug, Clone, Serialize)]
pub struct Instance {
    /// Fingerprint of its labels (the dedupe key and the id `ack` takes).
    pub id: String,
    /// Rule name.
    pub rule: String,
    /// KPI id it reads (empty when no series matched).
    pub kpi: String,
    /// Labels: `alertname`, the series' labels, the rule's labels.
    pub labels: Labels,
    /// Annotations, expanded with the latest value.
    pub annotations: Labels,
    /// State.
    pub state: State,
    /// Severity while pending or firing.
    pub severity: Option<Severity>,
    /// Latest value.
    pub value: Option<f64>,
    /// When the current state began, Unix seconds.
    pub since: f64,
    /// When it started firing.
    pub fired_at: Option<f64>,
    /// When its condition cleared while firing.
    #[serde(skip)]
    pub cleared_at: Option<f64>,
    /// Acknowledged (no repeats until it resolves).
    pub acked: bool,
}

impl Instance {
    /// A new, inactive instance of rule `rule` over KPI `kpi`.
    pub fn new(rule: &str, kpi: String, labels: Labels, now: f64) -> Instance {
        Instance {
            id: fingerprint(&labels),
            rule: rule.to_owned(),
            kpi,
            labels,
            annotations: Labels::new(),
            state: State::Inactive,
            severity: None,
            value: None,
            since: now,
            fired_at: None,
            cleared_at: None,
            acked: false,
        }
    }

    /// The alert as a payload carries it.
    pub fn am(&self, base: &str, now: f64) -> AmAlert {
        let firing = matches!(self.state, State::Firing | State::Nodata);
        let mut labels = self.labels.clone();
        if let Some(s) = self.severity {
            labels.insert("severity".into(), s.as_str().into());
        }
        if self.state == State::Nodata {
            labels.insert("severity".into(), "warning".into());
            labels.insert("nodata".into(), "true".into());
        }
        AmAlert {
            status: if firing { "firing" } else { "resolved" },
            labels,
            annotations: self.annotations.clone(),
            starts_at: rfc3339(self.fired_at.unwrap_or(self.since)),
            ends_at: if firing {
                ZERO_TIME.into()
            } else {
                rfc3339(now)
            },
            generator_url: format!("{base}/api/alerts/rules#{}", self.rule),
            fingerprint: self.id.clone(),
        }
    }
}

/// Evaluates rules on snapshots; keeps every instance.
#[derive(Debug)]
pub struct Evaluator {
    /// The rules.
    pub rules: Vec<AlertRule>,
    /// Instances by rule and KPI id.
    pub instances: BTreeMap<(usize, String), Instance>,
    /// Most instances.
    pub max: usize,
    /// Instances refused by the cap.
    pub refused: u64,
    /// When evaluation began (no-data of a rule with no series counts from here).
    pub started: f64,
    /// The latest state changes, for the dashboard (and a history store to come).
    pub recent: Recent,
}

impl Evaluator {
    /// A new evaluator.
    pub fn new(rules: Vec<AlertRule>, max: usize, now: f64) -> Self {
        Evaluator {
            rules,
            instances: BTreeMap::new(),
            max,
            refused: 0,
            started: now,
            recent: Recent::default(),
        }
    }

    /// Evaluates every rule on `snap` at `now`; returns the instances whose notification
    /// state changed (firing, escalated, resolved).
    pub fn eval(&mut self, snap: &Snapshot, now: f64) -> Vec<Instance> {
        let mut by_name: FxHashMap<&str, Vec<&KpiView>> = FxHashMap::default();
        for k in &snap.kpis {
            by_name.entry(k.desc.name.as_str()).or_default().push(k);
        }
        let mut changed = Vec::new();
        for ri in 0..self.rules.len() {
            let rule = &self.rules[ri];
            let series: Vec<&KpiView> = by_name
                .get(rule.kpi.as_str())
                .map(|v| {
                    v.iter()
                        .copied()
                        .filter(|k| matches(k, &rule.selector))
                        .collect()
                })
                .unwrap_or_default();
            if series.is_empty() {
                let stale = rule
                    .no_data
                    .is_some_and(|d| now - self.started >= d.0.as_secs_f64());
                let labels = rule.selector.clone();
                self.step(ri, String::new(), labels, None, stale, now, &mut changed);
                continue;
            }
            // Series came: a no-data instance kept for the empty selection resolves.
            if self.instances.contains_key(&(ri, String::new())) {
                self.step(
                    ri,
                    String::new(),
                    Labels::new(),
                    None,
                    false,
                    now,
                    &mut changed,
                );
            }
            for k in series {
                let rule = &self.rules[ri];
                let v = compared(rule, k, &by_name, now);
                let stale = rule
                    .no_data
                    .is_some_and(|d| now - k.latest.t >= d.0.as_secs_f64());
                let labels: Labels = k.desc.labels.iter().cloned().collect();
                self.step(ri, k.desc.id.clone(), labels, v, stale, now, &mut changed);
            }
        }
        // Quiet instances are forgotten after a while, so that label sets that come and go
        // do not fill the cap.
        self.instances.retain(|_, i| {
            matches!(i.state, State::Pending | State::Firing | State::Nodata)
                || now - i.since < FORGET_AFTER_S
        });
        changed
    }

    #[allow(clippy::too_many_arguments)]
    fn step(
        &mut self,
        ri: usize,
        kpi: String,
        series: Labels,
        v: Option<f64>,
        stale: bool,
        now: f64,
        changed: &mut Vec<Instance>,
    ) {
        let rule = &self.rules[ri];
        let key = (ri, kpi);
        if !self.instances.contains_key(&key) {
            if !stale && v.is_none_or(|v| level(rule, v).is_none()) {
                return; // nothing to remember for a quiet series
            }
            if self.instances.len() >= self.max {
                self.refused += 1;
                return;
            }
            let mut labels = series;
            labels.insert("alertname".into(), rule.name.clone());
            let extra: Vec<(String, String)> = rule
                .labels
                .iter()
                .map(|(k, t)| (k.clone(), expand(t, v, &labels)))
                .collect();
            labels.extend(extra);
            let inst = Instance::new(&rule.name, key.1.clone(), labels, now);
            self.instances.insert(key.clone(), inst);
        }
        let i = self.instances.get_mut(&key).expect("inserted above");
        i.value = v;
        let before = (i.state, i.severity);
        transition(rule, i, v, stale, now);
        if i.state != before.0 || i.severity != before.1 {
            i.annotations = rule
                .annotations
                .iter()
                .map(|(k, t)| (k.clone(), expand(t, v, &i.labels)))
                .collect();
            self.recent.push(i, before.0, now);
            let notify = matches!(
                (before.0, i.state),
                (_, State::Firing | State::Nodata)
                    | (State::Firing | State::Nodata, State::Resolved)
            );
            if notify {
                changed.push(i.clone());
            }
            if i.state == State::Resolved {
                i.acked = false;
            }
        }
    }
}

/// How far beyond its thresholds `v` is.
fn level(r: &AlertRule, v: f64) -> Option<Severity> {
    let beyond = |t: f64| if r.above { v >= t } else { v <= t };
    if r.crit.is_some_and(beyond) {
        Some(Severity::Critical)
    } else if r.warn.is_some_and(beyond) {
        Some(Severity::Warning)
    } else {
        None
    }
}

fn transition(r: &AlertRule, i: &mut Instance, v: Option<f64>, stale: bool, now: f64) {
    let set = |i: &mut Instance, s: State| {
        if i.state != s {
            i.state = s;
            i.since = now;
        }
    };
    if stale {
        if i.state != State::Nodata {
            i.fired_at = Some(now);
            i.severity = None;
        }
        return set(i, State::Nodata);
    }
    let Some(v) = v else {
        if i.state == State::Nodata {
            set(i, State::Resolved);
        }
        return; // no value (e.g. 0/0): hold the state
    };
    let lvl = level(r, v);
    let for_ = r.for_.map_or(0.0, |d| d.0.as_secs_f64());
    match i.state {
        State::Inactive | State::Resolved | State::Nodata => {
            if i.state == State::Nodata {
                set(i, State::Resolved);
            }
            if let Some(l) = lvl {
                i.severity = Some(l);
                set(i, State::Pending);
            }
        }
        State::Pending => {
            if lvl.is_none() {
                i.severity = None;
                set(i, State::Inactive);
            } else {
                i.severity = i.severity.max(lvl);
            }
        }
        State::Firing => {
            let clear = r.clear.or(r.warn).or(r.crit).unwrap_or(f64::NAN);
            let cleared = if r.above { v < clear } else { v > clear };
            if !cleared {
                i.cleared_at = None;
                i.severity = i.severity.max(lvl);
            } else {
                let c = *i.cleared_at.get_or_insert(now);
                if now - c >= r.keep_firing_for.map_or(0.0, |d| d.0.as_secs_f64()) {
                    // The severity stays: a resolved alert carries the labels it fired with.
                    i.cleared_at = None;
                    set(i, State::Resolved);
                }
            }
            return;
        }
    }
    if i.state == State::Pending && now - i.since >= for_ {
        i.fired_at = Some(now);
        set(i, State::Firing);
    }
}

#[cfg(test)]
#[path = "eval_tests.rs"]
mod tests;
